"""Paper tables with the papers' numbers beside the reproduced ones.

Rows are the table's metrics (as the paper lists them); columns are methods, and every column
header says where its numbers come from: "[paper · DeepFashion-C]",
"[reproduced · SynthFashion, DeepFashion-C format · profile default · 3 seeds]" or, on the real data,
"[reproduced · DeepFashion FLD · profile paper · 3 seeds]" (data_label). A SynthFashion column can
therefore never be mistaken for a DeepFashion one, and every reproduced column names its benchmark.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from fashion_core.data.vocab import LANDMARK_KEYS, LANDMARK_TABLE_NAMES
from fashion_core.experiments.store import data_source
from fashion_core.experiments.variants import BENCHMARK_SUFFIXES, VARIANTS
from fashion_core.metrics.inshop import INSHOP_TOPK, inshop_metric_keys
from fashion_core.reporting.artifacts import MISSING, format_mean_sd
from fashion_core.reporting.reference import (ATTRIBUTE_GROUPS, DAFE_SEC4_DEEPFASHION2, DEEPFASHION2_NOTE,
                                              FASHIONAI_GROUP_KEYS, LIU_LU_README, reference_rows)

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
# FashionNet's In-shop table: top-k accuracy at the k the DeepFashion In-shop protocol reports.
INSHOP_METRICS = tuple(inshop_metric_keys(INSHOP_TOPK))
INSHOP_ROW_NAMES = tuple(f"Top-{k} accuracy" for k in INSHOP_TOPK)
# The real benchmarks by the format a loader reads (the metrics files' "benchmark"), named as published.
REAL_BENCHMARK_NAMES = {"DeepFashion-C": "DeepFashion-C", "FLD": "DeepFashion FLD", "FashionAI": "FashionAI",
                        "In-shop": "DeepFashion In-shop"}
SYNTHFASHION_TEXT = "{label}, {benchmark} format"


def data_label(metrics_file: Mapping[str, Any], benchmark: str | None = None,
               synthfashion_text: str = SYNTHFASHION_TEXT) -> str:
    """The data a metrics file's numbers on `benchmark` (default: the file's) were measured on, as columns name it.

    SynthFashion: its label and the format read, 'SynthFashion, FLD format' (synthfashion_text
    sets the wording). Real data: the benchmark itself, 'DeepFashion FLD', whatever the profile's
    label; a benchmark of several formats ('DeepFashion-C and FLD') names each. The source is the
    file's "source", or for files written without one, what its dataset_label says (store.data_source).
    """
    benchmark = str(metrics_file.get("benchmark", "?")) if benchmark is None else benchmark
    label = str(metrics_file.get("dataset_label", "?"))
    source = metrics_file.get("source") or data_source(label)
    if source == "real":
        return " and ".join(REAL_BENCHMARK_NAMES.get(part, part) for part in benchmark.split(" and "))
    return synthfashion_text.format(label=label, benchmark=benchmark)


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


def reproduced_entry(method: str, row: dict[str, Any], metrics_file: dict[str, Any],
                     benchmark: str | None = None) -> dict[str, Any]:
    """A reproduced column from one row of a metrics JSON written by fashion_core.experiments.

    Its data label names the benchmark the row was measured on (data_label): `benchmark`, by
    default the file's.
    """
    return {"method": method, "dataset_label": data_label(metrics_file, benchmark), "profile": metrics_file["profile"],
            "seeds": len(row["seeds"]), "mean": row["mean"], "std": row["std"]}


def baseline_entry(method: str, metrics: dict[str, float], metrics_file: dict[str, Any],
                   benchmark: str | None = None) -> dict[str, Any]:
    """A baseline column (deterministic: no seeds, no std), labelled like reproduced_entry."""
    return {"method": method, "dataset_label": data_label(metrics_file, benchmark), "profile": metrics_file["profile"],
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


# ---- DAFE (Chen et al. 2019), Tables 1-2 ----------------------------------------------------------------------------
# Each benchmark's paper columns: Chen et al.'s rows ("Ours" is DAFE), then on DeepFashion-C the Liu & Lu README row.
DAFE_PAPER_COLUMNS = {"DeepFashion-C": ("FashionNet", "DFA", "DLAN", "AFGN", "DAFE", "Liu & Lu 2018"),
                      "FLD": ("FashionNet", "DFA", "DLAN", "AFGN", "DAFE")}


def inshop_entries(fashionnet: dict[str, Any]) -> list[dict[str, Any]]:
    """The In-shop columns of fashionnet_train's metrics: each row's embedding, then the random and
    colour-histogram embeddings (metrics.baselines.inshop_baseline_metrics)."""
    if "inshop_baselines" not in fashionnet:
        raise KeyError("the FashionNet metrics file has no In-shop scores: run fashionnet_train again")
    names = {"random": "random embedding", "colour_histogram": "colour-histogram embedding"}
    return ([reproduced_entry(row["name"], row, fashionnet, "In-shop") for row in fashionnet["rows"].values()]
            + [baseline_entry(names[key], metrics, fashionnet, "In-shop")
               for key, metrics in fashionnet["inshop_baselines"].items()])


def dafe_row_name(key: str, recorded: str) -> str:
    """The printed name of a DAFE metrics row: VARIANTS["dafe"]'s name for its key (benchmark suffix dropped).

    The name comes from VARIANTS rather than the metrics file, so every header of a row the paper
    does not print carries WORKBOOK_OWN_ROW whenever the metrics were written; a key VARIANTS
    does not know keeps its recorded name.
    """
    for suffix in BENCHMARK_SUFFIXES.values():
        if key.endswith(f"_{suffix}"):
            key = key[: -len(suffix) - 1]
            break
    by_key = {variant.key: variant.name for variant in VARIANTS["dafe"].values()}
    return by_key.get(key, recorded)


def dafe_paper_header(method: str, dataset: str) -> str:
    """paper_header, except the Liu & Lu column, whose NE numbers are from its README, not from Chen et al."""
    sources = {row.source for row in reference_rows(method=method, dataset=dataset, metric_prefix="ne_")}
    if sources == {LIU_LU_README}:
        return f"{method} [Liu & Lu README · {dataset} · not in the DAFE paper]"
    return paper_header(method, dataset)


def dafe_reproduced_columns(dafe: dict[str, Any], benchmark: str) -> list[dict[str, Any]]:
    """A dafe metrics file's trained rows on `benchmark`, then its mean-shape baseline, each naming the benchmark."""
    section = dafe["benchmarks"][benchmark]
    entries = [reproduced_entry(dafe_row_name(key, dafe["rows"][key]["name"]), dafe["rows"][key], dafe, benchmark)
               for key in section["rows"]]
    return entries + [baseline_entry("mean shape", section["baselines"]["mean_shape"], dafe, benchmark)]


