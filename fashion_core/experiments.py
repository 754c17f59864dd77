"""Train model variants over seeds, score them on the test split, and keep the results as JSON.

A notebook names the variants and passes its params; this module does the rest, so every
paper's numbers go through the same data pipeline, trainer, protocol and file layout:
checkpoints in reports/<profile>/checkpoints/, metrics in reports/<profile>/metrics/<paper>.json.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from fashion_core.evaluation import Predictions, collect_predictions, fashionai_score, score
from fashion_core.io import write_json_atomic
from fashion_core.paths import reports_dir
from fashion_core.train import TrainConfig, fit

# Which notebook writes each metrics file, so a missing one can be named precisely.
PRODUCERS = {
    "fashionnet": "fashionnet_train",
    "liu2018": "liu2018_train",
    "dafe": "dafe_train",
    "fpm": "fpm_train",
    "m2fashion": "m2fashion_train",
}


@dataclass(frozen=True)
class Variant:
    """One row of a table: a model with fixed switches, trained once per seed."""

    key: str        # file-safe, e.g. "liu2018_no_upsample"
    name: str       # as printed, e.g. "Liu & Lu: no upsampling (1/8 heatmaps)"
    model: str      # fashion_core.models registry name
    model_kwargs: dict = field(default_factory=dict)


VARIANTS: dict[str, dict[str, Variant]] = {
    "fashionnet": {
        "full": Variant("fashionnet", "FashionNet", "fashionnet"),
        # The paper's landmark-pooling claim: the same model with the local branch removed.
        "no_landmark_pooling": Variant("fashionnet_no_landmark_pooling", "FashionNet without landmark pooling",
                                       "fashionnet", {"landmark_pooling": False}),
    },
    "liu2018": {
        "full": Variant("liu2018", "Liu & Lu", "liu2018", {"upsample": True, "attention": "landmark"}),
        "no_upsample": Variant("liu2018_no_upsample", "Liu & Lu: 1/8-resolution heatmaps", "liu2018",
                               {"upsample": False, "attention": "landmark"}),
        "no_attention": Variant("liu2018_no_attention", "Liu & Lu: no attention", "liu2018",
                                {"upsample": True, "attention": "none"}),
        "conv_only": Variant("liu2018_conv_only", "Liu & Lu: conv-only attention", "liu2018",
                             {"upsample": True, "attention": "conv_only"}),
    },
    # DAFE's rows are trained on DeepFashion-C and on FLD (see for_benchmark). The FashionNet and
    # Liu & Lu rows are their landmark parts, trained on the landmark loss alone like DAFE.
    "dafe": {
        "full": Variant("dafe", "DAFE", "dafe", {"sau": True, "cas": True}),
        "no_sau": Variant("dafe_no_sau", "DAFE without SAU", "dafe", {"sau": False, "cas": True}),
        "no_cas": Variant("dafe_no_cas", "DAFE without CAS", "dafe", {"sau": True, "cas": False}),
        "fpn": Variant("dafe_fpn", "plain FPN decoder", "dafe", {"sau": False, "cas": False}),
        "fashionnet": Variant("dafe_fashionnet", "FashionNet (pose branch)", "fashionnet", {"landmarks_only": True}),
        "liu2018": Variant("dafe_liu2018", "Liu & Lu (landmark branch)", "liu2018",
                           {"landmarks_only": True, "attention": "none", "upsample": True}),
        # Hu et al.'s pose machine with 8 belief maps (+ background) instead of FashionAI's 24, so the
        # report's leaderboard ranks all four landmark models on the same crops and protocol.
        "fpm": Variant("dafe_fpm", "FPM (8 landmarks)", "fpm", {"num_keypoints": 8}),
    },
    "m2fashion": {
        "full": Variant("m2fashion", "M2Fashion", "m2fashion"),
        "no_asa": Variant("m2fashion_no_asa", "M2Fashion w/o ASA", "m2fashion", {"asa": False}),
        "no_aca": Variant("m2fashion_no_aca", "M2Fashion w/o ACA", "m2fashion", {"aca": False}),
        "category_only": Variant("m2fashion_category_only", "M2Fashion: category only", "m2fashion",
                                 {"tasks": "category"}),
        "attribute_only": Variant("m2fashion_attribute_only", "M2Fashion: attribute only", "m2fashion",
                                  {"tasks": "attribute"}),
        "gap": Variant("m2fashion_gap", "M2Fashion: GAP", "m2fashion", {"pooling": "gap"}),
        # Table 3's retrieval baselines, on the same trunk and triplets (fashion_core.models.retrieval_baselines).
        "triplet": Variant("m2fashion_triplet", "Triplet network (unconditioned)", "retrieval_baseline",
                           {"condition": "none"}),
        "asen": Variant("m2fashion_asen", "ASEN-style (attribute type only)", "retrieval_baseline",
                        {"condition": "type"}),
    },
    "fpm": {
        "full": Variant("fpm", "FPM", "fpm", {"num_keypoints": 24}),
        # Hu et al.'s baseline row: FashionNet's direct coordinate regression of the same 24
        # keypoints, i.e. its pose branch (landmarks + visibility) on the same trunk.
        "regression": Variant("fpm_regression", "FashionNet-style regression", "fashionnet",
                              {"num_landmarks": 24, "landmarks_only": True}),
    },
}


def variants(paper: str, names: list[str]) -> list[Variant]:
    known = VARIANTS[paper]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown {paper} variants {unknown}; expected some of {list(known)}")
    return [known[name] for name in names]


# Key suffixes of rows trained on more than one benchmark (DAFE: DeepFashion-C and FLD).
BENCHMARK_SUFFIXES = {"DeepFashion-C": "deepfashion_c", "FLD": "fld"}


def for_benchmark(rows: list[Variant], benchmark: str) -> list[Variant]:
    """The same rows trained on `benchmark`: the key, and so the checkpoint file, gets the benchmark's suffix."""
    if benchmark not in BENCHMARK_SUFFIXES:
        raise ValueError(f"unknown benchmark {benchmark!r}; expected one of {list(BENCHMARK_SUFFIXES)}")
    return [dataclasses.replace(row, key=f"{row.key}_{BENCHMARK_SUFFIXES[benchmark]}") for row in rows]


