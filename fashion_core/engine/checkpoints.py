"""Checkpoints of the one trainer: atomic writes, a format tag, weight-only loading, and run identities.

A checkpoint holds tensors and plain Python values only, so it loads with
``torch.load(weights_only=True)``; the format tag is a name, not a module path. A file that does
not load as one (truncated, empty, not a zip, another format tag) raises CorruptCheckpointError
naming it and saying how to start over.

Identity. A :class:`CheckpointSpec` names a run's checkpoints by everything that decides the
weights except the number of epochs (fashion_core.engine.trainer.checkpoint_spec builds it):
``<stem>-<identity hash, 10 hex digits>-e<target epochs>.pt`` in one directory, the full identity
stored inside. :func:`choose_checkpoint` decides what a request for E epochs starts from:

- the file of (identity, E) when it exists: complete (E epochs done: nothing to train) or partial
  (resumed after the epochs it holds);
- else a file of the same identity with another target E' that has completed k <= E epochs: its
  state is copied to the (identity, E) file and training continues from epoch k. The source file
  is never modified or removed, since a report may rest on it. This equals an uninterrupted E-epoch
  run because nothing in an epoch depends on E: the lr is lr * factor(epoch) in closed form
  (every schedule of the trainer), the data order and augmentation are functions of
  (seed, epoch), and the only epoch-dependent loss weights (FashionNet's two steps) switch at an
  absolute epoch that is a builder argument, hence part of the identity;
- else nothing: training starts fresh. A checkpoint trained past E is never used for E.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fashion_core.io import atomic_path
from fashion_core.models import MODEL_BUILDERS
from fashion_core.models.inference import unwrap

CHECKPOINT_FORMAT = "fashion_core.train/2"
IDENTITY_HASH_LENGTH = 10


class CorruptCheckpointError(ValueError):
    """A checkpoint file does not load: truncated, empty, not a torch zip, or another format tag."""

    def __init__(self, path: Path, reason: str):
        self.path = Path(path)
        super().__init__(
            f"checkpoint {self.path} is unreadable ({reason}). To start that run over, delete the file: "
            f"rm {shlex.quote(str(self.path.resolve()))} and run the notebook again; "
            "python -m fashion_core.train can instead be given --fresh (fit: resume=False)."
        )


class CheckpointConfigMismatchError(ValueError):
    """The checkpoint was written by a run with a different configuration or identity."""


# --------------------------------------------------------------------------- files
def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write a checkpoint atomically: a crash mid-write leaves the previous file intact."""
    path = Path(path)
    with atomic_path(path) as temporary:
        torch.save(dict(state), temporary)
    return path


