"""The train / val / test datasets of each benchmark format (In-shop: train / query / gallery), as notebooks load them.

Training flips (left/right-aware) unless flip_train=False; validation and test never transform randomly.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fashion_core.data.datasets import (CategoryAttributeDataset, FashionAIDataset, InShopDataset, LandmarkDataset,
                                        check_images)
from fashion_core.data.deepfashion import read_category_attribute, read_fld
from fashion_core.data.fashionai import read_fashionai_splits
from fashion_core.data.inshop import InShopAnnotations, read_inshop

SPLITS = ("train", "val", "test")


@dataclass
class SplitDatasets:
    """A tree's annotations and its three split datasets."""

    annotations: Any  # DeepFashion-C / FLD annotations; for FashionAI, split -> annotations (one CSV per split)
    train: Any
    val: Any
    test: Any
    # The FashionAI categories the splits were restricted to (fashionai.keep_categories); None: all rows.
    categories: tuple[str, ...] | None = None

    def check_images(self) -> None:
        """Open every image of train, val and test and check it against its annotations (datasets.check_images):
        decoded and cached when the datasets cache images, headers only otherwise. Run before training, so a
        bad image stops the run before its first epoch, naming the image and its annotation line."""
        check_images(self.train, self.val, self.test)


def _split_datasets(annotations: Any, dataset: Callable[[str, bool], Any], flip_train: bool = True) -> SplitDatasets:
    """dataset(split, flip) for each split; only the training split flips, and only when flip_train."""
    return SplitDatasets(annotations, *(dataset(split, flip_train and split == "train") for split in SPLITS))


def load_deepfashion_c(root, input_size: int, cache_images: bool = True, flip_train: bool = True) -> SplitDatasets:
    """Read a DeepFashion-C tree (real or SynthFashion) and build the three split datasets.

    flip_train=False: the training split does not flip either (Liu & Lu's code trains without flips).
    """
    annotations = read_category_attribute(root)
    return _split_datasets(annotations, lambda split, flip: CategoryAttributeDataset(
        annotations, split, input_size, flip=flip, cache_images=cache_images), flip_train)


def load_fld(root, input_size: int, cache_images: bool = True, flip_train: bool = True) -> SplitDatasets:
    """Read an FLD tree (real or SynthFashion) and build the three split datasets.

    FLD has landmarks only: samples carry category -1 and no attributes. flip_train=False: the
    training split does not flip either.
    """
    annotations = read_fld(root)
    return _split_datasets(annotations, lambda split, flip: LandmarkDataset(
        annotations, split, input_size, flip=flip, cache_images=cache_images), flip_train)


def load_fashionai(root, input_size: int, cache_images: bool = True, flip_train: bool = True) -> SplitDatasets:
    """Read a FashionAI tree (real or SynthFashion: Annotations/{train,val,test}.csv) and build the split datasets.

    An image in two split CSVs is an error (read_fashionai_splits); a real tree gets its val.csv and
    test.csv from `python -m fashion_core.data.fashionai split ROOT`. flip_train=False: the
    training split does not flip either.
    """
    annotations = read_fashionai_splits(root, SPLITS)
    return _split_datasets(annotations, lambda split, flip: FashionAIDataset(
        annotations[split], input_size, flip=flip, cache_images=cache_images), flip_train)


@dataclass
class InShopSplits:
    """An In-shop tree's annotations and its train, query and gallery datasets."""

    annotations: InShopAnnotations
    train: InShopDataset
    query: InShopDataset
    gallery: InShopDataset

    def check_images(self) -> None:
        """Open every image of train, query and gallery and check it against its annotations (as SplitDatasets)."""
        check_images(self.train, self.query, self.gallery)


def load_inshop(root, input_size: int, cache_images: bool = True, flip_train: bool = True) -> InShopSplits:
    """Read an In-shop tree (real or SynthFashion's) and build the train, query and gallery datasets.

    Only the training split flips, and only when flip_train; query and gallery never transform randomly.
    """
    annotations = read_inshop(root)
    return InShopSplits(annotations, *(InShopDataset(annotations, split, input_size,
                                                     flip=flip_train and split == "train", cache_images=cache_images)
                                       for split in ("train", "query", "gallery")))
