"""The reproduction report (notebooks/90_reproduction_report): what the five papers' notebooks add up to.

Four sections, each computed here from what the train notebooks wrote (metrics JSON and the
saved test-split predictions of fashion_core.experiments), never from numbers typed in:

- the claims ledger (fashion_core.reporting.ledger, one rule for every verdict);
- a cross-paper landmark leaderboard: FashionNet, Liu & Lu, DAFE and FPM (8 landmarks), all
  trained by dafe_train on the same DeepFashion-C-format split with the landmark loss alone,
  scored under one protocol, with detection-rate curves from the saved predictions;
- protocol sensitivity: the same saved predictions scored under the different published
  protocols, and how far each number moves;
- a gallery: the trained DAFE, Liu & Lu and M2Fashion models run on a folder of photos (or the
  test split), drawn with the viewers' own panels (fashion_core.viewers.gallery).

A section whose inputs are missing (a paper not run for this profile) is replaced by a message
naming the notebook to run, through `section`; the smoke and default profiles run every paper,
so there every section is present (tests/test_report_notebook.py checks it).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fashion_core import experiments
from fashion_core.data.errors import AnnotationError
from fashion_core.data.fashionai import read_fashionai
from fashion_core.experiments.store import MissingMetricsError
from fashion_core.metrics import functional
from fashion_core.metrics.evaluation import Predictions, fashionai_score
from fashion_core.reporting import artifacts, claims, ledger, tables

# The leaderboard's models, as rows of VARIANTS["dafe"]: every one trained by dafe_train on the same
# crops, input size, epochs, optimiser and seeds, with the landmark loss alone.
LEADERBOARD_VARIANTS = {"FashionNet": "fashionnet", "Liu & Lu": "liu2018", "DAFE": "full", "FPM": "fpm"}
LEADERBOARD_BENCHMARK = "DeepFashion-C"
# NE distances (fractions of the crop side) the curve is drawn over and the table reports.
CURVE_THRESHOLDS = tuple(np.round(np.linspace(0.0, 0.3, 61), 4))
TABLE_THRESHOLDS = (0.025, 0.05, 0.1, 0.2)
# The attribute models rescored under mmfashion's recall: the full FashionNet and Liu & Lu rows.
ATTRIBUTE_ROWS = {"FashionNet": ("fashionnet", "fashionnet"), "Liu & Lu": ("liu2018", "liu2018")}
RECALL_K = (3, 5)
MMFASHION_TOP_N = 50
# FPM's FashionAI rows, rescored with the crop (whole-image) normaliser.
FASHIONAI_ROWS = {"FPM": ("fpm", "fpm"), "FashionNet-style regression": ("fpm", "fpm_regression")}


@contextlib.contextmanager
def section(name: str) -> Iterator[None]:
    """Run one report section; missing inputs become a message in the report instead of a crash.

    Only "this was not produced" errors are caught (missing metrics or predictions); any other
    error is a bug and propagates.
    """
    try:
        yield
    except MissingMetricsError as error:
        # IPython is there only inside a kernel; the module also runs in plain scripts and tests.
        from IPython.display import display

        # Markdown in the notebook, the same words as plain text anywhere else.
        display({"text/markdown": f"**{name}: not shown.** {error}", "text/plain": f"{name}: not shown. {error}"},
                raw=True)


def dataset_header(metrics_file: Mapping[str, Any], benchmark: str) -> str:
    """The header suffix naming the data and profile: '[SynthFashion, FLD format · profile default]', or on the
    real data the benchmark itself, '[DeepFashion FLD · profile paper]' (tables.data_label)."""
    return f"[{tables.data_label(metrics_file, benchmark)} · profile {metrics_file['profile']}]"


# ---------------------------------------------------------------------------- claims ledger

def verdict_rule() -> str:
    """The one verdict rule of every claim (fashion_core.reporting.claims)."""
    return claims.VERDICT_RULE


def claims_ledger(profile: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the ledger, claims per paper and verdict); both saved as tables.

    The ledger goes where ledger.save_ledger puts it (tables/claims_ledger), the counts to
    tables/report_claims_verdict_counts.
    """
    ledger_table = ledger.save_ledger(profile)
    counts = ledger.verdict_counts(ledger_table)
    labels = "; ".join(dict.fromkeys(label for label in ledger_table["dataset"] if label and label != "–"))
    artifacts.save_table(counts, "report_claims_verdict_counts", profile,
                       caption=f"Claims per paper and verdict, profile {profile} ({labels or 'no data'}).")
    return ledger_table, counts


