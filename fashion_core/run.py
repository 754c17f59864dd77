"""``python -m fashion_core.run`` (what ./run_all.sh calls): the report runner (fashion_core.cli.run)."""
import sys

from fashion_core.cli.run import main

if __name__ == "__main__":
    sys.exit(main())
