"""Finding ImageNet weight files for the paper backbones, without hanging and without failing silently.

The file is taken from ``weights_path`` when given, else from the torch hub cache
(``$TORCH_HOME/hub/checkpoints/<file>``, where torchvision keeps it). When it is not there, one
download is tried with a socket timeout; if that fails, a RuntimeError says which file to put
where. Machines without internet therefore fail in seconds with a message a person can act on.
"""
from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import torch

__all__ = ["DOWNLOAD_TIMEOUT_SECONDS", "weights_cache_path", "missing_weights_message", "imagenet_weights_file",
           "read_state_dict"]

DOWNLOAD_TIMEOUT_SECONDS = 30.0


def weights_cache_path(url: str) -> Path:
    """Where torchvision looks for the file of `url`: $TORCH_HOME/hub/checkpoints/<basename>."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def missing_weights_message(url: str, description: str, reason: str) -> str:
    file = os.path.basename(url)
    return (
        f"pretrained=True needs the ImageNet {description} weights file {file}, but {reason}. "
        f"Either put {file} (downloadable from {url}) at {weights_cache_path(url)} "
        f"(that is $TORCH_HOME/hub/checkpoints/{file}; TORCH_HOME defaults to ~/.cache/torch), "
        f"or pass weights_path='/path/to/{file}' (the `weights_path` notebook parameter), "
        f"or use pretrained=False."
    )


def _download(url: str, destination: Path) -> None:
    """One download attempt into the hub cache, bounded by a socket timeout (no network -> fails fast)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    match = re.search(r"-([a-f0-9]+)\.", os.path.basename(url))
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
    try:
        # Looked up at call time so tests can replace it.
        torch.hub.download_url_to_file(url, str(destination), hash_prefix=match.group(1) if match else None,
                                       progress=False)
    finally:
        socket.setdefaulttimeout(previous)


def imagenet_weights_file(url: str, description: str, weights_path: str | os.PathLike | None) -> Path:
    """The local weights file for `url`: weights_path, the hub cache, or one bounded download attempt."""
    if weights_path is not None:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise RuntimeError(missing_weights_message(url, description, f"weights_path {path} does not exist"))
        return path
    path = weights_cache_path(url)
    if path.is_file():
        return path
    try:
        _download(url, path)
    except Exception as error:  # no network, timeout, hash mismatch, read-only cache...
        raise RuntimeError(missing_weights_message(
            url, description,
            f"{path} does not exist and downloading it failed ({type(error).__name__}: {error})")) from error
    if not path.is_file():
        raise RuntimeError(missing_weights_message(url, description, f"{path} does not exist after the download"))
    return path


def read_state_dict(path: Path, url: str, description: str) -> dict[str, torch.Tensor]:
    """torch.load a state_dict (or a {'state_dict': ...} wrapper) with a clear error for anything else."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise RuntimeError(f"cannot read {description} weights from {path}: {error}. "
                           + missing_weights_message(url, description, "that file is not a torch state_dict")) from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise RuntimeError(missing_weights_message(url, description, f"{path} does not hold a state_dict"))
    return state
