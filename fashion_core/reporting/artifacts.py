"""Tables and figures under `reports/<profile>/`, and the one way numbers are printed in them.

Every table is written twice, as CSV (for tools) and Markdown (for people), and every write is
atomic so a failed run never leaves half a report.
"""
from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from fashion_core.io import atomic_path, write_text_atomic
from fashion_core.paths import output_dir

TABLES = "tables"
FIGURES = "figures"
# What a table prints where it has no number.
MISSING = "–"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_name(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"report artifact name {name!r}: expected letters, digits, '_', '-' or '.', no path separators")
    return name


def format_mean_sd(mean: Any, sd: Any = None, digits: int = 4, percent: bool = False, missing: str | None = None,
                   always_sd: bool = False) -> str:
    """A mean and its sd over seeds as every report table prints them: '0.1234 ± 0.0056'.

    sd None or NaN (one seed, a paper's number, a deterministic baseline) prints the mean alone,
    unless `always_sd`, which prints the sd whatever it is (' ± nan' for one seed), for tables
    whose cells all have the same form. `percent` multiplies mean and sd by 100 before printing.
    `missing` is the text for a mean that is None or NaN; None prints such a mean as Python does
    ('nan').
    """
    if missing is not None and (mean is None or (isinstance(mean, float) and math.isnan(mean))):
        return missing
    if percent:
        mean = mean * 100.0
        sd = None if sd is None else sd * 100.0
    text = f"{mean:.{digits}f}"
    if always_sd or (sd is not None and not math.isnan(sd)):
        text += f" ± {sd:.{digits}f}"
    return text


def format_per_seed(values: Any, digits: int = 4) -> str:
    """format_mean_sd of per-seed values: their mean and sample sd (ddof 1, NaN values skipped), no sd for one seed."""
    series = pd.Series(values, dtype="float64")
    return format_mean_sd(series.mean(), series.std(ddof=1), digits)


def format_cell(value: Any, digits: int = 4) -> str:
    """One table cell: a float rounded to `digits` (MISSING for NaN), anything else as str() prints it."""
    if isinstance(value, float):
        return format_mean_sd(value, digits=digits, missing=MISSING)
    return str(value)


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table; floats rounded so reruns print identical text."""
    frame = frame.reset_index() if not isinstance(frame.index, pd.RangeIndex) else frame
    header = [str(column) for column in frame.columns]
    rows = [[format_cell(value, digits).replace("|", "\\|") for value in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def save_table(frame: pd.DataFrame, name: str, profile: str, caption: str = "", digits: int = 4) -> None:
    """Write tables/<name>.csv and tables/<name>.md; the caption heads the Markdown file.

    Returns nothing, so a notebook cell ending in this call prints no machine-specific path.
    """
    directory = output_dir(profile) / TABLES
    _check_name(name)
    with atomic_path(directory / f"{name}.csv") as tmp:
        frame.to_csv(tmp, float_format=f"%.{digits + 2}g")
    text = (f"{caption}\n\n" if caption else "") + markdown_table(frame, digits)
    write_text_atomic(directory / f"{name}.md", text)


def save_figure(figure, name: str, profile: str, dpi: int = 110) -> None:
    """Save a matplotlib figure as figures/<name>.png without a timestamp in its metadata."""
    target = output_dir(profile) / FIGURES / f"{_check_name(name)}.png"
    with atomic_path(target) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
