"""Where the workbook lives, independent of the kernel's working directory.

papermill runs a notebook in one directory and nbval re-runs it in another,
so no notebook may depend on its cwd: every relative path is resolved here.
"""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout holding `fashion_core/` (installed editable), or $FASHION_WORKBOOK_ROOT."""
    override = os.environ.get("FASHION_WORKBOOK_ROOT")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[1]


def reports_dir(profile: str) -> Path:
    return repo_root() / "reports" / profile


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"
