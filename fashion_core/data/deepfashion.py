"""Readers for DeepFashion-C (Category and Attribute Prediction) and FLD (Fashion Landmark Detection).

Both benchmarks are sets of two-line-header list files joined on image_name
(formats in shared/papers/NOTES.md). Every per-image file must list exactly the images of
Eval/list_eval_partition.txt; every bad row raises AnnotationError with its file and line,
unless `skip_bad=True`, which drops the image and records why in `.skipped`.

Landmarks live in 8 fixed slots (LANDMARK_NAMES). Coordinates are pixels of the original
image as written in the files; a slot the garment type does not have holds (0, 0) with
visibility -1.

Consistency checks across files: a category's type (list_category_cloth.txt) must be the
image's clothes_type (list_landmarks.txt). A visible landmark must lie inside its image to
within COORDINATE_TOLERANCE_PX: left of or above the image is rejected while reading; past the
right or bottom edge needs the image's size, so it is checked where an image is opened
(`verify_images=True`, the torch datasets, fashion_core.data.datasets.check_images).
"""
from __future__ import annotations

import dataclasses
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, TypeVar

import numpy as np
import pandas as pd
from PIL import Image

from fashion_core.data.errors import AnnotationError
from fashion_core.data.listfile import (
    FIRST_DATA_LINE,
    Issue,
    RowIssues,
    SkippedRow,
    parse_number_rows,
    read_list_file,
    read_number_table,
    skipped_reasons,
    split_first_field,
)
from fashion_core.data.vocab import (
    ATTRIBUTE_TYPE_NAMES,
    CLOTHES_TYPE_NAMES,
    LANDMARK_NAMES,
    LANDMARK_SLOTS,
    VISIBILITY_CODES,
)

ABSENT = -1
SPLITS = ("train", "val", "test")

PARTITION_FILE = "Eval/list_eval_partition.txt"
CATEGORY_VOCAB_FILE = "Anno/list_category_cloth.txt"
ATTRIBUTE_VOCAB_FILE = "Anno/list_attr_cloth.txt"
CATEGORY_FILE = "Anno/list_category_img.txt"
ATTRIBUTE_FILE = "Anno/list_attr_img.txt"
BBOX_FILE = "Anno/list_bbox.txt"
LANDMARK_FILE = "Anno/list_landmarks.txt"

# How far, in pixels, a visible landmark (or a FashionAI keypoint that has coordinates) may lie
# outside its image, which spans [0, width] x [0, height], before it is an error. Annotators click
# on the garment's edge where the frame cuts it, and tools round to whole pixels, so a point a
# pixel or two past the edge is a real annotation; a few pixels accepts that and still rejects a
# sign error, swapped axes or a coordinate of another image. (SynthFashion never needs it: its
# visible points lie in [0, width) x [0, height), and points outside the frame are truncated, code 2.)
COORDINATE_TOLERANCE_PX = 4

_Annotations = TypeVar("_Annotations", bound="LandmarkAnnotations")


@dataclass(frozen=True)
class Vocabulary:
    """Rows of list_category_cloth.txt or list_attr_cloth.txt: row i is label i (0-based)."""

    path: Path
    names: list[str]
    types: np.ndarray  # int8

    def __len__(self) -> int:
        return len(self.names)


