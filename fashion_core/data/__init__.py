"""Dataset readers (DeepFashion-C, FLD, FashionAI, COCO keypoints), SynthFashion and torch datasets."""
from fashion_core.data.errors import AnnotationError

__all__ = ["AnnotationError"]
