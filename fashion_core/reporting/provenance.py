"""Which code and which run each report comes from: reports/<profile>/provenance/<notebook>.json.

run_all writes one record per executed notebook into the notebook's staged set, so the record
changes together with the report it describes; the index prints it beside every notebook.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from fashion_core.io import write_json_atomic
from fashion_core.paths import repo_root, report_files

PROVENANCE = "provenance"
# What decides a report's content: the package, the notebooks and their params.
SOURCE_FOLDERS = ("fashion_core", "notebooks", "params")


def source_digest(root: Path | None = None) -> str:
    """sha256 (12 hex digits) over the package's .py files, the notebooks and the params, by path and bytes."""
    root = root or repo_root()
    digest = hashlib.sha256()
    for folder in SOURCE_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".ipynb", ".yaml") and "__pycache__" not in path.parts:
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def git_version(root: Path | None = None) -> str:
    """`git describe --always --dirty` of the checkout, or 'not a git checkout'."""
    try:
        completed = subprocess.run(["git", "-C", str(root or repo_root()), "describe", "--always", "--dirty"],
                                   capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "not a git checkout"
    return completed.stdout.strip() if completed.returncode == 0 else "not a git checkout"


def code_version(root: Path | None = None) -> dict[str, str]:
    return {"git": git_version(root), "source_sha256": source_digest(root)}


def write_provenance(folder: Path, notebook: str, run_id: str, version: dict[str, str], profile: str,
                     started: str, finished: str) -> Path:
    """provenance/<notebook>.json under `folder` (a notebook's staging folder)."""
    return write_json_atomic(folder / PROVENANCE / f"{notebook}.json", {
        "notebook": notebook, "profile": profile, "run": run_id, "code": version,
        "started": started, "finished": finished,
    })


def load_provenance(profile: str) -> dict[str, dict[str, Any]]:
    """Every notebook's provenance record, by notebook name."""
    records = {}
    for path in report_files(profile, PROVENANCE, "*.json"):
        try:
            records[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return records


def describe(record: dict[str, Any] | None) -> str:
    """'run 20261202T051500-1234, code 57b2303 (sources 0123456789ab)', or a note that none was recorded."""
    if not record:
        return "no provenance recorded (executed outside run_all)"
    code = record.get("code", {})
    return f"run {record.get('run', '?')}, code {code.get('git', '?')} (sources {code.get('source_sha256', '?')})"