@dataclass(kw_only=True)
class LandmarkAnnotations:
    """Per-image landmark annotations (FLD, and the landmark part of DeepFashion-C), in partition order."""

    root: Path
    image_root: Path
    image_names: list[str]
    split: np.ndarray                   # str: train / val / test
    clothes_type: np.ndarray            # int8: 1 upper, 2 lower, 3 full
    variation_type: np.ndarray | None   # int16, only when the landmark header has the column (FLD)
    bbox: np.ndarray | None             # float32 (N,4) x1,y1,x2,y2; None when there is no list_bbox.txt
    landmarks: np.ndarray               # float32 (N,8,2) original-image pixels
    landmark_visibility: np.ndarray     # int8 (N,8): 0 visible, 1 occluded, 2 truncated, -1 no such slot
    files: dict[str, Path]              # role ("Anno/list_bbox.txt", ...) -> path read
    line_numbers: dict[str, np.ndarray]  # role -> 1-based line of each image's row in that file
    skipped: list[SkippedRow] = field(default_factory=list)

    _per_image_fields = ("split", "clothes_type", "variation_type", "bbox", "landmarks", "landmark_visibility")

    def __len__(self) -> int:
        return len(self.image_names)

    @property
    def skipped_reasons(self) -> Counter:
        return skipped_reasons(self.skipped)

    def image_path(self, index: int) -> Path:
        return self.image_root / self.image_names[index]

    def source_line(self, index: int, file: str = PARTITION_FILE) -> tuple[Path, int]:
        """(annotation file, 1-based line) of image `index`'s row; `file` is a role or a base name."""
        role = self._role(file)
        return self.files[role], int(self.line_numbers[role][index])

    def indices(self, split: str | None) -> np.ndarray:
        """Row indices of one split (all rows for None)."""
        if split is None:
            return np.arange(len(self), dtype=np.int64)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        return np.flatnonzero(self.split == split)

    def subset(self: _Annotations, split_or_indices: str | Sequence[int] | np.ndarray) -> _Annotations:
        """A copy restricted to one split or to given row indices (line numbers follow the rows)."""
        if isinstance(split_or_indices, str):
            rows = self.indices(split_or_indices)
        else:
            rows = np.asarray(split_or_indices, dtype=np.int64)
        changes: dict[str, object] = {
            "image_names": [self.image_names[row] for row in rows],
            "line_numbers": {role: lines[rows] for role, lines in self.line_numbers.items()},
        }
        for name in self._per_image_fields:
            value = getattr(self, name)
            changes[name] = None if value is None else value[rows]
        return dataclasses.replace(self, **changes)

    def _role(self, file: str) -> str:
        if file in self.files:
            return file
        for role, path in self.files.items():
            if Path(role).name == file or path == Path(file):
                return role
        raise KeyError(f"no annotation file {file!r}; have {sorted(self.files)}")


@dataclass(kw_only=True)
class CategoryAttributeAnnotations(LandmarkAnnotations):
    """DeepFashion-C: landmarks plus category, attributes and bbox for every image."""

    category: np.ndarray        # int64, 0-based row of list_category_cloth.txt
    category_type: np.ndarray   # int8, the category's type (1/2/3)
    attributes: np.ndarray      # int8 (N,K): 1 positive, 0 otherwise
    category_names: list[str]
    category_types: np.ndarray  # int8 (C,)
    attribute_names: list[str]
    attribute_types: np.ndarray  # int8 (K,)

    _per_image_fields = LandmarkAnnotations._per_image_fields + ("category", "category_type", "attributes")


def read_category_vocab(path: str | os.PathLike) -> Vocabulary:
    """list_category_cloth.txt: `category_name category_type`, type 1 upper, 2 lower, 3 full."""
    return _read_vocab(Path(path), CLOTHES_TYPE_NAMES, "category_type")


def read_attribute_vocab(path: str | os.PathLike) -> Vocabulary:
    """list_attr_cloth.txt: `attribute_name attribute_type`; names may contain spaces, the type is the last token."""
    return _read_vocab(Path(path), ATTRIBUTE_TYPE_NAMES, "attribute_type")


def _read_vocab(path: Path, type_names: dict[int, str], column: str) -> Vocabulary:
    # A bad vocabulary row would shift every later label, so it is never skipped.
    list_file = read_list_file(path, RowIssues(skip_bad=False))
    choices = [f"{code} ({name})" for code, name in type_names.items()]
    allowed = ", ".join(choices[:-1]) + " or " + choices[-1]
    names: list[str] = []
    types: list[int] = []
    for line_number, line in zip(list_file.line_numbers, list_file.lines):
        parts = line.rsplit(None, 1)
        if len(parts) != 2:
            raise AnnotationError(path, int(line_number), f"a name followed by {column}", repr(line.strip()))
        name, type_token = parts[0].strip(), parts[1]
        try:
            type_code = int(type_token)
        except ValueError:
            type_code = None
        if type_code not in type_names:
            raise AnnotationError(path, int(line_number), f"{column} {allowed} as the last field", repr(type_token))
        names.append(name)
        types.append(type_code)
    return Vocabulary(path=path, names=names, types=np.array(types, dtype=np.int8))


