"""Quality bars: each trained row against the no-model baselines, printed beside every table.

A row's bars, where it has the metric and the baseline exists:
- landmark NE at most half the mean-shape baseline's;
- category top-1 "clearly above" the majority class: the mean minus two standard deviations over
  seeds is still above it;
- attribute recall@5 'all' above the frequency prior (means);
- retrieval mAP (all) above the unconditioned triplet network's (means), for every other row.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fashion_core.experiments.store import ExperimentResults


def _has(row: pd.Series, metric: str) -> bool:
    return metric in row and not np.isnan(row[metric])


def quality_checks(results: ExperimentResults, baselines: dict[str, Any]) -> pd.DataFrame:
    """One record per (row, bar): variant, check, value, bar, passed."""
    summary = results.summary()
    names = {run.variant.key: run.variant.name for run in results.runs}
    triplet_keys = [run.variant.key for run in results.runs if run.variant.model_kwargs.get("condition") == "none"]
    triplet_map = summary.loc[triplet_keys[0], "map_all"] if triplet_keys else None
    records = []
    for key, row in summary.iterrows():
        checks = []
        if _has(row, "ne_avg") and "mean_shape" in baselines:
            bar = 0.5 * baselines["mean_shape"]["ne_avg"]
            checks.append(("landmark NE <= 0.5 x mean-shape NE", row["ne_avg"], bar, row["ne_avg"] <= bar))
        if _has(row, "category_top1") and "majority_class" in baselines:
            low = row["category_top1"] - 2 * np.nan_to_num(row["category_top1_std"])
            bar = baselines["majority_class"]["category_top1"]
            checks.append(("category top-1 clearly above majority class", row["category_top1"], bar, low > bar))
        if _has(row, "attr_all_top5") and "frequency_prior" in baselines:
            bar = baselines["frequency_prior"]["attr_all_top5"]
            checks.append(("attribute recall@5 'all' above frequency prior", row["attr_all_top5"], bar,
                           row["attr_all_top5"] > bar))
        if triplet_map is not None and key not in triplet_keys:
            checks.append(("retrieval mAP (all) above the unconditioned triplet network", row["map_all"], triplet_map,
                           row["map_all"] > triplet_map))
        for check, value, bar, passed in checks:
            records.append({"variant": names[key], "check": check, "value": round(float(value), 4),
                            "bar": round(float(bar), 4), "passed": bool(passed)})
    return pd.DataFrame(records)
