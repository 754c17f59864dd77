"""Does a paper's claim hold on the data at hand? One rule, stated once, applied everywhere.

VERDICT_RULE is printed at the top of every claims table. With a handful of seeds per row the
rule is deliberately conservative: a difference must exceed two pooled standard deviations of
the per-seed values to count either way; anything in between is inconclusive.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

VERDICT_RULE = (
    "A claim 'A is better than B' holds when the mean over seeds of A beats B in the claimed direction by more "
    "than 2 pooled standard deviations (pooled sd = sqrt((sd_A^2 + sd_B^2) / 2), per-seed sample sd); it does not "
    "hold when B beats A by that margin; otherwise it is inconclusive. Fewer than 2 seeds per row: inconclusive."
)
HOLDS, DOES_NOT_HOLD, INCONCLUSIVE = "holds", "does not hold", "inconclusive"


@dataclass(frozen=True)
class ClaimResult:
    claim: str
    metric: str
    better: str          # "lower" or "higher"
    row_a: str
    row_b: str
    mean_a: float
    std_a: float
    mean_b: float
    std_b: float
    seeds: int
    verdict: str

    def as_dict(self) -> dict:
        return asdict(self)


def compare(claim: str, metric: str, better: str, row_a: str, values_a, row_b: str, values_b) -> ClaimResult:
    """Apply VERDICT_RULE to per-seed values of one metric for rows A (claimed better) and B."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    seeds = int(min(len(a), len(b)))
    std_a = float(a.std(ddof=1)) if len(a) > 1 else float("nan")
    std_b = float(b.std(ddof=1)) if len(b) > 1 else float("nan")
    advantage = (b.mean() - a.mean()) if better == "lower" else (a.mean() - b.mean())
    if seeds < 2:
        verdict = INCONCLUSIVE
    else:
        margin = 2.0 * np.sqrt((std_a ** 2 + std_b ** 2) / 2.0)
        verdict = HOLDS if advantage > margin else DOES_NOT_HOLD if -advantage > margin else INCONCLUSIVE
    return ClaimResult(claim, metric, better, row_a, row_b, float(a.mean()), std_a, float(b.mean()), std_b, seeds, verdict)


@dataclass(frozen=True)
class Claim:
    """A paper's claim that the workbook can test: row A beats row B on one metric."""

    paper: str
    text: str
    source: str
    metric: str
    better: str
    row_a: tuple[str, str]   # (metrics file, row key) of the row claimed better
    row_b: tuple[str, str]


def _liu2018_claims() -> list[Claim]:
    source_upsample = "Liu & Lu 2018, abstract and Sec. 1 (upsampled heatmaps 'boost the accuracy of landmark localization')"
    source_attention = "Liu & Lu 2018, abstract (landmark-driven attention 'helps improve the precision' of category and attributes)"
    source_sota = "Liu & Lu 2018, abstract ('outperforms the state-of-the-arts'); numbers: NOTES.md README and M2Fashion Table 1"
    liu = ("liu2018", "liu2018")
    claims = [Claim("Liu & Lu 2018", "Upsampled heatmaps give lower landmark NE than 1/8-resolution heatmaps",
                    source_upsample, "ne_avg", "lower", liu, ("liu2018", "liu2018_no_upsample"))]
    for other, label in (("liu2018_no_attention", "no attention"), ("liu2018_conv_only", "conv-only attention")):
        for metric, what in (("category_top3", "category top-3"), ("attr_all_top5", "attribute recall@5 'all'")):
            claims.append(Claim("Liu & Lu 2018", f"Landmark-driven attention raises {what} over {label}",
                                source_attention, metric, "higher", liu, ("liu2018", other)))
    for metric, what, better in (("ne_avg", "landmark NE", "lower"), ("category_top3", "category top-3", "higher"),
                                 ("attr_all_top5", "attribute recall@5 'all'", "higher")):
        claims.append(Claim("Liu & Lu 2018", f"Liu & Lu beats FashionNet on {what}", source_sota, metric, better,
                            liu, ("fashionnet", "fashionnet")))
    return claims


CLAIMS: dict[str, list[Claim]] = {"liu2018": _liu2018_claims()}


def evaluate_claims(claims: list[Claim], metrics_files: dict[str, dict]) -> list[ClaimResult]:
    """Apply the verdict rule to each claim using the per-seed values in the metrics JSON files."""
    results = []
    for claim in claims:
        rows = []
        for file, key in (claim.row_a, claim.row_b):
            if file not in metrics_files:
                raise KeyError(f"claim {claim.text!r} needs the {file!r} metrics file")
            rows.append(metrics_files[file]["rows"][key])
        results.append(compare(claim.text, claim.metric, claim.better, rows[0]["name"], rows[0]["per_seed"][claim.metric],
                               rows[1]["name"], rows[1]["per_seed"][claim.metric]))
    return results


def claims_frame(claims: list[Claim], results: list[ClaimResult], dataset_label: str, profile: str):
    """The claims table: claim, source, both rows' mean ± sd, seeds, dataset, profile, verdict."""
    import pandas as pd

    def cell(mean: float, std: float) -> str:
        return f"{mean:.4f} ± {std:.4f}"

    return pd.DataFrame([{
        "claim": claim.text, "source": claim.source, "metric": result.metric,
        "A (claimed better)": f"{result.row_a}: {cell(result.mean_a, result.std_a)}",
        "B": f"{result.row_b}: {cell(result.mean_b, result.std_b)}",
        "seeds": result.seeds, "dataset": dataset_label, "profile": profile, "verdict": result.verdict,
    } for claim, result in zip(claims, results)])
