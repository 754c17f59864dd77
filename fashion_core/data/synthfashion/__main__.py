"""``python -m fashion_core.data.synthfashion``: generate a SynthFashion tree."""
import sys

from fashion_core.data.synthfashion.writer import main

sys.exit(main())