def resolve_image_root(root: str | os.PathLike, image_root: str | os.PathLike | None = None) -> Path:
    """Where `img/...` image names resolve: `image_root`, else `root`, else `root/Img` (a common real layout)."""
    if image_root is not None:
        return Path(image_root)
    root = Path(root)
    if not (root / "img").is_dir() and (root / "Img" / "img").is_dir():
        return root / "Img"
    return root


def read_category_attribute(
    root: str | os.PathLike,
    *,
    image_root: str | os.PathLike | None = None,
    skip_bad: bool = False,
    check_images: bool = True,
    verify_images: bool = False,
) -> CategoryAttributeAnnotations:
    """Read a DeepFashion-C tree (Anno/*.txt, Eval/list_eval_partition.txt).

    check_images: every listed image must exist (a directory listing, fast).
    verify_images: also decode every image and check its bbox and visible landmarks against its size (slow).
    """
    root = Path(root)
    issues = RowIssues(skip_bad)
    categories = read_category_vocab(root / CATEGORY_VOCAB_FILE)
    attribute_vocab = read_attribute_vocab(root / ATTRIBUTE_VOCAB_FILE)

    partition = _read_partition(root / PARTITION_FILE, issues)
    labels = _read_category_labels(root / CATEGORY_FILE, len(categories), issues)
    attributes = _read_attribute_labels(root / ATTRIBUTE_FILE, len(attribute_vocab), issues)
    boxes = _read_bboxes(root / BBOX_FILE, issues)
    landmarks = _read_landmarks(root / LANDMARK_FILE, issues)
    tables = {CATEGORY_FILE: labels, ATTRIBUTE_FILE: attributes, BBOX_FILE: boxes, LANDMARK_FILE: landmarks}
    keep, rows = _join(partition, tables, issues)
    keep, rows = _check_category_types(categories, labels, landmarks, keep, rows, issues)

    category = labels.values["category"][rows[CATEGORY_FILE]]
    annotations = CategoryAttributeAnnotations(
        root=root,
        image_root=resolve_image_root(root, image_root),
        image_names=[partition.names[row] for row in np.flatnonzero(keep)],
        split=partition.values["split"][keep],
        clothes_type=landmarks.values["clothes_type"][rows[LANDMARK_FILE]],
        variation_type=_optional_take(landmarks.values.get("variation_type"), rows[LANDMARK_FILE]),
        bbox=boxes.values["bbox"][rows[BBOX_FILE]],
        landmarks=landmarks.values["landmarks"][rows[LANDMARK_FILE]],
        landmark_visibility=landmarks.values["visibility"][rows[LANDMARK_FILE]],
        category=category,
        category_type=categories.types[category],
        attributes=attributes.values["attributes"][rows[ATTRIBUTE_FILE]],
        category_names=categories.names,
        category_types=categories.types,
        attribute_names=attribute_vocab.names,
        attribute_types=attribute_vocab.types,
        files={PARTITION_FILE: partition.path, CATEGORY_VOCAB_FILE: categories.path,
               ATTRIBUTE_VOCAB_FILE: attribute_vocab.path, **{role: table.path for role, table in tables.items()}},
        line_numbers={PARTITION_FILE: partition.line_numbers[keep],
                      **{role: table.line_numbers[rows[role]] for role, table in tables.items()}},
    )
    return _check_images_and_finish(annotations, len(partition.names), issues, check_images, verify_images)


