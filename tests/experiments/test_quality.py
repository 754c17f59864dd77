"""Quality bars on hand-made results: each bar applies where its metric and baseline exist."""
from __future__ import annotations

import pandas as pd

from fashion_core.experiments import quality_checks
from fashion_core.experiments.store import ExperimentResults, RunResult
from fashion_core.experiments.variants import Variant


def results(*rows: tuple[Variant, list[dict[str, float]]]) -> ExperimentResults:
    return ExperimentResults([RunResult(variant, seed, metrics, pd.DataFrame(), 0.0, None)
                              for variant, per_seed in rows for seed, metrics in enumerate(per_seed)])


def test_landmark_category_and_attribute_bars_on_hand_computed_values():
    good = Variant("good", "Good", "fashionnet")
    noisy = Variant("noisy", "Noisy", "fashionnet")
    table = quality_checks(results(
        (good, [{"ne_avg": 0.04, "category_top1": 0.50, "attr_all_top5": 0.30},
                {"ne_avg": 0.06, "category_top1": 0.52, "attr_all_top5": 0.32}]),
        # top-1 mean 0.45 but sd 0.1414: mean - 2 sd = 0.167 is not clearly above 0.2
        (noisy, [{"ne_avg": 0.20, "category_top1": 0.35, "attr_all_top5": 0.10},
                 {"ne_avg": 0.22, "category_top1": 0.55, "attr_all_top5": 0.12}]),
    ), {"mean_shape": {"ne_avg": 0.2}, "majority_class": {"category_top1": 0.2}, "frequency_prior": {"attr_all_top5": 0.2}})
    passed = {(row.variant, row.check.split(" ")[0]): row.passed for row in table.itertuples()}
    assert passed == {("Good", "landmark"): True, ("Good", "category"): True, ("Good", "attribute"): True,
                      ("Noisy", "landmark"): False, ("Noisy", "category"): False, ("Noisy", "attribute"): False}
    assert table.loc[table["variant"] == "Good", "bar"].tolist() == [0.1, 0.2, 0.2]


def test_a_row_without_a_metric_gets_no_bar_and_retrieval_rows_face_the_triplet_network():
    triplet = Variant("triplet", "Triplet", "retrieval_baseline", {"condition": "none"})
    asen = Variant("asen", "ASEN", "retrieval_baseline", {"condition": "type"})
    table = quality_checks(results((triplet, [{"map_all": 0.20}, {"map_all": 0.22}]),
                                   (asen, [{"map_all": 0.25}, {"map_all": 0.23}])),
                           {"majority_class": {"category_top1": 0.2}})
    assert table[["variant", "check", "passed"]].values.tolist() == [
        ["ASEN", "retrieval mAP (all) above the unconditioned triplet network", True]]
