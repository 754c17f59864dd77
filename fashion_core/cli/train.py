"""python -m fashion_core.train: train one model (its paper's main row) with the one trainer.

One process, or several under torchrun:

    torchrun --nproc_per_node=2 -m fashion_core.train --model dafe --data data/synthfashion/default
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from fashion_core.cli.run import discover_notebooks
from fashion_core.data import fashionai, splits
from fashion_core.data.fingerprint import data_fingerprint
from fashion_core.data.vocab import FASHIONAI_CATEGORIES
from fashion_core.engine.sharded import ShardedEvaluation, evaluate_dataset
from fashion_core.engine.trainer import TrainConfig, checkpoint_spec, fit, resolve_device
from fashion_core.experiments import m2fashion as m2
from fashion_core.experiments.runs import set_training_statistics
from fashion_core.experiments.variants import VARIANTS
from fashion_core.io import FolderLockedError, folder_lock, write_json_atomic, write_text_atomic
from fashion_core.metrics import evaluation, retrieval
from fashion_core.models import build_model, loss_fn
from fashion_core.params import (
    ParamsError,
    constraint_problem,
    notebook_parameters,
    resolved_parameters,
    validate_overrides,
    validate_profile,
    validate_values,
)
from fashion_core.paths import notebooks_dir

# Dataset formats each model trains on (the first is the default), and its train notebook,
# whose parameters (profile defaults + params/<profile>/<notebook>.yaml) are the CLI's defaults.
CLI_MODELS: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    # model: (notebook, formats, VARIANTS paper, VARIANTS row)
    "fashionnet": ("fashionnet_train", ("deepfashion_c",), "fashionnet", "full"),
    "liu2018": ("liu2018_train", ("deepfashion_c",), "liu2018", "full"),
    "dafe": ("dafe_train", ("deepfashion_c", "fld"), "dafe", "full"),
    "fpm": ("fpm_train", ("fashionai",), "fpm", "full"),
    "m2fashion": ("m2fashion_train", ("deepfashion_c",), "m2fashion", "full"),
    "retrieval_baseline": ("m2fashion_train", ("deepfashion_c",), "m2fashion", "asen"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fashion_core.train",
        description="Train one model (its paper's main row) with fit(), on one process or, under torchrun, with DDP "
                    "(gloo on CPU, nccl on GPUs). Defaults come from the model's train notebook under --profile; "
                    "the flags below override them. Rank 0 alone writes the checkpoint, history.csv and "
                    "metrics.json; validation and test predictions are gathered from every rank before scoring.",
        epilog="e.g. torchrun --standalone --nproc_per_node=2 -m fashion_core.train --model dafe "
               "--data data/synthfashion/default --epochs 2")
    parser.add_argument("--model", required=True, choices=list(CLI_MODELS))
    parser.add_argument("--data", required=True,
                        help="a SynthFashion root (holding deepfashion_c/, fld/, fashionai/) or a dataset root in "
                             "the format the model trains on")
    parser.add_argument("--format", choices=("deepfashion_c", "fld", "fashionai"),
                        help="dataset format (default: the model's first: fpm fashionai, the others deepfashion_c)")
    parser.add_argument("--profile", default="default", choices=("smoke", "default", "paper"),
                        help="whose notebook parameters give the defaults (backbone, width, input size, ...)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int,
                        help="per process: the global batch is this x the number of processes")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backbone")
    parser.add_argument("--width", type=float)
    parser.add_argument("--input-size", type=int)
    parser.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=None,
                        help="ImageNet weights for vgg16 / resnet50 (default: the profile's; paper: yes)")
    parser.add_argument("--weights-path", help="a local ImageNet weight file (default: the profile's weights_path)")
    parser.add_argument("--num-workers", type=int, help="DataLoader workers per process")
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda")
    parser.add_argument("--out", help="output directory (default reports/torchrun/<model>)")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint instead of resuming it")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    return parser


# The flags that override the train notebook's parameter of the same name (the argparse dest).
PARAMETER_FLAGS = (("--epochs", "epochs"), ("--batch-size", "batch_size"), ("--lr", "lr"),
                   ("--backbone", "backbone"), ("--width", "width"), ("--input-size", "input_size"),
                   ("--num-workers", "num_workers"), ("--pretrained", "pretrained"),
                   ("--weights-path", "weights_path"))


def cli_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """The model's train-notebook parameters under --profile with the flags over them, every value checked.

    A flag meets the same constraints as the YAML key of its name (fashion_core.params.CONSTRAINTS and
    RELATIONS), so `--epochs 0` is refused as `epochs: 0` is; the ParamsError names the flag. Nothing
    here reads data, so a bad value is refused before any is loaded.
    """
    notebook, formats = CLI_MODELS[args.model][:2]
    if args.format and args.format not in formats:
        raise ParamsError(f"argument --format: --model {args.model} trains on {' or '.join(formats)}, "
                          f"not {args.format}")
    problem = constraint_problem("seed", args.seed)
    if problem:
        raise ParamsError(f"argument --seed: {problem}")
    notebook_path = notebooks_dir() / f"{notebook}.ipynb"
    params = resolved_parameters(args.profile, notebook_path)
    declared = notebook_parameters(notebook_path)
    sources = {}
    for flag, name in PARAMETER_FLAGS:
        value = getattr(args, name)
        if value is not None:
            sources[name] = f"argument {flag}"
            validate_overrides({name: value}, declared, sources[name])
            params[name] = value
    validate_values(params, declared, sources)
    return params


def _cli_data(args: argparse.Namespace, data_format: str, input_size: int, cache_images: bool,
              train_flips: bool = True):
    root = Path(args.data)
    if (root / data_format).is_dir():  # a SynthFashion root
        root = root / data_format
    loader = {"deepfashion_c": splits.load_deepfashion_c, "fld": splits.load_fld,
              "fashionai": splits.load_fashionai}[data_format]
    data = loader(root, input_size, cache_images, flip_train=train_flips)
    # As the notebooks do: every image of every split opens and fits its annotations before any epoch runs.
    data.check_images()
    return data


def _evaluations(model_name: str, data_format: str, data, attribute_types):
    """The per-epoch validation and the test evaluation, each predicting on every rank: the notebooks' protocols."""
    if model_name == "retrieval_baseline":
        return None, None  # no heads: its numbers are retrieval mAP (the m2fashion notebooks)
    if model_name == "m2fashion":
        # No label given as input, as the m2fashion notebook's per-epoch numbers.
        return (ShardedEvaluation(evaluation.classification_predictions, functools.partial(
                    evaluation.classification_validation_score, attribute_types=attribute_types)),
                ShardedEvaluation(evaluation.classification_predictions, functools.partial(
                    evaluation.classification_score, attribute_types=attribute_types)))
    if data_format == "fashionai":
        return (ShardedEvaluation(evaluation.predictions_from_loader, functools.partial(
                    evaluation.fashionai_validation_score, annotations=data.val.annotations)),
                ShardedEvaluation(evaluation.predictions_from_loader, functools.partial(
                    evaluation.fashionai_score, annotations=data.test.annotations)))
    return (ShardedEvaluation(evaluation.predictions_from_loader, evaluation.landmark_validation_score),
            ShardedEvaluation(evaluation.predictions_from_loader, functools.partial(
                evaluation.score, attribute_types=attribute_types if len(attribute_types) else None)))


