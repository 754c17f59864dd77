"""Baselines that need no model: what a learned model has to beat for its numbers to mean anything.

- mean shape: each landmark at its training-set mean position in the crop, per clothes type;
- majority class: categories ranked by training-set frequency, the same for every image;
- frequency prior: attributes ranked by training-set frequency, the same for every image.
All are scored with the same functions and protocol as the models (fashion_core.metrics.evaluation).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from fashion_core.metrics.evaluation import (
    attribute_metrics,
    category_metrics,
    fashionai_landmark_metrics,
    landmark_metrics,
)


def crop_normalised_landmarks(annotations, rows: np.ndarray) -> np.ndarray:
    """(N,8,2) landmark positions as fractions of the bbox crop (x by width, y by height)."""
    landmarks = annotations.landmarks[rows].astype(np.float64)
    if annotations.bbox is None:
        raise ValueError("crop-normalised landmarks need bounding boxes (list_bbox.txt)")
    box = annotations.bbox[rows].astype(np.float64)
    origin = box[:, None, :2]
    extent = (box[:, 2:] - box[:, :2])[:, None, :]
    return (landmarks - origin) / extent


def mean_shape_landmarks(annotations, train_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Predicted (N,8,2) crop-normalised landmarks: the training mean per clothes type and slot."""
    train_points = crop_normalised_landmarks(annotations, train_rows)
    labelled = np.isin(annotations.landmark_visibility[train_rows], (0, 1))
    prediction = np.full((len(rows), 8, 2), 0.5)
    for clothes_type in np.unique(annotations.clothes_type[rows]):
        of_type = annotations.clothes_type[train_rows] == clothes_type
        weights = (labelled & of_type[:, None]).astype(np.float64)
        counts = weights.sum(axis=0)
        means = np.where(counts[:, None] > 0,
                         (train_points * weights[..., None]).sum(axis=0) / np.maximum(counts, 1)[:, None], 0.5)
        prediction[annotations.clothes_type[rows] == clothes_type] = means
    return prediction


def baseline_metrics(annotations, input_size: int, split: str = "test") -> dict[str, dict[str, float]]:
    """Metrics of the three baselines on `split`, fitted on the training split only."""
    train_rows, rows = annotations.indices("train"), annotations.indices(split)
    truth = crop_normalised_landmarks(annotations, rows) * input_size
    prediction = mean_shape_landmarks(annotations, train_rows, rows) * input_size
    visible = annotations.landmark_visibility[rows] == 0
    results = {"mean_shape": landmark_metrics(prediction, truth, visible, input_size)}
    if hasattr(annotations, "category"):
        frequency = np.bincount(annotations.category[train_rows], minlength=len(annotations.category_names))
        scores = np.broadcast_to(frequency.astype(np.float64), (len(rows), len(frequency)))
        results["majority_class"] = category_metrics(scores, annotations.category[rows])
        prior = annotations.attributes[train_rows].astype(np.float64).mean(axis=0)
        scores = np.broadcast_to(prior, (len(rows), len(prior)))
        results["frequency_prior"] = attribute_metrics(scores, annotations.attributes[rows], annotations.attribute_types)
    return results


def fashionai_image_sizes(annotations) -> np.ndarray:
    """(N,2) width, height of every image of FashionAI annotations (read from the file headers)."""
    sizes = np.empty((len(annotations), 2), dtype=np.float64)
    for row in range(len(annotations)):
        with Image.open(annotations.image_path(row)) as image:
            sizes[row] = image.size
    return sizes


def fashionai_mean_shape_metrics(train_annotations, test_annotations) -> dict[str, dict[str, float]]:
    """The mean-shape baseline on FashionAI: every keypoint at its training mean per category.

    Means are taken in image-normalised coordinates (x / width, y / height) over the training
    keypoints that have a position (v 0 or 1), per FashionAI category, and mapped back to each
    test image's pixels; scored with fashion_core.metrics.evaluation.fashionai_landmark_metrics.
    """

    train_points = train_annotations.keypoints / fashionai_image_sizes(train_annotations)[:, None, :]
    test_sizes = fashionai_image_sizes(test_annotations)
    prediction = np.full(test_annotations.keypoints.shape, 0.5)
    for category in np.unique(test_annotations.category):
        weights = ((train_annotations.visibility >= 0) & (train_annotations.category == category)[:, None])
        counts = weights.sum(axis=0)
        means = np.where(counts[:, None] > 0, (train_points * weights[..., None]).sum(axis=0)
                         / np.maximum(counts, 1)[:, None], 0.5)
        prediction[test_annotations.category == category] = means
    return {"mean_shape": fashionai_landmark_metrics(prediction * test_sizes[:, None, :], test_annotations.keypoints,
                                                     test_annotations.visibility, test_annotations.category,
                                                     image_size=test_sizes)}