def read_fld(
    root: str | os.PathLike,
    *,
    image_root: str | os.PathLike | None = None,
    skip_bad: bool = False,
    check_images: bool = True,
    verify_images: bool = False,
) -> LandmarkAnnotations:
    """Read an FLD tree: Anno/list_landmarks.txt, optional Anno/list_bbox.txt, Eval/list_eval_partition.txt."""
    root = Path(root)
    issues = RowIssues(skip_bad)
    partition = _read_partition(root / PARTITION_FILE, issues)
    landmarks = _read_landmarks(root / LANDMARK_FILE, issues)
    tables = {LANDMARK_FILE: landmarks}
    has_bbox = (root / BBOX_FILE).exists()
    if has_bbox:
        tables[BBOX_FILE] = _read_bboxes(root / BBOX_FILE, issues)
    keep, rows = _join(partition, tables, issues)
    annotations = LandmarkAnnotations(
        root=root,
        image_root=resolve_image_root(root, image_root),
        image_names=[partition.names[row] for row in np.flatnonzero(keep)],
        split=partition.values["split"][keep],
        clothes_type=landmarks.values["clothes_type"][rows[LANDMARK_FILE]],
        variation_type=_optional_take(landmarks.values.get("variation_type"), rows[LANDMARK_FILE]),
        bbox=tables[BBOX_FILE].values["bbox"][rows[BBOX_FILE]] if has_bbox else None,
        landmarks=landmarks.values["landmarks"][rows[LANDMARK_FILE]],
        landmark_visibility=landmarks.values["visibility"][rows[LANDMARK_FILE]],
        files={PARTITION_FILE: partition.path, **{role: table.path for role, table in tables.items()}},
        line_numbers={PARTITION_FILE: partition.line_numbers[keep],
                      **{role: table.line_numbers[rows[role]] for role, table in tables.items()}},
    )
    return _check_images_and_finish(annotations, len(partition.names), issues, check_images, verify_images)


# ---------------------------------------------------------------------------------------------
# Per-file readers. Each returns _Rows in file order; `ok` is False for rows reported as bad.


@dataclass
class _Rows:
    path: Path
    names: list[str]
    line_numbers: np.ndarray
    ok: np.ndarray
    values: dict[str, np.ndarray]


def _read_partition(path: Path, issues: RowIssues) -> _Rows:
    list_file = read_list_file(path, issues)
    line_numbers = list_file.line_numbers
    names: list[str] = []
    splits = np.full(len(list_file.lines), "", dtype="<U5")
    ok = np.ones(len(list_file.lines), dtype=bool)
    for row, line in enumerate(list_file.lines):
        fields = line.split()
        names.append(fields[0] if fields else "")
        if len(fields) != 2:
            issues.report("wrong field count", path, int(line_numbers[row]),
                          "2 fields (image_name evaluation_status)", str(len(fields)))
            ok[row] = False
        elif fields[1] not in SPLITS:
            issues.report("unknown evaluation_status", path, int(line_numbers[row]),
                          "evaluation_status train, val or test", repr(fields[1]))
            ok[row] = False
        else:
            splits[row] = fields[1]
    return _Rows(path, names, line_numbers, ok, {"split": splits})


def _read_category_labels(path: Path, n_categories: int, issues: RowIssues) -> _Rows:
    table = read_number_table(path, 1, np.int64, issues, " (image_name category_label)")
    labels = table.values[:, 0]
    out_of_range = table.ok & ((labels < 1) | (labels > n_categories))
    for row in np.flatnonzero(out_of_range):
        issues.report("category index out of range", path, int(table.line_numbers[row]),
                      f"a category_label from 1 to {n_categories} (a row of {CATEGORY_VOCAB_FILE})",
                      str(labels[row]))
    ok = table.ok & ~out_of_range
    return _Rows(path, table.names, table.line_numbers, ok, {"category": np.where(ok, labels - 1, 0)})