def _cli_setup(args: argparse.Namespace) -> dict[str, Any]:
    """Everything one run needs: params, data, model, loss, validation and test evaluations."""
    _, formats, paper, row = CLI_MODELS[args.model]
    data_format = args.format or formats[0]
    params = cli_parameters(args)
    data = _cli_data(args, data_format, params["input_size"], params["cache_images"], params.get("train_flips", True))
    if data_format == "fashionai" and "categories" in params:
        data = fashionai.keep_categories(data, params["categories"])
    annotations = data.annotations
    variant = VARIANTS[paper][row]
    kwargs = dict(variant.model_kwargs)
    loss, train_set = loss_fn, data.train
    data.train.seed = args.seed  # the random flips differ per seed, like the initialisation (as in the notebooks)
    attribute_types: Any = ()
    if args.model == "fashionnet":
        kwargs.update(attribute_loss=params["attribute_loss"], loss_schedule="alternating",
                      schedule_cycle=(params["step1_epochs"], params["step2_epochs"]))
    if args.model == "liu2018":
        kwargs["landmark_weight"] = params["landmark_loss_weight"]
    if args.model == "fpm":
        kwargs["stages"] = params["stages"]
    if args.model == "dafe":
        kwargs.update(cas_activation=params["cas_activation"], decoding=params["heatmap_decoding"])
    if args.model in ("fashionnet", "liu2018", "m2fashion", "retrieval_baseline"):
        counts = (len(annotations.category_names), len(annotations.attribute_names))
        attribute_types = annotations.attribute_types
    elif args.model == "fpm":
        counts = (len(FASHIONAI_CATEGORIES), 0)
    else:
        counts = (0, 0)
    if args.model in ("m2fashion", "retrieval_baseline"):
        options = m2.Options(feature_stride=params["feature_stride"], similarity=params["similarity"],
                             triplet_rule=params["triplet_rule"], all_unknown_share=params["all_unknown_share"])
        kwargs = m2.model_variant(variant, options, len(retrieval.type_codes(annotations.attribute_types))).model_kwargs
        loss, train_set = m2.training_loss, m2.LabelMaskDataset(data.train, args.seed, options.all_unknown_share)
    validation, test = _evaluations(args.model, data_format, data, attribute_types)
    torch.manual_seed(args.seed)
    model = build_model(variant.model, num_categories=counts[0], num_attributes=counts[1], backbone=params["backbone"],
                        width=params["width"], input_size=params["input_size"], pretrained=params["pretrained"],
                        weights_path=params["weights_path"] or None, **kwargs)
    set_training_statistics(model, data.train)
    return dict(params=params, data=data, data_format=data_format, model=model, loss=loss, train_set=train_set,
                validation=validation, test=test, variant=variant, model_kwargs=kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # Every notebook's params files, as run_all checks them (a misnamed one is refused here too),
        # then this model's values with the flags: all before any data is read or process group made.
        validate_profile(args.profile, discover_notebooks())
        cli_parameters(args)
    except ParamsError as error:
        parser.error(str(error))  # exit status 2, one `error:` line, as argparse's own refusals
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(args.device, distributed=world_size > 1)
    created_group = False
    if world_size > 1 and not dist.is_initialized():
        # Initialised here, not in fit, so the group outlives fit for the test-split evaluation.
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        created_group = True
    try:
        rank = dist.get_rank() if world_size > 1 else 0
        say = print if rank == 0 else (lambda *_, **__: None)
        out = Path(args.out) if args.out else Path("reports") / "torchrun" / args.model
        # Rank 0 holds the folder: a second run on the same --out is refused while this one writes there.
        holder = (folder_lock(out, f"python -m fashion_core.train --model {args.model} (PID {os.getpid()})")
                  if rank == 0 else contextlib.nullcontext([]))
        try:
            with holder as lock_notes:
                for line in lock_notes:
                    say(f"[train] {line}")
                _train_and_write(args, out, rank, say, world_size, device)
        except FolderLockedError as error:
            parser.error(str(error))
    finally:
        if created_group:
            dist.destroy_process_group()
    return 0


def _train_and_write(args: argparse.Namespace, out: Path, rank: int, say, world_size: int,
                     device: torch.device) -> None:
    """Load the data (images checked first), train or resume, score the test split; rank 0 writes to `out`."""
    run = _cli_setup(args)
    params, model = run["params"], run["model"]
    if world_size > 1 and device.type == "cuda":
        # One batch statistic over the global batch, as a single GPU with that batch would have
        # (SyncBatchNorm needs GPUs; on CPU each rank normalises its own batch).
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    config = TrainConfig(epochs=params["epochs"], batch_size=params["batch_size"], optimizer=params["optimizer"],
                         lr=params["lr"], lr_schedule=params.get("lr_schedule", "exponential"),
                         lr_gamma=params["lr_gamma"], lr_step_size=params.get("lr_step_size", 10), seed=args.seed,
                         num_workers=params["num_workers"], device=args.device,
                         progress=not args.no_progress)
    say(f"{args.model} ({run['variant'].name}) on {run['data_format']} at {args.data}: {params['backbone']} "
        f"x{params['width']} @ {params['input_size']} px, {world_size} process(es) x batch {config.batch_size} "
        f"(global {world_size * config.batch_size}), {config.epochs} epoch(s), device {device}", flush=True)
    # <out>/<model>-seed<s>-<identity hash>-e<epochs>.pt: the same choice of checkpoint as the notebooks'.
    builder_arguments = {key: params[key] for key in ("backbone", "width", "input_size", "pretrained")}
    spec = checkpoint_spec(out, f"{args.model}-seed{args.seed}", config, model, model_name=run["variant"].model,
                           model_kwargs={**builder_arguments, "weights_path": params["weights_path"] or None,
                                         **run["model_kwargs"]},
                           data_fingerprint=data_fingerprint(run["data"]), world_size=world_size)
    checkpoint = spec.path(config.epochs)
    started = time.perf_counter()
    result = fit(model, run["loss"], run["train_set"], config, checkpoint=spec,
                 val_set=run["data"].val if run["validation"] else None, evaluate=run["validation"],
                 resume=not args.fresh)
    seconds = time.perf_counter() - started
    test_metrics = {}
    if run["test"] is not None:
        test_metrics = evaluate_dataset(result.model, run["test"], run["data"].test, config.batch_size,
                                        config.num_workers)
    if rank == 0:
        write_text_atomic(out / "history.csv", result.history.to_csv(index=False))
        write_json_atomic(out / "metrics.json", {
            "model": args.model, "variant": run["variant"].key, "model_kwargs": run["model_kwargs"],
            "data": str(args.data), "format": run["data_format"], "profile": args.profile,
            "world_size": world_size, "batch_size_per_process": config.batch_size,
            "global_batch_size": world_size * config.batch_size, "seed": args.seed,
            "config": dataclasses.asdict(config), "test_images": len(run["data"].test),
            "test": test_metrics, "history": result.history.to_dict(orient="list"),
            "train_seconds": round(seconds, 1),
        })
        say(result.history.drop(columns=["seconds"]).round(4).to_string(index=False))
        say("test: " + json.dumps({name: round(value, 4) for name, value in test_metrics.items()
                                  if name.endswith(("_avg", "top1", "top5"))}))
        say(f"wrote {checkpoint}, {out / 'history.csv'}, {out / 'metrics.json'}")
