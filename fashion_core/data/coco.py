"""COCO keypoint JSON (mmpose, DeepFashion2): read any file, export DeepFashion landmarks like mmpose's FLD files.

Visibility codes
----------------
DeepFashion/FLD: 0 visible, 1 occluded, 2 truncated (cut off by the frame), -1 no such slot.
COCO:            2 visible, 1 labelled but not visible, 0 not labelled (then x = y = 0).

DeepFashion -> COCO (as in mmpose's FLD conversion, e.g. real/coco_keypoints/fld/test_fld.json):
    0 -> 2, 1 -> 1, 2 -> 0, -1 -> 0.
    Lost: whether a 0 was truncated or a slot the garment lacks, and the coordinates of
    truncated landmarks (COCO stores 0, 0). The export keeps `clothes_type` as an extra
    annotation field, which restores the first of these on the way back.
COCO -> DeepFashion:
    2 -> 0, 1 -> 1, 0 -> 2 (truncated) in a slot the clothes_type has, -1 otherwise.
    Lost: nothing more, but without a clothes_type (other tools' files) every 0 becomes -1,
    since truncated and absent cannot be told apart. Neither matters for NE, which counts
    only visible landmarks.

Command line, to hand annotations and predictions to COCO tools (mmpose, pycocotools):

    python -m fashion_core.data.coco export ROOT OUT.json [--format fld] [--split test]
    python -m fashion_core.data.coco predictions PREDICTIONS.npz ROOT OUT.json [--format fld]

`export` writes ROOT's ground truth in mmpose's FLD layout; `predictions` writes the saved test
predictions of one run (reports/<profile>/predictions/<paper>/<row>-seed<s>.npz, written by the
train notebooks) as a COCO keypoint results file whose image ids match that export, with the
coordinates mapped from the S x S crop back to the original image.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from fashion_core.data.datasets import input_to_original_points
from fashion_core.data.deepfashion import LandmarkAnnotations, read_category_attribute, read_fld
from fashion_core.data.errors import AnnotationError
from fashion_core.data.vocab import LANDMARK_NAMES, LANDMARK_SLOTS
from fashion_core.io import write_json_atomic

COCO_NOT_LABELLED, COCO_NOT_VISIBLE, COCO_VISIBLE = 0, 1, 2
# mmpose's FLD files use one category for every garment.
FLD_CATEGORY = {"supercategory": "person", "id": 1, "name": "fashion", "keypoints": list(LANDMARK_NAMES),
                "skeleton": []}

# Row c: which of the 8 slots clothes_type c has; row 0 (unknown) has none.
_SLOTS_BY_CLOTHES_TYPE = np.zeros((4, 8), dtype=bool)
for _code, _slots in LANDMARK_SLOTS.items():
    _SLOTS_BY_CLOTHES_TYPE[_code, list(_slots)] = True


@dataclass(kw_only=True)
class CocoKeypoints:
    """One row per COCO annotation (not per image)."""

    path: Path
    annotation_ids: np.ndarray  # int64
    image_ids: np.ndarray       # int64
    file_names: list[str]
    widths: np.ndarray          # int64, of the image
    heights: np.ndarray         # int64
    category_ids: np.ndarray    # int64
    bbox: np.ndarray            # float32 (N,4) COCO x, y, w, h
    keypoints: np.ndarray       # float32 (N,K,2)
    visibility: np.ndarray      # int8 (N,K): 0 not labelled, 1 labelled not visible, 2 visible
    keypoint_names: list[str]   # from the category (all categories used must have K names)
    category_names: dict[int, str]
    clothes_type: np.ndarray    # int8 (N,): the extra field our exports write; 0 when absent

    def __len__(self) -> int:
        return len(self.annotation_ids)


def deepfashion_to_coco_visibility(visibility: np.ndarray) -> np.ndarray:
    """0 -> 2, 1 -> 1, 2 -> 0, -1 -> 0 (see the module docstring for what is lost)."""
    visibility = np.asarray(visibility)
    unknown = ~np.isin(visibility, (-1, 0, 1, 2))
    if unknown.any():
        raise ValueError(f"DeepFashion visibility must be -1, 0, 1 or 2, got {np.unique(visibility[unknown])}")
    coco = np.zeros(visibility.shape, dtype=np.int8)
    coco[visibility == 0] = COCO_VISIBLE
    coco[visibility == 1] = COCO_NOT_VISIBLE
    return coco


def coco_to_deepfashion_visibility(visibility: np.ndarray, clothes_type: np.ndarray | int | None = None) -> np.ndarray:
    """2 -> 0, 1 -> 1, 0 -> 2 in a slot clothes_type has, else -1; `visibility` is (..., 8), clothes_type (...)."""
    visibility = np.asarray(visibility)
    unknown = ~np.isin(visibility, (0, 1, 2))
    if unknown.any():
        raise ValueError(f"COCO visibility must be 0, 1 or 2, got {np.unique(visibility[unknown])}")
    types = np.zeros(visibility.shape[:-1], dtype=np.int64) if clothes_type is None else np.asarray(clothes_type)
    types = np.where(np.isin(types, list(LANDMARK_SLOTS)), types, 0)
    has_slot = np.broadcast_to(_SLOTS_BY_CLOTHES_TYPE[types], visibility.shape)
    deepfashion = np.where(has_slot, 2, -1).astype(np.int8)
    deepfashion[visibility == COCO_VISIBLE] = 0
    deepfashion[visibility == COCO_NOT_VISIBLE] = 1
    return deepfashion


def read_coco_keypoints(json_path: str | os.PathLike) -> CocoKeypoints:
    """Read a COCO keypoint JSON; every annotation must reference a known image and a category with K keypoints."""
    path = Path(json_path)
    if not path.is_file():
        raise AnnotationError(path, None, "an existing COCO keypoint JSON file", "no such file")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise AnnotationError(path, error.lineno, "valid JSON", error.msg) from None
    if not isinstance(payload, dict) or not all(isinstance(payload.get(key), list)
                                               for key in ("images", "annotations", "categories")):
        raise AnnotationError(path, None, "a JSON object with 'images', 'annotations' and 'categories' lists")

    categories: dict[int, list[str]] = {}
    category_names: dict[int, str] = {}
    for position, category in enumerate(payload["categories"]):
        names = _field(path, category, "keypoints", list, f"categories[{position}]")
        category_id = _field(path, category, "id", int, f"categories[{position}]")
        categories[category_id] = [str(name) for name in names]
        category_names[category_id] = str(category.get("name", category_id))
    images = {}
    for position, image in enumerate(payload["images"]):
        where = f"images[{position}]"
        images[_field(path, image, "id", int, where)] = (
            str(_field(path, image, "file_name", str, where)),
            _field(path, image, "width", int, where), _field(path, image, "height", int, where))

    annotations = payload["annotations"]
    keypoint_names: list[str] | None = None
    n = len(annotations)
    rows: dict[str, list[Any]] = {key: [] for key in ("id", "image_id", "category_id", "bbox", "keypoints",
                                                      "clothes_type")}
    for position, annotation in enumerate(annotations):
        where = f"annotations[{position}] (id {annotation.get('id', '?') if isinstance(annotation, dict) else '?'})"
        category_id = _field(path, annotation, "category_id", int, where)
        if category_id not in categories:
            raise AnnotationError(path, None, f"{where} to use a category listed in 'categories'", str(category_id))
        names = categories[category_id]
        if keypoint_names is None:
            keypoint_names = names
        elif len(names) != len(keypoint_names):
            raise AnnotationError(path, None, f"{where}: every category with {len(keypoint_names)} keypoints",
                                  str(len(names)))
        image_id = _field(path, annotation, "image_id", int, where)
        if image_id not in images:
            raise AnnotationError(path, None, f"{where} to reference an image listed in 'images'", str(image_id))
        flat = _numbers(path, _field(path, annotation, "keypoints", list, where), f"{where} keypoints")
        if len(flat) != 3 * len(names):
            raise AnnotationError(path, None, f"{where}: {3 * len(names)} keypoint numbers (x, y, v per keypoint)",
                                  str(len(flat)))
        codes = flat[2::3]
        if not np.isin(codes, (0, 1, 2)).all():
            raise AnnotationError(path, None, f"{where}: keypoint visibility 0, 1 or 2",
                                  str(sorted(set(codes.tolist()) - {0, 1, 2})))
        bbox = _numbers(path, _field(path, annotation, "bbox", list, where), f"{where} bbox")
        if len(bbox) != 4:
            raise AnnotationError(path, None, f"{where}: a bbox of 4 numbers (x, y, w, h)", str(len(bbox)))
        rows["id"].append(int(annotation.get("id", position)))
        rows["image_id"].append(image_id)
        rows["category_id"].append(category_id)
        rows["bbox"].append(bbox)
        rows["keypoints"].append(flat.reshape(-1, 3))
        rows["clothes_type"].append(int(annotation.get("clothes_type", 0)))

    k = len(keypoint_names or [])
    triples = np.stack(rows["keypoints"]) if n else np.zeros((0, k, 3))
    return CocoKeypoints(
        path=path,
        annotation_ids=np.array(rows["id"], dtype=np.int64),
        image_ids=np.array(rows["image_id"], dtype=np.int64),
        file_names=[images[image_id][0] for image_id in rows["image_id"]],
        widths=np.array([images[image_id][1] for image_id in rows["image_id"]], dtype=np.int64),
        heights=np.array([images[image_id][2] for image_id in rows["image_id"]], dtype=np.int64),
        category_ids=np.array(rows["category_id"], dtype=np.int64),
        bbox=np.array(rows["bbox"], dtype=np.float32).reshape(n, 4),
        keypoints=triples[..., :2].astype(np.float32),
        visibility=triples[..., 2].astype(np.int8),
        keypoint_names=list(keypoint_names or []),
        category_names=category_names,
        clothes_type=np.array(rows["clothes_type"], dtype=np.int8),
    )


def deepfashion_landmarks_from_coco(coco: CocoKeypoints) -> tuple[np.ndarray, np.ndarray]:
    """(landmarks (N,8,2), DeepFashion visibility (N,8)) from a file with the 8 DeepFashion keypoint names."""
    if coco.keypoint_names != list(LANDMARK_NAMES):
        raise AnnotationError(coco.path, None, "the 8 DeepFashion keypoints " + ", ".join(LANDMARK_NAMES),
                              ", ".join(coco.keypoint_names))
    visibility = coco_to_deepfashion_visibility(coco.visibility, coco.clothes_type)
    landmarks = np.where((coco.visibility > 0)[..., None], coco.keypoints, 0).astype(np.float32)
    return landmarks, visibility


def write_coco_keypoints(path: str | os.PathLike, annotations: LandmarkAnnotations,
                         indices: Sequence[int] | np.ndarray | None = None) -> Path:
    """Export DeepFashion-C / FLD landmarks as COCO keypoints in mmpose's FLD layout (written atomically).

    Image and annotation ids are the annotation row index + 1; file_name is the image name as
    listed; width and height are read from the image header. The bbox is the list_bbox.txt box
    (the whole image when there is none). Extra fields: clothes_type, and variation_type for FLD.
    """
    rows = np.arange(len(annotations)) if indices is None else np.asarray(indices, dtype=np.int64)
    images, coco_annotations = [], []
    for row in rows:
        row = int(row)
        width, height = _image_size(annotations, row)
        coco_visibility = deepfashion_to_coco_visibility(annotations.landmark_visibility[row])
        points = np.where((coco_visibility > 0)[:, None], annotations.landmarks[row], 0.0).astype(np.float32)
        flat: list[float] = []
        for (x, y), code in zip(points, coco_visibility):
            flat += [_json_float(x), _json_float(y), float(code)]
        if annotations.bbox is not None:
            x1, y1, x2, y2 = (_json_float(value) for value in annotations.bbox[row])
            bbox = [x1, y1, x2 - x1, y2 - y1]
        else:
            bbox = [0.0, 0.0, float(width), float(height)]
        annotation = {
            "id": row + 1, "image_id": row + 1, "category_id": FLD_CATEGORY["id"], "iscrowd": 0,
            "keypoints": flat, "num_keypoints": int((coco_visibility > 0).sum()),
            "bbox": bbox, "area": bbox[2] * bbox[3],
            "clothes_type": int(annotations.clothes_type[row]),
        }
        if annotations.variation_type is not None:
            annotation["variation_type"] = int(annotations.variation_type[row])
        images.append({"id": row + 1, "file_name": annotations.image_names[row], "width": width, "height": height})
        coco_annotations.append(annotation)
    payload = {
        "info": {"description": f"DeepFashion landmarks exported by fashion_core from {annotations.root}"},
        "categories": [FLD_CATEGORY],
        "images": images,
        "annotations": coco_annotations,
    }
    return write_json_atomic(path, payload)


def write_coco_results(path: str | os.PathLike, annotations: LandmarkAnnotations, rows: np.ndarray,
                       landmarks: np.ndarray, input_size: int) -> Path:
    """Landmark predictions as a COCO keypoint results file (a list of records), written atomically.

    rows: the annotation row of each prediction; landmarks (N,8,2) in the input pixels of the
    S x S crop of the row's bbox (the whole image when there is none). The image id is the row + 1,
    as in write_coco_keypoints; every keypoint and record gets score 1 (the models give none).
    """
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) != len(landmarks):
        raise ValueError(f"{len(rows)} rows but {len(landmarks)} predictions")
    records = []
    for row, points in zip(rows.tolist(), np.asarray(landmarks, dtype=np.float64)):
        if annotations.bbox is not None:
            box = np.asarray(annotations.bbox[row], dtype=np.float64)
        else:
            box = np.array([0.0, 0.0, *_image_size(annotations, row)], dtype=np.float64)
        original = input_to_original_points(points, box, input_size)
        flat: list[float] = []
        for x, y in original:
            flat += [_json_float(x), _json_float(y), 1.0]
        records.append({"image_id": row + 1, "category_id": FLD_CATEGORY["id"], "keypoints": flat, "score": 1.0})
    return write_json_atomic(path, records)


def _read_landmark_tree(root: str, data_format: str) -> LandmarkAnnotations:
    return read_fld(root) if data_format == "fld" else read_category_attribute(root)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fashion_core.data.coco",
                                     description="DeepFashion-C / FLD landmarks and predictions as COCO keypoint JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="ground-truth landmarks in mmpose's FLD layout")
    export.add_argument("root", help="a DeepFashion-C or FLD tree (real or SynthFashion)")
    export.add_argument("out", help="the JSON file to write")
    export.add_argument("--split", choices=("train", "val", "test"), help="only this split (default: every image)")
    predictions = commands.add_parser("predictions", help="a run's saved test predictions as COCO results")
    predictions.add_argument("predictions", help="reports/<profile>/predictions/<paper>/<row>-seed<s>.npz")
    predictions.add_argument("root", help="the tree the predictions were made on")
    predictions.add_argument("out", help="the JSON file to write")
    for command in (export, predictions):
        command.add_argument("--format", choices=("deepfashion_c", "fld"), default="deepfashion_c")
    args = parser.parse_args(argv)
    annotations = _read_landmark_tree(args.root, args.format)
    if args.command == "export":
        rows = annotations.indices(args.split) if args.split else None
        out = write_coco_keypoints(args.out, annotations, rows)
        print(f"wrote {out}: {len(annotations) if rows is None else len(rows)} images of {args.root}")
        return 0
    with np.load(args.predictions) as saved:
        missing = [name for name in ("index", "landmarks", "input_size") if name not in saved.files]
        if missing:
            raise AnnotationError(Path(args.predictions), None, "a predictions file with arrays index, landmarks, "
                                  "input_size", f"arrays {saved.files} (missing {missing})")
        rows, landmarks, input_size = saved["index"], saved["landmarks"], int(saved["input_size"])
    if len(rows) and int(rows.max()) >= len(annotations):
        raise AnnotationError(Path(args.predictions), None, f"rows of the {len(annotations)} images of {args.root}",
                              f"row {int(rows.max())}")
    out = write_coco_results(args.out, annotations, rows, landmarks, input_size)
    print(f"wrote {out}: {len(rows)} predictions, image ids as in `export {args.root}`")
    return 0


def _image_size(annotations: LandmarkAnnotations, row: int) -> tuple[int, int]:
    image_path = annotations.image_path(row)
    try:
        with Image.open(image_path) as image:
            return image.size
    except (OSError, SyntaxError, ValueError) as error:
        path, line = annotations.source_line(row)
        raise AnnotationError(path, line, f"a readable image at {image_path} (COCO needs its size)",
                              str(error)) from None


def _json_float(value: float) -> float:
    # The shortest decimal that reads back as the same float32, so 12.3 is stored as 12.3.
    return float(str(np.float32(value)))


def _field(path: Path, record: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(record, dict) or key not in record:
        raise AnnotationError(path, None, f"{where} to have a {key!r} field")
    value = record[key]
    # JSON has one number type: accept 12.0 where an integer is expected, but not 12.5 or true.
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise AnnotationError(path, None, f"{where}: {key!r} as a {kind.__name__}", repr(value)[:80])
    return value


def _numbers(path: Path, values: list, where: str) -> np.ndarray:
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
        raise AnnotationError(path, None, f"{where} to be numbers")
    return np.array(values, dtype=np.float64)


if __name__ == "__main__":
    sys.exit(main())