def with_model_kwargs(rows: list[Variant], model: str, **kwargs) -> list[Variant]:
    """Rows of `model` get extra builder arguments, which win over Settings; other rows are unchanged.

    E.g. DAFE's FashionNet rows keep their own VGG trunk while Settings.backbone is DAFE's ResNet.
    """
    return [dataclasses.replace(row, model_kwargs={**row.model_kwargs, **kwargs}) if row.model == model else row
            for row in rows]


@dataclass(frozen=True)
class Settings:
    """What a train notebook's params fix for every variant it trains."""

    profile: str
    dataset_label: str
    backbone: str
    width: float
    input_size: int
    pretrained: bool
    weights_path: str
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    lr_gamma: float
    seeds: tuple[int, ...]
    num_workers: int = 0
    cache_images: bool = True
    eval_batch_size: int = 64
    progress_bars: bool = True
    # "exponential": lr * lr_gamma**epoch; "step": lr * lr_gamma**(epoch // lr_step_size) (DAFE: x0.1 every 10).
    lr_schedule: str = "exponential"
    lr_step_size: int = 10
    # Runs trained side by side, one thread each (fashion_core.parallel); 1: in the notebook's kernel, all threads.
    train_processes: int = 1

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, optimizer=self.optimizer, lr=self.lr,
                           lr_schedule=self.lr_schedule, lr_gamma=self.lr_gamma, lr_step_size=self.lr_step_size,
                           seed=seed, num_workers=self.num_workers, progress=self.progress_bars)


