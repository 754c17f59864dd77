"""The one trainer every model uses: seeded, resumable, NaN-guarded, single-process or torchrun.

Reproducibility contract: for a fixed model initialisation, dataset and TrainConfig, the
weights and history metrics after epoch e do not depend on whether the run was interrupted
and resumed. Each epoch is a pure function of (weights, optimizer state, seed, epoch):
the shuffle order comes from DistributedSampler(seed=config.seed).set_epoch(epoch), and the
global python / numpy / torch RNGs and DataLoader worker seeds are re-derived from
(seed, epoch, rank) at the start of every epoch.

Epochs are 0-based everywhere: the ``epoch`` passed to loss_fn, to on_step and to
``train_set.set_epoch``, and the ``epoch`` column of the history.

Command line (one process, or several under torchrun; see ``python -m fashion_core.train --help``):

    torchrun --nproc_per_node=2 -m fashion_core.train --model dafe --data data/synthfashion/default
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import sys
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
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler
# Plain text bars: widget bars leave no trace in executed reports and defeat nbval.
from tqdm import tqdm

from fashion_core.io import atomic_path

__all__ = [
    "TrainConfig",
    "TrainResult",
    "ShardedEvaluation",
    "evaluate_dataset",
    "NonFiniteLossError",
    "CheckpointConfigMismatchError",
    "fit",
    "save_checkpoint",
    "load_checkpoint",
    "load_trained",
]

CHECKPOINT_FORMAT = "fashion_core.train/1"
# Fields that may change between a checkpoint and the resuming call: extending training or
# changing how it is displayed / loaded does not make it a different run.
RESUMABLE_CONFIG_CHANGES = frozenset({"epochs", "progress", "num_workers"})
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


class CheckpointConfigMismatchError(ValueError):
    """The checkpoint was written by a run with a different TrainConfig."""


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write a checkpoint atomically: a crash mid-write leaves the previous file intact."""
    path = Path(path)
    with atomic_path(path) as temporary:
        torch.save(dict(state), temporary)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`fit` (tensors and plain Python types only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a fashion_core.train checkpoint (format {CHECKPOINT_FORMAT!r})")
    return state


def load_trained(
    model: torch.nn.Module, checkpoint_path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> torch.nn.Module:
    """Load only the weights from a fit() checkpoint (or a bare state_dict file) into model, in eval mode."""
    path = Path(checkpoint_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"trained weights not found: {path.resolve()} does not exist; run the training that writes it first"
        )
    state = torch.load(path, map_location=map_location, weights_only=True)
    weights = state["model"] if isinstance(state, dict) and state.get("format") == CHECKPOINT_FORMAT else state
    _unwrap(model).load_state_dict(weights)
    return model.eval()


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


# --------------------------------------------------------------------------- helpers
def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def _resolve_device(name: str, distributed: bool) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and distributed and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return device


def _move_to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, Mapping):
        return type(batch)({key: _move_to_device(value, device) for key, value in batch.items()})
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_move_to_device(value, device) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_move_to_device(value, device) for value in batch)
    return batch


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
    val_set: Dataset | None = None,
    evaluate: EvaluateFn | None = None,
    resume: bool = True,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    on_step: OnStep | None = None,
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
        checkpoint_path: written after every epoch. If it exists and resume=True, training
            continues after the epochs it holds; with resume=False it is overwritten.
        on_step: (epoch, step) called after every optimizer step (used by tests to interrupt).

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
        CheckpointConfigMismatchError: the checkpoint's config differs in something other
            than epochs, progress or num_workers.
    """
    if (val_set is None) != (evaluate is None):
        raise ValueError("val_set and evaluate go together: pass both or neither")
    checkpoint = Path(checkpoint_path) if checkpoint_path is not None else None
    model = _unwrap(model)
    _configure_determinism(config.deterministic)
    device = _resolve_device(config.device, distributed=int(os.environ.get("WORLD_SIZE", "1")) > 1)
    distributed = _setup_distributed(device)
    try:
        return _fit(
            model, loss_fn, train_set, config, checkpoint, val_set, evaluate, resume, collate_fn, on_step,
            device, distributed,
        )
    finally:
        if distributed.created_group:
            dist.destroy_process_group()


def _fit(
    model: torch.nn.Module,
    loss_fn: LossFn,
    train_set: Dataset,
    config: TrainConfig,
    checkpoint: Path | None,
    val_set: Dataset | None,
    evaluate: EvaluateFn | None,
    resume: bool,
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

    if checkpoint is not None and resume and checkpoint.exists():
        # CPU first: RNG states must stay CPU tensors; weights and optimizer state are copied
        # onto the parameters' device by load_state_dict.
        state = load_checkpoint(checkpoint, map_location="cpu")
        differences = _config_differences(state["config"], config)
        if differences:
            raise CheckpointConfigMismatchError(
                f"{checkpoint} was written by a different run; refusing to resume. Differing fields: "
                + "; ".join(differences)
                + ". Use another checkpoint_path, or resume=False to start over."
            )
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
                        "history": history,
                        "config": dataclasses.asdict(config),
                        "rng": _rng_states(),
                    },
                )
            last_good = _describe_checkpoint(checkpoint, epoch + 1)
    return TrainResult(
        model=model, history=pd.DataFrame(history), checkpoint_path=checkpoint, resumed_from_epoch=resumed_from
    )


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
            components = _loss_components(loss_fn(model, _move_to_device(batch, device), epoch), device)
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
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                metrics = {name: float(value) for name, value in evaluate(model, loader).items()}
        finally:
            model.train(was_training)
    if distributed.active:
        shared = [metrics]
        dist.broadcast_object_list(shared, src=0)
        metrics = shared[0]
    return metrics


# --------------------------------------------------------------------------- sharded evaluation
@dataclass(frozen=True)
class ShardedEvaluation:
    """An evaluate for fit (or evaluate_dataset) in two halves, so every rank can predict a shard.

    predict(model, loader) -> the predictions of the loader's items in loader order: a dataclass
        or a dict whose array fields have one row per item (other fields, e.g. input_size, are
        shared and taken from the first shard). Called under torch.inference_mode(), model.eval().
    score(predictions) -> {metric: float}, called once on every item's predictions, in dataset
        order: the numbers equal a single-process evaluation of the same weights.
    """

    predict: Callable[[torch.nn.Module, DataLoader], Any]
    score: Callable[[Any], Mapping[str, Any]]


class _StridedShard(Sampler[int]):
    """Items rank, rank + world_size, ...: every item exactly once over the ranks (DistributedSampler
    would pad the last shard with repeats, which a metric would count twice)."""

    def __init__(self, length: int, rank: int, world_size: int):
        self.items = list(range(rank, length, world_size))

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _merge_shards(parts: list[Any], positions: list[list[int]]) -> Any:
    """Concatenate the per-item fields of each shard's predictions and restore dataset order."""
    order = np.argsort(np.concatenate([np.asarray(items, dtype=np.int64) for items in positions]), kind="stable")
    total = len(order)

    def merged(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, np.ndarray) and first.ndim >= 1 and sum(len(value) for value in values) == total:
            return np.concatenate(values)[order]
        if isinstance(first, torch.Tensor) and first.ndim >= 1 and sum(len(value) for value in values) == total:
            return torch.cat(values)[torch.from_numpy(order)]
        return first

    first = parts[0]
    if dataclasses.is_dataclass(first):
        return dataclasses.replace(first, **{field.name: merged([getattr(part, field.name) for part in parts])
                                             for field in dataclasses.fields(first) if field.init})
    if isinstance(first, Mapping):
        return {key: merged([part[key] for part in parts]) for key in first}
    raise TypeError(
        f"ShardedEvaluation.predict must return a dataclass or a dict of arrays, got {type(first).__name__}")


