"""Params are validated against each notebook's parameters cell before any work starts."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from fashion_core import params
from fashion_core.params import ParamsError

PARAMETERS_CELL = '''\
data_root = "data/x"  # where the data is
epochs = 3  # training epochs
learning_rate = 1e-3
use_flip = True
seeds = [0, 1, 2]
'''


def _write_notebook(path: Path, parameters_source: str = PARAMETERS_CELL) -> Path:
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n"]},
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": parameters_source,
             "outputs": [], "execution_count": None},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))
    return path


@pytest.fixture()
def workbook(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    (tmp_path / "notebooks").mkdir()
    for profile in params.PROFILES:
        (tmp_path / "params" / profile).mkdir(parents=True)
        (tmp_path / "params" / profile / "data.yaml").write_text(
            "source: synthfashion\ndataset_label: SynthFashion\n"
            "synthfashion: {out: data/s, n_train: 4, n_val: 2, n_test: 2}\n"
            "synthfashion_inshop: {out: data/s_inshop, n_train_items: 2, n_test_items: 2}\n"
        )
    notebook = _write_notebook(tmp_path / "notebooks" / "demo_train.ipynb")
    return tmp_path, notebook


def test_parameters_cell_gives_names_defaults_and_help(workbook):
    _, notebook = workbook
    declared = params.notebook_parameters(notebook)
    assert list(declared) == ["data_root", "epochs", "learning_rate", "use_flip", "seeds"]
    assert declared["epochs"].default == 3 and declared["epochs"].help == "training epochs"


def test_yaml_overrides_defaults(workbook):
    root, notebook = workbook
    (root / "params" / "smoke" / "demo_train.yaml").write_text("epochs: 1\nlearning_rate: 1\n")
    values = params.resolved_parameters("smoke", notebook)
    assert values["epochs"] == 1 and values["learning_rate"] == 1 and values["use_flip"] is True


def test_mistyped_key_is_an_error_naming_file_and_suggestion(workbook):
    root, notebook = workbook
    yaml_path = root / "params" / "smoke" / "demo_train.yaml"
    yaml_path.write_text("epoch: 1\n")
    with pytest.raises(ParamsError, match=r"demo_train\.yaml:1: unknown parameter 'epoch'; did you mean 'epochs'\?"):
        params.resolved_parameters("smoke", notebook)


@pytest.mark.parametrize("text, key, expected", [
    ("epochs: '3'\n", "epochs", "int"),
    ("use_flip: 1\n", "use_flip", "bool"),
    ("learning_rate: fast\n", "learning_rate", "float"),
    ("seeds: 3\n", "seeds", "list"),
])
def test_wrong_type_is_an_error(workbook, text, key, expected):
    root, notebook = workbook
    (root / "params" / "smoke" / "demo_train.yaml").write_text(text)
    with pytest.raises(ParamsError, match=rf"demo_train\.yaml:1: parameter '{key}' expected a value of type {expected}"):
        params.resolved_parameters("smoke", notebook)


def test_params_file_without_a_notebook_is_an_error(workbook):
    root, notebook = workbook
    (root / "params" / "default" / "demo_trian.yaml").write_text("epochs: 1\n")
    with pytest.raises(ParamsError, match=r"no notebook named demo_trian\.ipynb; did you mean demo_train\.yaml\?"):
        params.validate_profile("default", [notebook])


def test_data_roots_reach_notebooks_that_declare_them(workbook):
    root, _ = workbook
    notebook = _write_notebook(root / "notebooks" / "demo_tables.ipynb",
                               'deepfashion_c_root = ""\ndataset_label = ""\nprofile = ""\nprogress_bars = True\n')
    values = params.resolved_parameters("smoke", notebook)
    assert values["deepfashion_c_root"] == str(root / "data" / "s" / "deepfashion_c")
    assert values["dataset_label"] == "SynthFashion" and values["profile"] == "smoke"
    assert values["progress_bars"] is False  # bars are timing noise in a saved report


def test_real_roots_come_from_the_environment_first(workbook, monkeypatch):
    root, _ = workbook
    (root / "params" / "paper" / "data.yaml").write_text(
        "source: real\ndataset_label: real\ndeepfashion_c_root: a\nfld_root: b\nfashionai_root: c\ninshop_root: d\n")
    monkeypatch.setenv("FLD_ROOT", "/datasets/fld")
    config = params.load_data_config("paper")
    assert config.value("fld_root") == "/datasets/fld"
    assert config.value("deepfashion_c_root") == str(root / "a")


@pytest.mark.parametrize("text, message", [
    ("source: synthetic\ndataset_label: x\n", "key 'source' expected 'synthfashion' or 'real'"),
    ("source: synthfashion\ndataset_label: x\nsynthfashion: {out: d, n_train: 1, n_val: 1}\n", "missing required keys: n_test"),
    ("source: synthfashion\ndataset_label: x\nsynthfashion: {out: d, n_train: '1', n_val: 1, n_test: 1}\n", "synthfashion.n_train expected int"),
    ("source: synthfashion\ndataset_label: x\nsynthfashon: {}\n", "unknown key 'synthfashon'; did you mean 'synthfashion'"),
    ("source: [\n", "expected valid YAML"),
    ("source: synthfashion\ndataset_label: x\nsynthfashion: {out: d, n_train: 1, n_val: 1, n_test: 1}\n",
     "key 'synthfashion_inshop' expected a mapping"),
    ("source: synthfashion\ndataset_label: x\nsynthfashion: {out: d, n_train: 1, n_val: 1, n_test: 1}\n"
     "synthfashion_inshop: {out: e, n_train_items: 2, n_test_items: 2, images_per_item: [2]}\n",
     "synthfashion_inshop.images_per_item expected [lowest, highest] image counts, got [2]"),
])
def test_bad_data_config_is_an_error(workbook, text, message):
    root, _ = workbook
    (root / "params" / "smoke" / "data.yaml").write_text(text)
    with pytest.raises(ParamsError, match=message.replace("(", r"\(").replace("[", r"\[")):
        params.load_data_config("smoke")


def test_parameters_cell_must_hold_literals(workbook):
    root, _ = workbook
    notebook = _write_notebook(root / "notebooks" / "bad.ipynb", "epochs = compute()\n")
    with pytest.raises(ParamsError, match="expected a literal value for 'epochs'"):
        params.notebook_parameters(notebook)


def test_the_repository_params_are_valid():
    """Every committed params file validates against its notebook (the run_all pre-flight)."""
    from fashion_core.cli.run import discover_notebooks

    notebooks = discover_notebooks()
    for profile in params.PROFILES:
        params.validate_profile(profile, notebooks)
