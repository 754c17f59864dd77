"""Train model variants over seeds and score them on the test split.

A notebook names the variants and passes its params; this module does the rest, so every
paper's numbers go through the same data pipeline, trainer, protocol and file layout:
checkpoints in reports/<profile>/checkpoints/, metrics in reports/<profile>/metrics/<paper>.json.

A run's checkpoint is <row key>-seed<s>-<identity hash>-e<epochs>.pt (checkpoint_spec): the identity
holds the train config, the builder arguments, the architecture, the model code and
Settings.data_fingerprint, so a notebook never reuses a checkpoint of another configuration, and
load_trained_variant rebuilds the identity from the metrics JSON to find the file the notebook trained.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path
from typing import Any

import torch

from fashion_core.engine.checkpoints import CheckpointSpec, load_trained
from fashion_core.engine.checkpoints import architecture_fingerprint  # noqa: F401 (part of this module's API)
from fashion_core.engine.parallel import run_jobs
from fashion_core.engine.trainer import checkpoint_spec as train_checkpoint_spec
from fashion_core.engine.trainer import fit
from fashion_core.experiments.store import ExperimentResults, MissingMetricsError, RunResult, load_metrics, metrics_path
from fashion_core.experiments.variants import PRODUCERS, Settings, Variant
from fashion_core.metrics.evaluation import collect_predictions, fashionai_score, score
from fashion_core.metrics.inshop import inshop_retrieval_metrics
from fashion_core.models import build_model, loss_fn
from fashion_core.paths import reports_dir


def fashionai_scorer(annotations):
    """A scorer for run_variants: predictions on the split of `annotations` -> FashionAI metrics.

    A partial, not a closure, so that worker processes can unpickle it.
    """
    return functools.partial(fashionai_score, annotations=annotations)


def model_kwargs(variant: Variant, settings: Settings, num_categories: int, num_attributes: int) -> dict[str, Any]:
    """The builder arguments: Settings first, then the variant's own model_kwargs, which win."""
    return {**dict(num_categories=num_categories, num_attributes=num_attributes, backbone=settings.backbone,
                   width=settings.width, input_size=settings.input_size, pretrained=settings.pretrained,
                   weights_path=settings.weights_path or None), **variant.model_kwargs}


def build_variant(variant: Variant, settings: Settings, num_categories: int, num_attributes: int, seed: int):
    """The variant's model with this seed's initialisation."""
    torch.manual_seed(seed)
    return build_model(variant.model, **model_kwargs(variant, settings, num_categories, num_attributes))


def set_training_statistics(model: torch.nn.Module, train_set) -> None:
    """Give a model the statistics of the split it trains on that its loss needs, before training.

    FashionNet's weighted attribute loss weighs positives by the negatives-to-positives ratio of
    the training labels (FashionNet.set_training_attributes); other models need nothing. The
    statistics come from train_set alone (its annotation rows), never from validation or test.
    """
    if getattr(model, "needs_training_attributes", False):
        model.set_training_attributes(train_set.annotations.attributes[train_set.rows])


def checkpoint_spec(settings: Settings, variant: Variant, seed: int, model: torch.nn.Module, num_categories: int,
                    num_attributes: int) -> CheckpointSpec:
    """The checkpoints of one (row, seed) run: reports/<profile>/checkpoints/<key>-seed<s>-<hash>-e<E>.pt.

    The one place the workbook's notebooks name a checkpoint: train_and_score, M2Fashion's
    train_and_evaluate and load_trained_variant all go through it (fashion_core.engine.trainer.checkpoint_spec
    says what the identity holds).
    """
    return train_checkpoint_spec(
        reports_dir(settings.profile) / "checkpoints", f"{variant.key}-seed{seed}", settings.train_config(seed), model,
        model_name=variant.model, model_kwargs=model_kwargs(variant, settings, num_categories, num_attributes),
        data_fingerprint=settings.data_fingerprint)


def checkpoint_path(settings: Settings, variant: Variant, seed: int, model: torch.nn.Module, num_categories: int,
                    num_attributes: int) -> Path:
    """The checkpoint file of one (row, seed) run trained for settings.epochs epochs."""
    return checkpoint_spec(settings, variant, seed, model, num_categories, num_attributes).path(settings.epochs)


