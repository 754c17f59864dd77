"""Baselines that need no model: what a learned model has to beat for its numbers to mean anything.

- mean shape: each landmark at its training-set mean position in the crop, per clothes type;
- majority class: categories ranked by training-set frequency, the same for every image;
- frequency prior: attributes ranked by training-set frequency, the same for every image.
All are scored with the same functions and protocol as the models (fashion_core.metrics.evaluation).

In-shop retrieval (fashion_core.metrics.inshop), scored with the models' inshop_top{k}:
- random: Gaussian embeddings (a model that learned nothing), averaged over repeats;
- colour histogram: each crop's joint RGB histogram, what a model gets from colour alone.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from fashion_core.data.datasets import denormalize
from fashion_core.metrics.evaluation import (
    attribute_metrics,
    category_metrics,
    fashionai_landmark_metrics,
    landmark_metrics,
)
from fashion_core.metrics.inshop import INSHOP_TOPK, inshop_retrieval_metrics


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


def random_embeddings(n: int, dim: int, seed: int | Sequence[int]) -> np.ndarray:
    """(n, dim) float64 L2-normalised Gaussian embeddings from numpy's default_rng(seed)."""
    if n < 0 or dim < 1:
        raise ValueError(f"random_embeddings needs n >= 0 and dim >= 1, got n={n}, dim={dim}")
    embeddings = np.random.default_rng(seed).standard_normal((n, dim))
    return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)


def colour_histogram_embeddings(dataset, bins: int = 8, batch_size: int = 64) -> np.ndarray:
    """(N, bins**3) float64: per sample, the L2-normalised joint RGB histogram of the crop the dataset yields.

    The crop is the sample's `image` denormalised back to uint8 (datasets.denormalize), so it sees
    exactly the pixels a model sees (bbox crop, resize; a training flip would not change it). Channel
    value v falls in bin v * bins // 256.
    """
    if not 1 <= bins <= 256:
        raise ValueError(f"bins must be in [1, 256], got {bins}")
    rows = []
    for start in range(0, len(dataset), batch_size):
        samples = dataset.__getitems__(list(range(start, min(start + batch_size, len(dataset)))))
        pixels = denormalize(torch.stack([sample["image"] for sample in samples])).astype(np.int64) * bins // 256
        codes = (pixels[..., 0] * bins + pixels[..., 1]) * bins + pixels[..., 2]
        for image_codes in codes.reshape(len(samples), -1):
            rows.append(np.bincount(image_codes, minlength=bins ** 3).astype(np.float64))
    histograms = np.stack(rows) if rows else np.zeros((0, bins ** 3))
    return histograms / np.linalg.norm(histograms, axis=1, keepdims=True)


def inshop_baseline_metrics(query_set, gallery_set, ks: Sequence[int] = INSHOP_TOPK, seed: int = 0, *,
                            repeats: int = 5, dim: int = 128, bins: int = 8) -> dict[str, dict[str, float]]:
    """{"random": {inshop_top{k}: ...}, "colour_histogram": {...}} on an In-shop query and gallery dataset.

    random: mean over `repeats` draws of random_embeddings(Q + G, dim, (seed, repeat)); colour
    histogram: colour_histogram_embeddings with `bins` per channel. Both ranked by
    metrics.inshop.inshop_retrieval_metrics (cosine, ties to the lower gallery index).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    query_items, gallery_items = query_set.items, gallery_set.items
    n_query = len(query_items)
    draws = []
    for repeat in range(repeats):
        embeddings = random_embeddings(n_query + len(gallery_items), dim, (seed, repeat))
        draws.append(inshop_retrieval_metrics(embeddings[:n_query], query_items, embeddings[n_query:], gallery_items,
                                              ks))
    random = {key: float(np.mean([draw[key] for draw in draws])) for key in draws[0]}
    histogram = inshop_retrieval_metrics(colour_histogram_embeddings(query_set, bins), query_items,
                                         colour_histogram_embeddings(gallery_set, bins), gallery_items, ks)
    return {"random": random, "colour_histogram": histogram}
