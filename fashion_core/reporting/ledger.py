"""The claims ledger: every claim of the five papers the workbook tests, one row each.

`claims_ledger(profile)` reads every metrics file the train notebooks wrote under
`reports/<profile>/metrics/`, applies the one verdict rule (`VERDICT_RULE`, from
fashion_core.reporting.claims) to every claim in `claims.CLAIMS`, and puts the paper's own numbers beside
the reproduced ones. A paper's numbers come only from fashion_core.reporting.reference; when the paper
prints none for a row the cell says "not printed". A claim whose metrics file (or row, or
metric) is missing is listed with the verdict "not run" and a note saying what to run; so is one
whose rows do not compare like for like (claims.scoring_problem), with the note saying why. Only
the seeds both rows were trained with are scored (claims.aligned_values).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from fashion_core.experiments.variants import BENCHMARK_SUFFIXES, PRODUCERS
from fashion_core.paths import report_files
from fashion_core.reporting.artifacts import format_per_seed, save_table
from fashion_core.reporting.claims import (
    CLAIMS,
    DOES_NOT_HOLD,
    HOLDS,
    INCONCLUSIVE,
    VERDICT_RULE,
    Claim,
    aligned_values,
    compare,
    scoring_problem,
)
from fashion_core.reporting.reference import reference_rows
from fashion_core.reporting.tables import data_label

__all__ = ["VERDICT_RULE", "NOT_RUN", "NOT_PRINTED", "VERDICTS", "LEDGER_COLUMNS", "PAPER_ORDER", "LEDGER_TABLE",
           "all_claims", "load_metrics_files", "row_benchmark", "claims_ledger", "verdict_counts", "save_ledger"]

NOT_RUN = "not run"
NOT_PRINTED = "not printed"
VERDICTS = (HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, NOT_RUN)
# The ledger's paper order: FashionNet first (every other paper's baseline), then by year.
PAPER_ORDER = ("fashionnet", "liu2018", "dafe", "fpm", "m2fashion")
# reports/<profile>/tables/<LEDGER_TABLE>.{csv,md}: the name the report index links.
LEDGER_TABLE = "claims_ledger"
# The ledger's "dataset" cell of SynthFashion rows; real rows name the benchmark (tables.data_label).
LEDGER_SYNTHFASHION_TEXT = "{label} ({benchmark} format)"
LEDGER_COLUMNS = ("paper", "claim", "source", "metric", "row A (claimed better)", "row B", "paper A", "paper B",
                  "paper numbers from", "reproduced A", "reproduced B", "seeds", "dataset", "profile", "verdict",
                  "note")


def all_claims() -> list[tuple[str, Claim]]:
    """(metrics file of the claim's paper, claim) for every claim in claims.CLAIMS, in PAPER_ORDER."""
    order = [paper for paper in PAPER_ORDER if paper in CLAIMS] + [paper for paper in CLAIMS if paper not in PAPER_ORDER]
    return [(paper, claim) for paper in order for claim in CLAIMS[paper]]


def load_metrics_files(profile: str, directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every metrics file present, by paper: `<paper>.json` holding a "rows" mapping.

    The `<paper>_claims.json` lists the tables notebooks write beside them are not metrics files
    and are skipped; a file that is not valid JSON is an error naming the file.
    """
    paths = sorted(Path(directory).glob("*.json")) if directory is not None else report_files(profile, "metrics", "*.json")
    files: dict[str, dict[str, Any]] = {}
    for path in paths:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise ValueError(f"{path}: not valid JSON ({error}); rerun the notebook that writes it") from None
        if isinstance(payload, dict) and isinstance(payload.get("rows"), dict):
            files[path.stem] = payload
    return files


def _paper_number(reference: tuple[str, str] | None, metric: str) -> tuple[str, str | None]:
    """(cell text, source) of the paper's printed value of `metric` for reference row (method, dataset)."""
    if reference is None:
        return NOT_PRINTED, None
    method, dataset = reference
    for row in reference_rows(method=method, dataset=dataset):
        if metric in row.metrics:
            return f"{row.metrics[metric]:.4f} ({method}, {dataset})", row.source
    return NOT_PRINTED, None


def row_benchmark(payload: dict[str, Any], row_key: str | None) -> str:
    """The benchmark format a row of a metrics file was trained on.

    Its key's suffix for files holding several benchmarks (DAFE's: dafe_deepfashion_c, dafe_fld),
    otherwise the file's "benchmark"; "?" when the file names none.
    """
    for benchmark, suffix in BENCHMARK_SUFFIXES.items():
        if row_key is not None and row_key.endswith(f"_{suffix}"):
            return benchmark
    return str(payload.get("benchmark", "?"))


def _dataset_text(payloads: list[tuple[dict[str, Any], str | None]]) -> str:
    """'SynthFashion (DeepFashion-C format)', or on the real data the benchmark itself ('DeepFashion FLD'), for
    (metrics payload, row key) pairs, distinct labels joined."""
    labels = []
    for payload, row_key in payloads:
        label = data_label(payload, row_benchmark(payload, row_key), synthfashion_text=LEDGER_SYNTHFASHION_TEXT)
        if label not in labels:
            labels.append(label)
    return "; ".join(labels)


def _missing(claim: Claim, metrics_files: dict[str, dict[str, Any]], profile: str) -> str | None:
    """Why the claim cannot be evaluated on these files (a file, row or metric missing, or rows that do not
    compare like for like: claims.scoring_problem), or None when it can."""
    for (file, key), metric in ((claim.row_a, claim.metric), (claim.row_b, claim.metric_b or claim.metric)):
        producer = PRODUCERS.get(file, f"{file}_train")
        if file not in metrics_files:
            return (f"metrics/{file}.json is missing: run ./run_all.sh --profile {profile} --only {producer}")
        rows = metrics_files[file]["rows"]
        if key not in rows:
            return f"metrics/{file}.json has no row {key!r}: the {producer} notebook did not train it in this profile"
        if metric not in rows[key].get("per_seed", {}):
            return f"metrics/{file}.json row {key!r} has no metric {metric!r}"
    return scoring_problem(claim, metrics_files)


def claims_ledger(profile: str, metrics_files: dict[str, dict[str, Any]] | None = None) -> pd.DataFrame:
    """One row per claim (columns LEDGER_COLUMNS); the verdict is VERDICT_RULE's, or "not run".

    metrics_files: {paper: metrics JSON payload}; by default every file in reports/<profile>/metrics/.
    """
    files = load_metrics_files(profile) if metrics_files is None else metrics_files
    records = []
    for _, claim in all_claims():
        metric_b = claim.metric_b or claim.metric
        paper_a, source_a = _paper_number(claim.paper_a, claim.metric)
        paper_b, source_b = _paper_number(claim.paper_b, metric_b)
        sources = "; ".join(dict.fromkeys(source for source in (source_a, source_b) if source)) or "–"
        record = {
            "paper": claim.paper, "claim": claim.text, "source": claim.source,
            "metric": claim.metric if claim.metric_b is None else f"{claim.metric} vs {claim.metric_b}",
            "row A (claimed better)": f"{claim.row_a[1]}", "row B": f"{claim.row_b[1]}",
            "paper A": paper_a, "paper B": paper_b, "paper numbers from": sources,
        }
        missing = _missing(claim, files, profile)
        if missing is not None:
            present = [(files[file], key) for file, key in (claim.row_a, claim.row_b) if file in files]
            records.append({**record, "reproduced A": NOT_RUN, "reproduced B": NOT_RUN, "seeds": 0,
                            "dataset": _dataset_text(present) if present else "–",
                            "profile": profile, "verdict": NOT_RUN, "note": missing})
            continue
        payload_a, payload_b = files[claim.row_a[0]], files[claim.row_b[0]]
        row_a, row_b = payload_a["rows"][claim.row_a[1]], payload_b["rows"][claim.row_b[1]]
        values_a, values_b, seeds_note = aligned_values(row_a, claim.metric, row_b, metric_b)
        result = compare(claim.text, record["metric"], claim.better, row_a["name"], values_a, row_b["name"], values_b)
        profiles = "; ".join(dict.fromkeys(str(payload.get("profile", profile)) for payload in (payload_a, payload_b)))
        records.append({**record, "row A (claimed better)": row_a["name"], "row B": row_b["name"],
                        "reproduced A": format_per_seed(values_a), "reproduced B": format_per_seed(values_b),
                        "seeds": result.seeds,
                        "dataset": _dataset_text([(payload_a, claim.row_a[1]), (payload_b, claim.row_b[1])]),
                        "profile": profiles, "verdict": result.verdict,
                        "note": "; ".join(filter(None, (f"{claim.better} is better", seeds_note)))})
    return pd.DataFrame(records, columns=list(LEDGER_COLUMNS))


def verdict_counts(ledger: pd.DataFrame) -> pd.DataFrame:
    """Claims per paper (rows, ledger order) and verdict (columns VERDICTS), with a total row."""
    papers = list(dict.fromkeys(ledger["paper"]))
    counts = (ledger.groupby(["paper", "verdict"]).size().unstack(fill_value=0)
              .reindex(index=papers, columns=list(VERDICTS), fill_value=0))
    counts["claims"] = counts.sum(axis=1)
    counts.loc["all papers"] = counts.sum(axis=0)
    counts.index.name = "paper"
    return counts.astype(int)


def save_ledger(profile: str, ledger: pd.DataFrame | None = None) -> pd.DataFrame:
    """Write reports/<profile>/tables/claims_ledger.{csv,md} (the verdict rule heads the Markdown); returns the ledger."""
    ledger = claims_ledger(profile) if ledger is None else ledger
    save_table(ledger, LEDGER_TABLE, profile, caption=f"Claims ledger. Verdict rule: {VERDICT_RULE}")
    return ledger
