"""Paper tables with the papers' numbers beside the reproduced ones.

Rows are the table's metrics (as the paper lists them); columns are methods, and every column
header says where its numbers come from: "[paper · DeepFashion-C]" or
"[reproduced · SynthFashion · profile default · 3 seeds]". A SynthFashion column can therefore
never be mistaken for a DeepFashion one.
"""
from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from fashion_core.data.vocab import LANDMARK_KEYS, LANDMARK_TABLE_NAMES
from fashion_core.reporting.artifacts import MISSING, format_mean_sd
from fashion_core.reporting.reference import ATTRIBUTE_GROUPS, FASHIONAI_GROUP_KEYS, reference_rows

LANDMARK_ROW_NAMES = (*LANDMARK_TABLE_NAMES, "Avg")
NE_METRICS = tuple(f"ne_{key}" for key in LANDMARK_KEYS) + ("ne_avg",)
CATEGORY_ATTRIBUTE_METRICS = ("category_top3", "category_top5") + tuple(
    f"attr_{group}_top{k}" for group in ATTRIBUTE_GROUPS for k in (3, 5))
CATEGORY_ATTRIBUTE_ROW_NAMES = ("Category top-3", "Category top-5") + tuple(
    f"{group.capitalize()} recall@{k}" for group in ATTRIBUTE_GROUPS for k in (3, 5))
# Hu et al. 2018 (FPM) Table 1: FashionAI NE by keypoint group, as the paper names the columns.
FASHIONAI_GROUP_ROW_NAMES = ("Neck L.R", "C.Front", "Shoulder L.R", "Armpit L.R", "W.line L.R", "Cuff.I L.R",
                             "Cuff.O L.R", "Top Hem L.R", "W.band L.R", "Hem L.R", "Crotch", "Bottom.I L.R",
                             "Bottom.O L.R", "Ave")
FASHIONAI_NE_METRICS = tuple(f"ne_{key}" for key in FASHIONAI_GROUP_KEYS) + ("ne_avg",)


def paper_header(method: str, dataset: str) -> str:
    return f"{method} [paper · {dataset}]"


def reproduced_header(method: str, dataset_label: str, profile: str, seeds: int | None) -> str:
    """seeds=None marks a deterministic baseline (no training, nothing to average)."""
    if seeds is None:
        return f"{method} [baseline · {dataset_label} · profile {profile}]"
    seeds_text = f"{seeds} seed" + ("s" if seeds != 1 else "")
    return f"{method} [reproduced · {dataset_label} · profile {profile} · {seeds_text}]"


def comparison_table(metrics: Sequence[str], row_names: Sequence[str], dataset: str,
                     paper_methods: Sequence[str], reproduced: Sequence[dict[str, Any]],
                     percent: bool = False) -> pd.DataFrame:
    """Paper columns (from fashion_core.reporting.reference) then reproduced columns.

    `reproduced` items: {"method", "dataset_label", "profile", "seeds", "mean": {metric: v}, "std": {metric: v}}.
    Cells are mean ± sd with 4 decimals, or percentages with 2 when `percent`; MISSING where a column has no number.
    """
    cell_format = {"digits": 2 if percent else 4, "percent": percent, "missing": MISSING}
    columns: dict[str, list[str]] = {}
    for method in paper_methods:
        rows = [row for row in reference_rows(method=method, dataset=dataset) if any(m in row.metrics for m in metrics)]
        merged: dict[str, float] = {}
        for row in rows:
            merged.update(row.metrics)
        columns[paper_header(method, dataset)] = [
            format_mean_sd(merged.get(metric, float("nan")), None, **cell_format) for metric in metrics]
    for entry in reproduced:
        header = reproduced_header(entry["method"], entry["dataset_label"], entry["profile"], entry["seeds"])
        columns[header] = [format_mean_sd(entry["mean"].get(metric, float("nan")), entry["std"].get(metric),
                                          **cell_format) for metric in metrics]
    return pd.DataFrame(columns, index=pd.Index(list(row_names), name="metric"))


def sources_table(paper_methods: Sequence[str], dataset: str, metric_prefix: str) -> pd.DataFrame:
    """Which table of which paper each paper column was transcribed from."""
    records = []
    for method in paper_methods:
        for row in reference_rows(method=method, dataset=dataset, metric_prefix=metric_prefix):
            records.append({"column": paper_header(method, dataset), "source": row.source})
    return pd.DataFrame(records)


def reproduced_entry(method: str, row: dict[str, Any], metrics_file: dict[str, Any]) -> dict[str, Any]:
    """A reproduced column from one row of a metrics JSON written by fashion_core.experiments."""
    return {"method": method, "dataset_label": metrics_file["dataset_label"], "profile": metrics_file["profile"],
            "seeds": len(row["seeds"]), "mean": row["mean"], "std": row["std"]}


def baseline_entry(method: str, metrics: dict[str, float], metrics_file: dict[str, Any]) -> dict[str, Any]:
    """A baseline column (deterministic: no seeds, no std)."""
    return {"method": method, "dataset_label": metrics_file["dataset_label"], "profile": metrics_file["profile"],
            "seeds": None, "mean": metrics, "std": {}}


def per_stage_frame(row: dict[str, Any], prefix: str = "ne_stage") -> pd.DataFrame:
    """One line per stage of a multi-stage row of a metrics JSON: stage, mean, sd and each seed's value."""
    stages = sorted((int(key[len(prefix):]), key) for key in row["per_seed"] if key.startswith(prefix)
                    and key[len(prefix):].isdigit())
    if not stages:
        raise KeyError(f"row {row.get('name')!r} has no {prefix}<t> metrics")
    records = []
    for stage, key in stages:
        values = row["per_seed"][key]
        records.append({"stage": stage, "mean": row["mean"][key], "sd": row["std"][key],
                        **{f"seed {seed}": value for seed, value in zip(row["seeds"], values)}})
    return pd.DataFrame(records).set_index("stage")
