"""SynthFashion: the workbook's procedural garment dataset, written in DeepFashion-C, FLD and FashionAI formats.

``python -m fashion_core.data.synthfashion --out DIR ...`` generates one (see writer).
"""
from fashion_core.data.synthfashion.writer import SynthKnobs, ensure_synthfashion, generate

__all__ = ["SynthKnobs", "ensure_synthfashion", "generate"]
