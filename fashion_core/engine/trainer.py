"""The one trainer every model uses: seeded, resumable, NaN-guarded, single-process or torchrun.

Reproducibility contract: for a fixed model initialisation, dataset and TrainConfig, the
weights and history metrics after epoch e do not depend on whether the run was interrupted
and resumed. Each epoch is a pure function of (weights, optimizer state, seed, epoch):
the shuffle order comes from DistributedSampler(seed=config.seed).set_epoch(epoch), and the
global python / numpy / torch RNGs and DataLoader worker seeds are re-derived from
(seed, epoch, rank) at the start of every epoch.

Epochs are 0-based everywhere: the ``epoch`` passed to loss_fn, to on_step and to
``train_set.set_epoch``, and the ``epoch`` column of the history.

Checkpoints: fit either keeps one file the caller names (checkpoint_path) or, given a
CheckpointSpec (checkpoint_spec below), picks the file of the run's identity and target epochs
(fashion_core.engine.checkpoints.choose_checkpoint), so a checkpoint is never reused for another
configuration and a model trained for more epochs is never reported under fewer.
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

# Plain text bars: widget bars leave no trace in executed reports and defeat nbval.
from tqdm import tqdm

from fashion_core.engine.checkpoints import (
    CHECKPOINT_FORMAT,
    CheckpointChoice,
    CheckpointConfigMismatchError,
    CheckpointSpec,
    architecture_fingerprint,
    choose_checkpoint,
    copied_state,
    load_checkpoint,
    model_code_fingerprint,
    save_checkpoint,
)
from fashion_core.engine.sharded import ShardedEvaluation, evaluate_dataset
from fashion_core.models.inference import evaluating, unwrap

# TrainConfig fields that do not decide the weights, left out of a checkpoint's identity:
# - progress: the tqdm bar; nan_check_every: how often a NaN is looked for (a NaN stops the run
#   before it reaches the weights, whatever the interval);
# - num_workers: the workbook's datasets draw every random choice from (seed, epoch, row), and
#   workers are seeded from (seed, epoch, rank), so the worker count does not change a batch
#   (tests/data/test_pipeline_determinism.py); a dataset drawing from the global RNG in
#   __getitem__ would see different numbers;
# - device: one run on the CPU and on a GPU agrees to float rounding only, but a checkpoint
#   trained on a GPU must be found when its model is loaded on a CPU.
# `deterministic` stays in: nondeterministic GPU kernels change the weights.
WEIGHT_NEUTRAL_FIELDS = frozenset({"progress", "num_workers", "device", "nan_check_every"})
# The target epochs are not part of the identity either: they are in the checkpoint's name, and a
# checkpoint of another target may be extended (see fashion_core.engine.checkpoints).
RESUMABLE_CONFIG_CHANGES = WEIGHT_NEUTRAL_FIELDS | {"epochs"}
OPTIMIZERS = ("adam", "sgd", "adamw")
LR_SCHEDULES = ("exponential", "step", "constant")

LossFn = Callable[[torch.nn.Module, Any, int], Mapping[str, torch.Tensor]]
EvaluateFn = Callable[[torch.nn.Module, DataLoader], Mapping[str, float]]
OnStep = Callable[[int, int], None]


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 32  # per process under torchrun
    optimizer: str = "adam"  # "adam" | "sgd" (momentum) | "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    # "exponential": lr * gamma**epoch (Liu & Lu x0.8, M2Fashion x0.95);
    # "step": lr * gamma**(epoch // step_size) (DAFE x0.1 every 10); "constant": lr.
    lr_schedule: str = "exponential"
    lr_gamma: float = 1.0
    lr_step_size: int = 10
    grad_clip: float | None = None  # max global L2 norm of the gradients
    seed: int = 0
    num_workers: int = 0
    device: str = "auto"  # auto -> cuda if available else cpu
    deterministic: bool = True
    progress: bool = True  # tqdm bar
    nan_check_every: int = 1  # steps between NaN checks (host syncs); 0 = only at epoch end

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r}: expected one of {', '.join(OPTIMIZERS)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule {self.lr_schedule!r}: expected one of {', '.join(LR_SCHEDULES)}")
        if self.epochs < 0 or self.batch_size < 1 or self.lr_step_size < 1 or self.nan_check_every < 0:
            raise ValueError("epochs >= 0, batch_size >= 1, lr_step_size >= 1 and nan_check_every >= 0 are required")


@dataclass
class TrainResult:
    model: torch.nn.Module  # unwrapped (not DDP)
    history: pd.DataFrame  # one row per epoch: epoch, lr, loss components, evaluate() metrics, seconds
    checkpoint_path: Path | None
    resumed_from_epoch: int | None  # epochs the checkpoint had completed (= first epoch run here)
    # What the run started from, as printed: "fresh, writing <file>", "resumed k/E from <file>",
    # "complete <file>" or "extended from <file> after k epochs, writing <file>" (file names only).
    started: str = "fresh"


class NonFiniteLossError(RuntimeError):
    """A loss component became NaN or infinite; names where, and the checkpoint to go back to."""

    def __init__(self, epoch: int, step: int, components: list[str], last_checkpoint: str):
        self.epoch = epoch
        self.step = step
        self.components = components
        self.last_checkpoint = last_checkpoint
        super().__init__(
            f"non-finite loss at epoch {epoch}, step {step}: component(s) {', '.join(components)} "
            f"not finite. Last good checkpoint: {last_checkpoint}"
        )


# --------------------------------------------------------------------------- seeding
def _derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers; (seed, epoch) pairs never collide like seed + epoch."""
    return int(np.random.SeedSequence([int(part) for part in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _seed_dataloader_worker(worker_id: int) -> None:
    # torch seeds each worker with base_seed + worker_id (base_seed drawn from the loader's
    # generator, which fit seeds from (seed, epoch, rank)); python and numpy follow it.
    worker_seed = torch.initial_seed()
    random.seed(worker_seed)
    np.random.seed(worker_seed % 2**32)


def _configure_determinism(deterministic: bool) -> None:
    # Must be set before the first cuBLAS call to take effect; harmless on CPU.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = deterministic
    # warn_only: an op without a deterministic kernel should warn, not abort a long run.
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def _rng_states() -> dict[str, Any]:
    numpy_state = np.random.get_state()
    states: dict[str, Any] = {
        "python": random.getstate(),
        # numpy's state holds an ndarray, which weights_only loading refuses; store a tensor.
        "numpy": (numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _restore_rng_states(states: Mapping[str, Any]) -> None:
    random.setstate(_as_tuples(states["python"]))
    name, keys, *rest = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available() and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


def _as_tuples(value: Any) -> Any:
    """random.setstate needs tuples; a pickle round trip may hand back lists."""
    return tuple(_as_tuples(item) for item in value) if isinstance(value, (list, tuple)) else value


# --------------------------------------------------------------------------- devices
def resolve_device(name: str, distributed: bool) -> torch.device:
    """"auto" is CUDA when available, else the CPU; under torchrun a bare "cuda" is this rank's GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and distributed and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Tensors of a (nested) batch on the device; other values unchanged."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, Mapping):
        return type(batch)({key: move_to_device(value, device) for key, value in batch.items()})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(move_to_device(value, device) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to_device(value, device) for value in batch)
    return batch


# --------------------------------------------------------------------------- optimisation
def _make_optimizer(parameters: list[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def _make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    # Closed-form factors (not ExponentialLR's repeated multiplication) so the lr of epoch e is
    # exactly lr * gamma**e however many times the run was resumed.
    if config.lr_schedule == "exponential":
        factor = lambda epoch: config.lr_gamma**epoch  # noqa: E731
    elif config.lr_schedule == "step":
        factor = lambda epoch: config.lr_gamma ** (epoch // config.lr_step_size)  # noqa: E731
    else:
        factor = lambda epoch: 1.0  # noqa: E731
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _config_differences(saved: Mapping[str, Any], config: TrainConfig) -> list[str]:
    current = dataclasses.asdict(config)
    return sorted(
        f"{name}: checkpoint {saved.get(name)!r} != now {current.get(name)!r}"
        for name in set(saved) | set(current)
        if name not in RESUMABLE_CONFIG_CHANGES and saved.get(name) != current.get(name)
    )


def checkpoint_spec(
    directory: str | os.PathLike,
    stem: str,
    config: TrainConfig,
    model: torch.nn.Module,
    *,
    model_name: str,
    model_kwargs: Mapping[str, Any],
    data_fingerprint: str,
    world_size: int | None = None,
) -> CheckpointSpec:
    """The checkpoints of one run: directory/<stem>-<identity hash>-e<epochs>.pt, by everything deciding the weights.

    The identity (stored whole in every checkpoint, hashed into the name):
    - train: the TrainConfig fields but the epochs and WEIGHT_NEUTRAL_FIELDS: optimizer, lr,
      momentum, weight decay, the lr schedule (lr_schedule, lr_gamma, lr_step_size), grad_clip,
      batch_size (per process), seed, deterministic;
    - world_size: the processes (WORLD_SIZE when not given): the global batch and, on CPU, every
      rank's own BatchNorm statistics depend on it;
    - model, model_kwargs: the registry name and the builder arguments (switches, widths, input
      size, pretrained weights, loss weights and loss schedule such as FashionNet's switch epoch);
    - architecture: the parameter and buffer names and shapes (architecture_fingerprint);
    - model_code: the source of the model's modules (model_code_fingerprint);
    - data: the caller's fingerprint of the training data (fashion_core.data.fingerprint; "" when
      the data is not identified).
    """
    identity = {
        "train": {name: value for name, value in dataclasses.asdict(config).items()
                  if name not in RESUMABLE_CONFIG_CHANGES},
        "world_size": int(world_size if world_size is not None else os.environ.get("WORLD_SIZE", "1")),
        "model": model_name,
        "model_kwargs": dict(model_kwargs),
        "architecture": architecture_fingerprint(model),
        "model_code": model_code_fingerprint(model_name, model),
        "data": data_fingerprint,
    }
    return CheckpointSpec(Path(directory), stem, identity)


@dataclass
class _Distributed:
    world_size: int = 1
    rank: int = 0
    created_group: bool = False

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _setup_distributed(device: torch.device) -> _Distributed:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return _Distributed()
    created = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        created = True
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return _Distributed(world_size=dist.get_world_size(), rank=dist.get_rank(), created_group=created)


def _loss_components(output: Mapping[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    if "loss" not in output:
        raise KeyError(f"loss_fn must return a dict with a 'loss' entry to back-propagate; got keys {list(output)}")
    components = {}
    for name, value in output.items():
        tensor = value if isinstance(value, torch.Tensor) else torch.as_tensor(value, device=device)
        if tensor.numel() != 1:
            raise ValueError(f"loss component {name!r} must be a scalar, got shape {tuple(tensor.shape)}")
        components[name] = tensor
    return components


# --------------------------------------------------------------------------- fit
def fit(
    model: torch.nn.Module,
    loss_fn: LossFn,
    train_set: Dataset,
    config: TrainConfig,
    *,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint: CheckpointSpec | None = None,
    val_set: Dataset | None = None,
    evaluate: EvaluateFn | None = None,
    resume: bool = True,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    on_step: OnStep | None = None,
    announce: bool = True,
) -> TrainResult:
    """Train model for config.epochs epochs, checkpointing atomically after each.

    Args:
        loss_fn: (model, batch, epoch) -> {'loss': tensor to back-propagate, other scalar
            components to log}. The batch is already on the device.
        evaluate: (model, val_loader) -> {metric: float}, run after every epoch under
            torch.inference_mode() and model.eval(); requires val_set. Metric names must not
            clash with loss component names (they share the history's columns). A
            ShardedEvaluation instead is evaluated with every rank predicting its own shard of
            val_set (see evaluate_dataset).
        checkpoint_path: one file, written after every epoch. If it exists and resume=True,
            training continues after the epochs it holds (its config must agree but for
            RESUMABLE_CONFIG_CHANGES, and it must not hold more than config.epochs epochs);
            with resume=False it is overwritten.
        checkpoint: instead of checkpoint_path, a CheckpointSpec (checkpoint_spec): the file is
            that of the spec's identity and config.epochs, started from as
            fashion_core.engine.checkpoints.choose_checkpoint decides: complete, resumed, extended
            from a copy of another target's checkpoint, or fresh. resume=False: always fresh.
        on_step: (epoch, step) called after every optimizer step (used by tests to interrupt).
        announce: print "checkpoint: <what the run started from>" (TrainResult.started), on rank 0.
            The workbook's notebooks pass False: a notebook executed again finds its checkpoints
            complete, and its output must not differ from the first execution's.

    Under torchrun (WORLD_SIZE > 1): the process group is initialised if needed (gloo on CPU,
    nccl on CUDA), the model is wrapped in DistributedDataParallel, batch_size is per process,
    and loss means are averaged over all ranks. Only rank 0 writes checkpoints and shows
    progress. A plain evaluate runs on rank 0 only, on the full val set; a ShardedEvaluation
    runs on every rank's shard and the predictions are gathered before they are scored. Either
    way the metrics are broadcast, so every rank returns the same history.

    Side effects: sets torch.use_deterministic_algorithms(config.deterministic, warn_only=True)
    and the cudnn flags process-wide, and reseeds the global RNGs at every epoch.

    Raises:
        NonFiniteLossError: a loss component is NaN/inf (checked every nan_check_every steps,
            before the optimizer step of the checked step, and at the end of every epoch).
        CheckpointConfigMismatchError: the checkpoint's config (identity) differs, or it holds
            more epochs than config.epochs.
        CorruptCheckpointError: a checkpoint to start from does not load.
    """
    if (val_set is None) != (evaluate is None):
        raise ValueError("val_set and evaluate go together: pass both or neither")
    if checkpoint_path is not None and checkpoint is not None:
        raise ValueError("pass checkpoint_path (one file) or checkpoint (a CheckpointSpec), not both")
    model = unwrap(model)
    _configure_determinism(config.deterministic)
    device = resolve_device(config.device, distributed=int(os.environ.get("WORLD_SIZE", "1")) > 1)
    distributed = _setup_distributed(device)
    try:
        if checkpoint is not None:
            choice = choose_checkpoint(checkpoint, config.epochs, resume)
        else:
            choice = _plain_choice(Path(checkpoint_path) if checkpoint_path is not None else None, config, resume)
        if choice.extends and distributed.is_main:
            save_checkpoint(choice.target, copied_state(choice, config.epochs))
        if announce and distributed.is_main:
            print(f"checkpoint: {choice.started}", flush=True)
        return _fit(
            model, loss_fn, train_set, config, choice, checkpoint, val_set, evaluate, collate_fn, on_step,
            device, distributed,
        )
    finally:
        if distributed.created_group:
            dist.destroy_process_group()


def _plain_choice(path: Path | None, config: TrainConfig, resume: bool) -> CheckpointChoice:
    """What a run with one caller-named checkpoint file (or none) starts from."""
    if path is None:
        return CheckpointChoice(None, None, None, "fresh, no checkpoint")
    if not resume or not path.exists():
        verb = "overwriting" if path.exists() else "writing"
        return CheckpointChoice(path, None, None, f"fresh{' (resume=False)' if not resume else ''}, {verb} {path.name}")
    # CPU first: RNG states must stay CPU tensors; weights and optimizer state are copied
    # onto the parameters' device by load_state_dict.
    state = load_checkpoint(path, map_location="cpu")
    differences = _config_differences(state["config"], config)
    done = int(state["epochs_completed"])
    if done > config.epochs:
        differences.append(f"epochs: checkpoint holds {done} trained epochs, more than the {config.epochs} asked for")
    if differences:
        raise CheckpointConfigMismatchError(
            f"{path} was written by a different run; refusing to resume. Differing fields: "
            + "; ".join(differences)
            + ". Use another checkpoint_path, or resume=False to start over."
        )
    started = f"complete {path.name}" if done == config.epochs else f"resumed {done}/{config.epochs} from {path.name}"
    return CheckpointChoice(path, path, state, started)


def _fit(
    model: torch.nn.Module,
    loss_fn: LossFn,
    train_set: Dataset,
    config: TrainConfig,
    choice: CheckpointChoice,
    spec: CheckpointSpec | None,
    val_set: Dataset | None,
    evaluate: EvaluateFn | None,
    collate_fn: Callable[[list[Any]], Any] | None,
    on_step: OnStep | None,
    device: torch.device,
    distributed: _Distributed,
) -> TrainResult:
    model.to(device)
    optimizer = _make_optimizer([parameter for parameter in model.parameters() if parameter.requires_grad], config)
    scheduler = _make_scheduler(optimizer, config)
    history: list[dict[str, Any]] = []
    start_epoch = 0
    resumed_from: int | None = None
    checkpoint = choice.target

    if choice.state is not None:
        state = choice.state
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        _restore_rng_states(state["rng"])
        history = list(state["history"])
        start_epoch = resumed_from = int(state["epochs_completed"])

    last_good = _describe_checkpoint(checkpoint, start_epoch)
    training_model: torch.nn.Module = model
    if distributed.active:
        training_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    sampler = DistributedSampler(
        train_set, num_replicas=distributed.world_size, rank=distributed.rank, shuffle=True, seed=config.seed
    )
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        _seed_everything(_derive_seed(config.seed, epoch, distributed.rank))
        if callable(getattr(train_set, "set_epoch", None)):
            train_set.set_epoch(epoch)
        sampler.set_epoch(epoch)
        loader = DataLoader(
            train_set,
            batch_size=config.batch_size,
            sampler=sampler,
            num_workers=config.num_workers,
            collate_fn=collate_fn,
            pin_memory=device.type == "cuda",
            worker_init_fn=_seed_dataloader_worker,
            generator=torch.Generator().manual_seed(_derive_seed(config.seed, epoch, distributed.rank, 1)),
        )
        lr = optimizer.param_groups[0]["lr"]
        means = _train_one_epoch(
            training_model, loss_fn, loader, optimizer, config, epoch, device, distributed, last_good, on_step
        )
        scheduler.step()

        metrics: dict[str, float] = {}
        if evaluate is not None:
            metrics = _evaluate(model, evaluate, val_set, config, collate_fn, distributed)
            clashes = sorted(set(metrics) & (set(means) | {"epoch", "lr", "seconds"}))
            if clashes:
                raise ValueError(f"evaluate() metric names {clashes} clash with loss components or history columns")
        history.append({"epoch": epoch, "lr": lr, **means, **metrics, "seconds": time.perf_counter() - started})

        if checkpoint is not None:
            if distributed.is_main:
                save_checkpoint(
                    checkpoint,
                    {
                        "format": CHECKPOINT_FORMAT,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "epochs_completed": epoch + 1,
                        "target_epochs": config.epochs,
                        "history": history,
                        "config": dataclasses.asdict(config),
                        "identity": dict(spec.identity) if spec is not None else None,
                        "rng": _rng_states(),
                    },
                )
            last_good = _describe_checkpoint(checkpoint, epoch + 1)
    return TrainResult(model=model, history=pd.DataFrame(history), checkpoint_path=checkpoint,
                       resumed_from_epoch=resumed_from, started=choice.started)


def _describe_checkpoint(checkpoint: Path | None, epochs_completed: int) -> str:
    if checkpoint is None:
        return "none (checkpoint_path=None)"
    if epochs_completed == 0:
        return f"none ({checkpoint} is written after the first epoch)"
    return f"{checkpoint} (after epoch {epochs_completed - 1})"


def _train_one_epoch(
    model: torch.nn.Module,
    loss_fn: LossFn,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    epoch: int,
    device: torch.device,
    distributed: _Distributed,
    last_good: str,
    on_step: OnStep | None,
) -> dict[str, float]:
    """One pass over loader; returns the mean of each loss component (over all ranks)."""
    model.train()
    names: list[str] = []
    sums: torch.Tensor | None = None  # per component, float64 on the device: no per-step host sync
    # Index of the first step whose components were not all finite (-1: none yet), and which.
    first_bad_step = torch.full((), -1, dtype=torch.int64, device=device)
    bad_components: torch.Tensor | None = None
    steps = 0
    parameters = [parameter for group in optimizer.param_groups for parameter in group["params"]]
    with tqdm(
        total=len(loader),
        desc=f"epoch {epoch + 1}/{config.epochs}",
        disable=not (config.progress and distributed.is_main),
        leave=False,
        dynamic_ncols=True,
    ) as bar:
        for step, batch in enumerate(loader):
            components = _loss_components(loss_fn(model, move_to_device(batch, device), epoch), device)
            if sums is None:
                names = list(components)
                sums = torch.zeros(len(names), dtype=torch.float64, device=device)
                bad_components = torch.zeros(len(names), dtype=torch.bool, device=device)
            elif list(components) != names:
                raise KeyError(f"loss_fn returned components {list(components)} at step {step}, earlier {names}")
            values = torch.stack([components[name].detach().reshape(()).to(torch.float64) for name in names])
            not_finite = ~torch.isfinite(values)
            is_first_bad = not_finite.any() & (first_bad_step < 0)
            first_bad_step = torch.where(is_first_bad, step, first_bad_step)
            bad_components = torch.where(is_first_bad, not_finite, bad_components)
            sums += values
            steps += 1
            if config.nan_check_every and step % config.nan_check_every == 0:
                # The one host sync of the hot loop, before the optimizer step so that a NaN
                # never reaches the weights; it also brings back the running loss for the bar.
                loss_sum = _check_finite(
                    first_bad_step, bad_components, sums[names.index("loss")], names, epoch, distributed, last_good
                )
                bar.set_postfix(loss=f"{loss_sum / steps:.4g}", refresh=False)

            optimizer.zero_grad(set_to_none=True)
            components["loss"].backward()
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(parameters, config.grad_clip)
            optimizer.step()
            bar.update()
            if on_step is not None:
                on_step(epoch, step)
    if sums is None:
        raise ValueError(f"epoch {epoch}: the training loader produced no batch (dataset of {len(loader.dataset)})")
    _check_finite(first_bad_step, bad_components, sums[0], names, epoch, distributed, last_good)

    totals = torch.cat([sums, torch.tensor([float(steps)], dtype=torch.float64, device=device)])
    if distributed.active:
        dist.all_reduce(totals)
    totals_list = totals.tolist()
    return {name: totals_list[index] / totals_list[-1] for index, name in enumerate(names)}


def _check_finite(
    first_bad_step: torch.Tensor,
    bad_components: torch.Tensor,
    running_loss: torch.Tensor,
    names: list[str],
    epoch: int,
    distributed: _Distributed,
    last_good: str,
) -> float:
    """Raise NonFiniteLossError if any step so far had a non-finite component; else return running_loss."""
    step = first_bad_step.reshape(1).to(torch.float64)
    flags = bad_components.to(torch.float64)
    if distributed.active:
        # Every rank must stop together: one rank raising while the others wait in the next
        # gradient all-reduce would hang the job. Earliest bad step, union of bad components.
        step = torch.where(step < 0, math.inf, step)
        dist.all_reduce(step, op=dist.ReduceOp.MIN)
        step = torch.where(torch.isinf(step), -1.0, step)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    bad_step, *component_flags, loss_sum = torch.cat([step, flags, running_loss.reshape(1).to(torch.float64)]).tolist()
    if bad_step >= 0:
        bad = [name for name, flag in zip(names, component_flags) if flag]
        raise NonFiniteLossError(epoch, int(bad_step), bad, last_good)
    return loss_sum


def _evaluate(
    model: torch.nn.Module,
    evaluate: EvaluateFn,
    val_set: Dataset,
    config: TrainConfig,
    collate_fn: Callable[[list[Any]], Any] | None,
    distributed: _Distributed,
) -> dict[str, float]:
    if isinstance(evaluate, ShardedEvaluation):
        return evaluate_dataset(model, evaluate, val_set, config.batch_size, config.num_workers, collate_fn)
    metrics: dict[str, float] = {}
    if distributed.is_main:
        loader = DataLoader(
            val_set, batch_size=config.batch_size, shuffle=False, num_workers=config.num_workers, collate_fn=collate_fn
        )
        with evaluating(model):
            metrics = {name: float(value) for name, value in evaluate(model, loader).items()}
    if distributed.active:
        shared = [metrics]
        dist.broadcast_object_list(shared, src=0)
        metrics = shared[0]
    return metrics