def evaluate_dataset(
    model: torch.nn.Module,
    evaluation: ShardedEvaluation,
    dataset: Dataset,
    batch_size: int,
    num_workers: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
) -> dict[str, float]:
    """evaluation.score of the model's predictions on every item of dataset, in dataset order.

    Under torchrun (an initialised process group of W > 1 ranks; every rank must call this) rank r
    predicts items r, r + W, ...; the shards are gathered with all_gather_object, merged back into
    dataset order and scored on rank 0, and the metrics broadcast to every rank. A dataset with
    fewer items than ranks is predicted whole on rank 0.
    """
    model = _unwrap(model)
    world_size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    rank = dist.get_rank() if world_size > 1 else 0
    sharded = world_size > 1 and len(dataset) >= world_size
    items = list(range(len(dataset))) if not sharded else list(range(rank, len(dataset), world_size))
    part = None
    if sharded or rank == 0:
        loader = DataLoader(dataset, batch_size=batch_size, sampler=_StridedShard(len(dataset), rank, world_size)
                            if sharded else None, shuffle=False, num_workers=num_workers, collate_fn=collate_fn)
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                part = evaluation.predict(model, loader)
        finally:
            model.train(was_training)
    if sharded:
        gathered: list[Any] = [None] * world_size
        dist.all_gather_object(gathered, (part, items))
        parts, positions = [shard for shard, _ in gathered], [shard_items for _, shard_items in gathered]
    else:
        parts, positions = [part], [items]
    metrics: dict[str, float] = {}
    if rank == 0:
        predictions = _merge_shards(parts, positions) if len(parts) > 1 else parts[0]
        metrics = {name: float(value) for name, value in evaluation.score(predictions).items()}
    if world_size > 1:
        shared = [metrics]
        dist.broadcast_object_list(shared, src=0)
        metrics = shared[0]
    return metrics


