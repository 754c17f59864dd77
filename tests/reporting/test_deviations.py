"""The per-paper deviation tables: every paper has one, no cell is empty, and parameter cells follow the params."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fashion_core.experiments.variants import PRODUCERS
from fashion_core.params import notebook_parameters
from fashion_core.reporting import deviations
from fashion_core.reporting.ledger import PAPER_ORDER

REPO = Path(__file__).resolve().parents[2]
PAPERS = list(PAPER_ORDER)


def paper_yaml(paper: str) -> dict:
    return yaml.safe_load((REPO / "params" / "paper" / f"{PRODUCERS[paper]}.yaml").read_text(encoding="utf-8"))


def notebook_defaults(paper: str) -> dict:
    declared = notebook_parameters(REPO / "notebooks" / f"{PRODUCERS[paper]}.ipynb")
    return {name: parameter.default for name, parameter in declared.items()}


def row(table, *topics: str):
    """The row whose topic is one of `topics` (papers word the same topic a little differently)."""
    matches = table[table["topic"].isin(topics)]
    assert len(matches) == 1, f"expected one row among topics {topics}, found {list(table['topic'])}"
    return matches.iloc[0]


@pytest.fixture(scope="module")
def tables():
    return {paper: deviations.deviation_table(paper) for paper in PAPERS}


def test_every_paper_has_a_table_with_the_columns_and_no_empty_cell(tables):
    assert set(deviations.DEVIATIONS) == set(PAPERS)
    for paper, table in tables.items():
        assert list(table.columns) == list(deviations.COLUMNS), paper
        assert len(table) >= 8, paper
        assert table["topic"].is_unique, paper
        empty = [(line["topic"], column) for _, line in table.iterrows() for column in table.columns
                 if not (isinstance(line[column], str) and line[column].strip())]
        assert empty == [], paper


@pytest.mark.parametrize("paper", PAPERS)
def test_the_paper_profile_cells_read_params_paper(tables, paper):
    table, params = tables[paper], paper_yaml(paper)
    size = params["input_size"]
    assert row(table, "input", "input and heatmaps", "input and belief maps", "input and attention grid")[
        "workbook (paper profile)"].startswith(f"{size} x {size} px")
    assert row(table, "epochs and batch")["workbook (paper profile)"] == \
        f"{params['epochs']} epochs, batch {params['batch_size']}"
    assert f"lr {params['lr']:g}," in row(table, "optimiser and learning rate")["workbook (paper profile)"]
    assert row(table, "seeds")["workbook (paper profile)"].startswith(f"{len(params['seeds'])} seeds")
    assert row(table, "trunk")["workbook (paper profile)"].startswith(params["backbone"])
    if "train_flips" in params:
        flips = row(table, "training flips")["workbook (paper profile)"]
        assert flips.startswith("no flips") is (params["train_flips"] is False)


@pytest.mark.parametrize("paper", PAPERS)
def test_the_default_profile_cells_read_the_notebooks_parameters_cell(tables, paper):
    table, defaults = tables[paper], notebook_defaults(paper)
    assert row(table, "epochs and batch")["workbook (default profile)"] == \
        f"{defaults['epochs']} epochs, batch {defaults['batch_size']}"
    assert row(table, "trunk")["workbook (default profile)"].startswith(defaults["backbone"])
    assert "SynthFashion" in row(table, "data", "data (Tables 1-2)")["workbook (default profile)"]
    assert "SynthFashion" not in row(table, "data", "data (Tables 1-2)")["workbook (paper profile)"]


def test_a_changed_parameter_changes_its_cell():
    values = {profile: deviations.profile_values("dafe", profile) for profile in deviations.SHOWN_PROFILES}
    values["paper"] = {**values["paper"], "input_size": 256, "cas_activation": "sigmoid", "train_flips": True}
    table = deviations.deviation_table("dafe", values)
    assert row(table, "input and heatmaps")["workbook (paper profile)"].startswith("256 x 256 px")
    assert "heatmaps 64 x 64" in row(table, "input and heatmaps")["workbook (paper profile)"]
    assert row(table, "CAS gate")["workbook (paper profile)"].startswith("U = sigmoid")
    assert row(table, "training flips")["workbook (paper profile)"].startswith("random")


def test_the_dafe_and_fpm_paper_profiles_add_no_flip_the_papers_do_not_describe(tables):
    for paper in ("dafe", "fpm"):
        assert row(tables[paper], "training flips")["workbook (paper profile)"].startswith("no flips")
        assert row(tables[paper], "training flips")["workbook (default profile)"].startswith("random")


def test_a_row_reading_an_undeclared_parameter_names_the_row_and_the_parameter():
    values = {profile: deviations.profile_values("liu2018", profile) for profile in deviations.SHOWN_PROFILES}
    values["paper"] = {key: value for key, value in values["paper"].items() if key != "landmark_loss_weight"}
    with pytest.raises(KeyError, match="'loss weights' reads parameter 'landmark_loss_weight'.*profile 'paper'"):
        deviations.deviation_table("liu2018", values)
    with pytest.raises(KeyError, match="no deviation table for 'deepfashion2'"):
        deviations.deviation_table("deepfashion2")


def test_save_writes_the_table_under_the_profile(tmp_path, monkeypatch):
    for folder in ("notebooks", "params"):
        (tmp_path / folder).symlink_to(REPO / folder)
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    table = deviations.save_deviation_table("fpm", "smoke")
    written = (tmp_path / "reports" / "smoke" / "tables" / "fpm_deviations.md").read_text(encoding="utf-8")
    assert written.startswith("Where the workbook departs from the paper (fpm)")
    assert all(topic in written for topic in table["topic"])
    assert (tmp_path / "reports" / "smoke" / "tables" / "fpm_deviations.csv").is_file()