# ---------------------------------------------------------------------------- leaderboard

def leaderboard_keys(benchmark: str = LEADERBOARD_BENCHMARK) -> dict[str, str]:
    """{method: row key in dafe.json} of the leaderboard's models on `benchmark`."""
    rows = experiments.for_benchmark(experiments.variants("dafe", list(LEADERBOARD_VARIANTS.values())), benchmark)
    return dict(zip(LEADERBOARD_VARIANTS, (row.key for row in rows)))


def leaderboard(dafe: Mapping[str, Any], benchmark: str = LEADERBOARD_BENCHMARK) -> pd.DataFrame:
    """Per-landmark NE and Avg (mean ± sd over seeds), one column per model, from dafe.json (visible-only protocol)."""
    missing = [key for key in leaderboard_keys(benchmark).values() if key not in dafe["rows"]]
    if missing:
        raise MissingMetricsError(f"dafe.json (profile {dafe['profile']!r}) has no rows {missing}: run dafe_train with "
                                  f"variants {list(LEADERBOARD_VARIANTS.values())} (./run_all.sh --profile "
                                  f"{dafe['profile']} --only dafe_train)")
    entries = [tables.reproduced_entry(method, dafe["rows"][key], dafe, benchmark)
               for method, key in leaderboard_keys(benchmark).items()]
    return tables.comparison_table(tables.NE_METRICS, tables.LANDMARK_ROW_NAMES, benchmark, [], entries)


def detection_rates(profile: str, rows: Mapping[str, str], seeds: Sequence[int], paper: str = "dafe",
                    thresholds: Sequence[float] = CURVE_THRESHOLDS) -> pd.DataFrame:
    """Long table (method, seed, threshold, rate): the share of visible landmarks within `threshold` of the truth.

    Distances are normalised like NE (x by the crop width, y by its height); invisible landmarks
    count in neither numerator nor denominator (functional.detection_rate).
    """
    records = []
    for method, key in rows.items():
        for seed in seeds:
            predictions = experiments.load_predictions(profile, paper, key, seed)
            rates = functional.detection_rate(predictions.landmarks, predictions.landmarks_true, predictions.visible,
                                           thresholds, size=predictions.input_size)
            records += [{"method": method, "seed": int(seed), "threshold": float(threshold), "rate": float(rate)}
                        for threshold, rate in zip(thresholds, rates)]
    return pd.DataFrame(records)


def detection_rate_table(rates: pd.DataFrame, header_suffix: str,
                         thresholds: Sequence[float] = TABLE_THRESHOLDS) -> pd.DataFrame:
    """One row per method, one column per threshold: detection rate, mean ± sd over seeds."""
    chosen = rates[np.isin(rates["threshold"].round(6), np.round(thresholds, 6))]
    missing = sorted(set(np.round(thresholds, 6)) - set(chosen["threshold"].round(6)))
    if missing:
        raise ValueError(f"no detection rates at thresholds {missing}: compute them with detection_rates(thresholds=...)")
    grouped = chosen.groupby(["method", "threshold"], sort=False)["rate"]
    summary = grouped.mean().to_frame("mean").join(grouped.std(ddof=1).rename("sd")).reset_index()
    cells = {(row.method, round(row.threshold, 6)): artifacts.format_mean_sd(row.mean, row.sd)
             for row in summary.itertuples()}
    methods = list(dict.fromkeys(rates["method"]))
    return pd.DataFrame({f"rate at d ≤ {threshold:g} {header_suffix}":
                         [cells[(method, round(threshold, 6))] for method in methods] for threshold in thresholds},
                        index=pd.Index(methods, name="method"))