# --------------------------------------------------------------------------- command line
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


def _cli_data(args: argparse.Namespace, data_format: str, input_size: int, cache_images: bool):
    from fashion_core import experiments

    root = Path(args.data)
    if (root / data_format).is_dir():  # a SynthFashion root
        root = root / data_format
    loaders = {"deepfashion_c": experiments.load_deepfashion_c, "fld": experiments.load_fld,
               "fashionai": experiments.load_fashionai}
    return loaders[data_format](root, input_size, cache_images)


def _cli_setup(args: argparse.Namespace) -> dict[str, Any]:
    """Everything one run needs: params, data, model, loss, validation and test evaluations."""
    from fashion_core import evaluation, experiments
    from fashion_core.models import build_model, loss_fn
    from fashion_core.params import resolved_parameters
    from fashion_core.paths import notebooks_dir

    notebook, formats, paper, row = CLI_MODELS[args.model]
    data_format = args.format or formats[0]
    if data_format not in formats:
        raise SystemExit(f"--model {args.model} trains on {' or '.join(formats)}, not {data_format}")
    params = resolved_parameters(args.profile, notebooks_dir() / f"{notebook}.ipynb")
    for key, value in (("epochs", args.epochs), ("batch_size", args.batch_size), ("lr", args.lr),
                       ("backbone", args.backbone), ("width", args.width), ("input_size", args.input_size),
                       ("num_workers", args.num_workers), ("pretrained", args.pretrained),
                       ("weights_path", args.weights_path)):
        if value is not None:
            params[key] = value
    data = _cli_data(args, data_format, params["input_size"], params["cache_images"])
    annotations = data.annotations
    variant = experiments.VARIANTS[paper][row]
    kwargs = dict(variant.model_kwargs)
    loss, train_set = loss_fn, data.train
    data.train.seed = args.seed  # the random flips differ per seed, like the initialisation (as in the notebooks)
    attribute_types: Any = ()
    if args.model == "fashionnet":
        kwargs.update(loss_schedule_switch_epoch=params["loss_schedule_switch_epoch"],
                      stage1_weights={"landmark": params["stage1_landmark_weight"]},
                      stage2_weights={"landmark": params["stage2_landmark_weight"]})
    if args.model == "liu2018":
        kwargs["landmark_weight"] = params["landmark_loss_weight"]
    if args.model == "fpm":
        kwargs["stages"] = params["stages"]
    if args.model in ("fashionnet", "liu2018", "m2fashion", "retrieval_baseline"):
        counts = (len(annotations.category_names), len(annotations.attribute_names))
        attribute_types = annotations.attribute_types
    elif args.model == "fpm":
        from fashion_core.data.fashionai import FASHIONAI_CATEGORIES

        counts = (len(FASHIONAI_CATEGORIES), 0)
    else:
        counts = (0, 0)

    if args.model in ("m2fashion", "retrieval_baseline"):
        from fashion_core import m2fashion_experiments as m2
        from fashion_core import retrieval

        options = m2.Options(feature_stride=params["feature_stride"], similarity=params["similarity"])
        kwargs = m2.model_variant(variant, options, len(retrieval.type_codes(annotations.attribute_types))).model_kwargs
        loss, train_set = m2.training_loss, m2.LabelMaskDataset(data.train, args.seed)
        # The m2fashion notebook's per-epoch numbers (no label given), and every class metric on the test split.
        validation = ShardedEvaluation(_classification_predictions, lambda p: {
            f"val_{name}": value for name, value in _classification_score(p, attribute_types).items()
            if name in ("category_top1", "attr_all_top5")})
        test = ShardedEvaluation(_classification_predictions, lambda p: _classification_score(p, attribute_types))
        if args.model == "retrieval_baseline":
            validation = test = None  # no heads: its numbers are retrieval mAP (the m2fashion notebooks)
    elif data_format == "fashionai":
        validation = ShardedEvaluation(evaluation.predictions_from_loader, lambda p: {
            "val_ne_avg": evaluation.fashionai_score(p, data.val.annotations)["ne_avg"]})
        test = ShardedEvaluation(evaluation.predictions_from_loader,
                                 lambda p: evaluation.fashionai_score(p, data.test.annotations))
    else:
        validation = ShardedEvaluation(evaluation.predictions_from_loader, _validation_score)
        test = ShardedEvaluation(evaluation.predictions_from_loader,
                                 lambda p: evaluation.score(p, attribute_types if len(attribute_types) else None))
    torch.manual_seed(args.seed)
    model = build_model(variant.model, num_categories=counts[0], num_attributes=counts[1], backbone=params["backbone"],
                        width=params["width"], input_size=params["input_size"], pretrained=params["pretrained"],
                        weights_path=params["weights_path"] or None, **kwargs)
    return dict(params=params, data=data, data_format=data_format, model=model, loss=loss, train_set=train_set,
                validation=validation, test=test, variant=variant, model_kwargs=kwargs)


