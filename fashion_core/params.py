"""Profiles and notebook parameters, validated before any work starts.

A notebook's `parameters` cell is the schema: every name it assigns is a
parameter, and the literal it assigns gives the type and the default.
`params/<profile>/<notebook>.yaml` may override those values; a key the
notebook does not declare, or a value of another type, is an error that
names the YAML file, the key and what was expected.

`params/<profile>/data.yaml` says where each benchmark lives for that profile
(SynthFashion, generated, or the real datasets on disk). Its roots reach every
notebook that declares a parameter of the same name, so a dataset location is
written in exactly one place.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from fashion_core.paths import repo_root

PROFILES = ("smoke", "default", "paper")
DATA_PARAMS_FILE = "data.yaml"
# Parameters run_all injects into every notebook that declares them.
INJECTED_FROM_DATA = ("deepfashion_c_root", "fld_root", "fashionai_root", "dataset_label")


class ParamsError(ValueError):
    """A params file or a notebook parameters cell is wrong; the message says where and what was expected."""


@dataclasses.dataclass(frozen=True)
class NotebookParameter:
    name: str
    default: Any
    help: str

    @property
    def type_name(self) -> str:
        return _type_name(self.default)


def notebook_parameters(notebook_path: str | os.PathLike) -> dict[str, NotebookParameter]:
    """Parse the cell tagged `parameters`: `name = <literal>  # help` per line."""
    notebook_path = Path(notebook_path)
    try:
        notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{notebook_path}: notebook not found") from None
    for cell in notebook.get("cells", []):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"])
            return _parse_parameters_cell(source, notebook_path)
    raise ParamsError(f"{notebook_path}: expected a code cell tagged 'parameters', found none")


def _parse_parameters_cell(source: str, notebook_path: Path) -> dict[str, NotebookParameter]:
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ParamsError(f"{notebook_path}: parameters cell line {error.lineno}: {error.msg}") from None
    lines = source.splitlines()
    parameters: dict[str, NotebookParameter] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ParamsError(
                f"{notebook_path}: parameters cell line {node.lineno}: expected `name = <literal>`, "
                f"got {ast.unparse(node)!r}"
            )
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            raise ParamsError(
                f"{notebook_path}: parameters cell line {node.lineno}: expected a literal value for "
                f"{node.targets[0].id!r}, got {ast.unparse(node.value)!r}"
            ) from None
        line = lines[node.lineno - 1]
        help_text = line.split("#", 1)[1].strip() if "#" in line else ""
        parameters[node.targets[0].id] = NotebookParameter(node.targets[0].id, default, help_text)
    return parameters


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _type_matches(default: Any, value: Any) -> bool:
    if default is None:
        return True  # a None default declares an optional parameter of any type
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            content = yaml.safe_load(handle)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ParamsError(f"{where}: expected valid YAML ({getattr(error, 'problem', error)})") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ParamsError(f"{path}: expected a mapping of parameter names to values, got {_type_name(content)}")
    return content


def validate_overrides(overrides: dict[str, Any], declared: dict[str, NotebookParameter], source: Path) -> None:
    for key, value in overrides.items():
        if key not in declared:
            close = difflib.get_close_matches(str(key), declared, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParamsError(
                f"{source}: unknown parameter {key!r}{hint} Expected one of: {', '.join(sorted(declared))}"
            )
        default = declared[key].default
        if not _type_matches(default, value):
            raise ParamsError(
                f"{source}: parameter {key!r} expected a value of type {_type_name(default)} "
                f"(default {default!r}), got {value!r} of type {_type_name(value)}"
            )


def profile_dir(profile: str, root: Path | None = None) -> Path:
    if profile not in PROFILES:
        raise ParamsError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return (root or repo_root()) / "params" / profile


def resolved_parameters(profile: str, notebook_path: str | os.PathLike, root: Path | None = None) -> dict[str, Any]:
    """Defaults from the notebook, then the profile's data roots, then the notebook's YAML; validated."""
    root = root or repo_root()
    notebook_path = Path(notebook_path)
    declared = notebook_parameters(notebook_path)
    values = {name: parameter.default for name, parameter in declared.items()}
    data = load_data_config(profile, root)
    for key in INJECTED_FROM_DATA:
        if key in declared:
            values[key] = data.value(key)
    if "profile" in declared:
        values["profile"] = profile
    if "progress_bars" in declared:
        # Bars are for a person watching a live kernel; in a saved report they are timing noise
        # (and a resumed run draws none, which nbval would report as a difference).
        values["progress_bars"] = False
    yaml_path = profile_dir(profile, root) / f"{notebook_path.stem}.yaml"
    if yaml_path.exists():
        overrides = read_yaml_mapping(yaml_path)
        validate_overrides(overrides, declared, yaml_path)
        values.update(overrides)
    return values


@dataclasses.dataclass(frozen=True)
class SynthFashionConfig:
    """How run_all generates SynthFashion for a profile (arguments of fashion_core.data.synthfashion.generate)."""

    out: str
    n_train: int
    n_val: int
    n_test: int
    size: int = 160
    seed: int = 0
    knobs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where a profile's benchmarks live. `dataset_label` names them in every reproduced column."""

    source: str  # "synthfashion" or "real"
    dataset_label: str
    deepfashion_c_root: str
    fld_root: str
    fashionai_root: str
    synthfashion: SynthFashionConfig | None
    path: Path

    def value(self, key: str) -> str:
        value = getattr(self, key)
        if key.endswith("_root"):
            return str(resolve_path(value))
        return value


