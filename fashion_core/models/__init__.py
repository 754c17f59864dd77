"""Models of the workbook: one builder per paper, one registry, one trainer loss function.

Every model's ``forward(image)`` returns a dict and every model has
``compute_loss(outputs, batch, epoch) -> {'loss': ..., components...}``, so one
:func:`loss_fn` trains any of them with fashion_core.engine.trainer.fit. What the dict holds depends on
the paper: the landmark models (FashionNet, Liu & Lu, DAFE, FPM) return ``landmarks`` (N,L,2) in
input pixels; FashionNet and Liu & Lu also return ``category_logits`` (N,C) and
``attribute_logits`` (N,K) unless built with ``landmarks_only``; M2Fashion takes the attribute
states as a second input and returns category / attribute logits and an embedding; its retrieval
baselines (triplet network, CSN, ASEN-style) take the attribute type alone (the triplet network
nothing) and return condition-specific embeddings (fashion_core.experiments.m2fashion trains them all).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from fashion_core.models.dafe import DAFE, build_dafe
from fashion_core.models.fashionnet import FashionNet, build_fashionnet
from fashion_core.models.heatmaps import decode_heatmaps, heatmap_targets
from fashion_core.models.inference import unwrap
from fashion_core.models.liu2018 import ATTENTION_MODES, LiuLu2018, build_liu2018
from fashion_core.models.m2fashion import M2Fashion, build_m2fashion
from fashion_core.models.pose_machine import FashionPoseMachine, build_fashion_pose_machine
from fashion_core.models.retrieval_baselines import RetrievalBaseline, build_retrieval_baseline
from fashion_core.models.vgg import BACKBONES, VGG16_WEIGHTS_FILE, vgg16_trunk

__all__ = [
    "MODEL_BUILDERS",
    "MODEL_NAMES",
    "build_model",
    "loss_fn",
    "unwrap",
    "build_fashionnet",
    "build_liu2018",
    "build_m2fashion",
    "M2Fashion",
    "build_retrieval_baseline",
    "RetrievalBaseline",
    "build_dafe",
    "DAFE",
    "FashionNet",
    "LiuLu2018",
    "build_fashion_pose_machine",
    "FashionPoseMachine",
    "ATTENTION_MODES",
    "BACKBONES",
    "VGG16_WEIGHTS_FILE",
    "vgg16_trunk",
    "decode_heatmaps",
    "heatmap_targets",
]

MODEL_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "fashionnet": build_fashionnet,
    "m2fashion": build_m2fashion,
    "retrieval_baseline": build_retrieval_baseline,
    "liu2018": build_liu2018,
    "fpm": build_fashion_pose_machine,
    "dafe": build_dafe,
}
MODEL_NAMES: tuple[str, ...] = tuple(MODEL_BUILDERS)


def build_model(name: str, **kwargs) -> nn.Module:
    """build_model("liu2018", num_categories=..., num_attributes=..., backbone=..., ...) -> the model."""
    try:
        builder = MODEL_BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODEL_BUILDERS)}") from None
    return builder(**kwargs)



def loss_fn(model: nn.Module, batch: Mapping[str, torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
    """The trainer's loss_fn for every model: unwrap(model).compute_loss(model(batch["image"]), batch, epoch).

    The forward goes through the (possibly DDP-wrapped) model so gradients are synchronised.
    """
    return unwrap(model).compute_loss(model(batch["image"]), batch, epoch)
