"""The verdict rule, and the claims tables the tables notebooks save."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from fashion_core.reporting import claims
from fashion_core.reporting.artifacts import markdown_table
from fashion_core.reporting.claims import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, compare


@pytest.mark.parametrize("a, b, better, verdict", [
    ([0.030, 0.031, 0.032], [0.050, 0.051, 0.052], "lower", HOLDS),          # 0.02 apart, pooled sd 0.001
    ([0.050, 0.051, 0.052], [0.030, 0.031, 0.032], "lower", DOES_NOT_HOLD),
    ([0.030, 0.040, 0.050], [0.035, 0.045, 0.055], "lower", INCONCLUSIVE),   # 0.005 apart, pooled sd 0.01
    ([0.9, 0.91, 0.92], [0.8, 0.81, 0.82], "higher", HOLDS),
    ([0.9], [0.1], "higher", INCONCLUSIVE),                                    # one seed decides nothing
])
def test_verdict_rule(a, b, better, verdict):
    assert compare("c", "m", better, "A", a, "B", b).verdict == verdict


def test_margin_is_two_pooled_standard_deviations():
    # sd of each row is 0.01, so the margin is 0.02: a 0.019 gap is inconclusive, 0.021 holds.
    base = [0.0, 0.01, 0.02]
    assert compare("c", "m", "higher", "A", [v + 0.019 for v in base], "B", base).verdict == INCONCLUSIVE
    assert compare("c", "m", "higher", "A", [v + 0.021 for v in base], "B", base).verdict == HOLDS


def _metrics_file(rows: dict[str, dict[str, list[float]]]) -> dict:
    return {"dataset_label": "SynthFashion", "profile": "fixture", "benchmark": "FashionAI",
            "rows": {key: {"name": f"name of {key}", "seeds": list(range(len(next(iter(values.values()))))),
                           "per_seed": values} for key, values in rows.items()}}


def test_save_paper_claims_writes_the_table_and_the_verdicts(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    fpm = _metrics_file({"fpm": {"ne_avg": [0.030, 0.031, 0.032], "ne_stage1": [0.050, 0.051, 0.052]},
                         "fpm_regression": {"ne_avg": [0.030, 0.040, 0.050]}})
    table = claims.save_paper_claims("fpm", {"fpm": fpm}, "fixture")

    verdicts = claims.evaluate_claims(claims.CLAIMS["fpm"], {"fpm": fpm})
    pd.testing.assert_frame_equal(table, claims.claims_frame(claims.CLAIMS["fpm"], verdicts, "SynthFashion", "fixture"))
    assert list(table["verdict"]) == [INCONCLUSIVE, HOLDS]
    assert table.loc[1, "A (claimed better)"] == "name of fpm ne_avg: 0.0310 ± 0.0010"
    assert set(table["dataset"]) == {"SynthFashion"} and set(table["profile"]) == {"fixture"}

    reports = tmp_path / "reports" / "fixture"
    markdown = (reports / "tables" / "fpm_claims.md").read_text(encoding="utf-8")
    assert markdown == f"{claims.VERDICT_RULE}\n\n{markdown_table(table)}"
    assert pd.read_csv(reports / "tables" / "fpm_claims.csv", index_col=0)["verdict"].tolist() == list(table["verdict"])
    saved = json.loads((reports / "metrics" / "fpm_claims.json").read_text(encoding="utf-8"))
    assert saved == [verdict.as_dict() for verdict in verdicts]
    assert saved[1]["claim"] == claims.CLAIMS["fpm"][1].text and saved[1]["seeds"] == 3


def test_save_paper_claims_needs_every_file_the_claims_read(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    metrics = {"ne_avg": [0.03, 0.03], "category_top3": [0.8, 0.8], "attr_all_top5": [0.4, 0.4]}
    liu2018 = _metrics_file({key: metrics for key in ("liu2018", "liu2018_no_upsample", "liu2018_no_attention",
                                                       "liu2018_conv_only")})
    with pytest.raises(KeyError, match="needs the 'fashionnet' metrics file"):
        claims.save_paper_claims("liu2018", {"liu2018": liu2018}, "fixture")
    assert not (tmp_path / "reports" / "fixture" / "tables").exists()


def test_claims_table_with_one_seed_shows_that_there_is_no_sd():
    result = compare("c", "m", "higher", "A", [0.9], "B", [0.1])
    claim = claims.CLAIMS["fpm"][0]
    row = claims.claims_frame([claim], [result], "SynthFashion", "fixture").iloc[0]
    assert row["A (claimed better)"] == "A: 0.9000 ± nan" and row["B"] == "B: 0.1000 ± nan"
    assert row["seeds"] == 1 and row["verdict"] == INCONCLUSIVE
