"""Reader for DeepFashion In-shop Clothes Retrieval (FashionNet's third task): items, query / gallery, landmarks.

Files (DeepFashion list format: line 1 a row count, line 2 the column names, rows follow):

    Eval/list_eval_partition.txt     image_name item_id evaluation_status (train / query / gallery)
    Anno/list_bbox_inshop.txt        image_name clothes_type pose_type x_1 y_1 x_2 y_2
    Anno/list_landmarks_inshop.txt   image_name clothes_type variation_type, then one visibility x y
                                     triple per landmark of the clothes_type (6 upper, 4 lower, 8 full)
    img/<GENDER>/<Category>/id_XXXXXXXX/NN_K_<view>.jpg   (or Img/img/...)

Codes: clothes_type 1 upper, 2 lower, 3 full; pose_type 1 frontal, 2 side, 3 back, 4 zoom-out,
5 zoom-in, 6 stand-alone; variation_type 1 normal, 2 medium, 3 large pose, 4 medium, 5 large
zoom-in; visibility 0 visible, 1 occluded, 2 truncated. Landmarks go to the 8 DeepFashion slots
as in deepfashion.py (a slot the clothes_type lacks: (0, 0), visibility -1).

The benchmark's rules are checked: every image of the partition has a bbox row and a landmark row
(and no file lists an image the partition does not), the two files agree on its clothes_type, and
no item has both train and query / gallery images. Every error is an AnnotationError naming file,
line, field and what was expected; `skip_bad=True` drops the image instead and records why in
`.skipped` (an item split across train and test is never skipped: it breaks the protocol, not a row).
The row readers, the join, the duplicate check and the image checks are deepfashion.py's.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fashion_core.data.deepfashion import (
    BBOX_FILE,
    LANDMARK_FILE,
    LandmarkAnnotations,
    _check_images_and_finish,
    _format_box,
    _format_number,
    _join,
    _optional_take,
    _read_landmarks,
    _Rows,
    resolve_image_root,
)
from fashion_core.data.errors import AnnotationError
from fashion_core.data.listfile import RowIssues, read_list_file, read_number_table
from fashion_core.data.vocab import CLOTHES_TYPE_NAMES

INSHOP_SPLITS = ("train", "query", "gallery")
INSHOP_PARTITION_FILE = "Eval/list_eval_partition.txt"
INSHOP_BBOX_FILE = "Anno/list_bbox_inshop.txt"
INSHOP_LANDMARK_FILE = "Anno/list_landmarks_inshop.txt"
POSE_TYPE_NAMES = {1: "frontal", 2: "side", 3: "back", 4: "zoom-out", 5: "zoom-in", 6: "stand-alone"}
# deepfashion.image_size_issue asks for the bbox and landmark rows by their DeepFashion-C roles.
_DEEPFASHION_ROLES = {BBOX_FILE: INSHOP_BBOX_FILE, LANDMARK_FILE: INSHOP_LANDMARK_FILE}


@dataclass(kw_only=True)
class InShopAnnotations(LandmarkAnnotations):
    """Per-image In-shop annotations in partition order; `split` holds train / query / gallery."""

    item_id: np.ndarray      # str per image: the item id as written (id_XXXXXXXX)
    item_index: np.ndarray   # int64 per image: its row in item_names
    item_names: list[str]    # the distinct item ids, in order of first appearance in the partition
    pose_type: np.ndarray    # int8 per image, from list_bbox_inshop.txt

    _per_image_fields = LandmarkAnnotations._per_image_fields + ("item_id", "item_index", "pose_type")

    def indices(self, split: str | None) -> np.ndarray:
        """Row indices of one split (train, query or gallery; all rows for None)."""
        if split is None:
            return np.arange(len(self), dtype=np.int64)
        if split not in INSHOP_SPLITS:
            raise ValueError(f"split must be one of {INSHOP_SPLITS} or None, got {split!r}")
        return np.flatnonzero(self.split == split)

    def _role(self, file: str) -> str:
        return super()._role(_DEEPFASHION_ROLES.get(file, file))


def read_inshop(
    root: str | os.PathLike,
    image_root: str | os.PathLike | None = None,
    *,
    skip_bad: bool = False,
    check_images: bool = True,
    verify_images: bool = False,
) -> InShopAnnotations:
    """Read an In-shop tree (real or SynthFashion's).

    image_root: where `img/...` names resolve (default: root, or root/Img when the images are there).
    check_images: every listed image must exist. verify_images: also decode each and check its bbox and
    visible landmarks against its size (the datasets check that where they open an image anyway).
    """
    root = Path(root)
    issues = RowIssues(skip_bad)
    partition = _read_partition(root / INSHOP_PARTITION_FILE, issues)
    boxes = _read_inshop_bboxes(root / INSHOP_BBOX_FILE, issues)
    landmarks = _read_landmarks(root / INSHOP_LANDMARK_FILE, issues)
    tables = {INSHOP_BBOX_FILE: boxes, INSHOP_LANDMARK_FILE: landmarks}
    keep, rows = _join(partition, tables, issues)
    keep, rows = _check_clothes_types(boxes, landmarks, keep, rows, issues)
    _check_items_disjoint(partition, keep)

    kept = np.flatnonzero(keep)
    item_id = np.asarray([partition.names_item[row] for row in kept], dtype=str)
    item_names = list(pd.unique(item_id)) if len(item_id) else []
    annotations = InShopAnnotations(
        root=root,
        image_root=resolve_image_root(root, image_root),
        image_names=[partition.names[row] for row in kept],
        split=partition.values["split"][keep],
        clothes_type=landmarks.values["clothes_type"][rows[INSHOP_LANDMARK_FILE]],
        variation_type=_optional_take(landmarks.values.get("variation_type"), rows[INSHOP_LANDMARK_FILE]),
        bbox=boxes.values["bbox"][rows[INSHOP_BBOX_FILE]],
        landmarks=landmarks.values["landmarks"][rows[INSHOP_LANDMARK_FILE]],
        landmark_visibility=landmarks.values["visibility"][rows[INSHOP_LANDMARK_FILE]],
        item_id=item_id,
        item_index=pd.Index(item_names, dtype=object).get_indexer(item_id).astype(np.int64),
        item_names=[str(name) for name in item_names],
        pose_type=boxes.values["pose_type"][rows[INSHOP_BBOX_FILE]],
        files={INSHOP_PARTITION_FILE: partition.path, **{role: table.path for role, table in tables.items()}},
        line_numbers={INSHOP_PARTITION_FILE: partition.line_numbers[keep],
                      **{role: table.line_numbers[rows[role]] for role, table in tables.items()}},
    )
    return _check_images_and_finish(annotations, len(partition.names), issues, check_images, verify_images)


@dataclass
class _PartitionRows(_Rows):
    names_item: list[str]


def _read_partition(path: Path, issues: RowIssues) -> _PartitionRows:
    list_file = read_list_file(path, issues)
    line_numbers = list_file.line_numbers
    names: list[str] = []
    items: list[str] = []
    splits = np.full(len(list_file.lines), "", dtype="<U7")
    ok = np.ones(len(list_file.lines), dtype=bool)
    for row, line in enumerate(list_file.lines):
        fields = line.split()
        names.append(fields[0] if fields else "")
        items.append(fields[1] if len(fields) > 1 else "")
        if len(fields) != 3:
            issues.report("wrong field count", path, int(line_numbers[row]),
                          "3 fields (image_name item_id evaluation_status)", str(len(fields)))
            ok[row] = False
        elif fields[2] not in INSHOP_SPLITS:
            issues.report("unknown evaluation_status", path, int(line_numbers[row]),
                          "evaluation_status train, query or gallery in field 3", repr(fields[2]))
            ok[row] = False
        else:
            splits[row] = fields[2]
    return _PartitionRows(path, names, line_numbers, ok, {"split": splits}, items)


def _read_inshop_bboxes(path: Path, issues: RowIssues) -> _Rows:
    table = read_number_table(path, 6, np.float64, issues, " (image_name clothes_type pose_type x_1 y_1 x_2 y_2)")
    clothes_type, pose_type = table.values[:, 0], table.values[:, 1]
    box = table.values[:, 2:]
    ok = table.ok.copy()
    for row in np.flatnonzero(ok & ~np.isin(clothes_type, list(CLOTHES_TYPE_NAMES))):
        issues.report("unknown clothes_type", path, int(table.line_numbers[row]),
                      "clothes_type 1 (upper-body), 2 (lower-body) or 3 (full-body) in field 2",
                      _format_number(clothes_type[row]))
        ok[row] = False
    for row in np.flatnonzero(ok & ~np.isin(pose_type, list(POSE_TYPE_NAMES))):
        allowed = ", ".join(f"{code} ({name})" for code, name in POSE_TYPE_NAMES.items())
        issues.report("unknown pose_type", path, int(table.line_numbers[row]), f"pose_type {allowed} in field 3",
                      _format_number(pose_type[row]))
        ok[row] = False
    x1, y1, x2, y2 = box.T
    # Sides against the image size are checked once the image is opened (verify_images / the datasets).
    for row in np.flatnonzero(ok & ((x1 < 0) | (y1 < 0) | (x2 <= x1) | (y2 <= y1))):
        issues.report("bbox outside image", path, int(table.line_numbers[row]),
                      "a bbox with 0 <= x_1 < x_2 and 0 <= y_1 < y_2 (fields 4-7)", _format_box(box[row]))
        ok[row] = False
    return _Rows(path, table.names, table.line_numbers, ok,
                 {"clothes_type": clothes_type.astype(np.int8), "pose_type": pose_type.astype(np.int8),
                  "bbox": box.astype(np.float32)})


def _check_clothes_types(boxes: _Rows, landmarks: _Rows, keep: np.ndarray, rows: dict[str, np.ndarray],
                         issues: RowIssues) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The bbox and landmark files must give each image the same clothes_type (it picks the landmark slots)."""
    box_rows, landmark_rows = rows[INSHOP_BBOX_FILE], rows[INSHOP_LANDMARK_FILE]
    in_boxes = boxes.values["clothes_type"][box_rows]
    in_landmarks = landmarks.values["clothes_type"][landmark_rows]
    mismatch = in_boxes != in_landmarks
    for position in np.flatnonzero(mismatch):
        want, got = int(in_boxes[position]), int(in_landmarks[position])
        issues.report("clothes_type differs between files", landmarks.path,
                      int(landmarks.line_numbers[landmark_rows[position]]),
                      f"clothes_type {want} ({CLOTHES_TYPE_NAMES[want]}) in field 2, as the image's row at "
                      f"{boxes.path}:{int(boxes.line_numbers[box_rows[position]])} says",
                      f"{got} ({CLOTHES_TYPE_NAMES.get(got, 'unknown')})")
    if not mismatch.any():
        return keep, rows
    keep = keep.copy()
    keep[np.flatnonzero(keep)[mismatch]] = False
    return keep, {role: role_rows[~mismatch] for role, role_rows in rows.items()}


def _check_items_disjoint(partition: _PartitionRows, keep: np.ndarray) -> None:
    """No item may have train images and query or gallery images (the benchmark's split is by item)."""
    train_rows: dict[str, int] = {}
    for row in np.flatnonzero(keep):
        if partition.values["split"][row] == "train":
            train_rows.setdefault(partition.names_item[row], row)
    for row in np.flatnonzero(keep):
        item = partition.names_item[row]
        if partition.values["split"][row] != "train" and item in train_rows:
            first = train_rows[item]
            raise AnnotationError(
                partition.path, int(partition.line_numbers[row]),
                f"the items of query and gallery images disjoint from the training items (field 2): item {item} "
                f"is train at line {int(partition.line_numbers[first])}",
                f"{item} {partition.values['split'][row]}")