def _read_attribute_labels(path: Path, n_attributes: int, issues: RowIssues) -> _Rows:
    table = read_number_table(path, n_attributes, np.int8, issues,
                              f" (image_name then {n_attributes} attribute labels)")
    values = table.values
    # 1 is positive, -1 negative; some releases write 0 for "not labelled", also counted as not positive.
    # Shifted by one in uint8 the three allowed codes become 0..2: one pass over 289M labels, not three.
    bad_rows = ((values.view(np.uint8) + np.uint8(1)) > 2).any(axis=1) & table.ok
    for row in np.flatnonzero(bad_rows):
        column = int(np.flatnonzero(~np.isin(values[row], (-1, 0, 1)))[0])
        issues.report("unknown attribute label", path, int(table.line_numbers[row]),
                      f"attribute label 1 or -1 in field {column + 2}", str(values[row, column]))
    positives = (values == 1).view(np.int8)
    return _Rows(path, table.names, table.line_numbers, table.ok & ~bad_rows, {"attributes": positives})


def _read_bboxes(path: Path, issues: RowIssues) -> _Rows:
    table = read_number_table(path, 4, np.float64, issues, " (image_name x_1 y_1 x_2 y_2)")
    x1, y1, x2, y2 = table.values.T
    # Sides against the image size are checked once the image is opened (verify_images / __getitem__).
    bad = table.ok & ((x1 < 0) | (y1 < 0) | (x2 <= x1) | (y2 <= y1))
    for row in np.flatnonzero(bad):
        issues.report("bbox outside image", path, int(table.line_numbers[row]),
                      "a bbox with 0 <= x_1 < x_2 and 0 <= y_1 < y_2", _format_box(table.values[row]))
    return _Rows(path, table.names, table.line_numbers, table.ok & ~bad, {"bbox": table.values.astype(np.float32)})


def _read_landmarks(path: Path, issues: RowIssues) -> _Rows:
    list_file = read_list_file(path, issues)
    line_numbers = list_file.line_numbers
    has_variation = "variation_type" in list_file.columns
    lead_columns = "image_name, clothes_type" + (", variation_type" if has_variation else "")
    n = len(list_file.lines)
    heads, rests = split_first_field(list_file.lines, 2)
    names = [head[0] if head else "" for head in heads]
    ok = np.ones(n, dtype=bool)
    clothes_type = np.zeros(n, dtype=np.int8)
    variation_type = np.zeros(n, dtype=np.int16) if has_variation else None
    landmarks = np.zeros((n, 8, 2), dtype=np.float32)
    visibility = np.full((n, 8), ABSENT, dtype=np.int8)

    rows_by_type: dict[int, list[int]] = {code: [] for code in LANDMARK_SLOTS}
    for row, head in enumerate(heads):
        if len(head) < 2:
            issues.report("wrong field count", path, int(line_numbers[row]),
                          f"at least {3 if has_variation else 2} fields ({lead_columns}, triples)", str(len(head)))
            ok[row] = False
            continue
        code = _int_or_none(head[1])
        if code not in LANDMARK_SLOTS:
            issues.report("unknown clothes_type", path, int(line_numbers[row]),
                          "clothes_type 1 (upper-body), 2 (lower-body) or 3 (full-body) in field 2", repr(head[1]))
            ok[row] = False
            continue
        clothes_type[row] = code
        rows_by_type[code].append(row)

    lead_values = 1 if has_variation else 0
    for code, type_rows in rows_by_type.items():
        if not type_rows:
            continue
        slots = list(LANDMARK_SLOTS[code])
        rows = np.asarray(type_rows)
        values, parsed_ok = parse_number_rows(
            path, [rests[row] for row in rows], line_numbers[rows], lead_values + 3 * len(slots), np.float64,
            issues, leading_fields=2,
            row_description=f" for clothes_type {code} ({lead_columns}, then {len(slots)} visibility x y triples)")
        triples = values[:, lead_values:].reshape(len(rows), len(slots), 3)
        bad_code = parsed_ok[:, None] & ~np.isin(triples[..., 0], list(VISIBILITY_CODES))
        for position in np.flatnonzero(bad_code.any(axis=1)):
            slot = int(np.argmax(bad_code[position]))
            issues.report("unknown visibility code", path, int(line_numbers[rows[position]]),
                          f"landmark visibility 0 (visible), 1 (occluded) or 2 (truncated) in field "
                          f"{3 + lead_values + 3 * slot}", _format_number(triples[position, slot, 0]))
            parsed_ok[position] = False
        _reject_negative_landmarks(path, code, line_numbers[rows], triples, lead_values, parsed_ok, issues)
        if has_variation:
            variation = values[:, 0]
            bad_variation = parsed_ok & (variation != np.round(variation))
            for position in np.flatnonzero(bad_variation):
                issues.report("non-numeric field", path, int(line_numbers[rows[position]]),
                              "an integer variation_type in field 3", _format_number(variation[position]))
            parsed_ok &= ~bad_variation
            variation_type[rows] = variation.astype(np.int16)
        landmarks[rows[:, None], slots] = triples[..., 1:]
        visibility[rows[:, None], slots] = triples[..., 0].astype(np.int8)
        ok[rows] &= parsed_ok

    values_out = {"clothes_type": clothes_type, "landmarks": landmarks, "visibility": visibility}
    if variation_type is not None:
        values_out["variation_type"] = variation_type
    return _Rows(path, names, line_numbers, ok, values_out)