def _read(path: Path, map_location: str | torch.device) -> Any:
    """torch.load(weights_only=True), every way a damaged file fails as CorruptCheckpointError."""
    if path.stat().st_size == 0:
        raise CorruptCheckpointError(path, "the file is empty")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (FileNotFoundError, PermissionError, IsADirectoryError, MemoryError):
        raise  # the file cannot be read, or the machine is out of memory: not a damaged checkpoint
    except Exception as error:  # RuntimeError / OSError(EINVAL) (bad zip), EOFError, UnpicklingError, KeyError
        first_line = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        detail = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
        raise CorruptCheckpointError(path, f"truncated or not written by torch.save; torch.load: {detail}") from error


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`fit` (tensors and plain Python types only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = _read(path, map_location)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CorruptCheckpointError(path, f"format {found!r}, expected {CHECKPOINT_FORMAT!r}")
    return state


def load_trained(
    model: torch.nn.Module,
    checkpoint_path: str | os.PathLike,
    map_location: str | torch.device = "cpu",
    epochs: int | None = None,
) -> torch.nn.Module:
    """Load only the weights from a fit() checkpoint (or a bare state_dict file) into model, in eval mode.

    epochs: when given, the checkpoint must have completed exactly that many epochs.
    """
    path = Path(checkpoint_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"trained weights not found: {path.resolve()} does not exist; run the training that writes it first"
        )
    state = _read(path, map_location)
    if isinstance(state, dict) and "format" in state:
        if state["format"] != CHECKPOINT_FORMAT:
            raise CorruptCheckpointError(path, f"format {state['format']!r}, expected {CHECKPOINT_FORMAT!r}")
        if epochs is not None and state.get("epochs_completed") != epochs:
            raise CheckpointConfigMismatchError(
                f"{path} holds {state.get('epochs_completed')} trained epochs, not the {epochs} asked for")
        weights = state["model"]
    elif isinstance(state, dict) and all(isinstance(value, torch.Tensor) for value in state.values()):
        weights = state  # a bare state_dict
    else:
        raise CorruptCheckpointError(path, f"holds a {type(state).__name__}, neither a checkpoint nor a state_dict")
    unwrap(model).load_state_dict(weights)
    return model.eval()


# --------------------------------------------------------------------------- identity parts
def architecture_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of the model's parameter and buffer names and shapes (its checkpoint layout)."""
    layout = ";".join(f"{name}:{tuple(tensor.shape)}" for name, tensor in unwrap(model).state_dict().items())
    return hashlib.sha256(layout.encode()).hexdigest()[:10]


def model_code_fingerprint(model_name: str | None = None, model: torch.nn.Module | None = None) -> str:
    """sha256 of the code that defines a model: its module under fashion_core/models/, the
    fashion_core.models modules it imports (transitively: the trunks, heatmap helpers, weight loader)
    and fashion_core/models/__init__.py (the registry and the trainer's loss_fn).

    The module is the registered builder's (MODEL_BUILDERS[model_name]), else the model's class's
    when that lives in fashion_core.models; "" for a model defined elsewhere (no code identity).
    Only these files, so editing one paper's model does not retrain the others. Each file is
    hashed as its syntax tree without docstrings or comments: rewording documentation or reformatting
    changes nothing, any change to what the code does changes the hash (and so does another Python
    minor version, whose syntax trees may differ).
    """
    if model_name in MODEL_BUILDERS:
        module = MODEL_BUILDERS[model_name].__module__
    elif model is not None and type(unwrap(model)).__module__.startswith("fashion_core.models."):
        module = type(unwrap(model)).__module__
    else:
        return ""
    return _code_fingerprint(module)


@functools.lru_cache(maxsize=None)
def _code_fingerprint(module: str) -> str:
    package = Path(sys.modules["fashion_core.models"].__file__).parent
    seen: set[str] = set()
    pending = [module, "fashion_core.models"]
    digest = hashlib.sha256(f"python {sys.version_info.major}.{sys.version_info.minor}\n".encode())
    parts: dict[str, str] = {}
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        relative = name.removeprefix("fashion_core.models").lstrip(".")
        path = package / ("__init__.py" if not relative else f"{relative.replace('.', '/')}.py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if name != "fashion_core.models":  # the package's own imports are every model: not followed
            pending.extend(_imported_model_modules(tree))
        parts[path.relative_to(package.parent.parent).as_posix()] = ast.dump(_without_docstrings(tree))
    for file_name in sorted(parts):
        digest.update(f"{file_name}\n{parts[file_name]}\n".encode())
    return digest.hexdigest()


def _imported_model_modules(tree: ast.Module) -> list[str]:
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fashion_core.models."):
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names if alias.name.startswith("fashion_core.models."))
    return modules


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def plain_json(value: Any) -> Any:
    """value as JSON would give it back (tuples become lists, other objects their str)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


# --------------------------------------------------------------------------- spec and choice
@dataclass(frozen=True)
class CheckpointSpec:
    """Where a run's checkpoints live and the identity that names them (see the module docstring).

    identity: a JSON-able mapping of everything that decides the weights except the epochs.
    """

    directory: Path
    stem: str  # e.g. "dafe-seed3" or "liu2018_no_upsample-seed0"
    identity: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "directory", Path(self.directory))
        object.__setattr__(self, "identity", plain_json(dict(self.identity)))

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()

    @property
    def name_prefix(self) -> str:
        return f"{self.stem}-{self.digest[:IDENTITY_HASH_LENGTH]}"

    def path(self, epochs: int) -> Path:
        """The checkpoint of this identity trained for `epochs` epochs."""
        return self.directory / f"{self.name_prefix}-e{int(epochs)}.pt"

    def siblings(self) -> list[tuple[int, Path]]:
        """(target epochs, path) of every checkpoint file of this identity, by target epochs."""
        pattern = re.compile(re.escape(self.name_prefix) + r"-e(\d+)\.pt")
        found = [(int(match.group(1)), path) for path in self.directory.glob(f"{self.name_prefix}-e*.pt")
                 if (match := pattern.fullmatch(path.name))]
        return sorted(found)

    def differences(self, state: Mapping[str, Any]) -> list[str]:
        """How the identity stored in a checkpoint differs from this one (empty: the same)."""
        return identity_differences(state.get("identity") or {}, self.identity)

    def describe(self) -> str:
        """The identity in one line: its hash and its fields."""
        return f"{self.digest[:IDENTITY_HASH_LENGTH]} = {json.dumps(self.identity, sort_keys=True)}"


def identity_differences(saved: Mapping[str, Any], current: Mapping[str, Any], prefix: str = "") -> list[str]:
    """'field: checkpoint X != now Y' for every (nested) field that differs."""
    differences = []
    for name in sorted(set(saved) | set(current)):
        old, new = saved.get(name), current.get(name)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            differences.extend(identity_differences(old, new, f"{prefix}{name}."))
        elif old != new:
            differences.append(f"{prefix}{name}: checkpoint {old!r} != now {new!r}")
    return differences


@dataclass
class CheckpointChoice:
    """What a run starts from: `state` loaded from `source` (None: fresh), and the one line saying so."""

    target: Path | None  # None: no checkpoint at all
    source: Path | None
    state: dict[str, Any] | None
    started: str

    @property
    def extends(self) -> bool:
        """The state comes from another file, which is copied (not moved) to the target first."""
        return self.source is not None and self.source != self.target


def choose_checkpoint(spec: CheckpointSpec, epochs: int, resume: bool = True) -> CheckpointChoice:
    """The checkpoint a request for `epochs` epochs starts from (module docstring); states load on the CPU.

    resume=False: always fresh; the (identity, epochs) file is overwritten after the first epoch.
    Raises CorruptCheckpointError for an unreadable candidate, CheckpointConfigMismatchError for a
    file whose stored identity differs from its name's (renamed by hand, or a hash collision).
    """
    target = spec.path(epochs)
    if not resume:
        verb = "overwriting" if target.exists() else "writing"
        return CheckpointChoice(target, None, None, f"fresh (resume=False), {verb} {target.name}")
    if target.exists():
        state = _load_matching(spec, target)
        done = int(state["epochs_completed"])
        if done > epochs:
            raise CheckpointConfigMismatchError(f"{target} holds {done} epochs, more than the {epochs} of its name")
        if done == epochs:
            return CheckpointChoice(target, target, state, f"complete {target.name}")
        return CheckpointChoice(target, target, state, f"resumed {done}/{epochs} from {target.name}")
    best: tuple[int, Path, dict[str, Any]] | None = None
    for _, path in spec.siblings():
        state = _load_matching(spec, path)
        done = int(state["epochs_completed"])
        if done <= epochs and (best is None or done > best[0]):
            best = (done, path, state)
    if best is None:
        return CheckpointChoice(target, None, None, f"fresh, writing {target.name}")
    done, path, state = best
    after = f"{done} epoch" if done == 1 else f"{done} epochs"
    return CheckpointChoice(target, path, state, f"extended from {path.name} after {after}, writing {target.name}")


def _load_matching(spec: CheckpointSpec, path: Path) -> dict[str, Any]:
    state = load_checkpoint(path, map_location="cpu")
    differences = spec.differences(state)
    if differences:
        raise CheckpointConfigMismatchError(
            f"{path} was written by a different run than its name says; refusing to use it. Differing fields: "
            + "; ".join(differences) + ". Delete or rename it.")
    return state


def copied_state(choice: CheckpointChoice, epochs: int) -> dict[str, Any]:
    """The source's state as the target file holds it: the same, with the target's epoch count."""
    if choice.state is None:
        raise ValueError("a fresh start has no state to copy")
    config = {**choice.state.get("config", {}), "epochs": int(epochs)}
    return {**choice.state, "config": config, "target_epochs": int(epochs)}


__all__ = [
    "CHECKPOINT_FORMAT", "CheckpointChoice", "CheckpointConfigMismatchError", "CheckpointSpec",
    "CorruptCheckpointError", "architecture_fingerprint", "choose_checkpoint", "copied_state",
    "identity_differences", "load_checkpoint", "load_trained", "model_code_fingerprint", "plain_json",
    "save_checkpoint",
]
