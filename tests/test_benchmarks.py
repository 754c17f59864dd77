"""benchmarks/throughput.py: the numbers it derives, its pass/fail columns, and one small end-to-end run."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py"


@pytest.fixture(scope="module")
def throughput():
    spec = importlib.util.spec_from_file_location("throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_flop_count_of_a_known_layer(throughput):
    layer = torch.nn.Linear(30, 20, bias=False)
    # (8 x 30) @ (30 x 20): 2 * 8 * 30 * 20 FLOPs forward; backward adds the input and weight gradients.
    assert throughput.count_flops(lambda: layer(torch.randn(8, 30))) == 2 * 8 * 30 * 20
    assert throughput.count_flops(lambda: layer(torch.randn(8, 30, requires_grad=True)).sum().backward()) \
        == 3 * 2 * 8 * 30 * 20


def result_with(throughput, utilizations, pipeline_rate, metric_seconds):
    models = [{"model": f"m{index}", "profile": "default", "backbone": "vgg_mini", "width": 0.125, "input_size": 64,
               "batch_size": 32, "train_images_per_s": 100.0 * (index + 1), "inference_images_per_s": 400.0,
               "train_gflops_per_image": 0.1, "inference_gflops_per_image": 0.03, "train_utilization": value,
               "inference_utilization": 0.5} for index, value in enumerate(utilizations)]
    return {"quick": True, "paper_batch": 2, "seconds": 1.0, "load_average_at_end": [0, 0, 0],
            "environment": {"torch": torch.__version__, "torch_threads": 1, "cpu_model": "cpu", "cpu_count": 2,
                            "load_average_1_5_15": [0, 0, 0]},
            "matmul": {"peak_gflops": 50.0, "peak_kernel": "torch.mm (MKL)",
                       "gflops": {"torch.mm (MKL)": {"1024": 50.0}}},
            "models": models, "fastest_default_training_images_per_s": 100.0 * len(utilizations),
            "pipeline": [{"profile": "default", "format": "deepfashion_c", "input_size": 64, "num_workers": 0,
                          "cache_images": True, "heatmaps": False, "images_per_s": pipeline_rate}],
            "metrics": [{"function": "f", "scored": "100k", "seconds": metric_seconds, "cpu_seconds": metric_seconds}]}


def test_markdown_marks_each_target_pass_or_fail(throughput):
    text = throughput.render_markdown(result_with(throughput, [0.2, 0.45], pipeline_rate=999.0, metric_seconds=1.5))
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| m")}
    assert rows["m0"].rstrip(" |").endswith("FAIL") and rows["m1"].rstrip(" |").endswith("pass")
    assert "below the utilization target: m0 (20.0%)" in text
    # fastest model 200 img/s -> the pipeline needs 1000 img/s; 999 fails.
    pipeline_row = next(line for line in text.splitlines() if line.startswith("| default | deepfashion_c"))
    assert pipeline_row.rstrip(" |").endswith("FAIL") and "| 5.0 |" in pipeline_row
    metric_row = next(line for line in text.splitlines() if line.startswith("| f |"))
    assert metric_row.rstrip(" |").endswith("FAIL")
    passing = throughput.render_markdown(result_with(throughput, [0.31], pipeline_rate=500.0, metric_seconds=0.5))
    assert "FAIL" not in passing and "below the utilization target" not in passing
    # With a side-by-side measurement the verdict is on it, the way the default profile trains.
    side_by_side = result_with(throughput, [0.2], pipeline_rate=500.0, metric_seconds=0.5)
    side_by_side["models"][0]["side_by_side"] = {"processes": 2, "images_per_s": 300.0, "utilization": 0.6,
                                                 "overlap": 0.97, "per_process_images_per_s": [150.0, 150.0]}
    text = throughput.render_markdown(side_by_side)
    row = next(line for line in text.splitlines() if line.startswith("| m0"))
    assert "300.0 (2 x 1 thread)" in row and "| 60.0% |" in row and row.rstrip(" |").endswith("pass")
    # Dataset heatmaps are not how the trainers run: no verdict on those rows.
    side_by_side["pipeline"].append({**side_by_side["pipeline"][0], "heatmaps": True, "images_per_s": 1.0})
    heatmap_row = next(line for line in throughput.render_markdown(side_by_side).splitlines()
                       if line.startswith("| default") and "liu_lu" in line)
    assert heatmap_row.rstrip(" |").endswith("n/a")


def test_small_end_to_end_run(throughput, tmp_path, monkeypatch):
    tiny = dataclasses.replace(throughput.QUICK, default_steps=2, inference_repeats=1, matmul_sizes=(256,),
                               matmul_repeats=2, pipeline_images=40)
    monkeypatch.setattr(throughput, "QUICK", tiny)
    monkeypatch.setattr(throughput, "METRIC_PREDICTIONS", 2_000)
    monkeypatch.setattr(throughput, "SIDE_BY_SIDE_START_DELAY", 0.0)
    result = throughput.main(["--quick", "--skip-paper", "--models", "dafe", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "throughput.json").read_text())
    assert saved["environment"]["torch"] == torch.__version__ and saved["environment"]["torch_threads"] >= 1
    (row,) = saved["models"]
    assert row["model"] == "dafe" and row["input_size"] == 64 and row["batch_size"] == 32
    assert len(row["train_step_seconds"]) == 2 and row["train_images_per_s"] > 0
    # utilization is FLOPs/image x images/s over the measured peak
    peak = saved["matmul"]["peak_gflops"]
    assert row["train_utilization"] == pytest.approx(row["train_gflops_per_image"] * row["train_images_per_s"] / peak)
    assert 0 < row["inference_gflops_per_image"] < row["train_gflops_per_image"]
    # The default profile trains side by side: 2 single-threaded processes, their rates summed.
    side = row["side_by_side"]
    assert side["processes"] == 2 and side["threads_per_process"] == 1 and len(side["per_process_images_per_s"]) == 2
    assert side["images_per_s"] == pytest.approx(sum(side["per_process_images_per_s"]))
    assert side["utilization"] == pytest.approx(row["train_gflops_per_image"] * side["images_per_s"] / peak)
    assert 0 <= side["overlap"] <= 1
    assert result["fastest_default_training_images_per_s"] == max(side["per_process_images_per_s"])
    # Per image, whatever the split size (the 40-image split is cycled into batches of 32): DAFE x0.125 at
    # 64 px counts 12.2 MFLOPs forward and 34.3 per training step (update both if its architecture changes).
    assert row["inference_gflops_per_image"] == pytest.approx(0.01223, rel=1e-3)
    assert row["train_gflops_per_image"] == pytest.approx(0.03428, rel=1e-3)
    formats = {(entry["format"], entry["cache_images"], entry["heatmaps"]) for entry in saved["pipeline"]}
    assert formats == {("deepfashion_c", cache, heatmaps) for cache in (False, True) for heatmaps in (False, True)}
    assert all(entry["images_per_s"] > 0 and entry["threads"] == 1 for entry in saved["pipeline"])
    functions = {entry["function"].split(" ")[0] for entry in saved["metrics"]}
    from fashion_core.metrics import functional

    assert {name for name in functional.__all__ if callable(getattr(functional, name))} <= functions
    markdown = (tmp_path / "throughput.md").read_text()
    assert "## Models" in markdown and "## Data pipeline" in markdown and "## Metrics" in markdown
    assert np.isfinite(result["fastest_default_training_images_per_s"])


# --------------------------------------------------------------------------- the speed-ups keep the semantics
def brute_force_recall(scores, positive, k, types):
    """Per-type recall@k by a stable descending sort within each type (ties: lower column first)."""
    result = {}
    for code in np.unique(types):
        columns = np.flatnonzero(types == code)
        order = np.argsort(-scores[:, columns], axis=1, kind="stable")[:, : min(k, len(columns))]
        hits = np.take_along_axis(positive[:, columns], order, axis=1).sum()
        total = positive[:, columns].sum()
        result[int(code)] = hits / total if total else float("nan")
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    result["all"] = np.take_along_axis(positive, order, axis=1).sum() / positive.sum()
    return result


@pytest.mark.parametrize("case", range(6))
def test_per_type_attribute_recall_matches_brute_force(case, monkeypatch):
    from fashion_core.metrics import functional

    monkeypatch.setattr(functional, "_TYPE_GRID_ROW_BLOCK", 7)  # many blocks, a ragged last one
    rng = np.random.default_rng(case)
    rows, columns = 50, 23
    scores = rng.integers(0, 4, (rows, columns)).astype(np.float32)  # ties at the k-th value everywhere
    if case % 2:
        scores[rng.random((rows, columns)) < 0.3] = -np.inf  # as attribute_metrics_on_unknown masks labels
    positive = rng.random((rows, columns)) < 0.3
    types = rng.integers(1, 4, columns)  # interleaved types of unequal sizes
    for k in (1, 3, 8):
        result = functional.attribute_recall_at_k(scores, positive, k, attr_types=types)
        expected = brute_force_recall(scores.astype(np.float64), positive, k, types)
        assert result.keys() == expected.keys()
        for key, value in expected.items():
            assert result[key] == pytest.approx(value, nan_ok=True), (k, key)
