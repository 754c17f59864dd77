"""``python -m fashion_core.data.synthetic``: generate a SynthFashion tree (fashion_core.data.synthfashion)."""
import sys

from fashion_core.data.synthfashion.writer import main

if __name__ == "__main__":
    sys.exit(main())
