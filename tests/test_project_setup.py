"""The set-up files agree with each other and the scripts CI relies on exist."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pip_section(environment: dict) -> list[str]:
    for entry in environment["dependencies"]:
        if isinstance(entry, dict) and "pip" in entry:
            return entry["pip"]
    raise AssertionError("environment.yml has no pip section")


def test_environment_yml_lists_the_same_requirements_as_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    required = set(pyproject["project"]["dependencies"])
    listed = {item for item in _pip_section(environment) if not item.startswith("-e")}
    assert listed == required, f"only in environment.yml: {listed - required}; only in pyproject: {required - listed}"
    assert "python=3.11" in environment["dependencies"]


def test_torch_pair_is_the_one_this_machine_caches():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = {re.split(r"[=<>]", item)[0]: item for item in pyproject["project"]["dependencies"]}
    assert pins["torch"] == "torch==2.14.1"
    assert pins["torchvision"] == "torchvision==0.29.1"


def test_ci_runs_the_test_command_the_readme_gives():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "./run_tests.sh" in ci
    assert "./run_tests.sh" in readme and "./run_all.sh" in readme


def test_every_profile_has_a_data_config():
    for profile in ("smoke", "default", "paper"):
        assert (ROOT / "params" / profile / "data.yaml").is_file()
