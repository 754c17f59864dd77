"""The papers' reported numbers: the one place they are written down, each citing its table.

Numbers are transcribed, not computed. Units are normalised: NE as printed (a fraction of the
crop size), top-k accuracy and recall as fractions (the papers print percentages). Every row
names the dataset it was measured on; none of them is a SynthFashion number.

Metric keys are the ones `fashion_core.experiments` writes for reproduced runs:
`ne_<slot>` and `ne_avg`; `category_top3`, `category_top5`; `attr_<type>_top3`, `attr_<type>_top5`
for type in texture, fabric, shape, part, style, all.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

LANDMARK_KEYS = ("l_collar", "r_collar", "l_sleeve", "r_sleeve", "l_waist", "r_waist", "l_hem", "r_hem")
ATTRIBUTE_GROUPS = ("texture", "fabric", "shape", "part", "style", "all")


@dataclass(frozen=True)
class ReferenceRow:
    method: str
    dataset: str
    source: str  # the paper and table the numbers come from
    metrics: dict[str, float]


def _ne(values: str) -> dict[str, float]:
    """Eight per-landmark NE values then the average, in LANDMARK_KEYS order; '-' = not reported."""
    numbers = values.split()
    if len(numbers) != 9:
        raise ValueError(f"expected 9 NE values, got {len(numbers)}: {values!r}")
    keys = [f"ne_{key}" for key in LANDMARK_KEYS] + ["ne_avg"]
    return {key: float(number) for key, number in zip(keys, numbers) if number != "-"}


def _category_attributes(values: str) -> dict[str, float]:
    """Category top-3/5 then texture, fabric, shape, part, style, all top-3/5, as printed in percent."""
    numbers = [float(number) / 100.0 for number in values.split()]
    if len(numbers) != 14:
        raise ValueError(f"expected 14 values, got {len(numbers)}: {values!r}")
    keys = ["category_top3", "category_top5"]
    for group in ATTRIBUTE_GROUPS:
        keys += [f"attr_{group}_top3", f"attr_{group}_top5"]
    return dict(zip(keys, numbers))


DAFE_T1 = "Chen et al. 2019 (DAFE), Table 1: NE on DeepFashion-C"
DAFE_T2 = "Chen et al. 2019 (DAFE), Table 2: NE on FLD"
M2F_T1 = "Wan et al. 2022 (M2Fashion), Table 1: category top-k and attribute recall@k on DeepFashion-C"
LIU_LU_README = ("Liu & Lu 2018, landmark NE from the authors' code README (recorded in shared/papers/NOTES.md; "
                 "the paper text available here stops before its tables)")

REFERENCE_ROWS: tuple[ReferenceRow, ...] = (
    # Landmark NE, DeepFashion-C.
    ReferenceRow("FashionNet", "DeepFashion-C", DAFE_T1, _ne(".0854 .0902 .0973 .0935 .0854 .0845 .0812 .0823 .0872")),
    ReferenceRow("DFA", "DeepFashion-C", DAFE_T1, _ne(".0628 .0637 .0658 .0621 .0726 .0702 .0658 .0663 .0660")),
    ReferenceRow("DLAN", "DeepFashion-C", DAFE_T1, _ne(".0570 .0611 .0672 .0647 .0703 .0694 .0624 .0672 .0643")),
    ReferenceRow("AFGN", "DeepFashion-C", DAFE_T1, _ne(".0415 .0404 .0496 .0449 .0502 .0523 .0537 .0551 .0484")),
    ReferenceRow("DAFE", "DeepFashion-C", DAFE_T1, _ne(".0295 .0297 .0363 .0361 .0311 .0313 .0394 .0402 .0342")),
    ReferenceRow("Liu & Lu 2018", "DeepFashion-C", LIU_LU_README,
                 _ne(".0332 .0346 .0487 .0519 .0422 .0429 .0620 .0639 .0474")),
    # Landmark NE, FLD.
    ReferenceRow("FashionNet", "FLD", DAFE_T2, _ne(".0784 .0803 .0975 .0923 .0874 .0821 .0802 .0893 .0859")),
    ReferenceRow("DFA", "FLD", DAFE_T2, _ne(".048 .048 .091 .089 - - .071 .072 .068")),
    ReferenceRow("DLAN", "FLD", DAFE_T2, _ne(".0531 .0547 .0705 .0735 .0752 .0748 .0693 .0675 .0672")),
    ReferenceRow("AFGN", "FLD", DAFE_T2, _ne(".0463 .0471 .0627 .0614 .0635 .0692 .0635 .0527 .0583")),
    ReferenceRow("DAFE", "FLD", DAFE_T2, _ne(".0366 .0369 .0587 .0573 .0485 .0478 .0504 .0497 .0482")),
    # Category and attributes, DeepFashion-C ("Upsampling" is Liu & Lu 2018).
    ReferenceRow("WTBI", "DeepFashion-C", M2F_T1,
                 _category_attributes("43.73 66.26 24.21 32.65 25.38 36.06 23.39 31.26 26.31 33.24 49.85 58.68 27.46 35.37")),
    ReferenceRow("DARN", "DeepFashion-C", M2F_T1,
                 _category_attributes("59.48 79.58 36.15 48.15 36.64 48.52 35.89 46.93 39.17 50.14 66.11 71.36 42.35 51.95")),
    ReferenceRow("FashionNet", "DeepFashion-C", M2F_T1,
                 _category_attributes("82.58 90.17 37.46 49.52 39.30 49.84 39.47 48.59 44.13 54.02 66.43 73.16 45.52 54.61")),
    ReferenceRow("Corbiere", "DeepFashion-C", M2F_T1,
                 _category_attributes("86.30 92.80 53.60 63.20 39.10 48.80 50.10 59.50 38.80 48.90 30.50 38.30 23.10 30.40")),
    ReferenceRow("Attentive", "DeepFashion-C", M2F_T1,
                 _category_attributes("90.99 95.78 50.31 65.48 40.31 48.23 53.32 61.05 40.65 56.32 68.70 74.25 51.53 60.95")),
    ReferenceRow("Liu & Lu 2018", "DeepFashion-C", M2F_T1 + " (row 'Upsampling')",
                 _category_attributes("91.16 96.12 56.17 65.83 43.20 53.52 58.28 67.80 46.97 57.43 68.82 74.13 54.69 63.74")),
    ReferenceRow("M2Fashion w/o ASA", "DeepFashion-C", M2F_T1,
                 _category_attributes("91.89 96.13 55.61 65.17 40.12 54.73 59.70 68.98 49.17 59.19 64.48 71.82 52.64 62.37")),
    ReferenceRow("M2Fashion w/o ACA", "DeepFashion-C", M2F_T1,
                 _category_attributes("90.12 95.15 54.73 64.82 39.45 53.27 58.21 66.72 47.87 57.53 60.54 68.61 50.47 60.07")),
    ReferenceRow("M2Fashion", "DeepFashion-C", M2F_T1,
                 _category_attributes("92.33 96.65 56.89 66.31 40.42 55.83 60.42 69.87 49.62 61.17 65.38 72.79 54.85 64.76")),
)


def reference_rows(method: str | None = None, dataset: str | None = None, metric_prefix: str | None = None) -> list[ReferenceRow]:
    """Rows matching every given filter; `metric_prefix` keeps rows that report at least one such metric."""
    rows = [row for row in REFERENCE_ROWS
            if (method is None or row.method == method) and (dataset is None or row.dataset == dataset)]
    if metric_prefix is not None:
        rows = [row for row in rows if any(key.startswith(metric_prefix) for key in row.metrics)]
    return rows


def reference_frame(metric_prefix: str, dataset: str, methods: list[str] | None = None) -> pd.DataFrame:
    """One row per paper method with the metrics starting with `metric_prefix`, plus the source column."""
    rows = [row for row in reference_rows(dataset=dataset, metric_prefix=metric_prefix)
            if methods is None or row.method in methods]
    if methods is not None:
        rows.sort(key=lambda row: methods.index(row.method))
    frame = pd.DataFrame(
        [{key: value for key, value in row.metrics.items() if key.startswith(metric_prefix)} for row in rows],
        index=pd.Index([row.method for row in rows], name="method"),
    )
    frame["source"] = [row.source for row in rows]
    return frame
