"""Throughput of every model, the data pipeline and the metrics, against this machine's own matmul peak.

    python benchmarks/throughput.py [--quick] [--out reports/benchmarks] [--skip-paper]

writes OUT/throughput.json (every measurement and the run's environment) and OUT/throughput.md
(the tables, with issue 7's targets as pass/fail columns). See benchmarks/README.md.

Method, for every model at its default-profile config (the train notebook's parameter defaults)
and at its paper config (params/paper/<notebook>.yaml; batch --paper-batch, since a CPU cannot
hold the paper's):
- training images/s: fashion_core.train.fit itself (the one trainer, its hot loop as it is) on
  one epoch of in-memory samples, so the data pipeline is not in the way; the step times come
  from fit's on_step callback, the first --warmup steps are dropped, the median of the others is
  reported;
- inference images/s: model.eval() under torch.inference_mode(), median over repeats;
- FLOPs per image: torch.utils.flop_counter.FlopCounterMode around one training step (forward,
  loss and backward) and around one inference forward;
- utilization: achieved FLOP/s (FLOPs per image x images/s) over the fp32 matmul peak measured in
  this run at the same thread count (median GFLOP/s of square matmuls, the best size).
The data pipeline (decode, bbox crop, resize, flip, heatmap targets) is timed through the
DataLoader with the workers the trainer uses; the metrics on 100,000 predictions each.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, Path(__file__).resolve().parent):  # run as a script from anywhere; spawned workers import this
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from fashion_core.io import write_json_atomic, write_text_atomic  # noqa: E402
from fashion_core.reporting.artifacts import markdown_table  # noqa: E402

# Issue 7's targets on the 2-core CPU machine.
TARGET_UTILIZATION = 0.30
TARGET_PIPELINE_FACTOR = 5.0
TARGET_METRIC_SECONDS = 1.0
METRIC_PREDICTIONS = 100_000
SIDE_BY_SIDE_START_DELAY = 10.0  # seconds from submitting the side-by-side processes to their common start


@dataclass(frozen=True)
class ModelSpec:
    name: str          # as reported
    notebook: str      # its train notebook: the parameters cell and params/paper/<notebook>.yaml
    paper: str         # key of fashion_core.experiments.VARIANTS
    variant: str       # the notebook's main row
    data_format: str   # "deepfashion_c" or "fashionai"


MODELS = (
    ModelSpec("fashionnet", "fashionnet_train", "fashionnet", "full", "deepfashion_c"),
    ModelSpec("liu2018", "liu2018_train", "liu2018", "full", "deepfashion_c"),
    ModelSpec("dafe", "dafe_train", "dafe", "full", "deepfashion_c"),
    ModelSpec("fpm", "fpm_train", "fpm", "full", "fashionai"),
    ModelSpec("m2fashion", "m2fashion_train", "m2fashion", "full", "deepfashion_c"),
    ModelSpec("retrieval_baseline", "m2fashion_train", "m2fashion", "asen", "deepfashion_c"),
)


@dataclass(frozen=True)
class Budget:
    warmup: int
    default_steps: int
    paper_steps: int
    inference_repeats: int
    paper_inference_repeats: int
    matmul_sizes: tuple[int, ...]
    matmul_repeats: int
    pipeline_images: int
    pipeline_passes: int
    metric_repeats: int


FULL = Budget(warmup=2, default_steps=10, paper_steps=2, inference_repeats=7, paper_inference_repeats=2,
              matmul_sizes=(1024, 1536, 2048), matmul_repeats=7, pipeline_images=256, pipeline_passes=3,
              metric_repeats=3)
QUICK = Budget(warmup=1, default_steps=3, paper_steps=1, inference_repeats=3, paper_inference_repeats=1,
               matmul_sizes=(1024,), matmul_repeats=5, pipeline_images=96, pipeline_passes=1, metric_repeats=1)


def log(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------- environment
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "load_average_1_5_15": [round(value, 2) for value in load],
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


# ----------------------------------------------------------------------------- matmul peak
def _median_rate(call: Callable[[], Any], flops: float, repeats: int) -> float:
    call()  # warm-up
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return flops / statistics.median(seconds) / 1e9


def matmul_peak(sizes: tuple[int, ...], repeats: int) -> dict[str, Any]:
    """Median fp32 GFLOP/s per size of two matmul kernels, and the best of those medians (the peak).

    torch.mm (n x n @ n x n, 2 n^3 FLOPs) runs MKL's sgemm; the same product as a 1 x 1
    convolution (n channels in and out over 32 x 32 pixels: a (1024 x n) @ (n x n) matmul) runs
    oneDNN, the library behind every convolution of the models. On AMD CPUs MKL's sgemm can stay
    well below oneDNN, and the models' convolutions would then exceed a torch.mm "peak".
    """
    generator = torch.Generator().manual_seed(0)
    per_kernel: dict[str, dict[str, float]] = {"torch.mm (MKL)": {}, "1x1 conv2d (oneDNN)": {}}
    for size in sizes:
        left, right = torch.randn(size, size, generator=generator), torch.randn(size, size, generator=generator)
        out = torch.empty(size, size)
        per_kernel["torch.mm (MKL)"][str(size)] = _median_rate(lambda: torch.mm(left, right, out=out), 2 * size**3,
                                                                repeats)
        pixels = torch.randn(1, size, 32, 32, generator=generator).contiguous(memory_format=torch.channels_last)
        weight = torch.randn(size, size, 1, 1, generator=generator).contiguous(memory_format=torch.channels_last)
        per_kernel["1x1 conv2d (oneDNN)"][str(size)] = _median_rate(
            lambda: torch.nn.functional.conv2d(pixels, weight), 2 * 1024 * size**2, repeats)
        log(f"  n = {size}: " + ", ".join(f"{kernel} {rates[str(size)]:.1f} GFLOP/s"
                                          for kernel, rates in per_kernel.items()) + f" (median of {repeats})")
    best = {kernel: max(rates.values()) for kernel, rates in per_kernel.items()}
    return {"gflops": per_kernel, "best_gflops": best, "peak_gflops": max(best.values()),
            "peak_kernel": max(best, key=best.get)}


# ----------------------------------------------------------------------------- data
def make_synthfashion(directory: Path, images: int) -> Path:
    from fashion_core.data.synthfashion.writer import generate

    root = directory / "synthfashion"
    generate(root, n_train=images, n_val=8, n_test=8, size=160, seed=0, formats=("deepfashion_c", "fashionai"),
             workers=1, progress=False)
    return root


def load_split(root: Path, data_format: str, input_size: int, cache_images: bool):
    from fashion_core.data import splits

    if data_format == "fashionai":
        return splits.load_fashionai(root / "fashionai", input_size, cache_images)
    return splits.load_deepfashion_c(root / "deepfashion_c", input_size, cache_images)


class InMemory(Dataset):
    """`length` samples cycling over precomputed ones: the model is timed, not the pipeline."""

    def __init__(self, samples: list[dict[str, torch.Tensor]], length: int):
        self.samples, self.length = samples, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        return self.samples[item % len(self.samples)]


# ----------------------------------------------------------------------------- models
def notebook_params(profile: str, notebook: str) -> dict[str, Any]:
    from fashion_core.params import resolved_parameters
    from fashion_core.paths import notebooks_dir

    return resolved_parameters(profile, notebooks_dir() / f"{notebook}.ipynb")


def build(spec: ModelSpec, params: dict[str, Any], data) -> tuple[torch.nn.Module, Callable, Dataset]:
    """The notebook's main row at these params, seeded, with its loss function and training dataset."""
    from fashion_core.experiments import m2fashion as m2
    from fashion_core.metrics import retrieval
    from fashion_core.data.vocab import FASHIONAI_CATEGORIES
    from fashion_core.experiments.variants import VARIANTS
    from fashion_core.models import build_model, loss_fn

    variant = VARIANTS[spec.paper][spec.variant]
    annotations = data.annotations
    train_set, loss = data.train, loss_fn
    if spec.paper == "fpm":
        counts = (len(FASHIONAI_CATEGORIES), 0)
    elif spec.paper == "dafe":
        counts = (0, 0)
    else:
        counts = (len(annotations.category_names), len(annotations.attribute_names))
    kwargs = dict(variant.model_kwargs)
    if spec.paper == "fpm":
        kwargs["stages"] = params["stages"]
    if spec.paper == "m2fashion":
        options = m2.Options(feature_stride=params["feature_stride"], similarity=params["similarity"])
        num_types = len(retrieval.type_codes(annotations.attribute_types))
        kwargs = m2.model_variant(variant, options, num_types).model_kwargs
        train_set, loss = m2.LabelMaskDataset(data.train, seed=0), m2.training_loss
    torch.manual_seed(0)
    model = build_model(variant.model, num_categories=counts[0], num_attributes=counts[1],
                        backbone=params["backbone"], width=params["width"], input_size=params["input_size"],
                        pretrained=False, weights_path=None, **kwargs)
    return model, loss, train_set


