"""Tables notebooks refuse to print a table whose numbers were never computed, and save their claims one way."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import papermill
import pytest

from fashion_core import experiments
from fashion_core.reporting import claims

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


def _claims_call(notebook: str) -> tuple[ast.Call, str]:
    """The notebook's one claims.save_paper_claims call, and the source of the cell holding it."""
    cells = json.loads((NOTEBOOKS / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
    found = []
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] != "code" or "save_paper_claims" not in source:
            continue
        found += [(node, source) for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Attribute) and node.func.attr == "save_paper_claims"]
    assert len(found) == 1, f"{notebook}: expected one claims.save_paper_claims call, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("paper", ["fashionnet", "liu2018", "dafe", "fpm", "m2fashion"])
def test_tables_notebook_saves_its_papers_claims_with_every_file_they_read(paper):
    call, source = _claims_call(f"{paper}_tables")
    assert source.startswith("print(claims.VERDICT_RULE)\n"), "the claims cell prints the verdict rule first"
    assert ast.literal_eval(call.args[0]) == paper
    files = call.args[1]
    assert isinstance(files, ast.Dict)
    passed = {ast.literal_eval(key): value.id for key, value in zip(files.keys, files.values)}
    read = {file for claim in claims.CLAIMS[paper] for file, _ in (claim.row_a, claim.row_b)}
    assert set(passed) == read | {paper}
    assert all(name == variable for name, variable in passed.items()), "each file under the name it is loaded as"
