"""``python -m fashion_core.readme_results``: the README's Results block (fashion_core.cli.readme)."""
import sys

from fashion_core.cli.readme import main

if __name__ == "__main__":
    sys.exit(main())
