"""Profiles and notebook parameters, validated before any work starts.

A notebook's `parameters` cell is the schema: every name it assigns is a
parameter, and the literal it assigns gives the type and the default.
`params/<profile>/<notebook>.yaml` may override those values; a key the
notebook does not declare, or a value of another type, is an error that
names the YAML file, the key and what was expected. A key written twice in one
YAML mapping is refused too, since YAML itself would silently keep the last.

Each parameter name may also carry a constraint (CONSTRAINTS, one table for
every notebook that declares the name) and pairs of parameters a relation
(RELATIONS). `resolved_parameters` checks the resolved values, notebook
defaults included, against both, so a run refuses `epochs: -2` before it
loads any data; the training CLI checks its flags with the same table.

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
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from fashion_core.paths import repo_root

PROFILES = ("smoke", "default", "paper")
DATA_PARAMS_FILE = "data.yaml"
# Parameters run_all injects into every notebook that declares them.
INJECTED_FROM_DATA = ("deepfashion_c_root", "fld_root", "fashionai_root", "inshop_root", "dataset_label")


class ParamsError(ValueError):
    """A params file or a notebook parameters cell is wrong; the message says where and what was expected."""


@dataclasses.dataclass(frozen=True)
class NotebookParameter:
    name: str
    default: Any
    help: str
    origin: str = ""  # where the default is written: "<notebook>: parameters cell line <n>"

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
        parameters[node.targets[0].id] = NotebookParameter(
            node.targets[0].id, default, help_text, f"{notebook_path}: parameters cell line {node.lineno}")
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


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first_line: int, second_line: int):
        super().__init__(key, first_line, second_line)
        self.key, self.first_line, self.second_line = key, first_line, second_line


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (safe_load would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` entries are meant to be overridden by the keys beside them
            key = self.construct_object(key_node, deep=True)
            try:
                first_line = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                continue  # an unhashable key: SafeLoader's own error names it
            if first_line != key_node.start_mark.line + 1:
                raise _DuplicateKey(key, first_line, key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep=deep)


def read_yaml_with_lines(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The YAML file's top-level mapping and the line each of its keys is written on.

    The lines let an error point at the key (`file.yaml:7: parameter ...`); a key written
    twice in any mapping of the file is a ParamsError naming both lines.
    """
    loader = None
    try:
        with open(path, encoding="utf-8") as handle:
            loader = _UniqueKeyLoader(handle)
            node = loader.get_single_node()
            content = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ParamsError(f"{where}: expected valid YAML ({getattr(error, 'problem', error)})") from None
    except _DuplicateKey as duplicate:
        raise ParamsError(
            f"{path}: key {duplicate.key!r} given twice, on lines {duplicate.first_line} and {duplicate.second_line}; "
            "YAML would keep only the last, so write it once"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if content is None:
        return {}, {}
    if not isinstance(content, dict):
        raise ParamsError(f"{path}: expected a mapping of parameter names to values, got {_type_name(content)}")
    lines = {key_node.value: key_node.start_mark.line + 1 for key_node, _ in node.value
             if isinstance(key_node, yaml.ScalarNode)}
    return content, lines


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The YAML file's top-level mapping, duplicate keys refused (see read_yaml_with_lines)."""
    return read_yaml_with_lines(path)[0]


def validate_overrides(overrides: dict[str, Any], declared: dict[str, NotebookParameter], source: Path | str,
                       lines: Mapping[str, int] | None = None) -> None:
    """Every override names a declared parameter and has its type; `lines` (key -> line) places the error."""
    for key, value in overrides.items():
        where = _at(source, lines, key)
        if key not in declared:
            close = difflib.get_close_matches(str(key), declared, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParamsError(
                f"{where}: unknown parameter {key!r}{hint} Expected one of: {', '.join(sorted(declared))}"
            )
        default = declared[key].default
        if not _type_matches(default, value):
            raise ParamsError(
                f"{where}: parameter {key!r} expected a value of type {_type_name(default)} "
                f"(default {default!r}), got {value!r} of type {_type_name(value)}"
            )


def _at(source: Path | str, lines: Mapping[str, int] | None, key: str) -> str:
    line = (lines or {}).get(key)
    return f"{source}:{line}" if line else str(source)


# ---------------------------------------------------------------------------------------------------------------
# Constraints: which values each parameter name allows, for every notebook that declares the name.
#
# params is imported by every layer, so it imports none of them: the names below that other modules also
# define are written out here, and tests/cli/test_param_constraints.py asserts each matches its source.

OPTIMIZERS = ("adam", "sgd", "adamw")  # fashion_core.engine.trainer.OPTIMIZERS
LR_SCHEDULES = ("exponential", "step", "constant")  # fashion_core.engine.trainer.LR_SCHEDULES
VGG_BACKBONES = ("vgg16", "vgg_mini")  # fashion_core.models.vgg.BACKBONES
RESNET_BACKBONES = ("resnet50", "resnet_mini")  # fashion_core.models.resnet.RESNET_BACKBONES
BACKBONE_FAMILIES = (VGG_BACKBONES, RESNET_BACKBONES)
FULL_BACKBONES = ("vgg16", "resnet50")  # torchvision's trunks: width 1.0 only, ImageNet weights available
FEATURE_STRIDES = (16, 32)  # fashion_core.models.m2fashion.FEATURE_STRIDES
SIMILARITIES = ("printed", "cosine")  # fashion_core.models.m2fashion.SIMILARITIES
GALLERY_CONDITIONS = ("query", "unknown")  # fashion_core.models.m2fashion.GALLERY_CONDITIONS
TRIPLET_RULES = ("shared_attribute", "same_value")  # fashion_core.models.m2fashion.TRIPLET_RULES
BENCHMARKS = ("DeepFashion-C", "FLD")  # fashion_core.experiments.variants.BENCHMARK_SUFFIXES
ATTRIBUTE_LOSSES = ("weighted", "weighted_per_attribute", "bce")  # fashion_core.models.fashionnet.ATTRIBUTE_LOSSES
# Input sizes: DAFE needs a multiple of 32 (its decoder adds C5 upsampled x2 to C4, and so on down to C2);
# Liu & Lu and FPM need a multiple of 8 (their stride-8 maps), FashionNet at least 32 (five 2x2 poolings),
# M2Fashion a multiple of its feature_stride and twice it at least (see RELATIONS). One rule serves every
# notebook: a multiple of 32, at least 32 (each profile's sizes, 32 to 512, are).
INPUT_SIZE_MULTIPLE = 32


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclasses.dataclass(frozen=True)
class Integer:
    """An integer >= minimum, and a multiple of `multiple_of`."""

    minimum: int
    multiple_of: int = 1

    def expected(self, default: Any = None) -> str:
        multiple = f" that is a multiple of {self.multiple_of}" if self.multiple_of > 1 else ""
        return f"an integer >= {self.minimum}{multiple}"

    def allows(self, value: Any, default: Any = None) -> bool:
        return _is_int(value) and value >= self.minimum and value % self.multiple_of == 0


@dataclasses.dataclass(frozen=True)
class Number:
    """A finite number in an interval; low_open / high_open exclude the ends (high=inf: no upper end)."""

    low: float
    high: float = math.inf
    low_open: bool = True
    high_open: bool = True

    def expected(self, default: Any = None) -> str:
        if math.isinf(self.high):
            return f"a number {'>' if self.low_open else '>='} {self.low:g}"
        return (f"a number in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                f"{')' if self.high_open else ']'}")

    def allows(self, value: Any, default: Any = None) -> bool:
        if not _is_number(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


@dataclasses.dataclass(frozen=True)
class OneOf:
    choices: tuple

    def expected(self, default: Any = None) -> str:
        return "one of " + ", ".join(repr(choice) for choice in self.choices)

    def allows(self, value: Any, default: Any = None) -> bool:
        return not isinstance(value, bool) and value in self.choices


@dataclasses.dataclass(frozen=True)
class NonEmptyString:
    def expected(self, default: Any = None) -> str:
        return "a non-empty string"

    def allows(self, value: Any, default: Any = None) -> bool:
        return isinstance(value, str) and bool(value.strip())


@dataclasses.dataclass(frozen=True)
class SameFamily:
    """One of the choices in the family holding the notebook's default: a ResNet notebook takes no VGG trunk."""

    families: tuple[tuple[str, ...], ...]

    def _family(self, default: Any) -> tuple[str, ...]:
        return next((family for family in self.families if default in family), sum(self.families, ()))

    def expected(self, default: Any = None) -> str:
        return OneOf(self._family(default)).expected()

    def allows(self, value: Any, default: Any = None) -> bool:
        return value in self._family(default)


@dataclasses.dataclass(frozen=True)
class ListOf:
    """A non-empty list of distinct entries, each allowed by `item`."""

    item: Any

    def expected(self, default: Any = None) -> str:
        return f"a non-empty list of distinct entries, each {self.item.expected()}"

    def allows(self, value: Any, default: Any = None) -> bool:
        if not isinstance(value, (list, tuple)) or not value or not all(self.item.allows(entry) for entry in value):
            return False
        return len(set(value)) == len(value)


POSITIVE_INTEGER = Integer(1)
NON_NEGATIVE_INTEGER = Integer(0)
POSITIVE_NUMBER = Number(0)
FRACTION = Number(0, 1, low_open=False, high_open=True)  # a share of labels revealed: at 1 none is left to score
FACTOR = Number(0, 1, low_open=True, high_open=False)  # a scale in (0, 1]: 1 is full size / no decay

CONSTRAINTS: dict[str, Any] = {
    # training
    "epochs": POSITIVE_INTEGER,
    "batch_size": POSITIVE_INTEGER,
    "lr": POSITIVE_NUMBER,
    "fpm_lr": POSITIVE_NUMBER,
    "optimizer": OneOf(OPTIMIZERS),
    "lr_schedule": OneOf(LR_SCHEDULES),
    "lr_gamma": FACTOR,
    "lr_step_size": POSITIVE_INTEGER,
    "seeds": ListOf(NON_NEGATIVE_INTEGER),
    "train_processes": POSITIVE_INTEGER,
    "num_workers": NON_NEGATIVE_INTEGER,
    # models
    "backbone": SameFamily(BACKBONE_FAMILIES),
    "comparison_backbone": SameFamily(BACKBONE_FAMILIES),
    "width": FACTOR,
    "comparison_width": FACTOR,
    "input_size": Integer(INPUT_SIZE_MULTIPLE, INPUT_SIZE_MULTIPLE),
    "stages": POSITIVE_INTEGER,
    "fpm_stages": POSITIVE_INTEGER,
    "cas_activation": OneOf(("eq4", "sigmoid")),  # DAFE's CAS (fashion_core.models.dafe.CAS_ACTIVATIONS)
    "heatmap_decoding": OneOf(("argmax", "quarter_cell")),  # DAFE's (fashion_core.models.dafe.DECODINGS)
    "feature_stride": OneOf(FEATURE_STRIDES),
    "similarity": OneOf(SIMILARITIES),
    "gallery_condition": OneOf(GALLERY_CONDITIONS),
    "triplet_rule": OneOf(TRIPLET_RULES),
    "attribute_loss": OneOf(ATTRIBUTE_LOSSES),
    "step1_epochs": POSITIVE_INTEGER,  # FashionNet's alternating schedule: each cycle's step-1 epochs ...
    "step2_epochs": POSITIVE_INTEGER,  # ... then its step-2 epochs
    "regression_landmark_weight": POSITIVE_NUMBER,
    "landmark_loss_weight": POSITIVE_NUMBER,
    # experiments: the row keys themselves are checked against VARIANTS by experiments.variants
    "variants": ListOf(NonEmptyString()),
    "variant": NonEmptyString(),
    "categories": ListOf(OneOf(("blouse", "outwear", "dress", "skirt", "trousers"))),  # vocab.FASHIONAI_CATEGORIES
    "benchmarks": ListOf(OneOf(BENCHMARKS)),
    "benchmark": OneOf(BENCHMARKS),
    "known_fraction": FRACTION,
    "known_fractions": ListOf(FRACTION),
    "all_unknown_share": Number(0, 1, low_open=False, high_open=False),  # M2Fashion training samples revealing no label
    "reveal_seed": NON_NEGATIVE_INTEGER,
    "query_every": Integer(2),  # every query_every-th image is a query: 1 would leave no gallery
    # notebooks' figures
    "seed": NON_NEGATIVE_INTEGER,
    "samples_per_category": POSITIVE_INTEGER,
    "gallery_count": POSITIVE_INTEGER,
    "grid_images": ListOf(NON_NEGATIVE_INTEGER),
    "grid_conditions": ListOf(NonEmptyString()),  # attribute names: checked against the data by the viewer
    "opacity": Number(0, 1, low_open=False, high_open=False),
}
# Declared parameters with no constraint beyond their type: paths, labels, switches, and a FashionAI
# keypoint name that fpm_attention looks up in the data's vocabulary.
UNCONSTRAINED = frozenset({
    "deepfashion_c_root", "fld_root", "fashionai_root", "inshop_root", "dataset_label", "profile", "gallery_folder",
    "image_folder", "weights_path", "comparison_weights_path", "pretrained", "comparison_pretrained",
    "cache_images", "progress_bars", "grid_keypoint",
    "train_flips",
})


def _full_trunk_width(width: Any, backbone: Any) -> str | None:
    if backbone in FULL_BACKBONES and width != 1.0:
        return f"1.0 with backbone {backbone!r} (the full torchvision trunk; the *_mini trunks take a width)"
    return None


def _no_pretrained_mini(pretrained: Any, backbone: Any) -> str | None:
    if backbone not in FULL_BACKBONES and pretrained:
        return (f"false with backbone {backbone!r} (trained from scratch; ImageNet weights exist for "
                f"{' and '.join(FULL_BACKBONES)} only)")
    return None


def _no_weight_file_mini(weights_path: Any, backbone: Any) -> str | None:
    if backbone not in FULL_BACKBONES and weights_path:
        return f"'' with backbone {backbone!r} (trained from scratch: no weight file fits it)"
    return None


def _stride_fits(input_size: Any, feature_stride: Any) -> str | None:
    if input_size % feature_stride or input_size < 2 * feature_stride:
        return (f"a multiple of feature_stride {feature_stride} and at least {2 * feature_stride} "
                "(a grid of 2 x 2 cells or more to attend over)")
    return None


# (subject, other, check): check(subject value, other value) words what the subject expects, or None.
# Both names must be declared by the notebook; the subject is the parameter the message names.
RELATIONS: tuple[tuple[str, str, Callable[[Any, Any], str | None]], ...] = (
    ("width", "backbone", _full_trunk_width),
    ("comparison_width", "comparison_backbone", _full_trunk_width),
    ("pretrained", "backbone", _no_pretrained_mini),
    ("comparison_pretrained", "comparison_backbone", _no_pretrained_mini),
    ("weights_path", "backbone", _no_weight_file_mini),
    ("comparison_weights_path", "comparison_backbone", _no_weight_file_mini),
    ("input_size", "feature_stride", _stride_fits),
)


def constraint_problem(name: str, value: Any, default: Any = None) -> str | None:
    """'expected <rule>, got <value>' when `value` breaks the constraint declared for `name`, else None."""
    constraint = CONSTRAINTS.get(name)
    if constraint is None or constraint.allows(value, default):
        return None
    return f"expected {constraint.expected(default)}, got {value!r}"


def validate_values(values: Mapping[str, Any], declared: Mapping[str, NotebookParameter],
                    sources: Mapping[str, str] | None = None) -> None:
    """Check each declared parameter's value against CONSTRAINTS, then RELATIONS; ParamsError at the first break.

    `sources` maps a parameter to where its value was given ("params/smoke/x.yaml:3", "argument --epochs");
    a value given nowhere is the notebook's default, and the error names its parameters cell line.
    """
    sources = sources or {}

    def where(*names: str) -> str:
        return next((sources[name] for name in names if name in sources), declared[names[0]].origin)

    for name, parameter in declared.items():
        problem = constraint_problem(name, values.get(name), parameter.default)
        if problem:
            raise ParamsError(f"{where(name)}: parameter {name!r} {problem}")
    for subject, other, check in RELATIONS:
        if subject in declared and other in declared:
            expected = check(values[subject], values[other])
            if expected:
                raise ParamsError(f"{where(subject, other)}: parameter {subject!r} expected {expected}, "
                                  f"got {values[subject]!r}")


def profile_dir(profile: str, root: Path | None = None) -> Path:
    if profile not in PROFILES:
        raise ParamsError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
    return (root or repo_root()) / "params" / profile


def resolved_parameters(profile: str, notebook_path: str | os.PathLike, root: Path | None = None) -> dict[str, Any]:
    """Defaults from the notebook, then the profile's data roots, then the notebook's YAML; validated.

    Validated means: every YAML key is a declared parameter of the declared type, and every
    resolved value (a default too) meets its constraint and relations (validate_values).
    """
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
    sources: dict[str, str] = {}
    if yaml_path.exists():
        overrides, lines = read_yaml_with_lines(yaml_path)
        validate_overrides(overrides, declared, yaml_path, lines)
        values.update(overrides)
        sources = {key: _at(yaml_path, lines, key) for key in overrides}
    validate_values(values, declared, sources)
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
class SynthFashionInShopConfig:
    """How run_all generates SynthFashion's In-shop tree (fashion_core.data.synthfashion.inshop.ensure_synthfashion_inshop).

    A tree of its own beside the main one: its images are views of items, not one image per garment.
    """

    out: str
    n_train_items: int
    n_test_items: int
    images_per_item: list = dataclasses.field(default_factory=lambda: [2, 5])
    size: int = 128
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where a profile's benchmarks live. `dataset_label` names them in every reproduced column."""

    source: str  # "synthfashion" or "real"
    dataset_label: str
    deepfashion_c_root: str
    fld_root: str
    fashionai_root: str
    inshop_root: str
    synthfashion: SynthFashionConfig | None
    synthfashion_inshop: SynthFashionInShopConfig | None
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
    "inshop_root": "INSHOP_ROOT",
}


def load_data_config(profile: str, root: Path | None = None) -> DataConfig:
    path = profile_dir(profile, root) / DATA_PARAMS_FILE
    if not path.exists():
        raise ParamsError(f"{path}: missing; every profile needs a data.yaml saying where its datasets are")
    raw = read_yaml_mapping(path)
    allowed = {"source", "dataset_label", "synthfashion", "synthfashion_inshop", *DATA_ROOT_ENVIRONMENT}
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
    synth = synth_inshop = None
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
        if not isinstance(raw.get("synthfashion_inshop"), dict):
            raise ParamsError(f"{path}: source is synthfashion, so key 'synthfashion_inshop' expected a mapping of "
                              "In-shop generator arguments (out, n_train_items, n_test_items, ...)")
        synth_inshop = _config_of(SynthFashionInShopConfig, raw["synthfashion_inshop"], path, "synthfashion_inshop")
        roots["inshop_root"] = synth_inshop.out
    elif "synthfashion_inshop" in raw:
        raise ParamsError(f"{path}: key 'synthfashion_inshop' is only for source: synthfashion")
    for key, variable in DATA_ROOT_ENVIRONMENT.items():
        if source == "real":
            value = os.environ.get(variable) or raw.get(key)
            if not isinstance(value, str):
                raise ParamsError(f"{path}: key {key!r} expected a path string (or set ${variable})")
            roots[key] = value
        elif key in raw:
            raise ParamsError(f"{path}: key {key!r} is only for source: real; SynthFashion roots follow from synthfashion.out")
    return DataConfig(source=source, dataset_label=raw["dataset_label"], synthfashion=synth,
                      synthfashion_inshop=synth_inshop, path=path, **roots)


def _synth_config(raw: dict, path: Path) -> SynthFashionConfig:
    return _config_of(SynthFashionConfig, raw, path, "synthfashion")


def _config_of(config_class, raw: dict, path: Path, section: str):
    """config_class(**raw), each key checked: known, of its type (strings for out, mappings for knobs,
    lists of two integers for images_per_item, integers otherwise) and the required ones present."""
    fields = {field.name: field for field in dataclasses.fields(config_class)}
    for key, value in raw.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ParamsError(f"{path}: unknown {section} key {key!r}{hint} Expected one of: {', '.join(fields)}")
        expected = {"out": str, "knobs": dict, "images_per_item": list}.get(key, int)
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ParamsError(f"{path}: {section}.{key} expected {expected.__name__}, got {value!r}")
        if key == "images_per_item" and (len(value) != 2 or not all(
                isinstance(count, int) and not isinstance(count, bool) for count in value)):
            raise ParamsError(f"{path}: {section}.images_per_item expected [lowest, highest] image counts, got {value!r}")
    missing = [name for name, field in fields.items() if key_required(field) and name not in raw]
    if missing:
        raise ParamsError(f"{path}: {section} is missing required keys: {', '.join(missing)}")
    return config_class(**raw)


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
