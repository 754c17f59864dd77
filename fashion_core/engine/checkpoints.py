"""Checkpoints of the one trainer: atomic writes, a format tag, and weight-only loading.

A checkpoint holds tensors and plain Python values only, so it loads with
``torch.load(weights_only=True)``; the format tag is a name, not a module path.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from fashion_core.io import atomic_path
from fashion_core.models.inference import unwrap

CHECKPOINT_FORMAT = "fashion_core.train/1"


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
    unwrap(model).load_state_dict(weights)
    return model.eval()

