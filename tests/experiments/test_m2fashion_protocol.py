"""M2Fashion's paper profile and Table 3's "All": the printed one beside the two computed ones."""
from __future__ import annotations

import numpy as np
import pytest

from fashion_core.experiments import m2fashion as m2
from fashion_core.metrics import functional, retrieval
from fashion_core.params import resolved_parameters
from fashion_core.paths import notebooks_dir
from fashion_core.reporting.reference import DARN_CONDITIONS, reference_rows


def test_the_paper_profile_trains_with_cosine_similarity():
    params = resolved_parameters("paper", notebooks_dir() / "m2fashion_train.ipynb")
    assert params["similarity"] == "cosine"


def test_the_printed_all_is_not_the_mean_of_the_printed_conditions():
    (row,) = reference_rows(method="Triplet", dataset="DARN")
    mean = np.mean([row.metrics[f"map_{condition}"] for condition in DARN_CONDITIONS])
    assert row.metrics["map_all"] == pytest.approx(0.4014)   # as printed
    assert mean == pytest.approx(0.40358, abs=1e-5)          # what the nine conditions average to


# Six test images, two types (attributes 0-1 of type 1, 2-3 of type 2); query_every 2 makes images
# 0, 2, 4 the queries and 1, 3, 5 the gallery.
ATTRIBUTES = np.array([[1, 0, 1, 0],    # query: type 1 {0} (relevant: 1, 3), type 2 {2} (relevant: 1)
                       [1, 0, 1, 0],
                       [0, 1, 0, 0],    # query: type 1 {1} (no relevant gallery item: no AP), no type-2 value
                       [1, 0, 0, 1],
                       [1, 0, 0, 1],    # query: type 1 {0}, type 2 {3} (relevant: 3)
                       [0, 0, 0, 0]])
TYPES = np.array([1, 1, 2, 2])
SPLIT = retrieval.retrieval_split(len(ATTRIBUTES), 2)


def test_scored_queries_count_the_queries_with_an_average_precision():
    assert m2.scored_queries(ATTRIBUTES, TYPES, SPLIT) == {"map_texture": 2, "map_fabric": 2}


def test_pooled_all_weighs_each_query_once_and_the_mean_all_each_condition_once():
    # Say the per-query APs are texture [1.0, 0.5, 0.0] and fabric [1.0]: mAP texture 0.5, fabric 1.0.
    maps = {"map_texture": 0.5, "map_fabric": 1.0}
    counts = {"map_texture": 3, "map_fabric": 1}
    mean_all = np.mean(list(maps.values()))
    pooled = m2.pooled_map_all(maps, counts)
    assert mean_all == pytest.approx(0.75)
    assert pooled == pytest.approx(np.mean([1.0, 0.5, 0.0, 1.0])) == pytest.approx(0.625)
    # A condition without a scored query adds nothing; none at all gives NaN.
    assert m2.pooled_map_all({**maps, "map_shape": float("nan")}, {**counts, "map_shape": 0}) == pytest.approx(0.625)
    assert np.isnan(m2.pooled_map_all({"map_shape": float("nan")}, {"map_shape": 0}))


def test_the_pooled_all_is_the_mean_of_every_scored_query_s_average_precision():
    """Random embeddings ranked by retrieval's own AP: pooling the counts equals pooling the per-query APs."""
    values = retrieval.type_value_ids(ATTRIBUTES, TYPES)
    rng = np.random.default_rng(0)
    embedding = rng.standard_normal((len(ATTRIBUTES), 8))
    per_condition, maps = {}, {}
    for column, code in enumerate(retrieval.type_codes(TYPES)):
        query_values = values[SPLIT.queries, column]
        keep = query_values >= 0
        relevant = query_values[keep, None] == values[SPLIT.gallery, column][None, :]
        aps = functional.retrieval_average_precisions(embedding[SPLIT.queries[keep]], embedding[SPLIT.gallery],
                                                      relevant)
        per_condition[code] = aps[~np.isnan(aps)]
        maps[f"map_{retrieval.condition_name(code)}"] = float(np.mean(per_condition[code]))
    pooled = m2.pooled_map_all(maps, m2.scored_queries(ATTRIBUTES, TYPES, SPLIT))
    assert pooled == pytest.approx(float(np.mean(np.concatenate(list(per_condition.values())))))
    assert np.mean(list(maps.values())) == pytest.approx(np.mean([aps.mean() for aps in per_condition.values()]))