def inference_forward(model: torch.nn.Module, image: torch.Tensor) -> Any:
    # The retrieval baselines' work at test time is the trunk (their forward needs triplets).
    if model.__class__.__name__ == "RetrievalBaseline":
        return model.features(image)
    return model(image)


def count_flops(function: Callable[[], Any]) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        function()
    return int(counter.get_total_flops())


def training_step_seconds(model: torch.nn.Module, loss: Callable, distinct: list, params: dict[str, Any],
                          batch_size: int, warmup: int, steps: int) -> np.ndarray:
    """Seconds of each measured optimizer step of fashion_core.train.fit (warm-up steps dropped)."""
    from fashion_core.engine.trainer import fit, TrainConfig

    stamps: list[float] = []
    config = TrainConfig(epochs=1, batch_size=batch_size, optimizer=params["optimizer"], lr=params["lr"], seed=0,
                         num_workers=0, progress=False)
    started = time.perf_counter()
    fit(model, loss, InMemory(distinct, batch_size * (warmup + steps)), config,
        on_step=lambda epoch, step: stamps.append(time.perf_counter()))
    return np.diff([started, *stamps])[warmup:]


def _single_threaded_training(spec_name: str, params: dict[str, Any], root: Path, batch_size: int, warmup: int,
                              steps: int, start_at: float) -> dict[str, Any]:
    """In a worker process of fashion_core.parallel (one thread): the same training measurement, started at
    the wall-clock time start_at so that the processes measure at the same time."""
    spec = next(spec for spec in MODELS if spec.name == spec_name)
    model, loss, train_set = build(spec, params, load_split(root, spec.data_format, params["input_size"], True))
    distinct = [train_set[item] for item in range(min(len(train_set), 2 * batch_size))]
    time.sleep(max(0.0, start_at - time.time()))
    began = time.time()
    seconds = training_step_seconds(model, loss, distinct, params, batch_size, warmup, steps)
    return {"step_seconds": [float(value) for value in seconds], "began": began, "ended": time.time(),
            "threads": torch.get_num_threads()}


