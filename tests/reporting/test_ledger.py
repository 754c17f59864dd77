"""The claims ledger: every claim, the paper's numbers (never invented), the reproduced ones, one verdict rule."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fashion_core.reporting import claims, ledger
from fashion_core.reporting.reference import REFERENCE_ROWS

REPO = Path(__file__).resolve().parents[2]


def _fixture_files(value_for=lambda file, key, metric: [0.5, 0.5, 0.5]) -> dict[str, dict]:
    """Metrics payloads holding every row and metric any claim reads, values from value_for."""
    files: dict[str, dict] = {}
    for _, claim in ledger.all_claims():
        for (file, key), metric in ((claim.row_a, claim.metric), (claim.row_b, claim.metric_b or claim.metric)):
            payload = files.setdefault(file, {"paper": file, "dataset_label": "SynthFashion", "profile": "fixture",
                                              "benchmark": "FashionAI" if file == "fpm" else "DeepFashion-C",
                                              "rows": {}})
            row = payload["rows"].setdefault(key, {"name": f"name of {key}", "seeds": [0, 1, 2], "per_seed": {}})
            row["per_seed"][metric] = list(value_for(file, key, metric))
    return files


def test_verdict_rule_is_the_claims_modules():
    assert ledger.VERDICT_RULE is claims.VERDICT_RULE


def test_at_least_twelve_claims_covering_all_five_papers():
    papers = {paper for paper, _ in ledger.all_claims()}
    assert len(ledger.all_claims()) >= 12
    assert papers == {"fashionnet", "liu2018", "dafe", "fpm", "m2fashion"}
    texts = [claim.text for _, claim in ledger.all_claims()]
    assert len(texts) == len(set(texts)), "two claims share a sentence"


def test_one_row_per_claim_with_the_verdict_of_the_rule():
    def values(file, key, metric):
        # Liu & Lu's full row is clearly better on NE (lower) than every other row; all else ties.
        if (file, key, metric) == ("liu2018", "liu2018", "ne_avg"):
            return [0.030, 0.031, 0.032]
        return [0.050, 0.051, 0.052] if metric == "ne_avg" else [0.5, 0.5, 0.5]

    frame = ledger.claims_ledger("fixture", _fixture_files(values))
    assert list(frame.columns) == list(ledger.LEDGER_COLUMNS)
    assert len(frame) == len(ledger.all_claims())
    by_claim = frame.set_index("claim")
    upsample = by_claim.loc["Upsampled heatmaps give lower landmark NE than 1/8-resolution heatmaps"]
    assert upsample["verdict"] == claims.HOLDS
    assert upsample["reproduced A"] == "0.0310 ± 0.0010" and upsample["reproduced B"] == "0.0510 ± 0.0010"
    assert upsample["seeds"] == 3 and upsample["profile"] == "fixture"
    assert upsample["dataset"] == "SynthFashion (DeepFashion-C format)"
    assert upsample["row A (claimed better)"] == "name of liu2018"
    # Equal rows decide nothing.
    assert by_claim.loc["GMP beats GAP on category top-3", "verdict"] == claims.INCONCLUSIVE
    # The ledger's verdict is claims.compare's for every row.
    for (_, claim), (_, row) in zip(ledger.all_claims(), frame.iterrows()):
        a = values(claim.row_a[0], claim.row_a[1], claim.metric)
        b = values(claim.row_b[0], claim.row_b[1], claim.metric_b or claim.metric)
        assert row["verdict"] == claims.compare(claim.text, claim.metric, claim.better, "A", a, "B", b).verdict


def test_a_missing_metrics_file_lists_its_claims_as_not_run():
    files = _fixture_files()
    del files["fpm"]
    frame = ledger.claims_ledger("fixture", files)
    fpm = frame[frame["paper"] == "Hu et al. 2018 (FPM)"]
    assert len(fpm) == len(claims.CLAIMS["fpm"]) > 0
    assert set(fpm["verdict"]) == {ledger.NOT_RUN}
    assert fpm["note"].str.contains("metrics/fpm.json is missing: run ./run_all.sh --profile fixture --only fpm_train",
                                    regex=False).all()
    assert set(fpm["reproduced A"]) == {ledger.NOT_RUN} and set(fpm["seeds"]) == {0}
    assert ledger.NOT_RUN not in set(frame.loc[frame["paper"] != "Hu et al. 2018 (FPM)", "verdict"])


def test_a_row_the_profile_did_not_train_is_not_run_too():
    files = _fixture_files()
    del files["fashionnet"]["rows"]["fashionnet_no_landmark_pooling"]
    frame = ledger.claims_ledger("fixture", files)
    fashionnet = frame[frame["paper"] == "Liu et al. 2016 (FashionNet)"]
    assert set(fashionnet["verdict"]) == {ledger.NOT_RUN}
    assert fashionnet["note"].str.contains("no row 'fashionnet_no_landmark_pooling'").all()


def test_no_metrics_at_all_gives_every_claim_not_run(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    frame = ledger.claims_ledger("nothing")
    assert len(frame) == len(ledger.all_claims()) and set(frame["verdict"]) == {ledger.NOT_RUN}


def test_paper_numbers_come_from_reference_or_say_not_printed():
    frame = ledger.claims_ledger("fixture", _fixture_files())
    printed = {f"{value:.4f}" for row in REFERENCE_ROWS for value in row.metrics.values()}
    for column in ("paper A", "paper B"):
        for cell in frame[column]:
            if cell != ledger.NOT_PRINTED:
                number = re.match(r"^(\d\.\d{4}) \(", cell)
                assert number and number.group(1) in printed, f"{column} {cell!r} is not a transcribed number"
    by_claim = frame.set_index("claim")
    versus_fashionnet = by_claim.loc["Liu & Lu beats FashionNet on landmark NE"]
    assert versus_fashionnet["paper A"] == "0.0474 (Liu & Lu 2018, DeepFashion-C)"
    assert versus_fashionnet["paper B"] == "0.0872 (FashionNet, DeepFashion-C)"
    assert "DAFE), Table 1" in versus_fashionnet["paper numbers from"]
    # Ablations the papers describe without numbers stay "not printed".
    assert by_claim.loc["SAU helps: DAFE beats DAFE without SAU on FLD landmark NE", "paper B"] == ledger.NOT_PRINTED
    assert by_claim.loc["Attribute recall@5 'all' rises from 0% to 25% of labels revealed", "paper A"] == ledger.NOT_PRINTED
    assert by_claim.loc["FPM beats FashionNet-style direct regression on FashionAI NE", "paper B"] == \
        "0.1636 (FashionNet, FashionAI)"


def test_metrics_directory_reading_skips_claims_lists(tmp_path):
    (tmp_path / "liu2018.json").write_text(json.dumps({"rows": {}}), encoding="utf-8")
    (tmp_path / "liu2018_claims.json").write_text(json.dumps([{"claim": "x"}]), encoding="utf-8")
    assert list(ledger.load_metrics_files("any", tmp_path)) == ["liu2018"]
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json: not valid JSON"):
        ledger.load_metrics_files("any", tmp_path)


def test_row_benchmark_reads_the_key_suffix_of_multi_benchmark_files():
    dafe = {"benchmark": "DeepFashion-C and FLD"}
    assert ledger.row_benchmark(dafe, "dafe_fld") == "FLD"
    assert ledger.row_benchmark(dafe, "dafe_no_sau_deepfashion_c") == "DeepFashion-C"
    assert ledger.row_benchmark({"benchmark": "FashionAI"}, "fpm_regression") == "FashionAI"
    assert ledger.row_benchmark({}, None) == "?"


def test_verdict_counts_add_up():
    files = _fixture_files()
    del files["dafe"]
    frame = ledger.claims_ledger("fixture", files)
    counts = ledger.verdict_counts(frame)
    assert counts.loc["all papers", "claims"] == len(frame)
    assert counts.loc["Chen et al. 2019 (DAFE)", ledger.NOT_RUN] == len(claims.CLAIMS["dafe"])
    assert (counts[list(ledger.VERDICTS)].sum(axis=1) == counts["claims"]).all()


@pytest.mark.skipif(not (REPO / "reports" / "default" / "metrics").is_dir(), reason="reports/default/metrics is absent")
def test_ledger_of_the_committed_default_reports():
    frame = ledger.claims_ledger("default")
    assert len(frame) == len(ledger.all_claims())
    evaluated = frame[frame["verdict"] != ledger.NOT_RUN]
    assert len(evaluated) >= 12
    assert set(evaluated["profile"]) == {"default"} and (evaluated["seeds"] >= 2).all()


def test_fashionnet_ablation_row_drops_only_the_local_branch():
    """The FashionNet claim's B row: no landmark pooling; the default model keeps its architecture."""
    import torch

    from fashion_core.experiments.variants import VARIANTS
    from fashion_core.models import build_model

    kwargs = dict(num_categories=5, num_attributes=7, backbone="vgg_mini", width=0.125, input_size=64)
    torch.manual_seed(0)
    full = build_model("fashionnet", **kwargs)
    torch.manual_seed(0)
    ablation = build_model("fashionnet", **kwargs, **VARIANTS["fashionnet"]["no_landmark_pooling"].model_kwargs)
    assert any(name.startswith("fc6_local") for name in full.state_dict())
    assert not any(name.startswith("fc6_local") for name in ablation.state_dict())
    outputs = ablation(torch.randn(2, 3, 64, 64))
    assert outputs["category_logits"].shape == (2, 5) and "pool_boxes" not in outputs
    assert outputs["landmarks"].shape == (2, 8, 2)
