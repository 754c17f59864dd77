"""SynthFashion: the workbook's procedural garment dataset, written in DeepFashion-C, FLD and FashionAI formats.

``python -m fashion_core.data.synthfashion --out DIR ...`` generates one (see writer).  Modules,
lowest first: colours, catalogue (categories, attributes, items), primitives (world-unit shapes,
affine maps), details and geometry (one garment in one pose), figure (mannequin, companion
garment, occluders), scene (one photo), patterns and raster (pixels), writer (the files).
"""
from fashion_core.data.synthfashion.writer import SynthKnobs, ensure_synthfashion, generate

__all__ = ["SynthKnobs", "ensure_synthfashion", "generate"]