def _landmark_fields(clothes_type: int, slot: int, lead_values: int) -> str:
    """'left sleeve (landmark_location_x_3 and landmark_location_y_3, fields 10 and 11)': where a slot is written."""
    position = LANDMARK_SLOTS[clothes_type].index(slot)
    x_field = 4 + lead_values + 3 * position
    return (f"{LANDMARK_NAMES[slot]} (landmark_location_x_{position + 1} and landmark_location_y_{position + 1}, "
            f"fields {x_field} and {x_field + 1})")


def _reject_negative_landmarks(path: Path, clothes_type: int, line_numbers: np.ndarray, triples: np.ndarray,
                               lead_values: int, parsed_ok: np.ndarray, issues: RowIssues) -> None:
    """A visible landmark left of or above the image is outside it whatever the image's size: found before any
    image is opened. Marks those rows not ok in `parsed_ok` (rows of one clothes_type, triples (R, slots, 3))."""
    tolerance = COORDINATE_TOLERANCE_PX
    outside = parsed_ok[:, None] & (triples[..., 0] == 0) & (triples[..., 1:] < -tolerance).any(axis=-1)
    for position in np.flatnonzero(outside.any(axis=1)):
        index = int(np.argmax(outside[position]))
        slot = LANDMARK_SLOTS[clothes_type][index]
        issues.report("landmark outside image", path, int(line_numbers[position]),
                      f"visible landmark {_landmark_fields(clothes_type, slot, lead_values)} at x >= {-tolerance} "
                      f"and y >= {-tolerance} (inside the image, to within COORDINATE_TOLERANCE_PX = {tolerance})",
                      _format_point(triples[position, index, 1:]))
        parsed_ok[position] = False


# ---------------------------------------------------------------------------------------------
# Joining the files and checking the images.


