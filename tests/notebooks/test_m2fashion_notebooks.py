"""The three M2Fashion notebooks: they refuse to run without the training's metrics, and the smoke profile runs and re-runs identically."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import papermill
import pytest

from fashion_core import experiments
from fashion_core.cli import run

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = ("m2fashion_train", "m2fashion_tables", "m2fashion_attention")
# m2fashion_tables sets M2Fashion beside the FashionNet and Liu & Lu rows and scores the claims against them.
COMPARED = ("fashionnet_train", "liu2018_train")


@pytest.mark.parametrize("notebook", ["m2fashion_tables", "m2fashion_attention"])
def test_readers_fail_clearly_without_metrics(tmp_path, monkeypatch, notebook):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))  # an empty workbook: no metrics files
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(str(REPO / "notebooks" / f"{notebook}.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"profile": "smoke"}, kernel_name="python3", progress_bar=False,
                                   cwd=str(tmp_path))
    assert failure.value.ename == "MissingMetricsError"
    assert "run the m2fashion_train notebook for profile 'smoke'" in failure.value.evalue


def test_missing_metrics_names_the_producer(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    with pytest.raises(experiments.MissingMetricsError, match=r"m2fashion\.json is missing: run the m2fashion_train"):
        experiments.load_metrics("smoke", "m2fashion")


@pytest.fixture()
def smoke_workbook(tmp_path, monkeypatch):
    """A workbook with the M2Fashion notebooks, the two train notebooks they compare with, and the smoke
    SynthFashion data (shared, read-only)."""
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    (tmp_path / "notebooks").mkdir()
    for name in (*NOTEBOOKS, *COMPARED):
        shutil.copy(REPO / "notebooks" / f"{name}.ipynb", tmp_path / "notebooks")
    for profile in ("smoke", "default", "paper"):
        (tmp_path / "params" / profile).mkdir(parents=True)
        shutil.copy(REPO / "params" / profile / "data.yaml", tmp_path / "params" / profile)
    for name in ("m2fashion_train", *COMPARED):
        shutil.copy(REPO / "params" / "smoke" / f"{name}.yaml", tmp_path / "params" / "smoke")
    data = REPO / "data" / "synthfashion" / "smoke"
    if not data.is_dir():
        pytest.skip("the smoke SynthFashion data is not generated (./run_all.sh --profile smoke makes it)")
    (tmp_path / "data" / "synthfashion").mkdir(parents=True)
    (tmp_path / "data" / "synthfashion" / "smoke").symlink_to(data)
    return tmp_path


@pytest.mark.slow
def test_smoke_profile_runs_and_nbval_reproduces_it(smoke_workbook):
    assert run.main(["--profile", "smoke", "--only", *COMPARED, *NOTEBOOKS]) == 0
    reports = smoke_workbook / "reports" / "smoke"
    recorded = experiments.load_metrics("smoke", "m2fashion")
    assert set(recorded["rows"]) == {variant.key for variant in experiments.VARIANTS["m2fashion"].values()}
    assert {"m2fashion_table1.md", "m2fashion_table2.md", "m2fashion_table3.md", "m2fashion_claims.md"} <= \
        {path.name for path in (reports / "tables").iterdir()}
    assert (reports / "figures" / "m2fashion_attention_grid.png").exists()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "--nbval-sanitize-with",
         str(REPO / "tests" / "nbval_sanitize.cfg"), "-p", "no:cacheprovider", "-q",
         *[str(reports / f"{name}.ipynb") for name in NOTEBOOKS]],
        cwd=smoke_workbook, env={**os.environ, "FASHION_WORKBOOK_ROOT": str(smoke_workbook)},
        capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
