"""Tiny notebooks with a `parameters` cell, for the runner's tests (papermill executes them for real)."""
from __future__ import annotations

import json
from pathlib import Path


def write_notebook(path: Path, body: str, parameters: str = "value = 1\n") -> None:
    """A heading, a cell tagged `parameters`, and one code cell holding `body`."""
    cells = [
        {"id": "heading", "cell_type": "markdown", "metadata": {}, "source": [f"# {path.stem} heading\n"]},
        {"id": "parameters", "cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": parameters,
         "outputs": [], "execution_count": None},
        {"id": "body", "cell_type": "code", "metadata": {}, "source": body, "outputs": [], "execution_count": None},
    ]
    notebook = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}
    path.write_text(json.dumps(notebook))


def write_workbook(root: Path) -> None:
    """notebooks/ and params/<profile>/data.yaml of every profile, pointing at real-data roots that do not exist."""
    (root / "notebooks").mkdir()
    for profile in ("smoke", "default", "paper"):
        (root / "params" / profile).mkdir(parents=True)
        (root / "params" / profile / "data.yaml").write_text(
            "source: real\ndataset_label: real\ndeepfashion_c_root: a\nfld_root: b\nfashionai_root: c\n"
            "inshop_root: d\n")
