"""Atomic file writes, staged sets of files committed in one step, and one writer per folder.

A crash or a Ctrl-C never leaves a half-written report or checkpoint, nor a report whose
files come from two runs.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; it replaces `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Keep the real suffix last: some writers (papermill, matplotlib) check it.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(target: str | os.PathLike, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_json_atomic(target: str | os.PathLike, payload: Any) -> Path:
    return write_text_atomic(target, json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays show up in metrics dicts; store them as plain JSON.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


# ----------------------------------------------------------------------------- staged sets of files
COMMIT_JOURNAL = ".commit.json"


def commit_staged_tree(staging: Path, target: Path, removals: list[str] = ()) -> list[str]:
    """Move every file of `staging` to the same place under `target`, and delete `removals` there.

    The list of moves is written to a journal first: from then on the commit is decided, and a
    process killed half-way through is completed by recover_staged_trees at the next start, so
    `target` ends with either all of the old set or all of the new one. Returns the moved paths.
    """
    staging, target = Path(staging), Path(target)
    # Dot files at the top of the staging folder are its own bookkeeping (removals, journal).
    moves = sorted(path.relative_to(staging).as_posix() for path in staging.rglob("*")
                   if path.is_file() and not (path.parent == staging and path.name.startswith(".")))
    write_json_atomic(staging / COMMIT_JOURNAL, {"moves": moves, "removals": sorted(set(removals) - set(moves))})
    _apply_journal(staging, target)
    return moves


def _apply_journal(staging: Path, target: Path) -> None:
    journal = json.loads((staging / COMMIT_JOURNAL).read_text(encoding="utf-8"))
    for relative in journal["moves"]:
        source = staging / relative
        if source.exists():  # absent: moved before a kill interrupted the commit
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target / relative)
    for relative in journal["removals"]:
        (target / relative).unlink(missing_ok=True)
    shutil.rmtree(staging)


def recover_staged_trees(staging_root: Path, target: Path) -> list[str]:
    """Finish the commits a kill interrupted, discard the staging of runs killed before theirs.

    Returns one line per staging folder found, saying which it was.
    """
    said = []
    for staging in sorted(Path(staging_root).iterdir()) if Path(staging_root).is_dir() else ():
        if (staging / COMMIT_JOURNAL).exists():
            _apply_journal(staging, target)
            said.append(f"completed the interrupted commit of {staging.name}")
        else:
            shutil.rmtree(staging)
            said.append(f"discarded the unfinished output of {staging.name} (its run was stopped before it succeeded)")
    with contextlib.suppress(OSError):
        Path(staging_root).rmdir()
    for leftover in sorted(Path(target).rglob(".*.tmp*")) if Path(target).is_dir() else ():
        if leftover.is_file():
            leftover.unlink()
            said.append(f"removed the partial file {leftover.relative_to(target)}")
    return said


# ----------------------------------------------------------------------------- one writer per folder
LOCK_FILE = ".lock"


class FolderLockedError(RuntimeError):
    """Another live process holds the folder's lock; names its PID and command."""


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, purpose: str) -> Iterator[list[str]]:
    """Hold `folder`/.lock for the block: a second writer is refused, a lock whose process is gone is replaced.

    Yields a list with a line to print when a stale lock was replaced (empty otherwise).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_FILE
    record = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    said: list[str] = []
    # The record is written to a temporary file and linked into place: a lock file is never seen empty
    # or half-written, so a process taking the lock is never mistaken for a stale one.
    try:
        descriptor, candidate = tempfile.mkstemp(prefix=f"{LOCK_FILE}.", suffix=".tmp", dir=folder)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(lock)) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.chmod(candidate, 0o644)
        while True:
            try:
                os.link(candidate, lock)
            except FileExistsError:
                holder = _lock_holder(lock)
                if holder is not None and _holder_alive(holder):
                    raise FolderLockedError(
                        f"{folder} is in use by PID {holder['pid']} on {holder['host']} "
                        f"({holder.get('purpose', '?')}, since {holder.get('started', '?')}); wait for it to "
                        f"finish, or stop it. If that process is gone, delete {lock}") from None
                lock.unlink(missing_ok=True)
                said.append(f"replaced the stale lock {lock} of PID {holder['pid'] if holder else '?'} "
                            "(no longer running)")
                continue
            break
    finally:
        os.unlink(candidate)
    try:
        yield said
    finally:
        if _lock_holder(lock) == record:
            lock.unlink(missing_ok=True)


def _lock_holder(lock: Path) -> dict | None:
    try:
        holder = json.loads(lock.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None


def _holder_alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # another machine's process cannot be checked from here: assume it runs
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
