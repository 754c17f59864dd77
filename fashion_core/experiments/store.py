"""The results store: one run's and one table's results, their metrics JSON and saved test-split predictions.

The files are committed with the reports, so they are pure functions of code, data and seed.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fashion_core.experiments.variants import PRODUCERS, Settings, Variant
from fashion_core.io import atomic_path, write_json_atomic
from fashion_core.metrics.evaluation import Predictions
from fashion_core.paths import output_dir, remove_report_file, report_file, reports_dir


@dataclass
class RunResult:
    variant: Variant
    seed: int
    metrics: dict[str, float]
    history: pd.DataFrame
    train_seconds: float
    predictions: Predictions


@dataclass
class ExperimentResults:
    runs: list[RunResult]

    def per_seed(self) -> pd.DataFrame:
        """One row per (variant, seed), one column per metric."""
        rows = [{"variant": run.variant.key, "seed": run.seed, **run.metrics} for run in self.runs]
        return pd.DataFrame(rows)

    def histories(self) -> pd.DataFrame:
        frames = [run.history.assign(variant=run.variant.name, seed=run.seed) for run in self.runs]
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """Mean and sample std over seeds per variant (rows) and metric (columns, 'metric' and 'metric_std')."""
        per_seed = self.per_seed().drop(columns="seed")
        grouped = per_seed.groupby("variant", sort=False)
        mean, std = grouped.mean(), grouped.std(ddof=1)
        return mean.join(std.add_suffix("_std"))


# Every SynthFashion profile's dataset_label (params/<profile>/data.yaml) starts with this, and no real
# one does (tests/reporting/test_data_labels.py checks every profile), so a label tells its source.
SYNTHFASHION_LABEL = "SynthFashion"


def data_source(dataset_label: str) -> str:
    """'synthfashion' for a SynthFashion label ('SynthFashion', 'SynthFashion-smoke'), 'real' for any other."""
    return "synthfashion" if dataset_label.startswith(SYNTHFASHION_LABEL) else "real"


def metrics_path(profile: str, paper: str) -> Path:
    """Where reports/<profile>/metrics/<paper>.json is read (this run's staged copy first)."""
    return report_file(profile, "metrics", f"{paper}.json")


def metrics_target(profile: str, paper: str) -> Path:
    """Where it is written: the notebook's staging folder under run_all (fashion_core.paths.output_dir)."""
    return output_dir(profile) / "metrics" / f"{paper}.json"


def write_metrics(paper: str, settings: Settings, benchmark: str, results: ExperimentResults,
                  extra: dict[str, Any] | None = None) -> Path:
    """Write reports/<profile>/metrics/<paper>.json atomically: per-seed values, means and stds per variant.

    Timings are left out on purpose: the file is committed with the reports and must be a pure
    function of code, data and seed.
    """
    per_seed = results.per_seed()
    rows = {}
    variants_in_order = {run.variant.key: run.variant for run in results.runs}
    for variant in variants_in_order.values():
        values = per_seed[per_seed["variant"] == variant.key].drop(columns=["variant"])
        # Only the metrics this variant's runs produced (rows of one table may differ, e.g. per-stage NE).
        produced = {name for run in results.runs if run.variant.key == variant.key for name in run.metrics}
        metric_columns = [column for column in values.columns if column != "seed" and column in produced]
        rows[variant.key] = {
            "name": variant.name,
            "model": variant.model,
            "model_kwargs": variant.model_kwargs,
            "seeds": values["seed"].tolist(),
            "per_seed": {column: values[column].tolist() for column in metric_columns},
            "mean": {column: float(values[column].mean()) for column in metric_columns},
            "std": {column: float(values[column].std(ddof=1)) if len(values) > 1 else float("nan")
                    for column in metric_columns},
        }
    payload = {
        "paper": paper,
        "dataset_label": settings.dataset_label,
        # Whether the numbers are SynthFashion's or the real benchmark's: reporting names the column by it.
        "source": data_source(settings.dataset_label),
        "benchmark": benchmark,
        "profile": settings.profile,
        "settings": {key: value for key, value in dataclasses.asdict(settings).items()
                     if key not in ("num_workers", "progress_bars")},
        "rows": rows,
        **(extra or {}),
    }
    # Predictions first: once the metrics file exists, the predictions it summarises exist too.
    write_predictions(settings.profile, paper, results)
    return write_json_atomic(metrics_target(settings.profile, paper), payload)


class MissingMetricsError(FileNotFoundError):
    """A tables notebook needs a metrics file that its train notebook has not written yet."""


class MissingPredictionsError(MissingMetricsError):
    """A report needs saved test-split predictions that the train notebook has not written yet."""


# Saved test-split predictions: reports/<profile>/predictions/<paper>/<row key>-seed<s>.npz, one per
# trained run, so the report can rescore the same predictions under other protocols. They are
# committed with the reports, hence the compact dtypes: coordinates stay float32 (the NE recomputed
# from them equals the recorded one), scores are float16 (a ranking can change only between scores
# closer than float16 resolves, about 1e-3 relative), labels are small ints.
# Per-stage coordinates of multi-stage models (stage_landmarks) are not kept: their NE is in the
# metrics file and nothing rescores them.
_PREDICTION_DTYPES = {
    "index": np.int32, "landmarks": np.float32, "landmarks_true": np.float32, "visible": np.bool_,
    "visibility": np.int8, "clothes_type": np.int8, "category_scores": np.float16, "category": np.int16,
    "attribute_scores": np.float16, "attributes": np.int8, "scale": np.float32,
}


def predictions_path(profile: str, paper: str, row_key: str, seed: int) -> Path:
    """Where one run's saved predictions are read (this run's staged copy first)."""
    return report_file(profile, "predictions", paper, _predictions_name(row_key, seed))


def _predictions_name(row_key: str, seed: int) -> str:
    return f"{row_key}-seed{int(seed)}.npz"


def save_predictions(path: Path, predictions: Predictions) -> Path:
    """One run's Predictions as a compressed .npz (atomic), in the dtypes of _PREDICTION_DTYPES."""
    arrays = {"input_size": np.asarray(predictions.input_size, dtype=np.int32)}
    for name, dtype in _PREDICTION_DTYPES.items():
        value = getattr(predictions, name)
        if value is not None:
            arrays[name] = np.asarray(value).astype(dtype)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:  # a file object, so numpy does not append a second ".npz"
            np.savez_compressed(handle, **arrays)
    return Path(path)


def write_predictions(profile: str, paper: str, results: ExperimentResults) -> list[Path]:
    """Save every run's test-split predictions; files of runs no longer in `results` are removed.

    Runs without predictions (M2Fashion's, scored by its own protocol) are skipped. The removal
    keeps the directory in step with the metrics file, which is rewritten whole each time.
    """
    target = output_dir(profile) / "predictions" / paper
    written = [save_predictions(target / _predictions_name(run.variant.key, run.seed), run.predictions)
               for run in results.runs if run.predictions is not None]
    names = {path.name for path in written}
    for stale in sorted((reports_dir(profile) / "predictions" / paper).glob("*.npz")):
        if stale.name not in names:
            remove_report_file(profile, stale)
    return written


def load_predictions(profile: str, paper: str, row_key: str, seed: int) -> Predictions:
    """The saved test-split Predictions of one (row, seed), as its train notebook wrote them."""
    path = predictions_path(profile, paper, row_key, seed)
    if not path.exists():
        producer = PRODUCERS.get(paper, f"{paper}_train")
        saved = sorted(item.stem for item in path.parent.glob("*.npz")) if path.parent.is_dir() else []
        raise MissingPredictionsError(
            f"{path} is missing: run the {producer} notebook for profile {profile!r} "
            f"(./run_all.sh --profile {profile} --only {producer}); saved for {paper}: {saved or 'nothing'}")
    with np.load(path) as stored:
        arrays = {name: stored[name] for name in stored.files}
    fields = {name: arrays[name].astype(np.float32) if arrays[name].dtype == np.float16 else arrays[name]
              for name in _PREDICTION_DTYPES if name in arrays}
    for name in ("index", "visibility", "clothes_type", "category", "attributes"):
        if name in fields:
            fields[name] = fields[name].astype(np.int64)
    missing = [name for name in ("index", "landmarks", "landmarks_true", "visible", "visibility", "clothes_type")
               if name not in fields]
    if missing:
        raise ValueError(f"{path}: expected arrays {missing} (written by fashion_core.experiments.save_predictions)")
    return Predictions(input_size=int(arrays["input_size"]), **fields)


def load_metrics(profile: str, paper: str) -> dict[str, Any]:
    path = metrics_path(profile, paper)
    if not path.exists():
        producer = PRODUCERS.get(paper, f"{paper}_train")
        raise MissingMetricsError(
            f"{path} is missing: run the {producer} notebook for profile {profile!r} first "
            f"(./run_all.sh --profile {profile} --only {producer})")
    return json.loads(path.read_text(encoding="utf-8"))



def recorded_input_size(profile: str, paper: str) -> int:
    """The input size the paper's models were trained at (from the metrics JSON)."""
    return int(load_metrics(profile, paper)["settings"]["input_size"])
