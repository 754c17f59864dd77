"""M2Fashion's headline claims against Liu & Lu and FashionNet: the rows, metrics and paper numbers they read,
and the like-for-like rules (same data, same label input, common seeds) every cross-file claim is scored by."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fashion_core.params import PROFILES, resolved_parameters
from fashion_core.paths import notebooks_dir
from fashion_core.reporting import claims, ledger
from fashion_core.reporting.reference import M2F_ABSTRACT_GAINS, M2F_T1, reference_rows

REPO = Path(__file__).resolve().parents[2]
FULL = ("m2fashion", "m2fashion")


def _cross_claims(row_b: tuple[str, str]) -> list[claims.Claim]:
    return [claim for claim in claims.CLAIMS["m2fashion"] if claim.row_a == FULL and claim.row_b == row_b]


def _printed(method: str, metric: str) -> float:
    (row,) = [row for row in reference_rows(method=method, dataset="DeepFashion-C") if metric in row.metrics]
    assert row.source.startswith(M2F_T1)
    return row.metrics[metric]


def test_the_abstract_s_gains_over_liu_and_lu_are_claims_on_their_metrics():
    headline = _cross_claims(("liu2018", "liu2018"))
    assert {claim.metric for claim in headline} == {"category_top3", "attr_part_top3", "attr_shape_top3"}
    for claim in headline:
        assert claim.better == "higher" and claim.metric_b is None
        assert claim.paper_a == ("M2Fashion", "DeepFashion-C") and claim.paper_b == ("Liu & Lu 2018", "DeepFashion-C")
        assert "Upsampling" in claim.source and "abstract" in claim.source
        # The abstract's percentages are Table 1's ratios M2Fashion / Upsampling - 1, as printed (one decimal).
        ratio = _printed("M2Fashion", claim.metric) / _printed("Liu & Lu 2018", claim.metric) - 1
        assert round(ratio, 3) == M2F_ABSTRACT_GAINS[claim.metric]


def test_m2fashion_over_fashionnet_is_claimed_where_table_1_compares_them():
    versus = _cross_claims(("fashionnet", "fashionnet"))
    assert {claim.metric for claim in versus} == {"category_top3", "attr_all_top3"}
    for claim in versus:
        assert claim.paper_b == ("FashionNet", "DeepFashion-C")
        assert _printed("M2Fashion", claim.metric) > _printed("FashionNet", claim.metric)


def test_the_csn_row_is_a_retrieval_claim_with_table_3_s_csn_numbers():
    (claim,) = [claim for claim in claims.CLAIMS["m2fashion"] if claim.row_b == ("m2fashion", "m2fashion_csn")]
    assert claim.metric == "map_all" and claim.paper_b == ("CSN", "DARN")
    (row,) = reference_rows(method="CSN", dataset="DARN")
    assert row.metrics["map_all"] == pytest.approx(0.5086) and "Table 3" in row.source


@pytest.mark.parametrize("profile", PROFILES)
def test_the_three_train_notebooks_score_the_same_split_with_the_same_seeds(profile):
    resolved = {name: resolved_parameters(profile, notebooks_dir() / f"{name}.ipynb")
                for name in ("m2fashion_train", "liu2018_train", "fashionnet_train")}
    for key in ("seeds", "deepfashion_c_root", "dataset_label"):
        assert len({json.dumps(values[key]) for values in resolved.values()}) == 1, (profile, key)
    assert resolved["m2fashion_train"]["known_fraction"] == 0.0  # no label given: the other models get none


@pytest.mark.skipif(not (REPO / "reports" / "default" / "metrics").is_dir(), reason="reports/default/metrics is absent")
def test_the_metrics_the_claims_read_are_written_by_each_notebook():
    for claim in _cross_claims(("liu2018", "liu2018")) + _cross_claims(("fashionnet", "fashionnet")):
        for file, key in (claim.row_a, claim.row_b):
            payload = json.loads((REPO / "reports" / "default" / "metrics" / f"{file}.json").read_text(encoding="utf-8"))
            assert claim.metric in payload["rows"][key]["per_seed"], (file, key, claim.metric)
            assert payload["benchmark"] == "DeepFashion-C"


def _file(rows: dict[str, tuple[list[int], dict[str, list[float]]]], **extra) -> dict:
    return {"dataset_label": "SynthFashion", "benchmark": "DeepFashion-C", "profile": "fixture", **extra,
            "rows": {key: {"name": key, "seeds": seeds, "per_seed": values} for key, (seeds, values) in rows.items()}}


def _headline_files(m2fashion_seeds=(0, 1, 2), liu2018_seeds=(0, 1, 2), **m2fashion_extra) -> dict[str, dict]:
    metrics = ("category_top3", "attr_part_top3", "attr_shape_top3", "attr_all_top3")
    m2fashion = _file({"m2fashion": (list(m2fashion_seeds), {m: [0.9 + 0.001 * s for s in m2fashion_seeds]
                                                             for m in metrics})}, **m2fashion_extra)
    liu2018 = _file({"liu2018": (list(liu2018_seeds), {m: [0.5 + 0.001 * s for s in liu2018_seeds] for m in metrics})})
    fashionnet = _file({"fashionnet": ([0, 1, 2], {m: [0.5, 0.501, 0.502] for m in metrics})})
    return {"m2fashion": m2fashion, "liu2018": liu2018, "fashionnet": fashionnet}


def test_cross_file_claims_hold_on_matching_seeds_and_are_scored_on_the_common_ones_otherwise():
    headline = _cross_claims(("liu2018", "liu2018"))
    results = claims.evaluate_claims(headline, _headline_files())
    assert [result.verdict for result in results] == [claims.HOLDS] * 3
    assert all(result.seeds == 3 and result.note == "" for result in results)

    results = claims.evaluate_claims(headline, _headline_files(m2fashion_seeds=(0, 1, 2, 3), liu2018_seeds=(1, 2, 3, 4)))
    for result in results:
        assert result.seeds == 3
        assert result.mean_a == pytest.approx(0.902) and result.mean_b == pytest.approx(0.502)  # seeds 1, 2, 3
        assert result.note == "scored on the seeds both rows have, [1, 2, 3] (A trained with [0, 1, 2, 3], B with [1, 2, 3, 4])"


def test_cross_file_claims_refuse_other_data_other_label_input_or_no_common_seed():
    headline = _cross_claims(("liu2018", "liu2018"))
    problems = {
        "dataset_label 'SynthFashion-other' against 'SynthFashion'": _headline_files(dataset_label="SynthFashion-other"),
        "different shares of each test image's labels": _headline_files(options={"known_fraction": 0.25}),
        "share no seed": _headline_files(m2fashion_seeds=(0, 1), liu2018_seeds=(2, 3)),
    }
    for expected, files in problems.items():
        with pytest.raises(ValueError, match="cannot be scored") as error:
            claims.evaluate_claims(headline, files)
        assert expected in str(error.value)
        # The ledger lists such a claim as not run and says why.
        frame = ledger.claims_ledger("fixture", files).set_index("claim")
        row = frame.loc[headline[0].text]
        assert row["verdict"] == ledger.NOT_RUN and expected in row["note"]


def test_the_ledger_notes_the_seeds_it_scored_when_the_rows_differ():
    files = _headline_files(m2fashion_seeds=(0, 1, 2, 3), liu2018_seeds=(0, 1, 2))
    row = ledger.claims_ledger("fixture", files).set_index("claim").loc[_cross_claims(("liu2018", "liu2018"))[0].text]
    assert row["seeds"] == 3 and row["verdict"] == claims.HOLDS
    assert row["note"] == ("higher is better; scored on the seeds both rows have, [0, 1, 2] "
                           "(A trained with [0, 1, 2, 3], B with [0, 1, 2])")
    assert row["paper A"] == "0.9233 (M2Fashion, DeepFashion-C)" and row["paper B"] == "0.9116 (Liu & Lu 2018, DeepFashion-C)"