def _validation_score(predictions) -> dict[str, float]:
    from fashion_core.evaluation import category_metrics, landmark_metrics

    result = {"val_ne_avg": landmark_metrics(predictions.landmarks, predictions.landmarks_true, predictions.visible,
                                             predictions.input_size)["ne_avg"]}
    if predictions.category_scores is not None:
        result["val_category_top1"] = category_metrics(predictions.category_scores,
                                                       predictions.category)["category_top1"]
    return result


def _classification_predictions(model: torch.nn.Module, loader: DataLoader) -> dict[str, np.ndarray]:
    """Category and attribute scores with no label given (M2Fashion), and the truth, in loader order."""
    device = next(model.parameters()).device
    parts: dict[str, list[np.ndarray]] = {"category_scores": [], "attribute_scores": [], "category": [],
                                          "attributes": []}
    for batch in loader:
        outputs = model(batch["image"].to(device))
        parts["category_scores"].append(outputs["category_logits"].float().cpu().numpy())
        parts["attribute_scores"].append(outputs["attribute_logits"].float().cpu().numpy())
        parts["category"].append(batch["category"].numpy())
        parts["attributes"].append(batch["attributes"].numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def _classification_score(predictions: Mapping[str, np.ndarray], attribute_types) -> dict[str, float]:
    from fashion_core.evaluation import attribute_metrics, category_metrics

    return {**category_metrics(predictions["category_scores"], predictions["category"]),
            **attribute_metrics(predictions["attribute_scores"], predictions["attributes"], attribute_types)}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = _resolve_device(args.device, distributed=world_size > 1)
    created_group = False
    if world_size > 1 and not dist.is_initialized():
        # Initialised here, not in fit, so the group outlives fit for the test-split evaluation.
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        created_group = True
    try:
        rank = dist.get_rank() if world_size > 1 else 0
        say = print if rank == 0 else (lambda *_, **__: None)
        run = _cli_setup(args)
        params, model = run["params"], run["model"]
        if world_size > 1 and device.type == "cuda":
            # One batch statistic over the global batch, as a single GPU with that batch would have
            # (SyncBatchNorm needs GPUs; on CPU each rank normalises its own batch).
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        out = Path(args.out) if args.out else Path("reports") / "torchrun" / args.model
        checkpoint = out / f"{args.model}-seed{args.seed}.pt"
        config = TrainConfig(epochs=params["epochs"], batch_size=params["batch_size"], optimizer=params["optimizer"],
                             lr=params["lr"], lr_schedule=params.get("lr_schedule", "exponential"),
                             lr_gamma=params["lr_gamma"], lr_step_size=params.get("lr_step_size", 10), seed=args.seed,
                             num_workers=params["num_workers"], device=args.device,
                             progress=not args.no_progress)
        say(f"{args.model} ({run['variant'].name}) on {run['data_format']} at {args.data}: {params['backbone']} "
            f"x{params['width']} @ {params['input_size']} px, {world_size} process(es) x batch {config.batch_size} "
            f"(global {world_size * config.batch_size}), {config.epochs} epoch(s), device {device}", flush=True)
        started = time.perf_counter()
        result = fit(model, run["loss"], run["train_set"], config, checkpoint_path=checkpoint,
                     val_set=run["data"].val if run["validation"] else None, evaluate=run["validation"],
                     resume=not args.fresh)
        seconds = time.perf_counter() - started
        test_metrics = {}
        if run["test"] is not None:
            test_metrics = evaluate_dataset(result.model, run["test"], run["data"].test, config.batch_size,
                                            config.num_workers)
        if rank == 0:
            from fashion_core.io import write_json_atomic, write_text_atomic

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
    finally:
        if created_group:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    # Through the imported module, not this __main__ copy: fit's isinstance(evaluate,
    # ShardedEvaluation) must see the class that fashion_core.experiments & co. use.
    from fashion_core.train import main as _main

    sys.exit(_main())