def plot_detection_rates(rates: pd.DataFrame, title: str, marks: Sequence[float] = TABLE_THRESHOLDS):
    """Detection rate against the normalised distance d, one line per method (mean over seeds, band = min..max)."""
    figure, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    for method, frame in rates.groupby("method", sort=False):
        by_threshold = frame.groupby("threshold")["rate"]
        mean, low, high = by_threshold.mean(), by_threshold.min(), by_threshold.max()
        line, = ax.plot(mean.index, mean.values, label=method, linewidth=1.6)
        if (high > low).any():
            ax.fill_between(mean.index, low.values, high.values, color=line.get_color(), alpha=0.2, linewidth=0)
    for mark in marks:
        ax.axvline(mark, color="0.6", linestyle=":", linewidth=0.8)
    ax.set_xlim(0, float(rates["threshold"].max()))
    ax.set_ylim(0, 1)
    ax.set_xlabel("normalised distance d to the ground truth (fraction of the crop side)")
    ax.set_ylabel("fraction of visible landmarks within d")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return figure


# ---------------------------------------------------------------------------- protocol sensitivity

def landmark_ne_protocols(predictions: Predictions) -> tuple[float, float]:
    """(NE averaged over visible landmarks, mmfashion's NE with invisible landmarks as zero error)."""
    args = (predictions.landmarks, predictions.landmarks_true, predictions.visible, predictions.input_size)
    return (functional.normalized_error(*args)["mean"], functional.normalized_error(*args, protocol="mmfashion")["mean"])


def attribute_recall_protocols(predictions: Predictions, k: int, top_n: int = MMFASHION_TOP_N) -> tuple[float, float]:
    """(DeepFashion micro recall@k over all attributes, mmfashion's mean per-attribute recall@k of the best top_n)."""
    if predictions.attribute_scores is None:
        raise ValueError("these predictions have no attribute scores")
    return (functional.attribute_recall_at_k(predictions.attribute_scores, predictions.attributes, k)["all"],
            functional.mmfashion_attribute_recall(predictions.attribute_scores, predictions.attributes, k, top_n))


def crop_normalised_ne_pooled(predictions: Predictions) -> float:
    """NE with the DeepFashion normaliser (x by the input's width, y by its height), pooled like FashionAI's.

    Averaged over every counted (image, keypoint) pair, not per keypoint first, so that against
    the FashionAI challenge NE only the normaliser differs. For FashionAI the model's input is the
    whole image resized to S x S, so the "crop" is the image.
    """
    per_landmark = functional.normalized_error(predictions.landmarks, predictions.landmarks_true, predictions.visible,
                                            predictions.input_size)["per_landmark"]
    counts = predictions.visible.sum(axis=0)
    counted = counts > 0
    return float((per_landmark[counted] * counts[counted]).sum() / counts[counted].sum())


def fashionai_normaliser_protocols(predictions: Predictions, annotations) -> tuple[float, float]:
    """(NE normalised by the image (crop) size, the FashionAI challenge NE normalised by the armpit / waistband distance).

    Both pooled over the keypoints with v == 1; the second is evaluation.fashionai_score's ne_avg,
    the number fpm_train records.
    """

    return crop_normalised_ne_pooled(predictions), fashionai_score(predictions, annotations)["ne_avg"]


@dataclass(frozen=True)
class Comparison:
    """One row of the protocol-sensitivity table: one model's predictions under protocols A and B."""

    what: str
    method: str
    data: str
    protocol_a: str
    protocol_b: str
    values_a: tuple[float, ...]   # per seed
    values_b: tuple[float, ...]


def _comparison(what, method, data, protocol_a, protocol_b, pairs) -> Comparison:
    return Comparison(what, method, data, protocol_a, protocol_b, tuple(float(a) for a, _ in pairs),
                      tuple(float(b) for _, b in pairs))


