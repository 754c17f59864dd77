"""SynthFashion: the workbook's procedural garment dataset, written in DeepFashion-C, FLD, FashionAI and In-shop formats.

``python -m fashion_core.data.synthfashion --out DIR ...`` generates one (see writer);
``python -m fashion_core.data.synthfashion inshop --out DIR ...`` the In-shop retrieval tree (see
inshop).  Modules, lowest first: colours, catalogue (categories, attributes, items), primitives
(world-unit shapes, affine maps), details and geometry (one garment in one pose), figure
(mannequin, companion garment, occluders), scene (one photo), patterns and raster (pixels),
writer (the files), inshop (the In-shop files).
"""
from fashion_core.data.synthfashion.inshop import ensure_synthfashion_inshop, generate_inshop
from fashion_core.data.synthfashion.writer import SynthKnobs, ensure_synthfashion, generate

__all__ = ["SynthKnobs", "ensure_synthfashion", "ensure_synthfashion_inshop", "generate", "generate_inshop"]
