"""``python -m fashion_core.data.synthfashion``: generate a SynthFashion tree (``... inshop ...``: the In-shop tree)."""
import sys

from fashion_core.data.synthfashion.inshop import main as inshop_main
from fashion_core.data.synthfashion.writer import main

if sys.argv[1:2] == ["inshop"]:
    sys.exit(inshop_main(sys.argv[2:]))
sys.exit(main())
