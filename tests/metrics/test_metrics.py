"""fashion_core.metrics on hand-computed cases: every expected number is worked out in a comment."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, top_k_accuracy_score

from fashion_core.metrics import functional
from fashion_core.metrics.functional import (
    attribute_recall_at_k,
    detection_rate,
    fashionai_normalized_error,
    fashionai_normalized_error_per_keypoint,
    mmfashion_attribute_recall,
    normalized_error,
    retrieval_average_precisions,
    retrieval_map,
    topk_accuracy,
)


# --------------------------------------------------------------------------- landmark NE
def landmark_case():
    """2 images x 3 landmarks; image 0 crop 100x200, image 1 crop 50x50."""
    gt = np.zeros((2, 3, 2))
    pred = np.zeros((2, 3, 2))
    pred[0, 0] = (10, 0)  # (10/100, 0/200) = (0.1, 0)   -> 0.1
    pred[0, 1] = (0, 20)  # (0/100, 20/200) = (0, 0.1)   -> 0.1
    pred[0, 2] = (30, 80)  # (0.3, 0.4) -> 0.5, but invisible
    pred[1, 0] = (15, 20)  # (15/50, 20/50) = (0.3, 0.4) -> 0.5
    pred[1, 1] = (50, 50)  # invisible
    pred[1, 2] = np.nan  # invisible: a NaN prediction must not leak in
    visible = np.array([[True, True, False], [True, False, False]])
    size = np.array([[100, 200], [50, 50]])
    return pred, gt, visible, size


def test_normalized_error_visible_protocol():
    pred, gt, visible, size = landmark_case()
    result = normalized_error(pred, gt, visible, size)
    # landmark 0: (0.1 + 0.5) / 2 = 0.3; landmark 1: 0.1 / 1; landmark 2: never visible -> NaN
    np.testing.assert_allclose(result["per_landmark"], [0.3, 0.1, np.nan])
    # mean of the non-NaN values: (0.3 + 0.1) / 2 = 0.2
    assert result["mean"] == pytest.approx(0.2)
    assert isinstance(result["mean"], float)


def test_normalized_error_mmfashion_protocol_keeps_invisible_in_denominator():
    pred, gt, visible, size = landmark_case()
    result = normalized_error(pred, gt, visible, size, protocol="mmfashion")
    # denominators are N = 2: landmark 0: (0.1 + 0.5) / 2 = 0.3; landmark 1: (0.1 + 0) / 2 = 0.05;
    # landmark 2: (0 + 0) / 2 = 0
    np.testing.assert_allclose(result["per_landmark"], [0.3, 0.05, 0.0])
    # (0.3 + 0.05 + 0) / 3 = 0.11666...
    assert result["mean"] == pytest.approx(0.35 / 3)


def test_normalized_error_accepts_torch_and_shared_sizes():
    pred = torch.tensor([[[3.0, 4.0]]])
    gt = torch.zeros(1, 1, 2)
    visible = torch.tensor([[True]])
    # scalar size 10: (0.3, 0.4) -> 0.5
    assert normalized_error(pred, gt, visible, 10)["mean"] == pytest.approx(0.5)
    # (w, h) = (6, 8): (3/6, 4/8) = (0.5, 0.5) -> sqrt(0.5)
    assert normalized_error(pred, gt, visible, (6, 8))["mean"] == pytest.approx(math.sqrt(0.5))
    # float16 tensors convert too
    assert normalized_error(pred.half(), gt.half(), visible, 10)["mean"] == pytest.approx(0.5)


def test_normalized_error_no_visible_sample_is_nan_without_warnings():
    pred, gt, _, size = landmark_case()
    visible = np.zeros((2, 3), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = normalized_error(pred, gt, visible, size)
        empty = normalized_error(np.zeros((0, 3, 2)), np.zeros((0, 3, 2)), np.zeros((0, 3), bool), 1.0, "mmfashion")
    assert np.isnan(result["per_landmark"]).all()
    assert math.isnan(result["mean"])
    assert math.isnan(empty["mean"])


def test_normalized_error_rejects_bad_input():
    pred, gt, visible, size = landmark_case()
    with pytest.raises(ValueError, match="visible.*mmfashion"):
        normalized_error(pred, gt, visible, size, protocol="pck")
    with pytest.raises(TypeError, match="0 = visible"):
        normalized_error(pred, gt, visible.astype(int), size)
    with pytest.raises(ValueError, match="gt"):
        normalized_error(pred, gt[:, :2], visible, size)
    with pytest.raises(ValueError, match="> 0"):
        normalized_error(pred, gt, visible, np.array([[100, 0], [50, 50]]))
    with pytest.raises(ValueError, match="size"):
        normalized_error(pred, gt, visible, np.ones((3, 2)))


def test_detection_rate_pixels_and_normalised():
    pred, gt, visible, size = landmark_case()
    # visible pixel distances: 10, 20 (image 0) and 25 (image 1); d <= t is inclusive
    rates = detection_rate(pred, gt, visible, [5, 10, 20, 30])
    np.testing.assert_allclose(rates, [0, 1 / 3, 2 / 3, 1])
    # normalised: 0.1, 0.1, 0.5
    np.testing.assert_allclose(detection_rate(pred, gt, visible, [0.1, 0.2], size=size), [2 / 3, 2 / 3])
    assert detection_rate(pred, gt, visible, 30).shape == (1,)
    assert np.isnan(detection_rate(pred, gt, np.zeros((2, 3), bool), [1, 2])).all()


# --------------------------------------------------------------------------- FashionAI NE
def fashionai_case():
    """Image 0 blouse (armpits 5, 6 at distance 100); image 1 trousers (waistband 15, 16 at distance 50)."""
    gt = np.zeros((2, 24, 2))
    pred = np.zeros((2, 24, 2))
    visibility = -np.ones((2, 24), dtype=int)
    gt[0, 6] = (100, 0)
    pred[0, 6] = (100, 0)
    visibility[0, [5, 6]] = 1
    pred[0, 0] = (30, 40)  # 50 / 100 = 0.5
    visibility[0, 0] = 1
    pred[0, 1] = (99, 99)  # occluded: does not count
    visibility[0, 1] = 0
    gt[1, 16] = (0, 50)
    pred[1, 16] = (0, 50)
    visibility[1, 16] = 0  # occluded normaliser point is fine, it is annotated
    pred[1, 0] = (0, 10)  # 10 / 50 = 0.2
    visibility[1, 0] = 1
    pred[1, 15] = (5, 0)  # 5 / 50 = 0.1
    visibility[1, 15] = 1
    return pred, gt, visibility, np.array(["blouse", "trousers"])


def test_fashionai_normalized_error():
    pred, gt, visibility, category = fashionai_case()
    # counted (v == 1): 0.5, kp5 0, kp6 0 (image 0); 0.2, 0.1 (image 1) -> (0.5 + 0 + 0 + 0.2 + 0.1) / 5 = 0.16
    assert fashionai_normalized_error(pred, gt, visibility, category) == pytest.approx(0.16)
    per_keypoint, overall = fashionai_normalized_error_per_keypoint(pred, gt, visibility, category)
    assert overall == pytest.approx(0.16)
    assert per_keypoint.shape == (24,)
    # kp0: (0.5 + 0.2) / 2 = 0.35; kp5, kp6: 0; kp15: 0.1; everything else never visible -> NaN
    expected = np.full(24, np.nan)
    expected[[0, 5, 6, 15]] = [0.35, 0.0, 0.0, 0.1]
    np.testing.assert_allclose(per_keypoint, expected)


def test_fashionai_image_without_normaliser_is_skipped_not_an_error():
    pred, gt, visibility, category = fashionai_case()
    absent = visibility.copy()
    absent[1, 15] = -1  # image 1 (trousers) loses a waistband point: only image 0 is scored
    # image 0 counts 0.5, 0, 0 -> 0.5 / 3
    assert fashionai_normalized_error(pred, gt, absent, category) == pytest.approx(0.5 / 3)
    per_keypoint, _ = fashionai_normalized_error_per_keypoint(pred, gt, absent, category)
    assert per_keypoint[0] == pytest.approx(0.5) and np.isnan(per_keypoint[15])
    coincident = gt.copy()
    coincident[0, 6] = coincident[0, 5]  # s == 0 on image 0: only image 1 is scored, (0.2 + 0.1) / 2
    assert fashionai_normalized_error(pred, coincident, visibility, category) == pytest.approx(0.15)
    groups, overall = functional.fashionai_normalized_error_per_group(pred, coincident, visibility, category)
    assert overall == pytest.approx(0.15) and groups["neck"] == pytest.approx(0.2) and np.isnan(groups["armpit"])


def test_fashionai_bad_inputs_still_raise():
    pred, gt, visibility, category = fashionai_case()
    with pytest.raises(ValueError, match="image 1: unknown FashionAI category 'jeans'"):
        fashionai_normalized_error(pred, gt, visibility, ["blouse", "jeans"])
    with pytest.raises(ValueError, match="codes"):
        fashionai_normalized_error(pred, gt, visibility + 1, category)


# --------------------------------------------------------------------------- top-k accuracy
def test_topk_accuracy_hand_case_with_ties():
    scores = np.array(
        [
            [0.1, 0.5, 0.4],  # label 2: one higher score (0.5) -> rank 1
            [0.3, 0.3, 0.2],  # label 1: tied with class 0, lower index goes first -> rank 1
            [0.3, 0.3, 0.2],  # label 0: the tie goes its way -> rank 0
            [0.9, 0.0, 0.1],  # label 1: two higher -> rank 2
        ]
    )
    labels = np.array([2, 1, 0, 1])
    assert topk_accuracy(scores, labels, 1) == pytest.approx(1 / 4)
    assert topk_accuracy(scores, labels, 2) == pytest.approx(3 / 4)
    assert topk_accuracy(torch.tensor(scores), torch.tensor(labels), 3) == 1.0


def test_topk_accuracy_matches_sklearn_without_ties():
    rng = np.random.default_rng(0)
    scores = rng.random((500, 20))
    labels = rng.integers(0, 20, 500)
    for k in (1, 3, 5):
        expected = top_k_accuracy_score(labels, scores, k=k, labels=np.arange(20))
        assert topk_accuracy(scores, labels, k) == pytest.approx(expected)


def test_topk_accuracy_rejects_bad_k_and_labels():
    scores = np.zeros((2, 3))
    with pytest.raises(ValueError, match="exceeds the number of classes"):
        topk_accuracy(scores, [0, 1], 4)
    with pytest.raises(ValueError, match=">= 1"):
        topk_accuracy(scores, [0, 1], 0)
    with pytest.raises(ValueError, match="0, 3"):
        topk_accuracy(scores, [0, 3], 1)
    with pytest.raises(ValueError, match="NaN"):
        topk_accuracy(np.full((2, 3), np.nan), [0, 1], 1)


# --------------------------------------------------------------------------- attribute recall
def attribute_case():
    scores = np.array(
        [
            [0.9, 0.1, 0.8, 0.3],
            [0.2, 0.7, 0.7, 0.1],  # attributes 1 and 2 tie
        ]
    )
    targets = np.array(
        [
            [1, 1, -1, 1],  # DeepFashion's {-1, 1} coding
            [-1, -1, 1, -1],
        ]
    )
    return scores, targets


def test_attribute_recall_micro_and_tie_rule():
    scores, targets = attribute_case()
    # k=2: image 0 takes {0, 2} -> 1 hit of 3 positives; image 1 takes {1, 2} -> 1 hit of 1.
    # (1 + 1) / (3 + 1) = 0.5
    assert attribute_recall_at_k(scores, targets, 2) == {"all": pytest.approx(0.5)}
    # k=1: image 0 takes {0} -> 1 hit; image 1: tie 1 vs 2 goes to attribute 1 -> 0 hits. 1 / 4
    assert attribute_recall_at_k(scores, targets, 1)["all"] == pytest.approx(0.25)
    # {0, 1} targets and torch input give the same
    assert attribute_recall_at_k(torch.tensor(scores), torch.tensor(targets > 0), 1)["all"] == pytest.approx(0.25)


def test_attribute_recall_per_type_ranks_within_type():
    scores, targets = attribute_case()
    result = attribute_recall_at_k(scores, targets, 1, attr_types=np.array([1, 1, 2, 2]))
    assert set(result) == {"all", 1, 2}
    # type 1 = attributes {0, 1}: image 0 picks 0 (hit) of positives {0, 1}; image 1 picks 1 (no
    # positive). 1 / 2
    assert result[1] == pytest.approx(0.5)
    # type 2 = attributes {2, 3}: image 0 picks 2 (miss, positive is 3); image 1 picks 2 (hit). 1 / 2
    assert result[2] == pytest.approx(0.5)
    assert type(next(key for key in result if key != "all")) is int
    # k larger than a type takes the whole type: every positive is a hit
    result_k3 = attribute_recall_at_k(scores, targets, 3, attr_types=[1, 1, 2, 2])
    assert result_k3[1] == 1.0 and result_k3[2] == 1.0


def test_attribute_recall_all_keeps_original_index_tie_rule_when_types_interleave():
    # types [2, 1, 2]: grouping columns by type would put attribute 1 first.
    scores = np.array([[0.5, 0.5, 0.1]])
    targets = np.array([[0, 1, 0]])
    result = attribute_recall_at_k(scores, targets, 1, attr_types=[2, 1, 2])
    # 'all', k=1: attributes 0 and 1 tie, the lower original index (0, negative) wins: 0 / 1
    assert result["all"] == 0.0
    # type 1 holds only attribute 1 (positive, taken): 1 / 1; type 2 has no positive: NaN
    assert result[1] == 1.0
    assert math.isnan(result[2])


def test_attribute_recall_type_without_positives_is_nan():
    scores, targets = attribute_case()
    targets = targets.copy()
    targets[:, 2:] = -1
    result = attribute_recall_at_k(scores, targets, 1, attr_types=["shape", "shape", "style", "style"])
    assert math.isnan(result["style"])
    # shape as above: 1 / 2; 'all': image 0 picks 0 (hit) of positives {0, 1}; image 1 picks 1 (no). 1 / 2
    assert result["shape"] == pytest.approx(0.5)
    assert result["all"] == pytest.approx(0.5)
    assert math.isnan(attribute_recall_at_k(scores, np.zeros_like(targets), 1)["all"])
    with pytest.raises(ValueError, match="exceeds the number of attributes"):
        attribute_recall_at_k(scores, targets, 5)


def test_attribute_recall_matches_brute_force_with_many_ties():
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 4, (300, 12)).astype(np.float32)  # plenty of ties at the k-th value
    targets = rng.random((300, 12)) < 0.3
    k = 3
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(targets, top, axis=1).sum()
    assert attribute_recall_at_k(scores, targets, k)["all"] == pytest.approx(hits / targets.sum())


def test_mmfashion_attribute_recall():
    scores, targets = attribute_case()
    # k=2 per-attribute recall: attr0 1/1 (image 0 picks it); attr1 0/1; attr2 1/1 (image 1 picks
    # {1, 2}); attr3 0/1. Sorted [1, 1, 0, 0].
    # top_n=50: 2 / min(50, 4 attributes with positives) = 0.5
    assert mmfashion_attribute_recall(scores, targets, 2) == pytest.approx(0.5)
    # top_n=2: (1 + 1) / 2 = 1.0; top_n=3: 2 / 3
    assert mmfashion_attribute_recall(scores, targets, 2, top_n=2) == pytest.approx(1.0)
    assert mmfashion_attribute_recall(scores, targets, 2, top_n=3) == pytest.approx(2 / 3)


def test_mmfashion_attribute_recall_ignores_attributes_without_positives_in_denominator():
    scores = np.array([[0.9, 0.5, 0.1], [0.1, 0.9, 0.5]])
    targets = np.array([[1, 1, 0], [0, 1, 0]])
    # k=1: attr0 1/1; attr1 hit in image 1 only: 1/2; attr2 never positive -> 0.
    # (1 + 0.5 + 0) / min(50, 2) = 0.75, while the micro recall is 2 hits / 3 positives.
    assert mmfashion_attribute_recall(scores, targets, 1) == pytest.approx(0.75)
    assert attribute_recall_at_k(scores, targets, 1)["all"] == pytest.approx(2 / 3)
    assert math.isnan(mmfashion_attribute_recall(scores, np.zeros_like(targets), 1))


# --------------------------------------------------------------------------- retrieval
def retrieval_case():
    gallery = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [-1.0, 0.0]])
    query = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    relevant = np.array(
        [
            [True, False, True, False],
            [False, False, False, True],
            [False, False, False, False],
        ]
    )
    return query, gallery, relevant


def test_retrieval_average_precision_hand_case():
    query, gallery, relevant = retrieval_case()
    average_precision = retrieval_average_precisions(query, gallery, relevant)
    # query 0 cosines: g0 0, g1 1, g2 0.707, g3 -1 -> order g1, g2, g0, g3; relevant g2 (rank 2),
    # g0 (rank 3): AP = (1/2 + 2/3) / 2 = 7/12
    # query 1 cosines: g0 1, g1 0, g2 0.707, g3 0 (tie with g1, lower index first) -> order g0, g2,
    # g1, g3; relevant g3 at rank 4: AP = 1/4 (it would be 1/3 with the opposite tie rule)
    # query 2 has no relevant item -> NaN
    np.testing.assert_allclose(average_precision, [7 / 12, 1 / 4, np.nan])
    # mean over the two scored queries: (7/12 + 3/12) / 2 = 5/12
    assert retrieval_map(query, gallery, relevant) == pytest.approx(5 / 12)
    assert retrieval_map(torch.tensor(query), torch.tensor(gallery), torch.tensor(relevant)) == pytest.approx(5 / 12)


def test_retrieval_map_matches_sklearn_across_blocks(monkeypatch):
    monkeypatch.setattr(functional, "_RETRIEVAL_BLOCK_ELEMENTS", 100)  # 2 queries per block of 50
    rng = np.random.default_rng(2)
    query, gallery = rng.normal(size=(7, 5)), rng.normal(size=(50, 5))
    relevant = rng.random((7, 50)) < 0.2
    relevant[3] = False
    similarity = (query / np.linalg.norm(query, axis=1, keepdims=True)) @ (
        gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    ).T
    expected = [average_precision_score(relevant[q], similarity[q]) for q in range(7) if relevant[q].any()]
    assert retrieval_map(query, gallery, relevant) == pytest.approx(np.mean(expected))


def test_retrieval_map_edge_cases():
    query, gallery, relevant = retrieval_case()
    assert math.isnan(retrieval_map(query, gallery, np.zeros_like(relevant)))
    bad_gallery = gallery.copy()
    bad_gallery[2] = 0
    with pytest.raises(ValueError, match=r"gallery: rows \[2\]"):
        retrieval_map(query, bad_gallery, relevant)
    with pytest.raises(ValueError, match="relevant"):
        retrieval_map(query, gallery, relevant[:, :3])
