"""M2Fashion's printed tables against fashion_core.reference: every printed row is transcribed, digit for digit."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from fashion_core.reporting.reference import DARN_CONDITIONS, M2F_T1, reference_rows

PAPER = Path(__file__).resolve().parents[2].parent / "shared" / "papers" / "wan_2022_m2fashion_attribute_aware_attention.txt"
TABLE1_METHODS = {"WTBI": "WTBI", "DARN": "DARN", "FashionNet": "FashionNet", "Corbiere": "Corbiere",
                  "Attentive": "Attentive", "Upsampling": "Liu & Lu 2018", "Ours w/o ASA": "M2Fashion w/o ASA",
                  "Ours w/o ACA": "M2Fashion w/o ACA", "Ours": "M2Fashion"}
TABLE2_METHODS = {"Category only": "M2Fashion category only", "Attribute only": "M2Fashion attribute only",
                  "Category + attribute": "M2Fashion category + attribute", "GAP": "M2Fashion GAP",
                  "GMP": "M2Fashion GMP"}
TABLE3_METHODS = {"Triplet": "Triplet", "CSN": "CSN", "ASEN": "ASEN", "Ours": "M2Fashion"}


@pytest.fixture(scope="module")
def lines():
    if not PAPER.exists():
        pytest.skip(f"{PAPER} is not available")
    return PAPER.read_text(encoding="utf-8").splitlines()


def _printed(lines: list[str], label: str, count: int, after: str) -> list[str]:
    """The `count` numbers or dashes of the first tab-separated line starting with `label` after the line `after`."""
    start = next(index for index, line in enumerate(lines) if line.startswith(after))
    for line in lines[start:]:
        cells = line.split("\t")
        if cells[0].strip() == label:
            values = [cell.strip() for cell in cells[1:] if cell.strip()]
            assert len(values) == count, (label, values)
            return values
    raise AssertionError(f"no printed row {label!r}")


def _as_fractions(values: list[str], keys: list[str]) -> dict[str, float]:
    return {key: float(value) / 100 for key, value in zip(keys, values) if re.fullmatch(r"[\d.]+", value)}


def test_every_table1_row_is_transcribed(lines):
    keys = ["category_top3", "category_top5"] + [f"attr_{group}_top{k}" for group in
                                                 ("texture", "fabric", "shape", "part", "style", "all") for k in (3, 5)]
    for label, method in TABLE1_METHODS.items():
        printed = _as_fractions(_printed(lines, label, 14, "Models\tCategory"), keys)
        (row,) = [row for row in reference_rows(method=method, dataset="DeepFashion-C") if row.source.startswith(M2F_T1)]
        assert row.metrics == pytest.approx(printed), label


def test_every_table2_row_is_transcribed(lines):
    keys = ["category_top3", "category_top5", "attr_all_top3", "attr_all_top5"]
    for label, method in TABLE2_METHODS.items():
        printed = _as_fractions(_printed(lines, label, 4, "Methods\tCategory"), keys)
        (row,) = reference_rows(method=method, dataset="DeepFashion-C")
        assert row.metrics == pytest.approx(printed) and "Table 2" in row.source, label


def test_every_table3_row_is_transcribed(lines):
    keys = [f"map_{condition}" for condition in DARN_CONDITIONS] + ["map_all"]
    for label, method in TABLE3_METHODS.items():
        printed = _as_fractions(_printed(lines, label, 10, "Models\tCategory\tClothes button"), keys)
        (row,) = reference_rows(method=method, dataset="DARN")
        assert row.metrics == pytest.approx(printed) and "Table 3" in row.source, label
