"""The one number formatter of the report tables: mean ± sd over seeds, and single cells."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from fashion_core.reporting.artifacts import MISSING, format_cell, format_mean_sd, format_per_seed, markdown_table

NAN = float("nan")


@pytest.mark.parametrize("args, kwargs, text", [
    ((0.1234, 0.0056), {}, "0.1234 ± 0.0056"),
    ((0.12345678, 0.00444), {}, "0.1235 ± 0.0044"),                       # rounded, not truncated
    ((-0.0342, 0.001), {}, "-0.0342 ± 0.0010"),                            # negative means keep their sign
    ((0.5, None), {}, "0.5000"),                                           # a paper's number: no sd
    ((0.5, NAN), {}, "0.5000"),                                            # one seed: no sd
    ((np.float64(0.5), np.float64(NAN)), {}, "0.5000"),
    ((1 / 3, 1 / 7), {"digits": 2}, "0.33 ± 0.14"),
    ((0.92331, 0.00456), {"digits": 2, "percent": True}, "92.33 ± 0.46"),  # the papers print percentages
    ((0.9, None), {"digits": 2, "percent": True}, "90.00"),
    ((-0.015, NAN), {"digits": 2, "percent": True}, "-1.50"),
    ((NAN, 0.1), {"missing": MISSING}, MISSING),                           # no number at all
    ((None, None), {"missing": MISSING}, MISSING),
    ((NAN, None), {}, "nan"),                                              # without `missing`, as Python prints it
    ((0.5, NAN), {"always_sd": True}, "0.5000 ± nan"),                     # claims tables keep one form
    ((0.5, 0.25), {"always_sd": True}, "0.5000 ± 0.2500"),
    ((2, 0), {}, "2.0000 ± 0.0000"),                                       # integers print like floats
])
def test_format_mean_sd(args, kwargs, text):
    assert format_mean_sd(*args, **kwargs) == text


@pytest.mark.parametrize("values, text", [
    ([0.030, 0.031, 0.032], "0.0310 ± 0.0010"),   # sample sd (ddof 1)
    ([0.3, 0.4, 0.5], "0.4000 ± 0.1000"),
    ([0.8, 0.8, 0.8], "0.8000 ± 0.0000"),
    ([-1.0, 1.0], "0.0000 ± 1.4142"),
    ([0.5], "0.5000"),                             # one seed: no sd
    ([0.5, NAN], "0.5000"),                        # NaN seeds are skipped
    ([NAN, 0.5, 0.7], "0.6000 ± 0.1414"),
    (np.array([0.1, 0.2]), "0.1500 ± 0.0707"),
])
def test_format_per_seed(values, text):
    assert format_per_seed(values) == text


def test_format_cell_rounds_floats_and_prints_anything_else_as_is():
    assert format_cell(0.123456) == "0.1235" and format_cell(0.123456, 2) == "0.12"
    assert format_cell(NAN) == MISSING == "–"
    assert format_cell(-0.5) == "-0.5000"
    assert format_cell(3) == "3" and format_cell("0.1 ± 0.2") == "0.1 ± 0.2" and format_cell(None) == "None"


def test_markdown_table_uses_format_cell():
    frame = pd.DataFrame({"a": [0.123456, math.nan], "b": ["x|y", "0.5000 ± 0.0100"]})
    assert markdown_table(frame) == ("| a | b |\n|---|---|\n| 0.1235 | x\\|y |\n| – | 0.5000 ± 0.0100 |\n")