# Real-data locations may also come from the environment, so a shared cluster
# path never has to be written into the repository.
DATA_ROOT_ENVIRONMENT = {
    "deepfashion_c_root": "DEEPFASHION_C_ROOT",
    "fld_root": "FLD_ROOT",
    "fashionai_root": "FASHIONAI_ROOT",
}


def load_data_config(profile: str, root: Path | None = None) -> DataConfig:
    path = profile_dir(profile, root) / DATA_PARAMS_FILE
    if not path.exists():
        raise ParamsError(f"{path}: missing; every profile needs a data.yaml saying where its datasets are")
    raw = read_yaml_mapping(path)
    allowed = {"source", "dataset_label", "synthfashion", *DATA_ROOT_ENVIRONMENT}
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParamsError(f"{path}: unknown key {key!r}{hint} Expected one of: {', '.join(sorted(allowed))}")
    source = raw.get("source")
    if source not in ("synthfashion", "real"):
        raise ParamsError(f"{path}: key 'source' expected 'synthfashion' or 'real', got {source!r}")
    if not isinstance(raw.get("dataset_label"), str):
        raise ParamsError(f"{path}: key 'dataset_label' expected a string naming the dataset in report columns")
    synth = None
    roots: dict[str, str] = {}
    if source == "synthfashion":
        if not isinstance(raw.get("synthfashion"), dict):
            raise ParamsError(f"{path}: source is synthfashion, so key 'synthfashion' expected a mapping of generator arguments")
        synth = _synth_config(raw["synthfashion"], path)
        roots = {
            "deepfashion_c_root": f"{synth.out}/deepfashion_c",
            "fld_root": f"{synth.out}/fld",
            "fashionai_root": f"{synth.out}/fashionai",
        }
    for key, variable in DATA_ROOT_ENVIRONMENT.items():
        if source == "real":
            value = os.environ.get(variable) or raw.get(key)
            if not isinstance(value, str):
                raise ParamsError(f"{path}: key {key!r} expected a path string (or set ${variable})")
            roots[key] = value
        elif key in raw:
            raise ParamsError(f"{path}: key {key!r} is only for source: real; SynthFashion roots follow from synthfashion.out")
    return DataConfig(source=source, dataset_label=raw["dataset_label"], synthfashion=synth, path=path, **roots)


def _synth_config(raw: dict, path: Path) -> SynthFashionConfig:
    fields = {field.name: field for field in dataclasses.fields(SynthFashionConfig)}
    for key, value in raw.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParamsError(f"{path}: unknown synthfashion key {key!r}{hint} Expected one of: {', '.join(fields)}")
        expected = {"out": str, "knobs": dict}.get(key, int)
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ParamsError(f"{path}: synthfashion.{key} expected {expected.__name__}, got {value!r}")
    missing = [name for name, field in fields.items() if key_required(field) and name not in raw]
    if missing:
        raise ParamsError(f"{path}: synthfashion is missing required keys: {', '.join(missing)}")
    return SynthFashionConfig(**raw)


def key_required(field: dataclasses.Field) -> bool:
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING


def resolve_path(path: str | os.PathLike) -> Path:
    """Relative paths in params are relative to the repository root, whatever the kernel's cwd."""
    path = Path(os.path.expanduser(os.fspath(path)))
    return path if path.is_absolute() else repo_root() / path


def validate_profile(profile: str, notebooks: list[Path], root: Path | None = None) -> dict[Path, dict[str, Any]]:
    """Validate every params file of a profile; return the resolved parameters per notebook.

    A YAML file with no notebook of the same name is an error too: it is most
    likely a typo that would otherwise silently leave a notebook on defaults.
    """
    directory = profile_dir(profile, root)
    stems = {notebook.stem for notebook in notebooks}
    for yaml_path in sorted(directory.glob("*.yaml")):
        if yaml_path.name != DATA_PARAMS_FILE and yaml_path.stem not in stems:
            close = difflib.get_close_matches(yaml_path.stem, stems, n=1)
            hint = f"; did you mean {close[0]}.yaml?" if close else ""
            raise ParamsError(f"{yaml_path}: no notebook named {yaml_path.stem}.ipynb{hint}")
    return {notebook: resolved_parameters(profile, notebook, root) for notebook in notebooks}