def _join(partition: _Rows, tables: dict[str, _Rows], issues: RowIssues) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Match every table's rows to the partition's images: (keep mask, per-role row of each kept image)."""
    partition_unique, _, partition_duplicate = _first_occurrences(partition, issues)
    keep = partition.ok & ~partition_duplicate
    partition_names = pd.Index(partition.names, dtype=object)
    positions: dict[str, np.ndarray] = {}
    for role, table in tables.items():
        unique, unique_rows, _ = _first_occurrences(table, issues)
        for row in unique_rows[~unique.isin(partition_unique)]:
            issues.report("image not in partition", table.path, int(table.line_numbers[row]),
                          f"an image listed in {PARTITION_FILE}", table.names[row])
        found_at = unique.get_indexer(partition_names)
        position = np.where(found_at >= 0, unique_rows[found_at], -1)
        for row in np.flatnonzero(keep & (position < 0)):
            issues.report("image missing from file", table.path, None,
                          f"a row for {partition.names[row]} (listed at {partition.path}:"
                          f"{int(partition.line_numbers[row])})", "none")
        found = position >= 0
        keep &= found
        keep[found] &= table.ok[position[found]]
        positions[role] = position
    return keep, {role: position[keep] for role, position in positions.items()}


def _check_category_types(categories: Vocabulary, labels: _Rows, landmarks: _Rows, keep: np.ndarray,
                          rows: dict[str, np.ndarray], issues: RowIssues) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each kept image's category type (list_category_cloth.txt) must be its clothes_type (list_landmarks.txt).

    A lower-body category on a full-body landmark row means one of the two rows is wrong, and the
    landmark slots (which clothes_type chooses) would not match the garment. Returns (keep, rows) without
    the images reported (skip_bad).
    """
    label_rows, landmark_rows = rows[CATEGORY_FILE], rows[LANDMARK_FILE]
    category = labels.values["category"][label_rows]
    expected = categories.types[category]
    written = landmarks.values["clothes_type"][landmark_rows]
    mismatch = expected != written
    for position in np.flatnonzero(mismatch):
        label = int(category[position])
        want, got = int(expected[position]), int(written[position])
        issues.report(
            "clothes_type does not match category", landmarks.path, int(landmarks.line_numbers[landmark_rows[position]]),
            f"clothes_type {want} ({CLOTHES_TYPE_NAMES[want]}) in field 2: the image's category_label {label + 1} at "
            f"{labels.path}:{int(labels.line_numbers[label_rows[position]])} is {categories.names[label]!r}, of "
            f"category_type {want} at {categories.path}:{FIRST_DATA_LINE + label}",
            f"{got} ({CLOTHES_TYPE_NAMES[got]})")
    if not mismatch.any():
        return keep, rows
    keep = keep.copy()
    keep[np.flatnonzero(keep)[mismatch]] = False
    return keep, {role: role_rows[~mismatch] for role, role_rows in rows.items()}


def _first_occurrences(rows: _Rows, issues: RowIssues) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """(unique names, the row of each, duplicate-row mask); every repeat is reported at its own line."""
    names = pd.Index(rows.names, dtype=object)
    named = np.asarray(names != "")
    duplicate = names.duplicated(keep="first") & named
    unique_rows = np.flatnonzero(named & ~duplicate)
    unique = names[unique_rows]
    if duplicate.any():
        first_rows = unique_rows[unique.get_indexer(names[duplicate])]
        for row, first in zip(np.flatnonzero(duplicate), first_rows):
            issues.report("duplicate image", rows.path, int(rows.line_numbers[row]),
                          f"each image listed once (first listed at line {int(rows.line_numbers[first])})",
                          rows.names[row])
    return unique, unique_rows, duplicate


def _check_images_and_finish(annotations: _Annotations, rows_read: int, issues: RowIssues,
                             check_images: bool, verify_images: bool) -> _Annotations:
    keep = np.ones(len(annotations), dtype=bool)
    if check_images or verify_images:
        missing = find_missing_images(annotations.image_root, annotations.image_names)
        for row in np.flatnonzero(missing):
            path, line = annotations.source_line(row)
            issues.report("missing image", path, line, f"an existing image file {annotations.image_path(row)}",
                          "no such file")
        keep &= ~missing
    if verify_images:
        for row in np.flatnonzero(keep):
            keep[row] = _verify_image(annotations, row, issues)
    if not keep.all():
        annotations = annotations.subset(np.flatnonzero(keep))
    annotations.skipped = issues.skipped
    issues.warn_if_skipped(annotations.root, len(annotations), rows_read - len(annotations))
    return annotations


def find_missing_images(image_root: Path, image_names: Sequence[str]) -> np.ndarray:
    """Boolean mask of names with no file under image_root; lists each directory once (289k stat calls are slow)."""
    listings: dict[str, set[str]] = {}
    missing = np.zeros(len(image_names), dtype=bool)
    for row, name in enumerate(image_names):
        directory, _, file_name = name.replace("\\", "/").rpartition("/")
        if directory not in listings:
            try:
                listings[directory] = set(os.listdir(image_root / directory))
            except OSError:
                listings[directory] = set()
        missing[row] = file_name not in listings[directory]
    return missing


