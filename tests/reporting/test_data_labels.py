"""Every reproduced column names the data it was measured on: SynthFashion and its format, or the real benchmark."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fashion_core import experiments
from fashion_core.experiments import store
from fashion_core.metrics.evaluation import Predictions, score
from fashion_core.reporting import ledger, reproduction, tables

REPO = Path(__file__).resolve().parents[2]
ROW = {"name": "DAFE", "seeds": [0, 1, 2], "mean": {"ne_avg": 0.05}, "std": {"ne_avg": 0.001},
       "per_seed": {"ne_avg": [0.049, 0.05, 0.051]}}


def payload(source: str | None, label: str, benchmark: str, profile: str = "paper") -> dict:
    recorded = {"dataset_label": label, "benchmark": benchmark, "profile": profile, "rows": {"dafe": ROW}}
    return recorded if source is None else {**recorded, "source": source}


@pytest.mark.parametrize("benchmark, name", [("FLD", "DeepFashion FLD"), ("DeepFashion-C", "DeepFashion-C"),
                                             ("FashionAI", "FashionAI"), ("In-shop", "DeepFashion In-shop")])
def test_a_real_column_names_the_benchmark_it_was_measured_on(benchmark, name):
    recorded = payload("real", "DeepFashion and FashionAI", benchmark)
    entry = tables.reproduced_entry("DAFE", ROW, recorded)
    table = tables.comparison_table(("ne_avg",), ("Avg",), benchmark, [], [entry])
    assert list(table.columns) == [f"DAFE [reproduced · {name} · profile paper · 3 seeds]"]
    baseline = tables.baseline_entry("mean shape", {"ne_avg": 0.1}, recorded)
    assert tables.reproduced_header("mean shape", baseline["dataset_label"], "paper", None) == \
        f"mean shape [baseline · {name} · profile paper]"


def test_a_real_column_never_says_synthfashion_or_the_profile_label():
    # A label that looks like neither: the source decides, and the benchmark is named.
    recorded = payload("real", "real", "FLD")
    assert tables.data_label(recorded) == "DeepFashion FLD"
    assert reproduction.dataset_header(recorded, "FLD") == "[DeepFashion FLD · profile paper]"


def test_synthfashion_columns_keep_their_label_and_name_the_format():
    recorded = payload("synthfashion", "SynthFashion", "DeepFashion-C", profile="default")
    entry = tables.reproduced_entry("Liu & Lu", ROW, recorded)
    assert tables.reproduced_header(entry["method"], entry["dataset_label"], "default", 3) == \
        "Liu & Lu [reproduced · SynthFashion, DeepFashion-C format · profile default · 3 seeds]"
    assert tables.reproduced_entry("DAFE", ROW, recorded, "FLD")["dataset_label"] == "SynthFashion, FLD format"
    assert reproduction.dataset_header(recorded, "FLD") == "[SynthFashion, FLD format · profile default]"


def test_a_file_written_without_a_source_is_told_by_its_label():
    assert tables.data_label(payload(None, "SynthFashion-smoke", "FLD")) == "SynthFashion-smoke, FLD format"
    assert tables.data_label(payload(None, "DeepFashion and FashionAI", "FLD")) == "DeepFashion FLD"


def test_dafe_columns_name_each_benchmark_on_real_data():
    dafe = {**payload("real", "DeepFashion and FashionAI", "DeepFashion-C and FLD"),
            "rows": {"dafe_fld": ROW, "dafe_deepfashion_c": ROW},
            "benchmarks": {"FLD": {"rows": ["dafe_fld"], "baselines": {"mean_shape": {"ne_avg": 0.1}}},
                           "DeepFashion-C": {"rows": ["dafe_deepfashion_c"],
                                             "baselines": {"mean_shape": {"ne_avg": 0.1}}}}}
    assert {entry["dataset_label"] for entry in tables.dafe_reproduced_columns(dafe, "FLD")} == {"DeepFashion FLD"}
    assert tables.data_label(dafe) == "DeepFashion-C and DeepFashion FLD"


def test_the_ledger_names_the_real_benchmark_and_keeps_its_synthfashion_wording():
    real = {**payload("real", "DeepFashion and FashionAI", "DeepFashion-C and FLD"), "rows": {"dafe_fld": ROW}}
    synthetic = {**payload("synthfashion", "SynthFashion", "DeepFashion-C and FLD"), "rows": {"dafe_fld": ROW}}
    assert ledger._dataset_text([(real, "dafe_fld")]) == "DeepFashion FLD"
    assert ledger._dataset_text([(synthetic, "dafe_fld")]) == "SynthFashion (FLD format)"


@pytest.mark.parametrize("label, source", [("SynthFashion-smoke", "synthfashion"),
                                           ("DeepFashion and FashionAI", "real")])
def test_write_metrics_records_the_source(tmp_path, monkeypatch, label, source):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    settings = experiments.Settings(profile="smoke", dataset_label=label, backbone="vgg_mini", width=0.0625,
                                    input_size=100, pretrained=False, weights_path="", epochs=1, batch_size=2,
                                    optimizer="adam", lr=1e-3, lr_gamma=1.0, seeds=(0,))
    truth = np.full((1, 8, 2), 50.0, np.float32)
    predictions = Predictions(input_size=100, index=np.arange(1), landmarks=truth + 1, landmarks_true=truth,
                              visible=np.ones((1, 8), bool), visibility=np.zeros((1, 8), np.int64),
                              clothes_type=np.ones(1, np.int64))
    variant = experiments.Variant("dafe_fld", "DAFE", "dafe")
    run = experiments.RunResult(variant, 0, score(predictions), pd.DataFrame(), 0.0, predictions)
    store.write_metrics("dafe", settings, "FLD", experiments.ExperimentResults([run]))
    recorded = store.load_metrics("smoke", "dafe")
    assert recorded["source"] == source
    assert tables.data_label(recorded) == ("DeepFashion FLD" if source == "real" else f"{label}, FLD format")


@pytest.mark.parametrize("profile", ["smoke", "default", "paper"])
def test_every_profiles_label_tells_its_source(profile):
    config = yaml.safe_load((REPO / "params" / profile / "data.yaml").read_text(encoding="utf-8"))
    assert store.data_source(config["dataset_label"]) == config["source"]
