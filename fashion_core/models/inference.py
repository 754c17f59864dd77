"""Helpers for running a model outside training: unwrap, its device, and eval mode without grad.

Every prediction path (metrics, the trainer's validation, the viewers) goes through these, so a
model handed back to training code always has its training flag restored.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel / DataParallel wrapper or torch.compile result."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode under torch.inference_mode(); the model's training flag is restored on exit, also on error."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield model
    finally:
        model.train(was_training)
