"""Attribute-specific retrieval: mAP on a hand-computed case, value sets, the query/gallery protocol, unknown-only recall."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fashion_core.metrics import retrieval
from fashion_core.metrics.evaluation import attribute_metrics, attribute_metrics_on_unknown
from fashion_core.metrics.functional import retrieval_average_precisions, retrieval_map

# Six attributes: two of type 1, three of type 2, one of type 3.
TYPES = np.array([1, 1, 2, 2, 2, 3])


def test_retrieval_map_hand_computed():
    query = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    gallery = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [-1.0, 0.0]])
    relevant = np.array([[False, True, True, False],    # ranks g0, g2, g1, g3: hits at 2 and 3
                         [True, False, False, False],   # ranks g1, g2, g0, g3: hit at 3
                         [False, False, False, False]])  # no relevant item: left out of the mean
    expected = [(1 / 2 + 2 / 3) / 2, 1 / 3, np.nan]
    np.testing.assert_allclose(retrieval_average_precisions(query, gallery, relevant), expected)
    assert retrieval_map(query, gallery, relevant) == pytest.approx(((1 / 2 + 2 / 3) / 2 + 1 / 3) / 2)


def test_value_ids_compare_whole_sets_and_mark_missing_values():
    attributes = np.array([
        [1, 0, 1, 1, 0, 0],
        [1, 0, 1, 0, 0, 0],
        [1, 0, 1, 1, 0, 1],
        [0, 0, 0, 0, 0, 0],
    ])
    ids = retrieval.type_value_ids(attributes, TYPES)
    assert ids.shape == (4, 3)
    assert ids[0, 0] == ids[1, 0] == ids[2, 0] and ids[3, 0] == -1         # type 1: {a0} three times, none
    assert ids[0, 1] == ids[2, 1] != ids[1, 1]                            # type 2: {a2, a3} vs {a2}
    assert ids[0, 2] == ids[1, 2] == ids[3, 2] == -1 and ids[2, 2] >= 0  # type 3 only on image 2


def test_condition_states_state_the_value_of_one_type():
    np.testing.assert_array_equal(retrieval.condition_states(np.array([1, 0, 1, 1, 0, 1]), TYPES, 2),
                                  [0, 0, 1, 1, -1, 0])
    table = retrieval.condition_state_table(np.array([[1, 0, 1, 1, 0, 1]]), TYPES)
    assert table.shape == (1, 3, 6)
    np.testing.assert_array_equal(table[0, 0], [1, -1, 0, 0, 0, 0])


def test_split_keeps_queries_out_of_the_gallery():
    split = retrieval.retrieval_split(10, 4)
    np.testing.assert_array_equal(split.queries, [0, 4, 8])
    assert not set(split.queries) & set(split.gallery) and len(split.gallery) == 7
    with pytest.raises(ValueError, match="query_every"):
        retrieval.retrieval_split(10, 1)


class ValueOracle(nn.Module):
    """Embeds an image by its attributes of the stated type (a 'perfect' model), recording every call's states."""

    def __init__(self, attributes: np.ndarray, conditions_on: str = "values"):
        super().__init__()
        self.attributes = torch.tensor(attributes, dtype=torch.float32)
        self.conditions_on = conditions_on
        self.weight = nn.Parameter(torch.zeros(1))
        self.calls: list[tuple[int, torch.Tensor]] = []

    def features(self, image):  # pragma: no cover - retrieval_metrics is given features
        raise AssertionError

    def precompute(self, features):
        return None

    def condition_embedding(self, features, types, states, precomputed=None):
        self.calls.append((len(features), states.clone()))
        rows = features[:, 0].long()
        of_type = torch.from_numpy(TYPES == int(types[0]) + 1)
        return torch.cat([self.attributes[rows] * of_type, torch.ones(len(rows), 1) * 1e-3], dim=1)


def _attributes(n: int = 24, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 6)) < 0.4).astype(np.int8)


def test_a_perfect_embedding_scores_map_one_and_the_gallery_never_gets_labels():
    attributes = _attributes()
    features = torch.arange(len(attributes), dtype=torch.float32)[:, None]
    split = retrieval.retrieval_split(len(attributes), 3)
    model = ValueOracle(attributes)
    model.gallery_condition = "unknown"
    result = retrieval.retrieval_metrics(model, features, attributes, TYPES, split)
    assert set(result) == {"map_texture", "map_fabric", "map_shape", "map_all"}
    for key, value in result.items():
        assert value == pytest.approx(1.0), key
    gallery_calls = [states for size, states in model.calls if size == len(split.gallery)]
    assert gallery_calls and all((states == 0).all() for states in gallery_calls)
    assert any((states != 0).any() for size, states in model.calls if size != len(split.gallery))


def test_a_query_conditioned_gallery_is_embedded_under_each_query_value_and_nothing_else():
    attributes = _attributes()
    features = torch.arange(len(attributes), dtype=torch.float32)[:, None]
    split = retrieval.retrieval_split(len(attributes), 3)
    model = ValueOracle(attributes)
    model.gallery_condition = "query"
    result = retrieval.retrieval_metrics(model, features, attributes, TYPES, split)
    assert result["map_all"] == pytest.approx(1.0)
    query_states = {tuple(states[0].tolist()) for size, states in model.calls if size != len(split.gallery)}
    gallery_states = [states for size, states in model.calls if size == len(split.gallery)]
    # One gallery pass per distinct query value, each under exactly that value's states (never a gallery label).
    assert len(gallery_states) == len(query_states)
    assert {tuple(states[0].tolist()) for states in gallery_states} == query_states
    assert all((states == states[0]).all() for states in gallery_states)


def test_models_not_conditioned_on_values_get_no_states():
    attributes = _attributes()
    model = ValueOracle(attributes, conditions_on="type")
    retrieval.retrieval_metrics(model, torch.arange(24.0)[:, None], attributes, TYPES, retrieval.retrieval_split(24, 3))
    assert all((states == 0).all() for _, states in model.calls)


def test_random_embeddings_score_near_the_relevant_share():
    attributes = _attributes(200, seed=1)
    split = retrieval.retrieval_split(200, 4)
    chance = retrieval.random_embedding_map(attributes, TYPES, split, repeats=3)
    protocol = retrieval.protocol_table(attributes, TYPES, split)
    assert list(protocol.index) == ["texture", "fabric", "shape"]
    assert protocol["queries"].sum() > 0
    for condition, share in protocol["mean relevant share"].items():
        assert abs(chance[f"map_{condition}"] - share) < 0.15


def test_unknown_only_recall_ignores_revealed_labels():
    rng = np.random.default_rng(0)
    scores, targets = rng.random((30, 6)), (rng.random((30, 6)) < 0.4).astype(np.int8)
    nothing_known = np.zeros_like(targets, dtype=bool)
    assert attribute_metrics_on_unknown(scores, targets, TYPES, nothing_known) == attribute_metrics(scores, targets, TYPES)
    # Revealing a positive and giving it the top score must not count it as a hit.
    known = nothing_known.copy()
    known[:, 0] = True
    boosted = scores.copy()
    boosted[:, 0] = 10.0
    expected = attribute_metrics(np.where(known, -np.inf, scores), np.where(known, 0, targets), TYPES)
    assert attribute_metrics_on_unknown(boosted, targets, TYPES, known) == expected
    with pytest.raises(ValueError, match="known"):
        attribute_metrics_on_unknown(scores, targets, TYPES, known[:, :3])
