"""Parameter values meet declared constraints before any work: in run_all's pre-flight and in the training CLI.

The workbook's own notebooks and params are copied into a temporary root (FASHION_WORKBOOK_ROOT), a
params file is written there, and the error must name the file, the line of the key, the key, the
value and the allowed range. The CLI cases point --data at a folder that does not exist: the params
error still comes first, so nothing was loaded.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fashion_core import params
from fashion_core.cli import run, train
from fashion_core.params import ParamsError
from fashion_core.paths import notebooks_dir, repo_root

REPOSITORY = repo_root()
MISSING_DATA = "/nonexistent/fashion-data"


@pytest.fixture()
def workbook(tmp_path, monkeypatch):
    """A copy of the repository's notebooks and params, as the repo root."""
    shutil.copytree(REPOSITORY / "notebooks", tmp_path / "notebooks")
    shutil.copytree(REPOSITORY / "params", tmp_path / "params")
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    return tmp_path


def _all_notebooks() -> list[Path]:
    return sorted(notebooks_dir().glob("*.ipynb"))


def _refused(root: Path, notebook: str, text: str, profile: str = "default") -> str:
    (root / "params" / profile / f"{notebook}.yaml").write_text(text)
    with pytest.raises(ParamsError) as raised:
        params.validate_profile(profile, _all_notebooks())
    return str(raised.value)


# ---- the measured cases -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("epochs: -2\n", "dafe_train.yaml:1: parameter 'epochs' expected an integer >= 1, got -2"),
    ("batch_size: 0\n", "dafe_train.yaml:1: parameter 'batch_size' expected an integer >= 1, got 0"),
    ("seeds: []\n", "dafe_train.yaml:1: parameter 'seeds' expected a non-empty list of distinct entries, "
                    "each an integer >= 0, got []"),
])
def test_measured_bad_values_are_refused_naming_file_line_key_value_and_range(workbook, text, message):
    error = _refused(workbook, "dafe_train", text)
    assert str(workbook / "params" / "default") in error and message in error


def test_the_line_is_the_key_s_line(workbook):
    error = _refused(workbook, "dafe_train", "# comment\nepochs: 2\n\nbatch_size: 0\n")
    assert "dafe_train.yaml:4: parameter 'batch_size' expected an integer >= 1, got 0" in error


def test_run_all_refuses_them_before_any_work(workbook, capsys):
    (workbook / "params" / "default" / "dafe_train.yaml").write_text("epochs: -2\n")
    assert run.main(["--profile", "default"]) == 2
    error = capsys.readouterr().err
    assert "dafe_train.yaml:1: parameter 'epochs' expected an integer >= 1, got -2" in error
    assert not (workbook / "data").exists() and not (workbook / "reports" / "default").exists()


def test_a_key_given_twice_is_refused_naming_both_lines(workbook):
    error = _refused(workbook, "dafe_train", "epochs: 2\nbatch_size: 8\nepochs: 3\n")
    assert "dafe_train.yaml: key 'epochs' given twice, on lines 1 and 3" in error


def test_a_key_given_twice_in_a_nested_mapping_is_refused(workbook):
    data = workbook / "params" / "smoke" / "data.yaml"
    data.write_text("source: synthfashion\ndataset_label: x\nsynthfashion:\n  out: d\n  n_train: 4\n"
                    "  n_val: 2\n  n_test: 2\n  n_train: 8\n")
    with pytest.raises(ParamsError, match=r"data\.yaml: key 'n_train' given twice, on lines 5 and 8"):
        params.load_data_config("smoke")


def test_merge_keys_may_be_overridden(tmp_path):
    path = tmp_path / "merged.yaml"
    path.write_text("base: &base {a: 1, b: 2}\nderived:\n  <<: *base\n  a: 3\n")
    content, lines = params.read_yaml_with_lines(path)
    assert content["derived"] == {"a": 3, "b": 2} and lines == {"base": 1, "derived": 2}


# ---- every constraint refuses a value outside its range -----------------------------------------------

