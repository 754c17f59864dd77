"""Tables notebooks refuse to print a table whose numbers were never computed."""
from __future__ import annotations

from pathlib import Path

import papermill
import pytest

from fashion_core import experiments

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_load_metrics_names_the_notebook_that_writes_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    with pytest.raises(experiments.MissingMetricsError, match=r"liu2018\.json is missing: run the liu2018_train notebook"):
        experiments.load_metrics("smoke", "liu2018")


@pytest.mark.parametrize("notebook, producer", [("liu2018_tables", "liu2018_train"), ("fashionnet_tables", "fashionnet_train")])
def test_tables_notebook_fails_clearly_without_metrics(tmp_path, monkeypatch, notebook, producer):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))  # an empty workbook: no metrics files
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"profile": "smoke"}, kernel_name="python3", progress_bar=False,
                                   cwd=str(tmp_path))
    assert failure.value.ename == "MissingMetricsError"
    assert f"run the {producer} notebook for profile 'smoke'" in failure.value.evalue
