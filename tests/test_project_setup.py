"""The set-up files agree with each other and the scripts CI relies on exist."""
from __future__ import annotations

import importlib.metadata
import os
import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
TORCH_PAIR = {"torch": "2.14.1", "torchvision": "0.29.1"}


def _pip_section(environment: dict) -> list[str]:
    for entry in environment["dependencies"]:
        if isinstance(entry, dict) and "pip" in entry:
            return entry["pip"]
    raise AssertionError("environment.yml has no pip section")


def _pyproject_requirements() -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(item) for item in pyproject["project"]["dependencies"]]


def _lock_lines() -> list[str]:
    """requirements.lock without its comments and blank lines."""
    return [line.strip() for line in LOCK.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _locked() -> dict[str, str]:
    """{canonical name: version} of requirements.lock; every line must be a plain name==version."""
    versions: dict[str, str] = {}
    for line in _lock_lines():
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)", line)
        assert match, f"requirements.lock: {line!r} is not name==version"
        name = canonicalize_name(match[1])
        assert name not in versions, f"requirements.lock pins {name} twice"
        Version(match[2])  # a version pip can compare
        versions[name] = match[2]
    return versions


def test_lock_pins_the_installed_set_and_nothing_of_the_installer_or_the_project():
    locked = _locked()
    assert len(locked) > 100, "requirements.lock looks truncated: the Jupyter and torch stacks alone are ~150 packages"
    assert "fashion-core" not in locked, "the project itself is installed editable on top of the lock, not from it"
    assert "pip" not in locked, "pip is the installer (ensure_venv upgrades it), not part of the locked set"
    assert "setuptools" in locked, "torch needs setuptools at run time: it is part of the set"


def test_every_pyproject_requirement_is_satisfied_by_its_locked_version():
    locked = _locked()
    for requirement in _pyproject_requirements():
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in locked, f"pyproject requires {requirement} but requirements.lock has no {name}: run scripts/lock.sh"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"requirements.lock pins {name}=={locked[name]}, outside pyproject's {requirement}: run scripts/lock.sh")


def test_environment_yml_pip_section_is_the_lock():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in environment["dependencies"]
    section = [str(item) for item in _pip_section(environment)]
    assert section.count("-e .") == 1, "environment.yml installs the project itself editable, once"
    listed = [item for item in section if item != "-e ."]
    lines = _lock_lines()
    only_yml, only_lock = sorted(set(listed) - set(lines)), sorted(set(lines) - set(listed))
    assert listed == lines, (f"environment.yml's pip section differs from requirements.lock (scripts/lock.sh writes "
                             f"both): only in environment.yml {only_yml}; only in the lock {only_lock}")


def test_torch_pair_is_the_one_this_machine_caches():
    pins = {canonicalize_name(requirement.name): str(requirement.specifier) for requirement in _pyproject_requirements()}
    locked = _locked()
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set(str(item) for item in _pip_section(environment))
    for name, version in TORCH_PAIR.items():
        assert pins[name] == f"=={version}", f"pyproject.toml: {name}{pins[name]}"
        assert locked[name] == version, f"requirements.lock: {name}=={locked[name]}"
        assert f"{name}=={version}" in listed, f"environment.yml lacks {name}=={version}"


def test_the_running_environment_is_the_locked_one():
    # nbval compares re-executed notebooks with the committed reports: another pandas or
    # matplotlib than the lock's can change them. ./run_tests.sh installs the lock first.
    drift = {}
    for name, version in _locked().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed is None or Version(installed) != Version(version):
            drift[name] = (version, installed)
    assert not drift, f"locked vs installed: {drift}; run ./run_tests.sh (scripts/ensure_venv.sh) to install the lock"


def test_ensure_venv_installs_the_lock_and_reinstalls_when_pyproject_or_the_lock_changes():
    script = (ROOT / "scripts" / "ensure_venv.sh").read_text()
    assert 'LOCK="$WORKBOOK_ROOT/requirements.lock"' in script
    install = [line for line in script.splitlines() if "pip install" in line and "-e " in line]
    assert install and all('-c "$LOCK"' in line for line in install), install
    stamp = [line for line in script.splitlines() if line.startswith("WANTED=")]
    assert len(stamp) == 1 and "pyproject.toml" in stamp[0] and "requirements.lock" in stamp[0], stamp


def test_the_lock_names_the_one_command_that_regenerates_it():
    header = [line for line in LOCK.read_text().splitlines() if line.startswith("#")]
    assert any(line.strip("# ").strip() == "scripts/lock.sh" for line in header), header
    lock_script = ROOT / "scripts" / "lock.sh"
    assert os.access(lock_script, os.X_OK)
    text = lock_script.read_text()
    # It resolves pyproject.toml in a throwaway venv and writes both files the tests above compare.
    assert "pyproject.toml" in text and "mktemp" in text
    assert "requirements.lock" in text and "environment.yml" in text


def test_ci_runs_the_test_command_the_readme_gives():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "./run_tests.sh" in ci
    assert "./run_tests.sh" in readme and "./run_all.sh" in readme


def test_every_profile_has_a_data_config():
    for profile in ("smoke", "default", "paper"):
        assert (ROOT / "params" / profile / "data.yaml").is_file()
