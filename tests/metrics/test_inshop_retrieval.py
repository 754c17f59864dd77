"""In-shop top-k retrieval accuracy on hand-made cases, and the random and colour-histogram baselines."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as F

from fashion_core.data.datasets import IMAGENET_MEAN, IMAGENET_STD
from fashion_core.metrics import inshop as inshop_metrics
from fashion_core.metrics.baselines import colour_histogram_embeddings, inshop_baseline_metrics, random_embeddings
from fashion_core.metrics.inshop import (
    inshop_chance_topk,
    inshop_first_match_ranks,
    inshop_retrieval_metrics,
    inshop_topk_accuracy,
)

# Query 0 = (1, 0), item 0. Its cosine similarities: g0 .995 (item 1), g1 .894 (item 2), g2 .707 (item 0,
# the match, 3rd), g3 -1 (item 3). Query 1 = (-1, 0), item 3: its match g3 is the MOST similar image and
# the least similar one to query 0, so ranking by smallest similarity would give other answers for both.
QUERY = np.array([[1.0, 0.0], [-1.0, 0.0]])
QUERY_ITEMS = np.array([0, 3])
GALLERY = np.array([[1.0, 0.1], [1.0, 0.5], [1.0, 1.0], [-1.0, 0.0]])
GALLERY_ITEMS = np.array([1, 2, 0, 3])


def test_hand_made_case_including_a_match_exactly_at_rank_k():
    result = inshop_topk_accuracy(QUERY, QUERY_ITEMS, GALLERY, GALLERY_ITEMS, ks=(1, 2, 3, 4))
    # query 0's match is 3rd: wrong at k=1 and 2, right from k=3 on (rank k counts); query 1 right at k=1.
    assert result == {1: 0.5, 2: 0.5, 3: 1.0, 4: 1.0}
    assert inshop_first_match_ranks(QUERY, QUERY_ITEMS, GALLERY, GALLERY_ITEMS).tolist() == [2, 0]


def test_ranking_by_smallest_similarity_would_fail_this_case():
    ascending = inshop_topk_accuracy(-QUERY, QUERY_ITEMS, GALLERY, GALLERY_ITEMS, ks=(1, 2, 3))
    assert ascending != inshop_topk_accuracy(QUERY, QUERY_ITEMS, GALLERY, GALLERY_ITEMS, ks=(1, 2, 3))
    assert ascending == {1: 0.0, 2: 0.5, 3: 0.5}


def test_cosine_ignores_the_embedding_norms_and_accepts_tensors_and_string_ids():
    scaled = inshop_topk_accuracy(QUERY * [[3.0], [0.2]], QUERY_ITEMS, GALLERY * 7.0, GALLERY_ITEMS, ks=(1, 3))
    assert scaled == {1: 0.5, 3: 1.0}
    names = np.array([f"id_{i:08d}" for i in range(4)])
    assert inshop_topk_accuracy(torch.tensor(QUERY), names[QUERY_ITEMS], torch.tensor(GALLERY).half(),
                                names[GALLERY_ITEMS], ks=(1, 3)) == {1: 0.5, 3: 1.0}


def test_ties_go_to_the_lower_gallery_index():
    query = np.array([[1.0, 0.0]])
    gallery = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 1.0]])   # g0 and g1 tie
    assert inshop_topk_accuracy(query, [7], gallery, [5, 7, 6], ks=(1, 2)) == {1: 0.0, 2: 1.0}
    assert inshop_topk_accuracy(query, [7], gallery, [7, 5, 6], ks=(1, 2)) == {1: 1.0, 2: 1.0}
    # a tie of the match with a lower-index non-match at lower similarity than another image
    gallery = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    assert inshop_first_match_ranks(query, [7], gallery, [5, 6, 7]).tolist() == [2]


def test_best_ranked_match_counts_when_an_item_has_several_gallery_images():
    query = np.array([[1.0, 0.0]])
    gallery = np.array([[0.0, 1.0], [1.0, 0.2], [1.0, 0.0], [1.0, 0.9]])
    assert inshop_first_match_ranks(query, [4], gallery, [4, 1, 4, 2]).tolist() == [0]
    assert inshop_first_match_ranks(query, [4], gallery, [4, 1, 2, 4]).tolist() == [2]


def test_a_query_without_a_gallery_image_of_its_item_is_wrong_at_every_k():
    result = inshop_topk_accuracy(QUERY, [0, 9], GALLERY, GALLERY_ITEMS, ks=(1, 4))
    assert result == {1: 0.0, 4: 0.5}


def test_blocks_of_queries_give_the_same_ranks_as_a_full_sort(monkeypatch):
    rng = np.random.default_rng(0)
    query, gallery = rng.standard_normal((57, 6)), rng.standard_normal((40, 6))
    gallery[10] = gallery[3]          # exact ties
    query_items, gallery_items = rng.integers(0, 15, 57), rng.integers(0, 15, 40)
    similarity = (query / np.linalg.norm(query, axis=1, keepdims=True)) @ (
        gallery / np.linalg.norm(gallery, axis=1, keepdims=True)).T
    order = np.argsort(-similarity, axis=1, kind="stable")
    matched = gallery_items[order] == query_items[:, None]
    expected = np.where(matched.any(axis=1), matched.argmax(axis=1), 40)
    assert inshop_first_match_ranks(query, query_items, gallery, gallery_items).tolist() == expected.tolist()
    monkeypatch.setattr(inshop_metrics, "_BLOCK_ELEMENTS", 1)      # one query per block
    assert inshop_first_match_ranks(query, query_items, gallery, gallery_items).tolist() == expected.tolist()


@pytest.mark.parametrize("ks, message", [((1, 5), "exceeds the number of gallery images"), ((0,), ">= 1"),
                                         ((), "at least one k")])
def test_k_must_lie_within_the_gallery(ks, message):
    with pytest.raises(ValueError, match=message):
        inshop_topk_accuracy(QUERY, QUERY_ITEMS, GALLERY, GALLERY_ITEMS, ks=ks)


def test_bad_inputs_are_errors():
    with pytest.raises(ValueError, match="zero"):
        inshop_topk_accuracy(np.zeros((1, 2)), [0], GALLERY, GALLERY_ITEMS, ks=(1,))
    with pytest.raises(ValueError, match="dims"):
        inshop_topk_accuracy(np.ones((1, 3)), [0], GALLERY, GALLERY_ITEMS, ks=(1,))
    with pytest.raises(ValueError, match="expected 2 item labels"):
        inshop_topk_accuracy(QUERY, [0], GALLERY, GALLERY_ITEMS, ks=(1,))
    with pytest.raises(TypeError, match="integer item indices"):
        inshop_topk_accuracy(QUERY, [0.0, 3.0], GALLERY, GALLERY_ITEMS, ks=(1,))
    with pytest.raises(TypeError, match="both"):
        inshop_topk_accuracy(QUERY, ["a", "b"], GALLERY, GALLERY_ITEMS, ks=(1,))


def test_no_query_gives_nan():
    result = inshop_topk_accuracy(np.zeros((0, 2)), np.zeros(0, np.int64), GALLERY, GALLERY_ITEMS, ks=(1, 2))
    assert all(np.isnan(value) for value in result.values())


def test_metric_keys_and_chance_level():
    assert inshop_retrieval_metrics(QUERY, QUERY_ITEMS, GALLERY, GALLERY_ITEMS, ks=(1, 3)) == {
        "inshop_top1": 0.5, "inshop_top3": 1.0}
    # G = 4, one match per query: P(hit in top k) = k / 4; a query with 2 matches: 1 - C(2,1)/C(4,1) = 1/2 at k=1.
    assert inshop_chance_topk([0, 3], GALLERY_ITEMS, ks=(1, 2, 4)) == pytest.approx({
        "inshop_top1": 0.25, "inshop_top2": 0.5, "inshop_top4": 1.0})
    assert inshop_chance_topk([0], [0, 0, 1, 2], ks=(1, 2))["inshop_top1"] == pytest.approx(0.5)
    assert inshop_chance_topk([0], [0, 0, 1, 2], ks=(1, 2))["inshop_top2"] == pytest.approx(1 - 1 / 6)


# ----------------------------------------------------------------------------- baselines
def test_random_embeddings_are_unit_rows_and_seeded():
    first = random_embeddings(5, 16, 3)
    assert first.shape == (5, 16) and np.allclose(np.linalg.norm(first, axis=1), 1.0)
    np.testing.assert_array_equal(first, random_embeddings(5, 16, 3))
    assert not np.allclose(first, random_embeddings(5, 16, 4))


class SolidColours:
    """A stand-in dataset of solid-colour crops, normalised like the real datasets' images."""

    def __init__(self, colours, items):
        self.colours, self.items = colours, np.asarray(items, dtype=np.int64)

    def __len__(self):
        return len(self.colours)

    def __getitems__(self, indices):
        samples = []
        for index in indices:
            pixels = torch.tensor(self.colours[index], dtype=torch.uint8).view(3, 1, 1).expand(3, 8, 8)
            samples.append({"image": F.normalize(F.to_dtype(pixels, torch.float32, scale=True),
                                                 IMAGENET_MEAN, IMAGENET_STD)})
        return samples


