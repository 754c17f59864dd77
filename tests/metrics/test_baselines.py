"""The no-model baselines on a hand-made case."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from fashion_core.metrics.baselines import baseline_metrics, mean_shape_landmarks


def _annotations():
    # Three upper-body images with 100x200 crops; only slot 0 (left collar) matters here.
    landmarks = np.zeros((3, 8, 2), np.float32)
    landmarks[0, 0] = (10, 20)    # crop-normalised (0.1, 0.1)
    landmarks[1, 0] = (30, 60)    # (0.3, 0.3)
    landmarks[2, 0] = (50, 100)   # test image: (0.5, 0.5)
    visibility = np.full((3, 8), -1, np.int8)
    visibility[:, [0, 1, 2, 3, 6, 7]] = 1
    visibility[:, 0] = 0
    return SimpleNamespace(
        landmarks=landmarks, landmark_visibility=visibility, bbox=np.tile([0, 0, 100, 200], (3, 1)).astype(np.float32),
        clothes_type=np.array([1, 1, 1]), split=np.array(["train", "train", "test"]),
        indices=lambda split: np.flatnonzero(np.array(["train", "train", "test"]) == split),
        category=np.array([0, 0, 1]), category_names=["a", "b", "c"],
        attributes=np.array([[1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]], np.int8),
        attribute_types=np.array([1, 2, 1, 2, 1, 2]),
    )


def test_mean_shape_is_the_training_mean_in_crop_coordinates():
    annotations = _annotations()
    prediction = mean_shape_landmarks(annotations, np.array([0, 1]), np.array([2]))
    assert prediction[0, 0] == pytest.approx([0.2, 0.2])


def test_baseline_metrics_on_the_test_split():
    results = baseline_metrics(_annotations(), input_size=100)
    # Predicted (0.2, 0.2) vs true (0.5, 0.5): distance sqrt(0.09 + 0.09) = 0.4243 in crop units.
    assert results["mean_shape"]["ne_l_collar"] == pytest.approx(np.sqrt(0.18), abs=1e-6)
    assert np.isnan(results["mean_shape"]["ne_r_collar"])  # occluded everywhere: not scored
    # Training categories: a twice, b never, c never -> ranking a, b, c; the test image is b.
    assert results["majority_class"]["category_top1"] == 0.0
    # Training frequencies 1.0, 0.5, 0, ...: the prior ranks attribute 0 then 1, so the test positive
    # (attribute 1) is in the top 3 overall, and first among type-2 attributes.
    assert results["frequency_prior"]["attr_all_top3"] == 1.0
    assert results["frequency_prior"]["attr_fabric_top3"] == 1.0