def measure_side_by_side(spec: ModelSpec, params: dict[str, Any], root: Path, batch_size: int, warmup: int,
                         steps: int, processes: int, train_flops_per_image: float, peak_gflops: float) -> dict[str, Any]:
    """Training as run_all trains a notebook's runs: `processes` single-threaded processes side by side.

    The machine's rate is the sum of the processes' median rates; `overlap` is the share of the
    measuring window during which all of them were training (1.0: fully concurrent).
    """
    from fashion_core.engine.parallel import run_jobs

    # Spawning, importing and loading take a few seconds per process; all of them start measuring together.
    job = ((spec.name, params, root, batch_size, warmup, steps, time.time() + SIDE_BY_SIDE_START_DELAY), {})
    workers = run_jobs(_single_threaded_training, [job] * processes, [f"process {index}" for index in range(processes)],
                       processes=processes, progress=False)
    rates = [batch_size / float(np.median(worker["step_seconds"])) for worker in workers]
    common = min(worker["ended"] for worker in workers) - max(worker["began"] for worker in workers)
    window = max(worker["ended"] for worker in workers) - min(worker["began"] for worker in workers)
    rate = float(sum(rates))
    return {"processes": processes, "threads_per_process": workers[0]["threads"], "images_per_s": rate,
            "per_process_images_per_s": rates, "overlap": max(0.0, common) / window,
            "utilization": train_flops_per_image * rate / (peak_gflops * 1e9)}