def train_and_score(variant: Variant, settings: Settings, seed: int, train_set, test_set, attribute_types,
                    num_categories: int, evaluate=None, val_set=None, scorer=None,
                    retrieval_sets=None) -> RunResult:
    """Train (or resume from the checkpoint) one variant with one seed, then score it on test_set.

    scorer: predictions -> metric dict (default: evaluation.score with attribute_types).
    retrieval_sets: (query, gallery) In-shop datasets; the trained model's embedding is then also
    scored by In-shop top-k accuracy (metrics.inshop, keys inshop_top{k}).
    """
    model = build_variant(variant, settings, num_categories, len(attribute_types), seed)
    set_training_statistics(model, train_set)
    train_set.seed = seed  # the random flips differ per seed, like the initialisation
    started = time.perf_counter()
    # announce=False: a notebook executed again finds its checkpoints complete; its output must not change.
    result = fit(model, loss_fn, train_set, settings.train_config(seed),
                 checkpoint=checkpoint_spec(settings, variant, seed, model, num_categories, len(attribute_types)),
                 val_set=val_set, evaluate=evaluate, announce=False)
    seconds = time.perf_counter() - started
    predictions = collect_predictions(result.model, test_set, batch_size=settings.eval_batch_size)
    metrics = scorer(predictions) if scorer is not None else score(predictions, attribute_types)
    if retrieval_sets is not None:
        metrics.update(inshop_scores(result.model, *retrieval_sets, batch_size=settings.eval_batch_size))
    return RunResult(variant, seed, metrics, result.history, seconds, predictions)


def inshop_scores(model: torch.nn.Module, query_set, gallery_set, batch_size: int = 64) -> dict[str, float]:
    """In-shop top-k accuracy (inshop_top{k}) of a model's embedding on an In-shop query and gallery set."""
    query, gallery = (collect_predictions(model, dataset, batch_size=batch_size) for dataset in (query_set, gallery_set))
    if query.embedding is None:
        raise ValueError(f"{type(model).__name__} returns no 'embedding': In-shop retrieval needs one")
    if query.item is None or gallery.item is None:
        raise ValueError("In-shop retrieval needs In-shop query and gallery datasets (their samples carry 'item')")
    return inshop_retrieval_metrics(query.embedding, query.item, gallery.embedding, gallery.item)


def run_variant_seeds(function, variants: list[Variant], settings: Settings, arguments: tuple,
                      keywords: dict[str, Any], settings_by_model: dict[str, dict[str, Any]] | None = None) -> list[Any]:
    """function(variant, row_settings, seed, *arguments, **keywords) for every variant and seed of `settings`.

    The runs go to settings.train_processes single-threaded workers (fashion_core.engine.parallel), or
    run here in order when it is 1. Worker processes show no per-epoch bars; one bar counts runs.
    """
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
                 settings_by_model: dict[str, dict[str, Any]] | None = None,
                 retrieval_sets=None) -> ExperimentResults:
    """Train and score every variant for every seed of `settings` (settings.train_processes side by side).

    settings_by_model: Settings fields that differ for the rows of one model, e.g.
    {"fpm": {"lr": 1e-3}}; the notebook records them in its metrics file.
    """
    runs = run_variant_seeds(train_and_score, variants, settings,
                    (train_set, test_set, attribute_types, num_categories),
                    dict(evaluate=evaluate, val_set=val_set, scorer=scorer, retrieval_sets=retrieval_sets),
                    settings_by_model)
    return ExperimentResults(runs)


def load_trained_variant(profile: str, paper: str, variant_key: str, seed: int, num_categories: int,
                         num_attributes: int) -> torch.nn.Module:
    """Rebuild a trained variant exactly as its train notebook did (from its metrics JSON) and load its weights.

    The settings are the recorded ones with the row's model's settings_by_model on top (DAFE's FPM
    rows train at their own lr), so the checkpoint identity is the one the notebook trained under.
    """
    recorded = load_metrics(profile, paper)
    if variant_key not in recorded["rows"]:
        raise KeyError(f"{metrics_path(profile, paper)} has no variant {variant_key!r}; it has {list(recorded['rows'])}")
    row = recorded["rows"][variant_key]
    variant = Variant(variant_key, row["name"], row["model"], row["model_kwargs"])
    fields = {field.name for field in dataclasses.fields(Settings)}
    values = {**recorded["settings"], **(recorded.get("settings_by_model") or {}).get(variant.model, {})}
    settings = Settings(**{key: value for key, value in values.items() if key in fields})
    model = build_variant(variant, settings, num_categories, num_attributes, seed)
    spec = checkpoint_spec(settings, variant, seed, model, num_categories, num_attributes)
    path = spec.path(settings.epochs)
    if not path.exists():
        producer = PRODUCERS.get(paper, f"{paper}_train")
        present = sorted(item.name for item in path.parent.glob(f"{spec.stem}-*.pt")) if path.parent.is_dir() else []
        unidentified = ("" if settings.data_fingerprint else
                        f" ({metrics_path(profile, paper).name} records no data_fingerprint: run {producer} again)")
        raise MissingMetricsError(
            f"{path} is missing: the {producer} notebook writes it (seeds {row['seeds']}, profile {profile!r}: "
            f"./run_all.sh --profile {profile} --only {producer}) with the current model code{unidentified}. "
            f"It looked for identity {spec.describe()}. Checkpoints of {spec.stem} there: {present or 'none'}")
    return load_trained(model, path, epochs=settings.epochs).eval()