def decode_check(image_path: Path) -> tuple[int, int]:
    """Fully decode an image (JPEG at 1/8 scale, which still reads every byte); returns the original (w, h)."""
    with Image.open(image_path) as image:
        size = image.size
        image.draft("RGB", (1, 1))
        image.load()
    return size


def check_bbox_in_image(bbox: np.ndarray, width: int, height: int) -> bool:
    x1, y1, x2, y2 = (float(value) for value in bbox)
    return 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height


def points_inside_image(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Mask (...,) of points (..., 2) within [0, width] x [0, height], widened by COORDINATE_TOLERANCE_PX."""
    tolerance = COORDINATE_TOLERANCE_PX
    x, y = np.asarray(points, dtype=np.float64)[..., 0], np.asarray(points, dtype=np.float64)[..., 1]
    return (x >= -tolerance) & (x <= width + tolerance) & (y >= -tolerance) & (y <= height + tolerance)


def inside_image_rule(width: int, height: int) -> str:
    tolerance = COORDINATE_TOLERANCE_PX
    return (f"{-tolerance} <= x <= {width + tolerance} and {-tolerance} <= y <= {height + tolerance}: "
            f"COORDINATE_TOLERANCE_PX = {tolerance} around 0 <= x <= width, 0 <= y <= height")


def image_size_issue(annotations: LandmarkAnnotations, row: int, width: int, height: int) -> Issue | None:
    """What image `row`'s size (from its opened file) rules out: a bbox past the image, else a visible landmark
    outside it (to within COORDINATE_TOLERANCE_PX); None when both fit. Each names its own file and line."""
    image_path = annotations.image_path(row)
    if annotations.bbox is not None and not check_bbox_in_image(annotations.bbox[row], width, height):
        path, line = annotations.source_line(row, BBOX_FILE)
        return Issue("bbox outside image", path, line,
                     f"a bbox inside the {width}x{height} image {image_path} (0 <= x_1 < x_2 <= width, "
                     f"0 <= y_1 < y_2 <= height)", _format_box(annotations.bbox[row]))
    outside = (annotations.landmark_visibility[row] == 0) & ~points_inside_image(annotations.landmarks[row],
                                                                                  width, height)
    if outside.any():
        slot = int(np.argmax(outside))
        path, line = annotations.source_line(row, LANDMARK_FILE)
        fields = _landmark_fields(int(annotations.clothes_type[row]), slot,
                                  0 if annotations.variation_type is None else 1)
        return Issue("landmark outside image", path, line,
                     f"visible landmark {fields} inside the {width}x{height} image {image_path} "
                     f"({inside_image_rule(width, height)})", _format_point(annotations.landmarks[row, slot]))
    return None


def _verify_image(annotations: LandmarkAnnotations, row: int, issues: RowIssues) -> bool:
    image_path = annotations.image_path(row)
    try:
        width, height = decode_check(image_path)
    except (OSError, SyntaxError, ValueError) as error:
        path, line = annotations.source_line(row)
        issues.report("corrupt image", path, line, f"a decodable image at {image_path}", str(error))
        return False
    issue = image_size_issue(annotations, row, width, height)
    if issue is not None:
        issues.report(*issue)
        return False
    return True


def _optional_take(values: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if values is None else values[rows]


def _int_or_none(token: str) -> int | None:
    try:
        return int(token)
    except ValueError:
        return None


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _format_point(point: np.ndarray) -> str:
    return f"x={_format_number(point[0])} y={_format_number(point[1])}"


def _format_box(box: np.ndarray) -> str:
    x1, y1, x2, y2 = (_format_number(value) for value in box)
    return f"x_1={x1} y_1={y1} x_2={x2} y_2={y2}"
