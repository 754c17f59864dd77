"""Evaluation sharded over torchrun ranks: every rank predicts its share, rank 0 scores them all."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Sampler

from fashion_core.models.inference import evaluating, unwrap


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
    model = unwrap(model)
    world_size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    rank = dist.get_rank() if world_size > 1 else 0
    sharded = world_size > 1 and len(dataset) >= world_size
    items = list(range(len(dataset))) if not sharded else list(range(rank, len(dataset), world_size))
    part = None
    if sharded or rank == 0:
        loader = DataLoader(dataset, batch_size=batch_size, sampler=_StridedShard(len(dataset), rank, world_size)
                            if sharded else None, shuffle=False, num_workers=num_workers, collate_fn=collate_fn)
        with evaluating(model):
            part = evaluation.predict(model, loader)
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