@pytest.mark.parametrize("notebook, key, value, expected", [
    ("dafe_train", "lr", "0.0", "a number > 0"),
    ("dafe_train", "fpm_lr", "-0.1", "a number > 0"),
    ("dafe_train", "lr_gamma", "1.5", "a number in (0, 1]"),
    ("dafe_train", "lr_gamma", "0.0", "a number in (0, 1]"),
    ("dafe_train", "lr_step_size", "0", "an integer >= 1"),
    ("dafe_train", "optimizer", "rmsprop", "one of 'adam', 'sgd', 'adamw'"),
    ("dafe_train", "lr_schedule", "cosine", "one of 'exponential', 'step', 'constant'"),
    ("dafe_train", "seeds", "[0, 0]", "a non-empty list of distinct entries, each an integer >= 0"),
    ("dafe_train", "seeds", "[-1]", "a non-empty list of distinct entries, each an integer >= 0"),
    ("dafe_train", "width", "0.0", "a number in (0, 1]"),
    ("dafe_train", "comparison_width", "1.5", "a number in (0, 1]"),
    ("dafe_train", "input_size", "48", "an integer >= 32 that is a multiple of 32"),
    ("dafe_train", "input_size", "0", "an integer >= 32 that is a multiple of 32"),
    ("dafe_train", "backbone", "vgg16", "one of 'resnet50', 'resnet_mini'"),
    ("dafe_train", "comparison_backbone", "resnet50", "one of 'vgg16', 'vgg_mini'"),
    ("dafe_train", "train_processes", "0", "an integer >= 1"),
    ("dafe_train", "num_workers", "-1", "an integer >= 0"),
    ("dafe_train", "fpm_stages", "0", "an integer >= 1"),
    ("dafe_train", "variants", "[]", "a non-empty list of distinct entries, each a non-empty string"),
    ("dafe_train", "variants", "[full, full]", "a non-empty list of distinct entries, each a non-empty string"),
    ("dafe_train", "benchmarks", "[FLD, COCO]",
     "a non-empty list of distinct entries, each one of 'DeepFashion-C', 'FLD'"),
    ("fashionnet_train", "step1_epochs", "0", "an integer >= 1"),
    ("fashionnet_train", "step2_epochs", "-1", "an integer >= 1"),
    ("fashionnet_train", "attribute_loss", "focal", "one of 'weighted', 'weighted_per_attribute', 'bce'"),
    ("liu2018_train", "landmark_loss_weight", "0.0", "a number > 0"),
    ("fpm_train", "stages", "0", "an integer >= 1"),
    ("fpm_train", "regression_landmark_weight", "-10.0", "a number > 0"),
    ("m2fashion_train", "feature_stride", "8", "one of 16, 32"),
    ("m2fashion_train", "similarity", "dot", "one of 'printed', 'cosine'"),
    ("m2fashion_train", "gallery_condition", "any", "one of 'query', 'unknown'"),
    ("m2fashion_train", "known_fraction", "1.0", "a number in [0, 1)"),
    ("m2fashion_train", "known_fractions", "[0.0, 1.0]",
     "a non-empty list of distinct entries, each a number in [0, 1)"),
    ("m2fashion_train", "reveal_seed", "-1", "an integer >= 0"),
    ("m2fashion_train", "query_every", "1", "an integer >= 2"),
    ("00_synthfashion_tour", "samples_per_category", "0", "an integer >= 1"),
    ("90_reproduction_report", "gallery_count", "0", "an integer >= 1"),
    ("90_reproduction_report", "opacity", "1.5", "a number in [0, 1]"),
    ("dafe_attention", "benchmark", "COCO", "one of 'DeepFashion-C', 'FLD'"),
    ("dafe_attention", "grid_images", "[]", "a non-empty list of distinct entries, each an integer >= 0"),
    ("fpm_attention", "variant", "''", "a non-empty string"),
    ("m2fashion_attention", "grid_conditions", "[]", "a non-empty list of distinct entries, each a non-empty string"),
])
def test_each_constraint_refuses_a_value_outside_it(workbook, notebook, key, value, expected):
    error = _refused(workbook, notebook, f"# a comment line first\n{key}: {value}\n")
    assert f"{notebook}.yaml:2: parameter {key!r} expected {expected}, got " in error


