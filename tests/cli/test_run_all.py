"""run_all's runner: keeps going past a failing notebook, names it, never leaves half a report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from notebook_fixtures import write_notebook, write_workbook

from fashion_core.cli import run


@pytest.fixture()
def tiny_workbook(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    write_workbook(tmp_path)
    write_notebook(tmp_path / "notebooks" / "10_good.ipynb", "print('value is', value)\n")
    write_notebook(tmp_path / "notebooks" / "20_broken.ipynb", "raise RuntimeError('deliberately broken')\n")
    (tmp_path / "params" / "smoke" / "10_good.yaml").write_text("value: 7\n")
    return tmp_path


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_failing_notebook_is_named_and_the_rest_still_runs(tiny_workbook, capsys, jobs):
    """In this process (--jobs 1) and with notebooks side by side in child processes (--jobs 2)."""
    reports = tiny_workbook / "reports" / "smoke"
    reports.mkdir(parents=True)
    previous = reports / "20_broken.ipynb"
    previous.write_text("previous complete report")

    status = run.main(["--profile", "smoke", "--jobs", jobs])

    captured = capsys.readouterr()
    assert status == 1
    assert "1 notebook(s) failed: 20_broken" in captured.err
    good = json.loads((reports / "10_good.ipynb").read_text())
    assert "value is 7\n" in "".join(good["cells"][-1]["outputs"][0]["text"])
    # A failed execution never replaces the last complete report.
    assert previous.read_text() == "previous complete report"
    assert (reports / ".failed" / "20_broken.ipynb").exists()
    assert not list(reports.glob(".*.tmp*"))
    index = (reports / "index.md").read_text()
    assert "Failed notebooks:** 20_broken" in index and "[10_good](10_good.ipynb)" in index
    assert "Timing summary" in captured.out
    timing = json.loads((reports / "timing.json").read_text())
    assert timing["jobs"] == int(jobs) and timing["failed"] == ["20_broken"]
    assert set(timing["notebooks"]) == {"(data)", "10_good", "20_broken"}


def test_bad_params_stop_before_any_work(tiny_workbook, capsys):
    (tiny_workbook / "params" / "smoke" / "10_good.yaml").write_text("valeu: 7\n")
    status = run.main(["--profile", "smoke"])
    assert status == 2
    assert "unknown parameter 'valeu'; did you mean 'value'?" in capsys.readouterr().err
    assert not (tiny_workbook / "reports").exists()


def test_notebook_order_trains_before_tables_and_report_last():
    names = ["90_reproduction_report", "m2fashion_tables", "fashionnet_attention", "00_synthfashion_tour",
             "fashionnet_train", "m2fashion_train", "fashionnet_tables", "dafe_train"]
    ordered = [path.stem for path in sorted((Path(f"{name}.ipynb") for name in names), key=run.notebook_sort_key)]
    assert ordered == ["00_synthfashion_tour", "fashionnet_train", "dafe_train", "m2fashion_train",
                       "fashionnet_tables", "m2fashion_tables", "fashionnet_attention", "90_reproduction_report"]


def test_waves_run_training_before_tables_and_the_report_alone_last():
    names = ["90_reproduction_report", "m2fashion_tables", "fashionnet_attention", "00_synthfashion_tour",
             "fashionnet_train", "m2fashion_train", "dafe_train"]
    notebooks = sorted((Path(f"{name}.ipynb") for name in names), key=run.notebook_sort_key)
    assert [[path.stem for path in wave] for wave in run.waves(notebooks)] == [
        ["00_synthfashion_tour", "fashionnet_train", "dafe_train", "m2fashion_train"],
        ["m2fashion_tables", "fashionnet_attention"],
        ["90_reproduction_report"]]
    assert run.default_jobs("paper") == 1
