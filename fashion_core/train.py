"""``python -m fashion_core.train``: the training command line, one process or under torchrun (fashion_core.cli.train)."""
import sys

from fashion_core.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