def measure_model(spec: ModelSpec, profile: str, params: dict[str, Any], data, batch_size: int, warmup: int,
                  steps: int, inference_repeats: int, peak_gflops: float) -> dict[str, Any]:
    model, loss, train_set = build(spec, params, data)
    distinct = [train_set[item] for item in range(min(len(train_set), 2 * batch_size))]
    # Cycled like InMemory, so a training split smaller than the batch still gives a full batch.
    batch = torch.utils.data.default_collate([distinct[item % len(distinct)] for item in range(batch_size)])
    parameters = sum(parameter.numel() for parameter in model.parameters())

    # FLOPs of one training step (forward, loss, backward) and one inference forward.
    model.train()
    training_flops = count_flops(lambda: loss(model, batch, 0)["loss"].backward())
    model.zero_grad(set_to_none=True)
    model.eval()
    with torch.inference_mode():
        inference_flops = count_flops(lambda: inference_forward(model, batch["image"]))

    # Training: the trainer itself, one epoch of warmup + steps batches.
    step_seconds = training_step_seconds(model, loss, distinct, params, batch_size, warmup, steps)
    train_step = float(np.median(step_seconds))

    # Inference under the evaluation regime.
    model.eval()
    inference_seconds = []
    with torch.inference_mode():
        for repeat in range(1 + inference_repeats):
            began = time.perf_counter()
            inference_forward(model, batch["image"])
            if repeat:  # the first call is the warm-up
                inference_seconds.append(time.perf_counter() - began)
    inference_step = float(np.median(inference_seconds))

    train_rate, inference_rate = batch_size / train_step, batch_size / inference_step
    train_flops_image, inference_flops_image = training_flops / batch_size, inference_flops / batch_size
    return {
        "model": spec.name, "profile": profile, "variant": f"{spec.paper}/{spec.variant}",
        "backbone": params["backbone"], "width": params["width"], "input_size": params["input_size"],
        "batch_size": batch_size, "profile_batch_size": params["batch_size"], "parameters": parameters,
        "train_images_per_s": train_rate, "inference_images_per_s": inference_rate,
        "train_gflops_per_image": train_flops_image / 1e9, "inference_gflops_per_image": inference_flops_image / 1e9,
        "train_utilization": train_flops_image * train_rate / (peak_gflops * 1e9),
        "inference_utilization": inference_flops_image * inference_rate / (peak_gflops * 1e9),
        "train_step_seconds": [float(value) for value in step_seconds],
        "inference_step_seconds": [float(value) for value in inference_seconds],
    }