# ---- relations between parameters ---------------------------------------------------------------------

@pytest.mark.parametrize("notebook, text, message", [
    # the subject's own line when it is given, else the line of the parameter it depends on
    ("fashionnet_train", "backbone: vgg16\nwidth: 0.5\n",
     "fashionnet_train.yaml:2: parameter 'width' expected 1.0 with backbone 'vgg16'"),
    ("fashionnet_train", "backbone: vgg16\n",
     "fashionnet_train.yaml:1: parameter 'width' expected 1.0 with backbone 'vgg16'"),
    ("liu2018_train", "pretrained: true\n",
     "liu2018_train.yaml:1: parameter 'pretrained' expected false with backbone 'vgg_mini' (trained from scratch"),
    ("dafe_train", "comparison_weights_path: vgg16.pth\n",
     "dafe_train.yaml:1: parameter 'comparison_weights_path' expected '' with backbone 'vgg_mini'"),
    ("m2fashion_train", "feature_stride: 32\ninput_size: 32\n",
     "m2fashion_train.yaml:2: parameter 'input_size' expected a multiple of feature_stride 32 and at least 64"),
])
def test_relations_between_parameters(workbook, notebook, text, message):
    assert message in _refused(workbook, notebook, text)


# ---- defaults, the repository's profiles, and the table itself -----------------------------------------

def test_a_notebook_default_outside_its_constraint_is_refused_naming_its_cell_line(workbook):
    notebook = workbook / "notebooks" / "demo_train.ipynb"
    cell = {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": None,
            "source": "profile = 'default'  # reports\nepochs = 0  # training epochs\n"}
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(ParamsError, match=r"demo_train\.ipynb: parameters cell line 2: parameter 'epochs' "
                                          r"expected an integer >= 1, got 0"):
        params.resolved_parameters("smoke", notebook)


def test_every_notebook_default_and_every_profile_passes():
    notebooks = _all_notebooks()
    for notebook in notebooks:
        declared = params.notebook_parameters(notebook)
        params.validate_values({name: parameter.default for name, parameter in declared.items()}, declared)
    for profile in params.PROFILES:
        assert len(params.validate_profile(profile, notebooks)) == len(notebooks)


def test_every_parameter_of_every_notebook_is_decided():
    """A new parameter needs a constraint in CONSTRAINTS or a place in UNCONSTRAINED; no entry is dead."""
    declared = set()
    for notebook in _all_notebooks():
        declared |= set(params.notebook_parameters(notebook))
    undecided = declared - set(params.CONSTRAINTS) - params.UNCONSTRAINED
    assert not undecided, f"parameters with neither a constraint nor a place in UNCONSTRAINED: {sorted(undecided)}"
    assert not set(params.CONSTRAINTS) & params.UNCONSTRAINED
    assert set(params.CONSTRAINTS) | params.UNCONSTRAINED <= declared, "entries no notebook declares"
    related = {name for subject, other, _ in params.RELATIONS for name in (subject, other)}
    assert related <= declared


def test_names_written_out_in_params_match_their_sources():
    from fashion_core.engine import trainer
    from fashion_core.experiments.variants import BENCHMARK_SUFFIXES
    from fashion_core.models import fashionnet, m2fashion, resnet, vgg

    assert params.OPTIMIZERS == trainer.OPTIMIZERS
    assert params.LR_SCHEDULES == trainer.LR_SCHEDULES
    assert params.VGG_BACKBONES == vgg.BACKBONES
    assert params.RESNET_BACKBONES == resnet.RESNET_BACKBONES
    assert params.FEATURE_STRIDES == m2fashion.FEATURE_STRIDES
    assert params.SIMILARITIES == m2fashion.SIMILARITIES
    assert params.GALLERY_CONDITIONS == m2fashion.GALLERY_CONDITIONS
    assert params.TRIPLET_RULES == m2fashion.TRIPLET_RULES
    assert params.BENCHMARKS == tuple(BENCHMARK_SUFFIXES)
    assert params.ATTRIBUTE_LOSSES == fashionnet.ATTRIBUTE_LOSSES