@dataclass
class RunResult:
    variant: Variant
    seed: int
    metrics: dict[str, float]
    history: pd.DataFrame
    train_seconds: float
    predictions: Predictions


@dataclass
class ExperimentResults:
    runs: list[RunResult]

    def per_seed(self) -> pd.DataFrame:
        """One row per (variant, seed), one column per metric."""
        rows = [{"variant": run.variant.key, "seed": run.seed, **run.metrics} for run in self.runs]
        return pd.DataFrame(rows)

    def histories(self) -> pd.DataFrame:
        frames = [run.history.assign(variant=run.variant.name, seed=run.seed) for run in self.runs]
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """Mean and sample std over seeds per variant (rows) and metric (columns, 'metric' and 'metric_std')."""
        per_seed = self.per_seed().drop(columns="seed")
        grouped = per_seed.groupby("variant", sort=False)
        mean, std = grouped.mean(), grouped.std(ddof=1)
        return mean.join(std.add_suffix("_std"))


@dataclass
class DeepFashionData:
    annotations: Any
    train: Any
    val: Any
    test: Any


def load_deepfashion_c(root, input_size: int, cache_images: bool = True) -> DeepFashionData:
    """Read a DeepFashion-C tree (real or SynthFashion) and build the three split datasets.

    Training flips (the left/right-aware flip); validation and test never transform randomly.
    """
    from fashion_core.data.datasets import CategoryAttributeDataset
    from fashion_core.data.deepfashion import read_category_attribute

    annotations = read_category_attribute(root)
    return DeepFashionData(
        annotations,
        CategoryAttributeDataset(annotations, "train", input_size, flip=True, cache_images=cache_images),
        CategoryAttributeDataset(annotations, "val", input_size, cache_images=cache_images),
        CategoryAttributeDataset(annotations, "test", input_size, cache_images=cache_images),
    )


@dataclass
class FashionAIData:
    annotations: dict[str, Any]  # split -> FashionAIAnnotations (one CSV per split)
    train: Any
    val: Any
    test: Any


def load_fashionai(root, input_size: int, cache_images: bool = True) -> FashionAIData:
    """Read a FashionAI tree (real or SynthFashion: Annotations/{train,val,test}.csv) and build the split datasets.

    Training flips (left/right keypoints swap); validation and test never transform randomly.
    """
    from fashion_core.data.datasets import FashionAIDataset
    from fashion_core.data.fashionai import read_fashionai

    annotations = {split: read_fashionai(root, split) for split in ("train", "val", "test")}
    return FashionAIData(
        annotations,
        FashionAIDataset(annotations["train"], input_size, flip=True, cache_images=cache_images),
        FashionAIDataset(annotations["val"], input_size, cache_images=cache_images),
        FashionAIDataset(annotations["test"], input_size, cache_images=cache_images),
    )


def fashionai_scorer(annotations):
    """A scorer for run_variants: predictions on the split of `annotations` -> FashionAI metrics.

    A partial, not a closure, so that worker processes can unpickle it.
    """
    return functools.partial(fashionai_score, annotations=annotations)


def fashionai_validation_metrics(model, loader) -> dict[str, float]:
    """Per-epoch validation FashionAI NE on a FashionAIDataset loader, same protocol as the test."""
    from fashion_core.evaluation import fashionai_score, predictions_from_loader

    predictions = predictions_from_loader(model, loader)
    return {"val_ne_avg": fashionai_score(predictions, loader.dataset.annotations)["ne_avg"]}


def load_fld(root, input_size: int, cache_images: bool = True) -> DeepFashionData:
    """Read an FLD tree (real or SynthFashion) and build the three split datasets, like load_deepfashion_c.

    FLD has landmarks only: samples carry category -1 and no attributes.
    """
    from fashion_core.data.datasets import LandmarkDataset
    from fashion_core.data.deepfashion import read_fld

    annotations = read_fld(root)
    return DeepFashionData(
        annotations,
        LandmarkDataset(annotations, "train", input_size, flip=True, cache_images=cache_images),
        LandmarkDataset(annotations, "val", input_size, cache_images=cache_images),
        LandmarkDataset(annotations, "test", input_size, cache_images=cache_images),
    )