# ----------------------------------------------------------------------------- data pipeline
def measure_pipeline(root: Path, data_format: str, input_size: int, workers: int, cache: bool, heatmaps: bool,
                     batch_size: int, passes: int, profile: str, threads: int | None = None) -> dict[str, Any]:
    """Images/s of the training dataset (flip on; heatmap targets drawn when asked) through a DataLoader.

    threads: torch's thread count while measuring (default: the run's).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    try:
        row = _measure_pipeline(root, data_format, input_size, workers, cache, heatmaps, batch_size, passes, profile)
    finally:
        torch.set_num_threads(previous)
    return {**row, "threads": threads or previous}


def _measure_pipeline(root: Path, data_format: str, input_size: int, workers: int, cache: bool, heatmaps: bool,
                      batch_size: int, passes: int, profile: str) -> dict[str, Any]:
    from fashion_core.data.datasets import HeatmapSpec

    data = load_split(root, data_format, input_size, cache_images=cache)
    dataset = data.train
    # Liu & Lu's full-resolution targets, the most expensive kind. The trainers themselves draw
    # their targets batched inside the loss (models.heatmaps), so their datasets draw none.
    dataset.heatmaps = HeatmapSpec(kernel="liu_lu", radius=8.0 * input_size / 224, stride=1) if heatmaps else None
    rates = []
    for epoch in range(passes + (1 if cache else 0)):  # with the cache, the first pass only fills it
        dataset.set_epoch(epoch)
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                            generator=torch.Generator().manual_seed(epoch))
        images, began = 0, None
        for batch in loader:
            if began is None:  # worker start-up and the first batch are the warm-up
                began = time.perf_counter()
                continue
            images += len(batch["image"])
        if images == 0:
            raise ValueError(f"the pipeline benchmark needs at least 2 batches of {batch_size}; the training split has "
                             f"{len(dataset)} images (raise Budget.pipeline_images)")
        if cache and epoch == 0:
            continue
        rates.append(images / (time.perf_counter() - began))
    return {"profile": profile, "format": data_format, "input_size": input_size, "num_workers": workers,
            "cache_images": cache, "heatmaps": heatmaps, "batch_size": batch_size, "images": len(dataset),
            "images_per_s": float(np.median(rates)), "per_pass_images_per_s": rates}


# ----------------------------------------------------------------------------- metrics
def metric_cases(rng: np.random.Generator) -> list[tuple[str, str, Callable[[], Any]]]:
    """(function, what is scored, call) for every function of fashion_core.metrics, at 100,000 predictions."""
    from fashion_core.metrics import functional

    n = METRIC_PREDICTIONS
    gt = rng.uniform(0, 224, (n, 8, 2))
    pred = gt + rng.normal(0, 10, gt.shape)
    visible = rng.random((n, 8)) < 0.8
    keypoints = rng.uniform(0, 512, (n, 24, 2))
    keypoint_pred = keypoints + rng.normal(0, 10, keypoints.shape)
    visibility = rng.choice([-1, 0, 1], size=(n, 24), p=[0.2, 0.1, 0.7])
    visibility[:, [5, 6, 15, 16]] = 1  # the normalising keypoints must be annotated
    categories = np.array(list(functional.FASHIONAI_CATEGORIES))[rng.integers(0, 5, n)]
    category_scores = rng.standard_normal((n, 50)).astype(np.float32)
    labels = rng.integers(0, 50, n)
    attribute_scores = rng.standard_normal((n, 1000)).astype(np.float32)
    attributes = rng.random((n, 1000)) < 0.0033  # DeepFashion-C: ~3.3 positive attributes per image
    attribute_types = rng.integers(1, 6, 1000)
    small_q, small_g = 100, 1_000
    large_q, large_g = 1_000, 10_000
    query_small, gallery_small = rng.standard_normal((small_q, 64)), rng.standard_normal((small_g, 64))
    relevant_small = rng.random((small_q, small_g)) < 0.05
    query_large, gallery_large = rng.standard_normal((large_q, 64)), rng.standard_normal((large_g, 64))
    relevant_large = rng.random((large_q, large_g)) < 0.05
    return [
        ("normalized_error", "100k images x 8 landmarks", lambda: functional.normalized_error(pred, gt, visible, 224)),
        ("normalized_error (mmfashion)", "100k images x 8 landmarks",
         lambda: functional.normalized_error(pred, gt, visible, 224, protocol="mmfashion")),
        ("detection_rate", "100k images x 8 landmarks, 10 thresholds",
         lambda: functional.detection_rate(pred, gt, visible, np.linspace(0.01, 0.1, 10), size=224)),
        ("fashionai_normalized_error", "100k images x 24 keypoints",
         lambda: functional.fashionai_normalized_error(keypoint_pred, keypoints, visibility, categories)),
        ("fashionai_normalized_error_per_keypoint", "100k images x 24 keypoints",
         lambda: functional.fashionai_normalized_error_per_keypoint(keypoint_pred, keypoints, visibility, categories)),
        ("fashionai_normalized_error_per_group", "100k images x 24 keypoints",
         lambda: functional.fashionai_normalized_error_per_group(keypoint_pred, keypoints, visibility, categories)),
        ("topk_accuracy", "100k images x 50 categories, k=5",
         lambda: functional.topk_accuracy(category_scores, labels, 5)),
        ("attribute_recall_at_k", "100k images x 1000 attributes, k=5",
         lambda: functional.attribute_recall_at_k(attribute_scores, attributes, 5)),
        ("attribute_recall_at_k (attr_types)", "100k images x 1000 attributes in 5 types, k=5",
         lambda: functional.attribute_recall_at_k(attribute_scores, attributes, 5, attr_types=attribute_types)),
        ("mmfashion_attribute_recall", "100k images x 1000 attributes, k=5",
         lambda: functional.mmfashion_attribute_recall(attribute_scores, attributes, 5)),
        ("retrieval_map", f"{small_q} queries x {small_g:,} gallery (10^5 ranked pairs)",
         lambda: functional.retrieval_map(query_small, gallery_small, relevant_small)),
        ("retrieval_average_precisions", f"{small_q} queries x {small_g:,} gallery (10^5 ranked pairs)",
         lambda: functional.retrieval_average_precisions(query_small, gallery_small, relevant_small)),
        ("retrieval_map", f"{large_q:,} queries x {large_g:,} gallery (10^7 ranked pairs)",
         lambda: functional.retrieval_map(query_large, gallery_large, relevant_large)),
    ]


def measure_metrics(repeats: int) -> list[dict[str, Any]]:
    rows = []
    cases = metric_cases(np.random.default_rng(0))
    for name, scored, call in tqdm(cases, desc="metrics", unit="fn", file=sys.stdout):
        call()  # warm-up
        wall, cpu = [], []
        for _ in range(repeats):
            began, began_cpu = time.perf_counter(), time.process_time()
            call()
            wall.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        rows.append({"function": name, "scored": scored, "seconds": float(np.median(wall)),
                     "cpu_seconds": float(np.median(cpu))})
    return rows


# ----------------------------------------------------------------------------- report
def pass_fail(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def judged_utilization(row: dict[str, Any]) -> float:
    """The utilization the target is judged on: side by side when the profile trains that way."""
    return row["side_by_side"]["utilization"] if "side_by_side" in row else row["train_utilization"]


def render_markdown(result: dict[str, Any]) -> str:
    env, peak = result["environment"], result["matmul"]
    lines = [
        "# Throughput benchmark",
        "",
        f"Generated by `python benchmarks/throughput.py{' --quick' if result['quick'] else ''}` "
        f"({'quick mode: fewer steps, indicative only' if result['quick'] else 'full mode'}).",
        f"torch {env['torch']}, {env['torch_threads']} thread(s), {env['cpu_model']} ({env['cpu_count']} CPUs), "
        f"load average at start {env['load_average_1_5_15']}, at end {result['load_average_at_end']}; "
        f"{result['seconds']:.0f} s in all.",
        f"fp32 matmul peak: **{peak['peak_gflops']:.1f} GFLOP/s** ({peak['peak_kernel']}; median GFLOP/s per n: "
        + "; ".join(f"{kernel} " + ", ".join(f"{size}: {value:.1f}" for size, value in rates.items())
                    for kernel, rates in peak["gflops"].items()) + ").",
        "",
        "## Models",
        "",
        f"Training through `fashion_core.train.fit` on in-memory batches; utilization = FLOPs/image x images/s / "
        f"matmul peak. Target: training utilization >= {TARGET_UTILIZATION:.0%} for every default-profile model. "
        f"Paper rows run at batch {result['paper_batch']} (not the paper's) on this CPU. "
        "The default profile trains a notebook's runs in single-threaded processes side by side "
        "(`train_processes`, fashion_core.parallel): its 'side by side' columns are the summed rate of that many "
        "processes training at once, against the same peak, and the verdict is on them, the way the workbook "
        "trains; 'overlap' is the share of the measuring window in which all processes were training.",
        "",
    ]
    models = pd.DataFrame(result["models"])
    if not models.empty:
        side = [row.get("side_by_side") for row in result["models"]]
        judged = [judged_utilization(row) for row in result["models"]]
        table = pd.DataFrame({
            "model": models["model"], "profile": models["profile"],
            "config": models["backbone"] + " x" + models["width"].map("{:g}".format) + " @ "
            + models["input_size"].astype(str) + " px",
            "batch": models["batch_size"].astype(str),
            "train img/s": models["train_images_per_s"].map("{:.1f}".format),
            "infer img/s": models["inference_images_per_s"].map("{:.1f}".format),
            "train GFLOP/img": models["train_gflops_per_image"].map("{:.3f}".format),
            "infer GFLOP/img": models["inference_gflops_per_image"].map("{:.3f}".format),
            "train util": models["train_utilization"].map("{:.1%}".format),
            "infer util": models["inference_utilization"].map("{:.1%}".format),
            "side by side img/s": [f"{entry['images_per_s']:.1f} ({entry['processes']} x 1 thread)" if entry else "-"
                                   for entry in side],
            "side by side util": [f"{entry['utilization']:.1%}" if entry else "-" for entry in side],
            "overlap": [f"{entry['overlap']:.0%}" if entry else "-" for entry in side],
            f">= {TARGET_UTILIZATION:.0%}": [pass_fail(value >= TARGET_UTILIZATION) if profile == "default" else "n/a"
                                             for value, profile in zip(judged, models["profile"])],
        })
        lines += [markdown_table(table), ""]
    pipeline = pd.DataFrame(result["pipeline"])
    if not pipeline.empty:
        fastest = result["fastest_default_training_images_per_s"]
        lines += ["## Data pipeline", "",
                  "Decode, bbox crop, resize, flip and (first row of each pair) Liu & Lu heatmap targets at stride 1, "
                  "through the DataLoader with the trainer's workers; the trainers draw their targets batched in the "
                  "loss, so their datasets draw none (second row). "
                  f"Target: >= {TARGET_PIPELINE_FACTOR:g}x the fastest default-profile "
                  f"model's training rate in one process ({fastest:.1f} img/s -> "
                  f"{TARGET_PIPELINE_FACTOR * fastest:.1f} img/s); the default-profile rows run at the thread count "
                  "of a training worker, since each worker feeds its own model. The verdict is on the rows as "
                  "trained: cached, no dataset heatmaps. With cache_images (the default profile) decode, crop and "
                  "resize run once per image: before the runs start when they train side by side (fill_cache), "
                  "in the first epoch otherwise, so the uncached rows are that one-off decode.", ""]
        table = pd.DataFrame({
            "profile": pipeline["profile"], "format": pipeline["format"], "input px": pipeline["input_size"],
            "workers": pipeline["num_workers"], "threads": pipeline.get("threads", pd.Series(["-"] * len(pipeline))),
            "cache_images": pipeline["cache_images"],
            "heatmap targets": pipeline["heatmaps"].map({True: "liu_lu, stride 1", False: "none (as trained)"}),
            "img/s": pipeline["images_per_s"].map("{:.1f}".format),
            "x fastest model": (pipeline["images_per_s"] / fastest).map("{:.1f}".format),
            f">= {TARGET_PIPELINE_FACTOR:g}x": [
                pass_fail(rate >= TARGET_PIPELINE_FACTOR * fastest) if profile == "default" and cache and not heatmaps
                else "n/a" for rate, profile, cache, heatmaps in zip(pipeline["images_per_s"], pipeline["profile"],
                                                                     pipeline["cache_images"], pipeline["heatmaps"])],
        })
        lines += [markdown_table(table), ""]
    metric_rows = pd.DataFrame(result["metrics"])
    if not metric_rows.empty:
        lines += ["## Metrics", "", f"Seconds to score {METRIC_PREDICTIONS:,} predictions (median wall time; CPU time "
                  f"beside it). Target: < {TARGET_METRIC_SECONDS:g} s each.", ""]
        table = pd.DataFrame({
            "function": metric_rows["function"], "scored": metric_rows["scored"],
            "seconds": metric_rows["seconds"].map("{:.3f}".format),
            "CPU seconds": metric_rows["cpu_seconds"].map("{:.3f}".format),
            f"< {TARGET_METRIC_SECONDS:g} s": [pass_fail(value < TARGET_METRIC_SECONDS)
                                               for value in metric_rows["seconds"]],
        })
        lines += [markdown_table(table), ""]
    below = [(row["model"], judged_utilization(row)) for row in result["models"]
             if row["profile"] == "default" and judged_utilization(row) < TARGET_UTILIZATION]
    if below:
        lines += ["Default-profile models below the utilization target: "
                  + ", ".join(f"{model} ({value:.1%})" for model, value in below) + ".", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer steps and repeats: checks the script, indicative numbers")
    parser.add_argument("--out", default=str(REPO / "reports" / "benchmarks"), help="output directory")
    parser.add_argument("--models", nargs="+", default=[spec.name for spec in MODELS],
                        choices=[spec.name for spec in MODELS], help="models to measure")
    parser.add_argument("--skip-paper", action="store_true", help="default-profile configs only")
    parser.add_argument("--paper-batch", type=int, default=2, help="batch size of the paper-config rows")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--skip-metrics", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's own)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    # The paper profile's 4 DataLoader workers are meant for a GPU machine; here they are measured anyway.
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    if args.threads:
        torch.set_num_threads(args.threads)
    budget = QUICK if args.quick else FULL
    began = time.perf_counter()
    result: dict[str, Any] = {"quick": args.quick, "paper_batch": args.paper_batch, "environment": environment(),
                              "models": [], "pipeline": [], "metrics": []}
    log(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {cpu_model()}")
    log("fp32 matmul peak")
    result["matmul"] = matmul_peak(budget.matmul_sizes, budget.matmul_repeats)
    peak = result["matmul"]["peak_gflops"]
    specs = [spec for spec in MODELS if spec.name in args.models]
    profiles = ["default"] + ([] if args.skip_paper else ["paper"])

    with tempfile.TemporaryDirectory(prefix="throughput-") as directory:
        log("generating a small SynthFashion")
        root = make_synthfashion(Path(directory), budget.pipeline_images)
        for profile in profiles:
            for spec in specs:
                params = notebook_params(profile, spec.notebook)
                batch = params["batch_size"] if profile == "default" else args.paper_batch
                steps = budget.default_steps if profile == "default" else budget.paper_steps
                repeats = budget.inference_repeats if profile == "default" else budget.paper_inference_repeats
                log(f"[{profile}] {spec.name}: {params['backbone']} x{params['width']} @ {params['input_size']} px, "
                    f"batch {batch}, {budget.warmup} warm-up + {steps} measured steps")
                data = load_split(root, spec.data_format, params["input_size"], cache_images=True)
                row = measure_model(spec, profile, params, data, batch, budget.warmup, steps, repeats, peak)
                log(f"    train {row['train_images_per_s']:.1f} img/s ({row['train_utilization']:.1%} of peak), "
                    f"inference {row['inference_images_per_s']:.1f} img/s, "
                    f"{row['train_gflops_per_image']:.3f} training GFLOP/image")
                processes = params.get("train_processes", 1)
                if profile == "default" and processes > 1:
                    row["side_by_side"] = measure_side_by_side(
                        spec, params, root, batch, budget.warmup, 4 * steps, processes,
                        row["train_gflops_per_image"] * 1e9, peak)
                    log(f"    {processes} single-threaded processes side by side: "
                        f"{row['side_by_side']['images_per_s']:.1f} img/s ({row['side_by_side']['utilization']:.1%} "
                        f"of peak, overlap {row['side_by_side']['overlap']:.0%})")
                result["models"].append(row)
        # A worker process feeds its own model: compare its pipeline with one process's training rate.
        default_rates = [row["side_by_side"]["per_process_images_per_s"] if "side_by_side" in row
                         else [row["train_images_per_s"]] for row in result["models"] if row["profile"] == "default"]
        result["fastest_default_training_images_per_s"] = (max(max(rates) for rates in default_rates)
                                                           if default_rates else float("nan"))

        if not args.skip_pipeline:
            configurations = set()
            for profile in profiles:
                for spec in specs:
                    params = notebook_params(profile, spec.notebook)
                    caches = (False, True) if params["num_workers"] == 0 else (False,)
                    for cache in caches:
                        for heatmaps in (True, False):
                            configurations.add((profile, spec.data_format, params["input_size"], params["num_workers"],
                                                cache, heatmaps,
                                                params["batch_size"] if profile == "default" else args.paper_batch))
            # The default profile's pipeline runs inside a single-threaded training worker.
            worker_threads = {profile: 1 if any(notebook_params(profile, spec.notebook).get("train_processes", 1) > 1
                                                for spec in specs) else None for profile in profiles}
            for profile, data_format, size, workers, cache, heatmaps, batch in sorted(configurations):
                log(f"[{profile}] pipeline {data_format} @ {size} px, {workers} worker(s), cache_images={cache}, "
                    f"heatmaps={heatmaps}")
                row = measure_pipeline(root, data_format, size, workers, cache, heatmaps, batch,
                                       budget.pipeline_passes, profile, worker_threads[profile])
                log(f"    {row['images_per_s']:.1f} img/s")
                result["pipeline"].append(row)

    if not args.skip_metrics:
        log(f"metrics on {METRIC_PREDICTIONS:,} predictions")
        result["metrics"] = measure_metrics(budget.metric_repeats)
    result["seconds"] = time.perf_counter() - began
    result["load_average_at_end"] = ([round(value, 2) for value in os.getloadavg()]
                                     if hasattr(os, "getloadavg") else None)
    result["targets"] = {"train_utilization": TARGET_UTILIZATION, "pipeline_factor": TARGET_PIPELINE_FACTOR,
                         "metric_seconds": TARGET_METRIC_SECONDS}
    out = Path(args.out)
    write_json_atomic(out / "throughput.json", result)
    write_text_atomic(out / "throughput.md", render_markdown(result))
    log(f"wrote {out / 'throughput.json'} and {out / 'throughput.md'} ({result['seconds']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
