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