def validation_metrics(model, loader) -> dict[str, float]:
    """Per-epoch validation numbers for the training curves: NE and category top-1, same protocol as the test."""
    from fashion_core.evaluation import category_metrics, landmark_metrics, predictions_from_loader

    predictions = predictions_from_loader(model, loader)
    result = {"val_ne_avg": landmark_metrics(predictions.landmarks, predictions.landmarks_true, predictions.visible,
                                             predictions.input_size)["ne_avg"]}
    if predictions.category_scores is not None:
        result["val_category_top1"] = category_metrics(predictions.category_scores, predictions.category)["category_top1"]
    return result


def quality_checks(results: ExperimentResults, baselines: dict[str, dict[str, float]]) -> pd.DataFrame:
    """The issue's quality bars per variant, against the no-model baselines.

    "Clearly above" the majority class means the mean minus two standard deviations over seeds
    is still above it.
    """
    summary = results.summary()
    names = {run.variant.key: run.variant.name for run in results.runs}
    records = []
    for key, row in summary.iterrows():
        checks = [("landmark NE <= 0.5 x mean-shape NE", row["ne_avg"], 0.5 * baselines["mean_shape"]["ne_avg"],
                   row["ne_avg"] <= 0.5 * baselines["mean_shape"]["ne_avg"])]
        if "category_top1" in row and "majority_class" in baselines:
            low = row["category_top1"] - 2 * np.nan_to_num(row["category_top1_std"])
            checks.append(("category top-1 clearly above majority class", row["category_top1"],
                           baselines["majority_class"]["category_top1"],
                           low > baselines["majority_class"]["category_top1"]))
        if "attr_all_top5" in row and "frequency_prior" in baselines:
            checks.append(("attribute recall@5 'all' above frequency prior", row["attr_all_top5"],
                           baselines["frequency_prior"]["attr_all_top5"],
                           row["attr_all_top5"] > baselines["frequency_prior"]["attr_all_top5"]))
        for check, value, bar, passed in checks:
            records.append({"variant": names[key], "check": check, "value": round(float(value), 4),
                            "bar": round(float(bar), 4), "passed": bool(passed)})
    return pd.DataFrame(records)


def architecture_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of the model's parameter and buffer names and shapes.

    It is part of the checkpoint name, so a checkpoint written by an earlier version of a model
    is never resumed into a different architecture; it is simply not found, and training starts anew.
    """
    import hashlib

    layout = ";".join(f"{name}:{tuple(tensor.shape)}" for name, tensor in model.state_dict().items())
    return hashlib.sha256(layout.encode()).hexdigest()[:10]


def model_kwargs_fingerprint(variant: Variant) -> str:
    """A short hash of the variant's builder arguments (switches, loss weights, schedule).

    Also part of the checkpoint name: a row whose loss weights changed in params has the same
    architecture, and must not resume (or, when finished, reuse) a checkpoint trained with the old ones.
    """
    import hashlib
    import json

    return hashlib.sha256(json.dumps(variant.model_kwargs, sort_keys=True, default=str).encode()).hexdigest()[:6]


def checkpoint_path(profile: str, variant: Variant, seed: int, model: torch.nn.Module) -> Path:
    return (reports_dir(profile) / "checkpoints"
            / f"{variant.key}-seed{seed}-{architecture_fingerprint(model)}-{model_kwargs_fingerprint(variant)}.pt")


def model_kwargs(variant: Variant, settings: Settings, num_categories: int, num_attributes: int) -> dict[str, Any]:
    """The builder arguments: Settings first, then the variant's own model_kwargs, which win."""
    return {**dict(num_categories=num_categories, num_attributes=num_attributes, backbone=settings.backbone,
                   width=settings.width, input_size=settings.input_size, pretrained=settings.pretrained,
                   weights_path=settings.weights_path or None), **variant.model_kwargs}