def test_colour_histogram_bins_the_denormalised_crop():
    histogram = colour_histogram_embeddings(SolidColours([(255, 0, 0), (40, 200, 130)], [0, 1]), batch_size=1)
    assert histogram.shape == (2, 512)
    assert histogram[0, (7 * 8 + 0) * 8 + 0] == pytest.approx(1.0)
    assert histogram[1, (1 * 8 + 6) * 8 + 4] == pytest.approx(1.0)
    assert np.count_nonzero(histogram) == 2
    assert colour_histogram_embeddings(SolidColours([(255, 0, 0)], [0]), bins=2)[0, 4] == pytest.approx(1.0)


def test_baseline_metrics_keys_and_values():
    colours = [(250, 10, 10), (10, 250, 10), (10, 10, 250)]
    query = SolidColours(colours, [0, 1, 2])
    gallery = SolidColours(list(reversed(colours)) + [(128, 128, 128)], [2, 1, 0, 9])
    results = inshop_baseline_metrics(query, gallery, ks=(1, 4), seed=0)
    assert sorted(results) == ["colour_histogram", "random"]
    assert results["colour_histogram"] == {"inshop_top1": 1.0, "inshop_top4": 1.0}
    assert sorted(results["random"]) == ["inshop_top1", "inshop_top4"] and results["random"]["inshop_top4"] == 1.0
    assert results == inshop_baseline_metrics(query, gallery, ks=(1, 4), seed=0)
    one_draw = inshop_baseline_metrics(query, gallery, ks=(1,), seed=0, repeats=1)["random"]["inshop_top1"]
    assert one_draw in (0.0, 1 / 3, 2 / 3, 1.0)
