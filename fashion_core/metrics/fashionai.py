"""FashionAI keypoint NE under two normalisers, from the same predictions, per group and per category.

Two definitions of NE are in use for FashionAI, and Hu et al. 2018 (FPM) does not say which its
Table 1 reports (its text cites DeepFashion's NE, its numbers are of the challenge's size):

- challenge NE: d / s, d the pixel distance and s the true armpit distance (blouse, outwear,
  dress) or waistband distance (skirt, trousers) of the image (fashion_core.metrics.functional);
- normalised-coordinates NE, DeepFashion's: the Euclidean distance after dividing x by the image
  width and y by its height.

Both count the same (image, keypoint) pairs: keypoints with v == 1 on the images that have a
challenge normaliser. An image without one (a normalising keypoint absent, or the two coinciding)
is skipped by both and counted in ``fashionai_skipped_images``, so the two NEs differ only in
their normaliser. Every average pools the counted keypoints (sum of errors / count).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fashion_core.data.vocab import FASHIONAI_CATEGORIES as CATEGORY_NAMES
from fashion_core.data.vocab import FASHIONAI_KEYPOINTS
from fashion_core.metrics.functional import (
    FASHIONAI_KEYPOINT_GROUPS,
    fashionai_arrays,
    fashionai_normaliser,
)

__all__ = [
    "CATEGORY_NE_PREFIX",
    "COORDINATE_CATEGORY_NE_PREFIX",
    "COORDINATE_NE_METRICS",
    "SKIPPED_IMAGES",
    "FashionAIErrors",
    "category_ne_metrics",
    "fashionai_errors",
    "fashionai_ne_metrics",
]

# Metric keys: ne_<group> / ne_avg are the challenge NE (the keys Hu et al.'s Table 1 is filed under in
# fashion_core.reporting.reference); ne_coord_<group> / ne_coord_avg the normalised-coordinates NE.
COORDINATE_NE_METRICS = tuple(f"ne_coord_{group}" for group in FASHIONAI_KEYPOINT_GROUPS) + ("ne_coord_avg",)
CATEGORY_NE_PREFIX = "ne_category_"
COORDINATE_CATEGORY_NE_PREFIX = "ne_coord_category_"
SKIPPED_IMAGES = "fashionai_skipped_images"


@dataclass(frozen=True)
class FashionAIErrors:
    """Per-(image, keypoint) errors of one set of predictions under both normalisers.

    challenge: (N,24) d / s; coordinates: (N,24) normalised-coordinates distance, or None when no
    image sizes were given; counted: (N,24) bool, the pairs every average uses; scored: (N,) bool,
    the images with a challenge normaliser; category: (N,) names.
    """

    challenge: np.ndarray
    coordinates: np.ndarray | None
    counted: np.ndarray
    scored: np.ndarray
    category: np.ndarray

    @property
    def skipped_images(self) -> int:
        return int((~self.scored).sum())

    def pooled(self, errors: np.ndarray, keypoints: Sequence[int] | None = None,
               images: np.ndarray | None = None) -> float:
        """sum(errors) / count over the counted pairs of the given keypoints and images (default all); NaN if none."""
        mask = self.counted.copy()
        if keypoints is not None:
            chosen = np.zeros(mask.shape[1], dtype=bool)
            chosen[list(keypoints)] = True
            mask &= chosen[None, :]
        if images is not None:
            mask &= np.asarray(images, dtype=bool)[:, None]
        total = int(mask.sum())
        return float(np.where(mask, errors, 0.0).sum() / total) if total else float("nan")


def fashionai_errors(pred: Any, gt: Any, visibility: Any, category: Any, image_size: Any = None) -> FashionAIErrors:
    """Both NEs' per-pair errors of (N,24,2) predictions in original-image pixels.

    image_size: (N,2) width, height of each original image, for the normalised-coordinates NE.
    Shapes, codes and categories are checked as in functional.fashionai_normalized_error_per_keypoint.
    """
    pred_array, gt_array, codes, categories = fashionai_arrays(pred, gt, visibility, category)
    normaliser, scored = fashionai_normaliser(gt_array, codes, categories)
    offset = pred_array - gt_array
    challenge = np.sqrt(np.sum(offset * offset, axis=-1)) / normaliser[:, None]
    coordinates = None
    if image_size is not None:
        size = np.asarray(image_size, dtype=np.float64)
        if size.shape != (pred_array.shape[0], 2) or not (size > 0).all():
            raise ValueError(f"image_size: expected ({pred_array.shape[0]}, 2) positive widths and heights, "
                             f"got shape {size.shape}")
        scaled = offset / size[:, None, :]
        coordinates = np.sqrt(np.sum(scaled * scaled, axis=-1))
    counted = (codes == 1) & scored[:, None]
    return FashionAIErrors(challenge, coordinates, counted, scored, categories)


def fashionai_ne_metrics(pred: Any, gt: Any, visibility: Any, category: Any,
                         image_size: Any = None) -> dict[str, float]:
    """The FashionAI metric dict of (N,24,2) predictions in original-image pixels.

    Challenge NE: ne_<keypoint> (24), ne_<group> (Hu et al. 2018 Table 1's 13 groups), ne_avg
    (pooled: the challenge score) and ne_category_<name> per category present. With image_size,
    the normalised-coordinates NE under ne_coord_<group>, ne_coord_avg, ne_coord_category_<name>.
    fashionai_skipped_images: how many images had no normaliser and were left out of all of them.
    """
    errors = fashionai_errors(pred, gt, visibility, category, image_size)
    result = {f"ne_{name}": errors.pooled(errors.challenge, [index]) for index, name in enumerate(FASHIONAI_KEYPOINTS)}
    protocols = [("ne_", CATEGORY_NE_PREFIX, errors.challenge)]
    if errors.coordinates is not None:
        protocols.append(("ne_coord_", COORDINATE_CATEGORY_NE_PREFIX, errors.coordinates))
    for prefix, category_prefix, values in protocols:
        result.update({f"{prefix}{group}": errors.pooled(values, members)
                       for group, members in FASHIONAI_KEYPOINT_GROUPS.items()})
        result[f"{prefix}avg"] = errors.pooled(values)
        result.update({f"{category_prefix}{name}": errors.pooled(values, images=errors.category == name)
                       for name in CATEGORY_NAMES if (errors.category == name).any()})
    result[SKIPPED_IMAGES] = float(errors.skipped_images)
    return result


def category_ne_metrics(prefix: str = CATEGORY_NE_PREFIX) -> tuple[str, ...]:
    """The per-category metric keys of one NE (prefix CATEGORY_NE_PREFIX or COORDINATE_CATEGORY_NE_PREFIX)."""
    return tuple(f"{prefix}{name}" for name in CATEGORY_NAMES)