def dafe_ne_table(dafe: dict[str, Any], benchmark: str) -> pd.DataFrame:
    """DAFE Table 1 (DeepFashion-C) or 2 (FLD): paper NE columns beside the reproduced rows of a dafe metrics file."""
    table = comparison_table(NE_METRICS, LANDMARK_ROW_NAMES, benchmark, DAFE_PAPER_COLUMNS[benchmark],
                             dafe_reproduced_columns(dafe, benchmark))
    return table.rename(columns={paper_header(method, benchmark): dafe_paper_header(method, benchmark)
                                 for method in DAFE_PAPER_COLUMNS[benchmark]})


def dafe_deepfashion2_frame() -> pd.DataFrame:
    """The paper's DeepFashion2 landmark AP (Sec. 4 text), with the note that the workbook does not run DeepFashion2."""
    (row,) = [row for row in reference_rows(method="DAFE", dataset="DeepFashion2")
              if row.source == DAFE_SEC4_DEEPFASHION2]
    return pd.DataFrame([{"column": paper_header("DAFE", "DeepFashion2"),
                          "landmark AP": f"{row.metrics['ap_landmarks']:.1%}", "source": row.source,
                          "note": DEEPFASHION2_NOTE}])


def dafe_sources_table() -> pd.DataFrame:
    """Which table each DAFE paper column was transcribed from, under the headers dafe_ne_table prints."""
    frames = []
    for benchmark, methods in DAFE_PAPER_COLUMNS.items():
        frame = sources_table(methods, benchmark, "ne_")
        frame["column"] = [dafe_paper_header(method, benchmark) for method in methods
                           for _ in reference_rows(method=method, dataset=benchmark, metric_prefix="ne_")]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True).drop_duplicates()