def build_variant(variant: Variant, settings: Settings, num_categories: int, num_attributes: int, seed: int):
    """The variant's model with this seed's initialisation."""
    from fashion_core.models import build_model

    torch.manual_seed(seed)
    return build_model(variant.model, **model_kwargs(variant, settings, num_categories, num_attributes))


def train_and_score(variant: Variant, settings: Settings, seed: int, train_set, test_set, attribute_types,
                    num_categories: int, evaluate=None, val_set=None, scorer=None) -> RunResult:
    """Train (or resume from the checkpoint) one variant with one seed, then score it on test_set.

    scorer: predictions -> metric dict (default: evaluation.score with attribute_types).
    """
    from fashion_core.models import loss_fn

    model = build_variant(variant, settings, num_categories, len(attribute_types), seed)
    train_set.seed = seed  # the random flips differ per seed, like the initialisation
    started = time.perf_counter()
    result = fit(model, loss_fn, train_set, settings.train_config(seed),
                 checkpoint_path=checkpoint_path(settings.profile, variant, seed, model), val_set=val_set,
                 evaluate=evaluate)
    seconds = time.perf_counter() - started
    predictions = collect_predictions(result.model, test_set, batch_size=settings.eval_batch_size)
    metrics = scorer(predictions) if scorer is not None else score(predictions, attribute_types)
    return RunResult(variant, seed, metrics, result.history, seconds, predictions)


def run_variant_seeds(function, variants: list[Variant], settings: Settings, arguments: tuple,
                      keywords: dict[str, Any], settings_by_model: dict[str, dict[str, Any]] | None = None) -> list[Any]:
    """function(variant, row_settings, seed, *arguments, **keywords) for every variant and seed of `settings`.

    The runs go to settings.train_processes single-threaded workers (fashion_core.parallel), or
    run here in order when it is 1. Worker processes show no per-epoch bars; one bar counts runs.
    """
    from fashion_core.parallel import run_jobs

    jobs, names = [], []
    for variant in variants:
        row_settings = dataclasses.replace(settings, **(settings_by_model or {}).get(variant.model, {}))
        if settings.train_processes > 1:
            row_settings = dataclasses.replace(row_settings, progress_bars=False)
        for seed in row_settings.seeds:
            jobs.append(((variant, row_settings, seed, *arguments), keywords))
            names.append(f"{variant.name}, seed {seed}")
    where = "this process"
    if settings.train_processes > 1:
        where = f"{settings.train_processes} single-threaded processes"
        # Every job carries its own copy of the data: decode the images once here, not once per run.
        for value in (*arguments, *keywords.values()):
            for dataset in (value, *(getattr(value, split, None) for split in ("train", "val", "test"))):
                if hasattr(dataset, "fill_cache"):
                    dataset.fill_cache()
    print(f"{len(jobs)} runs ({len(variants)} rows x {len(settings.seeds)} seeds) in {where}", flush=True)
    return run_jobs(function, jobs, names, settings.train_processes, progress=settings.progress_bars,
                        description="runs trained and scored")


def run_variants(variants: list[Variant], settings: Settings, train_set, test_set, attribute_types,
                 num_categories: int, evaluate=None, val_set=None, scorer=None,
                 settings_by_model: dict[str, dict[str, Any]] | None = None) -> ExperimentResults:
    """Train and score every variant for every seed of `settings` (settings.train_processes side by side).

    settings_by_model: Settings fields that differ for the rows of one model, e.g.
    {"fpm": {"lr": 1e-3}}; the notebook records them in its metrics file.
    """
    runs = run_variant_seeds(train_and_score, variants, settings,
                    (train_set, test_set, attribute_types, num_categories),
                    dict(evaluate=evaluate, val_set=val_set, scorer=scorer), settings_by_model)
    return ExperimentResults(runs)