# ---- the training CLI ---------------------------------------------------------------------------------

def _cli_error(arguments: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as raised:
        train.main(["--data", MISSING_DATA, *arguments])
    error = capsys.readouterr().err
    assert raised.value.code == 2, error
    assert "Traceback" not in error
    return error.strip().splitlines()[-1]


@pytest.mark.parametrize("arguments, message", [
    (["--model", "dafe", "--epochs", "0"], "argument --epochs: parameter 'epochs' expected an integer >= 1, got 0"),
    (["--model", "dafe", "--batch-size", "0"],
     "argument --batch-size: parameter 'batch_size' expected an integer >= 1, got 0"),
    (["--model", "dafe", "--lr", "0"], "argument --lr: parameter 'lr' expected a number > 0, got 0.0"),
    (["--model", "fpm", "--width", "0"], "argument --width: parameter 'width' expected a number in (0, 1], got 0.0"),
    (["--model", "liu2018", "--input-size", "40"],
     "argument --input-size: parameter 'input_size' expected an integer >= 32 that is a multiple of 32, got 40"),
    (["--model", "m2fashion", "--num-workers", "-1"],
     "argument --num-workers: parameter 'num_workers' expected an integer >= 0, got -1"),
    (["--model", "dafe", "--seed", "-1"], "argument --seed: expected an integer >= 0, got -1"),
    (["--model", "fashionnet", "--backbone", "resnet50"],
     "argument --backbone: parameter 'backbone' expected one of 'vgg16', 'vgg_mini', got 'resnet50'"),
    (["--model", "fashionnet", "--pretrained"],
     "argument --pretrained: parameter 'pretrained' expected false with backbone 'vgg_mini'"),
    (["--model", "fashionnet", "--profile", "paper", "--width", "0.5"],
     "argument --width: parameter 'width' expected 1.0 with backbone 'vgg16'"),
    (["--model", "retrieval_baseline", "--profile", "paper", "--input-size", "32"],
     "argument --input-size: parameter 'input_size' expected a multiple of feature_stride 32 and at least 64"),
    (["--model", "fpm", "--format", "fld"], "argument --format: --model fpm trains on fashionai, not fld"),
])
def test_cli_flags_meet_the_notebook_constraints_before_any_data(arguments, message, capsys):
    line = _cli_error(arguments, capsys)
    assert line.startswith("python -m fashion_core.train: error: ") and message in line


def test_cli_refuses_a_misnamed_params_file(workbook, capsys):
    (workbook / "params" / "default" / "dafe_trian.yaml").write_text("epochs: 1\n")
    line = _cli_error(["--model", "dafe"], capsys)
    assert f"{workbook / 'params' / 'default' / 'dafe_trian.yaml'}: no notebook named dafe_trian.ipynb; " \
           "did you mean dafe_train.yaml?" in line


def test_cli_refuses_another_notebook_s_bad_params(workbook, capsys):
    """As run_all: a bad value in any notebook's params file of the profile stops the CLI too."""
    (workbook / "params" / "default" / "m2fashion_train.yaml").write_text("epochs: 8\nepochs: 2\n")
    line = _cli_error(["--model", "dafe"], capsys)
    assert "m2fashion_train.yaml: key 'epochs' given twice, on lines 1 and 2" in line


def test_cli_refuses_its_own_notebook_s_bad_params(workbook, capsys):
    (workbook / "params" / "default" / "dafe_train.yaml").write_text("epochs: -2\n")
    line = _cli_error(["--model", "dafe"], capsys)
    assert "dafe_train.yaml:1: parameter 'epochs' expected an integer >= 1, got -2" in line


def test_cli_process_exits_2_with_one_error_line_and_no_traceback(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "fashion_core.train", "--model", "dafe", "--data", MISSING_DATA, "--epochs", "0",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "FASHION_WORKBOOK_ROOT": str(REPOSITORY)})
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    errors = [line for line in completed.stderr.splitlines() if "error:" in line]
    assert errors == ["python -m fashion_core.train: error: argument --epochs: parameter 'epochs' expected an "
                      "integer >= 1, got 0"]
    assert not (tmp_path / "out").exists()