def protocol_comparisons(profile: str, fashionai_root: str | Path | None = None) -> tuple[list[Comparison], list[str]]:
    """Every protocol-sensitivity row that this profile's saved predictions allow, and what was left out and why.

    Three groups: landmark NE of the leaderboard's rows, attribute recall of the full FashionNet and
    Liu & Lu rows, and the FashionAI normaliser for fpm_train's rows, which also needs the FashionAI
    test annotations under `fashionai_root` (None leaves that group out). A group whose inputs are
    missing becomes a note; when every group is missing the section has nothing to show and
    MissingMetricsError says why.
    """
    comparisons: list[Comparison] = []
    notes: list[str] = []

    def landmark_rows() -> None:
        dafe = experiments.load_metrics(profile, "dafe")
        for method, key in leaderboard_keys().items():
            pairs = [landmark_ne_protocols(experiments.load_predictions(profile, "dafe", key, seed))
                     for seed in dafe["rows"][key]["seeds"]]
            comparisons.append(_comparison("landmark NE", method, tables.data_label(dafe, LEADERBOARD_BENCHMARK),
                                           "visible landmarks only (DeepFashion, Liu & Lu, DAFE)",
                                           "mmfashion: invisible = zero error, / all N x 8", pairs))

    def attribute_rows() -> None:
        for method, (paper, key) in ATTRIBUTE_ROWS.items():
            recorded = experiments.load_metrics(profile, paper)
            per_seed = [experiments.load_predictions(profile, paper, key, seed) for seed in recorded["rows"][key]["seeds"]]
            with_positives = int((per_seed[0].attributes > 0).any(axis=0).sum())
            for k in RECALL_K:
                # With fewer than 50 attributes (SynthFashion) mmfashion's number is the plain per-attribute mean.
                comparisons.append(_comparison(
                    f"attribute recall@{k}", method, tables.data_label(recorded),
                    "DeepFashion micro: hits / positives, all attributes",
                    f"mmfashion: mean per-attribute recall of the best {min(MMFASHION_TOP_N, with_positives)} of "
                    f"the {with_positives} attributes with positives",
                    [attribute_recall_protocols(predictions, k) for predictions in per_seed]))

    def fashionai_rows() -> None:

        recorded = experiments.load_metrics(profile, "fpm")
        try:
            annotations = read_fashionai(fashionai_root, "test")
        except (AnnotationError, OSError) as error:
            raise MissingMetricsError(f"the FashionAI test annotations the FPM rows were scored on: {error}") from None
        for method, (paper, key) in FASHIONAI_ROWS.items():
            if key in recorded["rows"]:
                pairs = [fashionai_normaliser_protocols(experiments.load_predictions(profile, paper, key, seed),
                                                        annotations) for seed in recorded["rows"][key]["seeds"]]
                comparisons.append(_comparison("keypoint NE (FashionAI keypoints)", method,
                                               tables.data_label(recorded),
                                               "d / image (crop) width and height",
                                               "FashionAI: d / true armpit or waistband distance", pairs))

    groups = [("landmark NE", landmark_rows), ("attribute recall", attribute_rows)]
    if fashionai_root is not None:
        groups.append(("FashionAI normaliser", fashionai_rows))
    for name, add_rows in groups:
        try:
            add_rows()
        except MissingMetricsError as error:
            notes.append(f"{name} rows left out: {error}")
    if not comparisons:
        raise MissingMetricsError(" ".join(notes) or "no protocol comparison was requested")
    return comparisons, notes


def protocol_sensitivity(comparisons: Sequence[Comparison], dataset_label: str, profile: str) -> pd.DataFrame:
    """The comparisons as a table: A and B (means over seeds), B − A and B / A − 1 (means of the per-seed values)."""
    where = f"[{dataset_label} · profile {profile}]"
    records = []
    for item in comparisons:
        a, b = np.asarray(item.values_a), np.asarray(item.values_b)
        records.append({"metric": item.what, "model": item.method, "data (test split)": item.data,
                        "seeds": len(a), "protocol A": item.protocol_a, f"A {where}": float(a.mean()),
                        "protocol B": item.protocol_b, f"B {where}": float(b.mean()),
                        f"B − A {where}": float((b - a).mean()),
                        f"relative change B / A − 1 {where}": float((b / a - 1.0).mean())})
    return pd.DataFrame(records)


def largest_moves(table: pd.DataFrame) -> pd.DataFrame:
    """Per metric, the row whose number moves most (relative change), for the report's summary sentence."""
    relative = next(column for column in table.columns if column.startswith("relative change"))
    index = table[relative].abs().groupby(table["metric"], sort=False).idxmax()
    return table.loc[index.values, ["metric", "model", relative]].reset_index(drop=True)