def metrics_path(profile: str, paper: str) -> Path:
    return reports_dir(profile) / "metrics" / f"{paper}.json"


def write_metrics(paper: str, settings: Settings, benchmark: str, results: ExperimentResults,
                  extra: dict[str, Any] | None = None) -> Path:
    """Write reports/<profile>/metrics/<paper>.json atomically: per-seed values, means and stds per variant.

    Timings are left out on purpose: the file is committed with the reports and must be a pure
    function of code, data and seed.
    """
    per_seed = results.per_seed()
    rows = {}
    variants_in_order = {run.variant.key: run.variant for run in results.runs}
    for variant in variants_in_order.values():
        values = per_seed[per_seed["variant"] == variant.key].drop(columns=["variant"])
        # Only the metrics this variant's runs produced (rows of one table may differ, e.g. per-stage NE).
        produced = {name for run in results.runs if run.variant.key == variant.key for name in run.metrics}
        metric_columns = [column for column in values.columns if column != "seed" and column in produced]
        rows[variant.key] = {
            "name": variant.name,
            "model": variant.model,
            "model_kwargs": variant.model_kwargs,
            "seeds": values["seed"].tolist(),
            "per_seed": {column: values[column].tolist() for column in metric_columns},
            "mean": {column: float(values[column].mean()) for column in metric_columns},
            "std": {column: float(values[column].std(ddof=1)) if len(values) > 1 else float("nan")
                    for column in metric_columns},
        }
    payload = {
        "paper": paper,
        "dataset_label": settings.dataset_label,
        "benchmark": benchmark,
        "profile": settings.profile,
        "settings": {key: value for key, value in dataclasses.asdict(settings).items()
                     if key not in ("num_workers", "progress_bars")},
        "rows": rows,
        **(extra or {}),
    }
    # Predictions first: once the metrics file exists, the predictions it summarises exist too.
    write_predictions(settings.profile, paper, results)
    return write_json_atomic(metrics_path(settings.profile, paper), payload)


class MissingMetricsError(FileNotFoundError):
    """A tables notebook needs a metrics file that its train notebook has not written yet."""


class MissingPredictionsError(MissingMetricsError):
    """A report needs saved test-split predictions that the train notebook has not written yet."""


# Saved test-split predictions: reports/<profile>/predictions/<paper>/<row key>-seed<s>.npz, one per
# trained run, so the report can rescore the same predictions under other protocols. They are
# committed with the reports, hence the compact dtypes: coordinates stay float32 (the NE recomputed
# from them equals the recorded one), scores are float16 (a ranking can change only between scores
# closer than float16 resolves, about 1e-3 relative), labels are small ints.
# Per-stage coordinates of multi-stage models (stage_landmarks) are not kept: their NE is in the
# metrics file and nothing rescores them.
_PREDICTION_DTYPES = {
    "index": np.int32, "landmarks": np.float32, "landmarks_true": np.float32, "visible": np.bool_,
    "visibility": np.int8, "clothes_type": np.int8, "category_scores": np.float16, "category": np.int16,
    "attribute_scores": np.float16, "attributes": np.int8, "scale": np.float32,
}


def predictions_path(profile: str, paper: str, row_key: str, seed: int) -> Path:
    return reports_dir(profile) / "predictions" / paper / f"{row_key}-seed{int(seed)}.npz"


def save_predictions(path: Path, predictions: Predictions) -> Path:
    """One run's Predictions as a compressed .npz (atomic), in the dtypes of _PREDICTION_DTYPES."""
    from fashion_core.io import atomic_path

    arrays = {"input_size": np.asarray(predictions.input_size, dtype=np.int32)}
    for name, dtype in _PREDICTION_DTYPES.items():
        value = getattr(predictions, name)
        if value is not None:
            arrays[name] = np.asarray(value).astype(dtype)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:  # a file object, so numpy does not append a second ".npz"
            np.savez_compressed(handle, **arrays)
    return Path(path)


