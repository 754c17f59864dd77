"""FashionAI scoring closer to Hu et al. 2018: both NEs, skipped images, per-category NE, the category filter.

Every expected number is worked out by hand in a comment.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from fashion_core.data import fashionai as fashionai_data
from fashion_core.data import splits
from fashion_core.data.fingerprint import data_fingerprint
from fashion_core.data.synthfashion.writer import generate
from fashion_core.data.vocab import FASHIONAI_CATEGORIES
from fashion_core.metrics import fashionai
from fashion_core.metrics.evaluation import Predictions, fashionai_score
from fashion_core.params import resolved_parameters
from fashion_core.paths import notebooks_dir


def hand_case():
    """Image 0 blouse, 200 x 100 px, armpits (0, 0) and (100, 0): s = 100; kp0 off by (30, 40), kp1 occluded.
    Image 1 trousers, 50 x 100 px, waistband (0, 0) and (0, 50): s = 50; kp0 off by (0, 10), kp15 by (5, 0)."""
    gt = np.zeros((2, 24, 2))
    pred = np.zeros((2, 24, 2))
    visibility = -np.ones((2, 24), dtype=int)
    gt[0, 6] = pred[0, 6] = (100, 0)
    visibility[0, [5, 6]] = 1
    pred[0, 0] = (30, 40)
    visibility[0, 0] = 1
    pred[0, 1] = (99, 99)
    visibility[0, 1] = 0
    gt[1, 16] = pred[1, 16] = (0, 50)
    visibility[1, 16] = 0
    pred[1, 0] = (0, 10)
    visibility[1, 0] = 1
    pred[1, 15] = (5, 0)
    visibility[1, 15] = 1
    sizes = np.array([[200.0, 100.0], [50.0, 100.0]])
    return pred, gt, visibility, np.array(["blouse", "trousers"]), sizes


# Normalised-coordinates distances: image 0 kp0 (30/200, 40/100) = (0.15, 0.4) -> sqrt(0.1825);
# kp5, kp6 exact -> 0; image 1 kp0 (0, 10/100) -> 0.1, kp15 (5/50, 0) -> 0.1.
KP0_IMAGE0 = math.sqrt(0.15 ** 2 + 0.4 ** 2)


def test_normalised_coordinates_ne_on_a_hand_made_prediction():
    pred, gt, visibility, category, sizes = hand_case()
    metrics = fashionai.fashionai_ne_metrics(pred, gt, visibility, category, sizes)
    # the same 5 counted pairs as the challenge NE: (sqrt(0.1825) + 0 + 0 + 0.1 + 0.1) / 5
    assert metrics["ne_coord_avg"] == pytest.approx((KP0_IMAGE0 + 0.2) / 5)
    assert metrics["ne_coord_neck"] == pytest.approx((KP0_IMAGE0 + 0.1) / 2)  # kp0 twice, kp1 occluded
    assert metrics["ne_coord_waistband"] == pytest.approx(0.1)  # kp15 only; kp16 occluded
    assert metrics["ne_coord_armpit"] == pytest.approx(0.0)
    assert math.isnan(metrics["ne_coord_crotch"])
    # challenge NE from the same predictions: (50/100 + 0 + 0 + 10/50 + 5/50) / 5 = 0.16
    assert metrics["ne_avg"] == pytest.approx(0.16) and metrics["ne_neck"] == pytest.approx(0.35)
    assert set(fashionai.COORDINATE_NE_METRICS) <= set(metrics)
    without_sizes = fashionai.fashionai_ne_metrics(pred, gt, visibility, category)
    assert not any(key.startswith("ne_coord_") for key in without_sizes)
    assert without_sizes["ne_avg"] == pytest.approx(0.16)
    with pytest.raises(ValueError, match="image_size"):
        fashionai.fashionai_ne_metrics(pred, gt, visibility, category, sizes[:1])


def test_per_category_ne():
    pred, gt, visibility, category, sizes = hand_case()
    metrics = fashionai.fashionai_ne_metrics(pred, gt, visibility, category, sizes)
    # blouse: (0.5 + 0 + 0) / 3; trousers: (0.2 + 0.1) / 2; coordinates: sqrt(0.1825) / 3 and (0.1 + 0.1) / 2
    assert metrics["ne_category_blouse"] == pytest.approx(0.5 / 3)
    assert metrics["ne_category_trousers"] == pytest.approx(0.15)
    assert metrics["ne_coord_category_blouse"] == pytest.approx(KP0_IMAGE0 / 3)
    assert metrics["ne_coord_category_trousers"] == pytest.approx(0.1)
    assert "ne_category_dress" not in metrics  # no dress image in the split
    assert fashionai.category_ne_metrics()[0] == "ne_category_blouse"


def test_image_without_normalising_keypoints_is_skipped_and_counted():
    pred, gt, visibility, category, sizes = hand_case()
    visibility[1, 15] = -1  # image 1 (trousers) has no waistband_left: no challenge normaliser
    metrics = fashionai.fashionai_ne_metrics(pred, gt, visibility, category, sizes)
    assert metrics[fashionai.SKIPPED_IMAGES] == 1
    assert metrics["ne_avg"] == pytest.approx(0.5 / 3)  # image 0 alone: (0.5 + 0 + 0) / 3
    assert metrics["ne_coord_avg"] == pytest.approx(KP0_IMAGE0 / 3)  # the same pairs
    assert math.isnan(metrics["ne_category_trousers"])
    gt[0, 6] = gt[0, 5]  # image 0's armpits coincide (s = 0): nothing is left to score
    metrics = fashionai.fashionai_ne_metrics(pred, gt, visibility, category, sizes)
    assert metrics[fashionai.SKIPPED_IMAGES] == 2 and math.isnan(metrics["ne_avg"])


def test_fashionai_score_maps_to_original_pixels_for_both_nes():
    pred, gt, visibility, category, sizes = hand_case()
    input_size = 100
    scale = input_size / sizes  # input px per original px
    visibility[1, 15] = -1
    predictions = Predictions(input_size=input_size, index=np.array([0, 1]), landmarks=pred * scale[:, None, :],
                              landmarks_true=gt * scale[:, None, :], visible=visibility == 1, visibility=visibility,
                              clothes_type=np.array([1, 2]), scale=scale,
                              stage_landmarks=np.stack([pred * scale[:, None, :]] * 2, axis=1))
    annotations = SimpleNamespace(keypoints=gt, visibility=visibility, category=category)
    metrics = fashionai_score(predictions, annotations)
    assert metrics["ne_avg"] == pytest.approx(0.5 / 3) and metrics["ne_stage2"] == pytest.approx(0.5 / 3)
    assert metrics["ne_coord_avg"] == pytest.approx(KP0_IMAGE0 / 3)
    assert metrics[fashionai.SKIPPED_IMAGES] == 1


@pytest.fixture(scope="module")
def synth_fashionai(tmp_path_factory):
    """A SynthFashion FashionAI tree of 40 / 20 / 20 images (64 px), the five categories drawn at random."""
    root = tmp_path_factory.mktemp("synth_fashionai") / "synthfashion"
    generate(root, n_train=40, n_val=20, n_test=20, size=64, seed=3, formats=("fashionai",), workers=1,
             progress=False)
    return root / "fashionai"


def test_categories_filter_keeps_only_those_rows_in_every_split(synth_fashionai):
    data = splits.load_fashionai(synth_fashionai, 32, cache_images=False)
    chosen = ["blouse", "trousers", "dress"]
    kept = fashionai_data.keep_categories(data, chosen)
    shrunk = []
    for split in splits.SPLITS:
        before, after = data.annotations[split], kept.annotations[split]
        expected = [image for image, name in zip(before.image_ids, before.category) if name in chosen]
        assert after.image_ids == expected and set(after.category) <= set(chosen)
        assert len(getattr(kept, split)) == len(expected) and 0 < len(expected) <= len(before)
        shrunk.append(len(expected) < len(before))
        np.testing.assert_array_equal(after.keypoints, before.keypoints[np.isin(before.category, chosen)])
    assert any(shrunk)
    assert kept.train.flip and not kept.test.flip and kept.test.input_size == 32
    assert fashionai_data.keep_categories(data, list(FASHIONAI_CATEGORIES)) is data
    with pytest.raises(ValueError, match="categories"):
        fashionai_data.select_categories(data.annotations["test"], ["jeans"])


def test_categories_change_the_fingerprint_only_when_they_select(synth_fashionai):
    data = splits.load_fashionai(synth_fashionai, 32, cache_images=False)
    everything = data_fingerprint(data)
    assert data_fingerprint(fashionai_data.keep_categories(data, list(FASHIONAI_CATEGORIES))) == everything
    paper = data_fingerprint(fashionai_data.keep_categories(data, ["blouse", "trousers", "dress"]))
    assert paper != everything
    assert paper == data_fingerprint(fashionai_data.keep_categories(data, ["dress", "blouse", "trousers"]))
    assert paper != data_fingerprint(fashionai_data.keep_categories(data, ["blouse", "trousers"]))


def test_paper_profile_trains_on_the_papers_three_categories():
    notebook = notebooks_dir() / "fpm_train.ipynb"
    assert resolved_parameters("paper", notebook)["categories"] == ["blouse", "trousers", "dress"]
    assert tuple(resolved_parameters("paper", notebook)["categories"]) == fashionai_data.PAPER_CATEGORIES
    assert resolved_parameters("default", notebook)["categories"] == list(FASHIONAI_CATEGORIES)
