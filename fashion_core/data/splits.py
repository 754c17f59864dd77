"""The train / val / test datasets of each benchmark format, as every notebook and the CLI load them.

Training flips (left/right-aware); validation and test never transform randomly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fashion_core.data.datasets import CategoryAttributeDataset, FashionAIDataset, LandmarkDataset
from fashion_core.data.deepfashion import read_category_attribute, read_fld
from fashion_core.data.fashionai import read_fashionai


@dataclass
class DeepFashionData:
    annotations: Any
    train: Any
    val: Any
    test: Any


def load_deepfashion_c(root, input_size: int, cache_images: bool = True) -> DeepFashionData:
    """Read a DeepFashion-C tree (real or SynthFashion) and build the three split datasets.

    Training flips (the left/right-aware flip); validation and test never transform randomly.
    """
    annotations = read_category_attribute(root)
    return DeepFashionData(
        annotations,
        CategoryAttributeDataset(annotations, "train", input_size, flip=True, cache_images=cache_images),
        CategoryAttributeDataset(annotations, "val", input_size, cache_images=cache_images),
        CategoryAttributeDataset(annotations, "test", input_size, cache_images=cache_images),
    )


@dataclass
class FashionAIData:
    annotations: dict[str, Any]  # split -> FashionAIAnnotations (one CSV per split)
    train: Any
    val: Any
    test: Any


def load_fashionai(root, input_size: int, cache_images: bool = True) -> FashionAIData:
    """Read a FashionAI tree (real or SynthFashion: Annotations/{train,val,test}.csv) and build the split datasets.

    Training flips (left/right keypoints swap); validation and test never transform randomly.
    """
    annotations = {split: read_fashionai(root, split) for split in ("train", "val", "test")}
    return FashionAIData(
        annotations,
        FashionAIDataset(annotations["train"], input_size, flip=True, cache_images=cache_images),
        FashionAIDataset(annotations["val"], input_size, cache_images=cache_images),
        FashionAIDataset(annotations["test"], input_size, cache_images=cache_images),
    )


def load_fld(root, input_size: int, cache_images: bool = True) -> DeepFashionData:
    """Read an FLD tree (real or SynthFashion) and build the three split datasets, like load_deepfashion_c.

    FLD has landmarks only: samples carry category -1 and no attributes.
    """
    annotations = read_fld(root)
    return DeepFashionData(
        annotations,
        LandmarkDataset(annotations, "train", input_size, flip=True, cache_images=cache_images),
        LandmarkDataset(annotations, "val", input_size, cache_images=cache_images),
        LandmarkDataset(annotations, "test", input_size, cache_images=cache_images),
    )