def write_predictions(profile: str, paper: str, results: ExperimentResults) -> list[Path]:
    """Save every run's test-split predictions; files of runs no longer in `results` are removed.

    Runs without predictions (M2Fashion's, scored by its own protocol) are skipped. The removal
    keeps the directory in step with the metrics file, which is rewritten whole each time.
    """
    written = [save_predictions(predictions_path(profile, paper, run.variant.key, run.seed), run.predictions)
               for run in results.runs if run.predictions is not None]
    directory = reports_dir(profile) / "predictions" / paper
    for stale in sorted(set(directory.glob("*.npz")) - set(written)) if directory.is_dir() else ():
        stale.unlink()
    return written


def load_predictions(profile: str, paper: str, row_key: str, seed: int) -> Predictions:
    """The saved test-split Predictions of one (row, seed), as its train notebook wrote them."""
    path = predictions_path(profile, paper, row_key, seed)
    if not path.exists():
        producer = PRODUCERS.get(paper, f"{paper}_train")
        saved = sorted(item.stem for item in path.parent.glob("*.npz")) if path.parent.is_dir() else []
        raise MissingPredictionsError(
            f"{path} is missing: run the {producer} notebook for profile {profile!r} "
            f"(./run_all.sh --profile {profile} --only {producer}); saved for {paper}: {saved or 'nothing'}")
    with np.load(path) as stored:
        arrays = {name: stored[name] for name in stored.files}
    fields = {name: arrays[name].astype(np.float32) if arrays[name].dtype == np.float16 else arrays[name]
              for name in _PREDICTION_DTYPES if name in arrays}
    for name in ("index", "visibility", "clothes_type", "category", "attributes"):
        if name in fields:
            fields[name] = fields[name].astype(np.int64)
    missing = [name for name in ("index", "landmarks", "landmarks_true", "visible", "visibility", "clothes_type")
               if name not in fields]
    if missing:
        raise ValueError(f"{path}: expected arrays {missing} (written by fashion_core.experiments.save_predictions)")
    return Predictions(input_size=int(arrays["input_size"]), **fields)


def load_metrics(profile: str, paper: str) -> dict[str, Any]:
    import json

    path = metrics_path(profile, paper)
    if not path.exists():
        producer = PRODUCERS.get(paper, f"{paper}_train")
        raise MissingMetricsError(
            f"{path} is missing: run the {producer} notebook for profile {profile!r} first "
            f"(./run_all.sh --profile {profile} --only {producer})")
    return json.loads(path.read_text(encoding="utf-8"))


def load_trained_variant(profile: str, paper: str, variant_key: str, seed: int, num_categories: int,
                         num_attributes: int) -> torch.nn.Module:
    """Rebuild a trained variant exactly as its train notebook did (from its metrics JSON) and load its weights."""
    from fashion_core.train import load_trained

    recorded = load_metrics(profile, paper)
    if variant_key not in recorded["rows"]:
        raise KeyError(f"{metrics_path(profile, paper)} has no variant {variant_key!r}; it has {list(recorded['rows'])}")
    row = recorded["rows"][variant_key]
    variant = Variant(variant_key, row["name"], row["model"], row["model_kwargs"])
    fields = {field.name for field in dataclasses.fields(Settings)}
    settings = Settings(**{key: value for key, value in recorded["settings"].items() if key in fields})
    model = build_variant(variant, settings, num_categories, num_attributes, seed)
    path = checkpoint_path(profile, variant, seed, model)
    if not path.exists():
        producer = PRODUCERS.get(paper, f"{paper}_train")
        raise MissingMetricsError(f"{path} is missing: the {producer} notebook writes it (seeds {row['seeds']}) "
                                  f"with the current model code")
    return load_trained(model, path).eval()


def recorded_input_size(profile: str, paper: str) -> int:
    """The input size the paper's models were trained at (from the metrics JSON)."""
    return int(load_metrics(profile, paper)["settings"]["input_size"])
