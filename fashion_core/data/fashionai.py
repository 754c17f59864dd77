"""Reader for the FashionAI keypoint annotations (Alibaba Tianchi 2018): Annotations/{split}.csv,
and the command that splits the released train.csv into train, val and test.

Columns: image_id, image_category, then 24 keypoint cells `x_y_v` (v: 1 visible, 0 occluded,
-1 absent, written `-1_-1_-1`). Absent keypoints are stored as (0, 0) with visibility -1.

Checks beyond the format: an image listed twice in one CSV, an image in two split CSVs
(read_fashionai_splits), and a keypoint with coordinates (v 1 or 0) outside its image to within
COORDINATE_TOLERANCE_PX: left of or above it while reading, past the right or bottom edge where
the image is opened (verify_images=True, the torch dataset, fashion_core.data.datasets.check_images).

FashionAI releases one Annotations/train.csv (in the archive's train/ folder, beside Images/);
val.csv and test.csv are split from it, by image and deterministically, with

    python -m fashion_core.data.fashionai split ROOT --val 0.1 --test 0.1 --seed 0

which keeps the released file as Annotations/train_released.csv (see split_fashionai).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import math
import os
import shlex
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from fashion_core.data.deepfashion import (
    COORDINATE_TOLERANCE_PX,
    SPLITS,
    decode_check,
    find_missing_images,
    inside_image_rule,
    points_inside_image,
)
from fashion_core.data.errors import AnnotationError
from fashion_core.data.listfile import (
    Issue,
    RowIssues,
    SkippedRow,
    read_text_lines,
    require_file,
    skipped_reasons,
)
from fashion_core.data.vocab import (
    FASHIONAI_CATEGORIES,
    FASHIONAI_KEYPOINTS,
    FASHIONAI_VISIBILITY_CODES,
)
from fashion_core.io import atomic_path

FASHIONAI_HEADER = ("image_id", "image_category", *FASHIONAI_KEYPOINTS)
RELEASED_TRAIN_FILE = "train_released.csv"
# Hu et al. 2018 (Fashion Pose Machine), Sec. 3.2: "we mainly use the data about blouses, trousers and
# dresses ... 18420 fashion images are used for model training, 8107 images for validation and 5076
# images for testing." The paper does not say how the images were drawn; `split --paper-split` draws
# these counts from the released train.csv like any other split.
PAPER_CATEGORIES = ("blouse", "trousers", "dress")
PAPER_SPLIT_SIZES = {"train": 18420, "val": 8107, "test": 5076}


@dataclass(kw_only=True)
class FashionAIAnnotations:
    """FashionAI keypoints, one row per CSV row (in file order)."""

    root: Path
    path: Path                  # the CSV read
    image_ids: list[str]        # relative to root, e.g. Images/blouse/xxx.jpg
    category: np.ndarray        # str
    category_index: np.ndarray  # int64, position in FASHIONAI_CATEGORIES
    keypoints: np.ndarray       # float32 (N,24,2) original-image pixels
    visibility: np.ndarray      # int8 (N,24): 1 visible, 0 occluded, -1 absent
    line_numbers: np.ndarray    # 1-based CSV line of each row
    skipped: list[SkippedRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def skipped_reasons(self) -> Counter:
        return skipped_reasons(self.skipped)

    def image_path(self, index: int) -> Path:
        return self.root / self.image_ids[index]

    def source_line(self, index: int) -> tuple[Path, int]:
        return self.path, int(self.line_numbers[index])


def split_command_line(root: str | os.PathLike) -> str:
    """The command that writes root/Annotations/{train,val,test}.csv from the released train.csv."""
    return f"python -m fashion_core.data.fashionai split {shlex.quote(os.fspath(root))} --val 0.1 --test 0.1 --seed 0"


def split_csv_path(root: str | os.PathLike, split: str) -> Path:
    """root/Annotations/{split}.csv, which must exist; a missing val or test file names the split command."""
    path = Path(root) / "Annotations" / f"{split}.csv"
    if split in ("val", "test") and not path.is_file():
        raise AnnotationError(path, None, "an existing annotation file (FashionAI releases only train.csv; write "
                              f"val.csv and test.csv from it with: {split_command_line(root)})", "no such file")
    return require_file(path)


def read_fashionai(
    root: str | os.PathLike,
    split: str = "train",
    *,
    skip_bad: bool = False,
    check_images: bool = True,
    verify_images: bool = False,
) -> FashionAIAnnotations:
    """Read root/Annotations/{split}.csv; image_id paths resolve against root.

    check_images: every listed image must exist (a directory listing, fast).
    verify_images: also decode every image and check its keypoints against its size (slow).
    """
    root = Path(root)
    path = split_csv_path(root, split)
    issues = RowIssues(skip_bad)
    lines = read_text_lines(path)
    if not lines:
        raise AnnotationError(path, 1, "a header line " + ",".join(FASHIONAI_HEADER), "an empty file")
    _check_header(path, next(csv.reader([lines[0]])))

    image_ids: list[str] = []
    categories: list[str] = []
    cells: list[str] = []
    line_numbers: list[int] = []
    first_lines: dict[str, int] = {}
    for line_number, line in enumerate(lines[1:], start=2):
        # One physical line per record: DeepFashion tooling never quotes newlines, and this keeps line numbers exact.
        row = next(csv.reader([line]), [])
        if len(row) != len(FASHIONAI_HEADER):
            issues.report("wrong field count", path, line_number,
                          f"{len(FASHIONAI_HEADER)} comma-separated fields", str(len(row)))
            continue
        if row[1] not in FASHIONAI_CATEGORIES:
            issues.report("unknown category", path, line_number,
                          "image_category one of " + ", ".join(FASHIONAI_CATEGORIES), repr(row[1]))
            continue
        first = first_lines.setdefault(row[0], line_number)
        if first != line_number:
            issues.report("duplicate image", path, line_number, f"each image listed once (first listed at line {first})",
                          row[0])
            continue
        image_ids.append(row[0])
        categories.append(row[1])
        cells.extend(row[2:])
        line_numbers.append(line_number)

    keypoints, visibility, ok = _parse_cells(path, cells, line_numbers, issues)
    keep = np.flatnonzero(ok)
    category = np.array(categories, dtype=str)[keep]
    annotations = FashionAIAnnotations(
        root=root,
        path=path,
        image_ids=[image_ids[row] for row in keep],
        category=category,
        category_index=np.array([FASHIONAI_CATEGORIES.index(name) for name in category], dtype=np.int64),
        keypoints=keypoints[keep],
        visibility=visibility[keep],
        line_numbers=np.array(line_numbers, dtype=np.int64)[keep],
    )
    if check_images:
        missing = find_missing_images(root, annotations.image_ids)
        for row in np.flatnonzero(missing):
            issues.report("missing image", path, int(annotations.line_numbers[row]),
                          f"an existing image file {annotations.image_path(row)}", "no such file")
        if missing.any():
            annotations = _take(annotations, np.flatnonzero(~missing))
    if verify_images:
        decodable = np.array([_verify_image(annotations, row, issues) for row in range(len(annotations))], dtype=bool)
        if not decodable.all():
            annotations = _take(annotations, np.flatnonzero(decodable))
    annotations.skipped = issues.skipped
    issues.warn_if_skipped(path, len(annotations), len(lines) - 1 - len(annotations), stacklevel=3)
    return annotations


def _check_header(path: Path, header: list[str]) -> None:
    expected = list(FASHIONAI_HEADER)
    if [name.strip() for name in header] == expected:
        return
    for position, name in enumerate(expected):
        got = header[position].strip() if position < len(header) else None
        if got != name:
            raise AnnotationError(path, 1, f"column {position + 1} of the header to be {name!r} (image_id, "
                                  "image_category, then the 24 keypoints in FashionAI order)",
                                  repr(got) if got is not None else "no such column")
    raise AnnotationError(path, 1, f"{len(expected)} header columns", str(len(header)))


def _parse_cells(path: Path, cells: list[str], line_numbers: list[int],
                 issues: RowIssues) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split every `x_y_v` cell at once; only rows whose cells do not parse are re-read cell by cell."""
    n_rows = len(line_numbers)
    n_points = len(FASHIONAI_KEYPOINTS)
    ok = np.ones(n_rows, dtype=bool)
    fast = all(cell.count("_") == 2 for cell in cells)
    if fast and cells:
        try:
            values = np.array("_".join(cells).split("_"), dtype=np.float64).reshape(n_rows, n_points, 3)
            fast = bool(np.isfinite(values).all())
        except ValueError:
            fast = False
    elif fast:
        values = np.zeros((0, n_points, 3))
    if not fast:
        values = np.zeros((n_rows, n_points, 3))
        for row in range(n_rows):
            parsed = _parse_row_cells(path, line_numbers[row], cells[row * n_points:(row + 1) * n_points], issues)
            if parsed is None:
                ok[row] = False
            else:
                values[row] = parsed
    codes = values[..., 2]
    bad_code = ok[:, None] & ~np.isin(codes, list(FASHIONAI_VISIBILITY_CODES))
    absent = codes == -1
    bad_absent = ok[:, None] & absent & ((values[..., 0] != -1) | (values[..., 1] != -1))
    for row in np.flatnonzero((bad_code | bad_absent).any(axis=1)):
        point = int(np.argmax(bad_code[row] | bad_absent[row]))
        issues.report("malformed cell", path, line_numbers[row],
                      f"{FASHIONAI_KEYPOINTS[point]} as x_y_v with v 1 (visible), 0 (occluded) or -1 "
                      f"(absent, written -1_-1_-1)", repr(cells[row * n_points + point]))
        ok[row] = False
    _reject_negative_keypoints(path, cells, line_numbers, values, ok, issues)
    keypoints = np.where(absent[..., None], 0.0, values[..., :2]).astype(np.float32)
    visibility = np.where(ok[:, None], codes, -1).astype(np.int8)
    return keypoints, visibility, ok


def _reject_negative_keypoints(path: Path, cells: list[str], line_numbers: list[int], values: np.ndarray,
                               ok: np.ndarray, issues: RowIssues) -> None:
    """A keypoint with coordinates (v 1 or 0) left of or above the image is outside it whatever the image's
    size: found before any image is opened. Marks those rows not ok."""
    tolerance = COORDINATE_TOLERANCE_PX
    negative = ok[:, None] & (values[..., 2] >= 0) & (values[..., :2] < -tolerance).any(axis=-1)
    n_points = len(FASHIONAI_KEYPOINTS)
    for row in np.flatnonzero(negative.any(axis=1)):
        point = int(np.argmax(negative[row]))
        issues.report("keypoint outside image", path, line_numbers[row],
                      f"{FASHIONAI_KEYPOINTS[point]} (column {point + 3}, {_state(values[row, point, 2])}) at "
                      f"x >= {-tolerance} and y >= {-tolerance} (inside the image, to within "
                      f"COORDINATE_TOLERANCE_PX = {tolerance})", repr(cells[row * n_points + point]))
        ok[row] = False


def _state(code: float) -> str:
    return f"v {int(code)}: {FASHIONAI_VISIBILITY_CODES[int(code)]}"


def keypoint_size_issue(annotations: FashionAIAnnotations, row: int, width: int, height: int) -> Issue | None:
    """The first keypoint with coordinates (v 1 or 0) of row `row` outside its width x height image (to within
    COORDINATE_TOLERANCE_PX), naming the CSV line and column; None when all fit."""
    outside = (annotations.visibility[row] >= 0) & ~points_inside_image(annotations.keypoints[row], width, height)
    if not outside.any():
        return None
    point = int(np.argmax(outside))
    code = int(annotations.visibility[row, point])
    x, y = (float(value) for value in annotations.keypoints[row, point])
    path, line = annotations.source_line(row)
    return Issue("keypoint outside image", path, line,
                 f"{FASHIONAI_KEYPOINTS[point]} (column {point + 3}, {_state(code)}) inside the {width}x{height} "
                 f"image {annotations.image_path(row)} ({inside_image_rule(width, height)})",
                 repr(f"{x:g}_{y:g}_{code}"))


def _verify_image(annotations: FashionAIAnnotations, row: int, issues: RowIssues) -> bool:
    image_path = annotations.image_path(row)
    try:
        width, height = decode_check(image_path)
    except (OSError, SyntaxError, ValueError) as error:
        issues.report("corrupt image", *annotations.source_line(row), f"a decodable image at {image_path}", str(error))
        return False
    issue = keypoint_size_issue(annotations, row, width, height)
    if issue is not None:
        issues.report(*issue)
        return False
    return True


def _parse_row_cells(path: Path, line_number: int, row_cells: list[str], issues: RowIssues) -> np.ndarray | None:
    parsed = np.zeros((len(row_cells), 3))
    for point, cell in enumerate(row_cells):
        pieces = cell.strip().split("_")
        try:
            numbers = [float(piece) for piece in pieces]
        except ValueError:
            numbers = []
        if len(numbers) != 3 or not np.isfinite(numbers).all():
            issues.report("malformed cell", path, line_number,
                          f"{FASHIONAI_KEYPOINTS[point]} as x_y_v (three numbers joined by '_')", repr(cell))
            return None
        parsed[point] = numbers
    return parsed


def _take(annotations: FashionAIAnnotations, rows: np.ndarray) -> FashionAIAnnotations:
    return FashionAIAnnotations(
        root=annotations.root, path=annotations.path,
        image_ids=[annotations.image_ids[row] for row in rows],
        category=annotations.category[rows], category_index=annotations.category_index[rows],
        keypoints=annotations.keypoints[rows], visibility=annotations.visibility[rows],
        line_numbers=annotations.line_numbers[rows], skipped=annotations.skipped,
    )


def read_fashionai_splits(root: str | os.PathLike, splits: Sequence[str] = SPLITS,
                          **options) -> dict[str, FashionAIAnnotations]:
    """read_fashionai for each split (options as there); an image listed in two split CSVs is an error.

    An image in both train.csv and test.csv would be scored on what the model was trained on. The
    overlap always raises, even with skip_bad: which of the two rows is the wrong one is not known.
    """
    annotations = {split: read_fashionai(root, split, **options) for split in splits}
    check_split_overlap(annotations)
    return annotations


def check_split_overlap(annotations: dict[str, FashionAIAnnotations]) -> None:
    """Raise AnnotationError at the later CSV's line of the first image listed in two splits, naming the earlier."""
    seen: dict[str, tuple[Path, int]] = {}
    for split_annotations in annotations.values():
        for image_id, line in zip(split_annotations.image_ids, split_annotations.line_numbers.tolist()):
            first_path, first_line = seen.setdefault(image_id, (split_annotations.path, line))
            if first_path != split_annotations.path:
                raise AnnotationError(split_annotations.path, line,
                                      f"each image in one split (also listed at {first_path}:{first_line})", image_id)


# ---------------------------------------------------------------------------------------------
# python -m fashion_core.data.fashionai split ROOT: train / val / test CSVs from the released train.csv.


@dataclass(frozen=True)
class _SourceCSV:
    """The released train.csv as text: its header and, per image (first-listed order), its lines and category."""

    path: Path
    header: str
    lines: list[str]                 # data lines in file order
    line_images: list[str]           # image_id of each data line
    categories: dict[str, str]       # image_id -> image_category


def _read_split_source(path: Path) -> _SourceCSV:
    """Parse only what splitting needs (image_id, image_category, the field count); read_fashionai checks the rest."""
    lines = read_text_lines(path)
    if not lines:
        raise AnnotationError(path, 1, "a header line " + ",".join(FASHIONAI_HEADER), "an empty file")
    _check_header(path, next(csv.reader([lines[0]])))
    line_images: list[str] = []
    categories: dict[str, str] = {}
    first_lines: dict[str, int] = {}
    for line_number, line in enumerate(lines[1:], start=2):
        row = next(csv.reader([line]), [])
        if len(row) != len(FASHIONAI_HEADER):
            raise AnnotationError(path, line_number, f"{len(FASHIONAI_HEADER)} comma-separated fields", str(len(row)))
        image_id, category = row[0], row[1]
        if category not in FASHIONAI_CATEGORIES:
            raise AnnotationError(path, line_number, "image_category one of " + ", ".join(FASHIONAI_CATEGORIES),
                                  repr(category))
        first = first_lines.setdefault(image_id, line_number)
        if categories.setdefault(image_id, category) != category:
            raise AnnotationError(path, line_number, f"image_category {categories[image_id]!r} for {image_id}, as "
                                  f"on line {first}", repr(category))
        line_images.append(image_id)
    return _SourceCSV(path, lines[0], lines[1:], line_images, categories)


def _split_count(value: float, n_images: int) -> int:
    """A fraction (0 < value < 1) of n_images, rounded half up and at least 1, or a count (value >= 1)."""
    if value < 1:
        return max(1, math.floor(value * n_images + 0.5))
    return int(value)


def _image_order(image_ids: Sequence[str], seed: int) -> list[str]:
    """A seeded shuffle that depends only on (seed, image_id): not on the file's row order or numpy's RNG."""
    def key(image_id: str) -> tuple[bytes, str]:
        return hashlib.blake2b(f"{seed}:{image_id}".encode(), digest_size=16).digest(), image_id
    return sorted(image_ids, key=key)


def _existing_outputs(annotations: Path) -> list[Path]:
    """Files a split would overwrite that hold something not kept elsewhere: val.csv, test.csv, and a train.csv
    that differs from the kept released copy."""
    existing = [annotations / f"{split}.csv" for split in ("val", "test") if (annotations / f"{split}.csv").exists()]
    train, released = annotations / "train.csv", annotations / RELEASED_TRAIN_FILE
    if released.is_file() and train.is_file() and train.read_bytes() != released.read_bytes():
        existing.insert(0, train)
    return existing


def split_fashionai(root: str | os.PathLike, *, val: float = 0.1, test: float = 0.1, train: int | None = None,
                    seed: int = 0, categories: Sequence[str] | None = None, force: bool = False) -> dict[str, object]:
    """Write root/Annotations/{train,val,test}.csv from the released train.csv, split by image.

    val, test: a fraction (0 < f < 1) of the selected images or a count; train: a count, default all the
    rest (images beyond it are left out). categories: only images of these image_category values.
    All rows of one image go to one file, in the released file's order, under its header; which image
    goes where depends only on (seed, image_id), so the same seed writes the same bytes.
    The released file is first kept as train_released.csv, and later runs split that copy. Existing
    val.csv / test.csv (or a train.csv that differs from the kept copy) are overwritten only with force.
    Returns the source, the (images, rows) written per split and the number of images left out.
    """
    annotations = Path(root) / "Annotations"
    released = annotations / RELEASED_TRAIN_FILE
    source_path = released if released.is_file() else require_file(annotations / "train.csv")
    existing = _existing_outputs(annotations)
    if existing and not force:
        raise FileExistsError(f"{', '.join(map(str, existing))} already exist: pass --force to overwrite "
                              f"(the released annotations are in {source_path}, which is never overwritten)")
    source = _read_split_source(source_path)
    wanted = set(categories) if categories else set(FASHIONAI_CATEGORIES)
    unknown = sorted(wanted - set(FASHIONAI_CATEGORIES))
    if unknown:
        raise ValueError(f"unknown categories {unknown}: FashionAI has {', '.join(FASHIONAI_CATEGORIES)}")
    images = [image_id for image_id, category in source.categories.items() if category in wanted]
    counts = {"test": _split_count(test, len(images)), "val": _split_count(val, len(images))}
    counts["train"] = len(images) - counts["test"] - counts["val"] if train is None else int(train)
    if counts["train"] < 1 or sum(counts.values()) > len(images):
        raise ValueError(f"a split of train {counts['train']}, val {counts['val']} and test {counts['test']} images "
                         f"needs {max(sum(counts.values()), counts['val'] + counts['test'] + 1)} images of "
                         f"{', '.join(sorted(wanted))}; {source_path} has {len(images)}")
    assigned: dict[str, str] = {}
    order = iter(_image_order(images, seed))
    for split in ("test", "val", "train"):
        for _ in range(counts[split]):
            assigned[next(order)] = split
    outputs: dict[str, list[str]] = {split: [source.header] for split in SPLITS}
    for line, image_id in zip(source.lines, source.line_images):
        if image_id in assigned:
            outputs[assigned[image_id]].append(line)
    if source_path != released:
        _write_atomic(released, source_path.read_bytes())
    for split in ("val", "test", "train"):
        _write_atomic(annotations / f"{split}.csv", "".join(line + "\n" for line in outputs[split]).encode("utf-8"))
    return {"source": released, "images": {split: counts[split] for split in SPLITS},
            "rows": {split: len(outputs[split]) - 1 for split in SPLITS}, "left_out": len(images) - len(assigned),
            "not_selected": len(source.categories) - len(images)}


def _write_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _split_size(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction (0 < f < 1) or a count of images, got {text!r}") from None
    if not (0 < value < 1 or (value >= 1 and value.is_integer())):
        raise argparse.ArgumentTypeError(f"expected a fraction (0 < f < 1) or a whole count >= 1, got {text!r}")
    return value


def _positive_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole count >= 1, got {text!r}")
    return int(text)


def _category_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FASHIONAI_CATEGORIES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"expected categories among {', '.join(FASHIONAI_CATEGORIES)}, got {text!r}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fashion_core.data.fashionai",
                                     description="FashionAI keypoint annotations (Annotations/*.csv).")
    commands = parser.add_subparsers(dest="command", required=True)
    split = commands.add_parser(
        "split", help="write Annotations/{train,val,test}.csv from the released train.csv",
        description="Split the released ROOT/Annotations/train.csv by image into train.csv, val.csv and test.csv "
                    "(same seed, same bytes). The released file is first kept as train_released.csv; later runs "
                    "split that copy. Existing val.csv / test.csv are overwritten only with --force.",
        epilog=f"e.g. {split_command_line('data/fashionai/train')}; Hu et al. 2018's subset: "
               "--paper-split")
    split.add_argument("root", help="the folder holding Annotations/train.csv and Images/ (train/ in the release)")
    split.add_argument("--val", type=_split_size, help="a fraction (0 < f < 1) of the images or a count (default 0.1)")
    split.add_argument("--test", type=_split_size, help="a fraction (0 < f < 1) of the images or a count (default 0.1)")
    split.add_argument("--train", type=_positive_count,
                       help="a count of training images (default: every image not in val or test; with a count, "
                            "the images beyond it are in no split)")
    split.add_argument("--seed", type=int, default=0)
    split.add_argument("--categories", type=_category_list, nargs="+",
                       help="only these image_category values, comma- or space-separated (default: all five)")
    split.add_argument("--paper-split", action="store_true",
                       help=f"Hu et al. 2018 (FPM), Sec. 3.2: categories {', '.join(PAPER_CATEGORIES)} and "
                            f"{PAPER_SPLIT_SIZES['train']} / {PAPER_SPLIT_SIZES['val']} / {PAPER_SPLIT_SIZES['test']} "
                            "train / val / test images; not with --val, --test, --train or --categories")
    split.add_argument("--force", action="store_true", help="overwrite existing val.csv / test.csv")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.categories is not None:
        args.categories = [name for names in args.categories for name in names]
    if args.paper_split:
        given = [flag for flag, value in (("--val", args.val), ("--test", args.test), ("--train", args.train),
                                          ("--categories", args.categories)) if value is not None]
        if given:
            parser.error(f"--paper-split sets the categories and sizes; drop {', '.join(given)}")
        args.val, args.test, args.train = (PAPER_SPLIT_SIZES[split] for split in ("val", "test", "train"))
        args.categories = list(PAPER_CATEGORIES)
    try:
        result = split_fashionai(args.root, val=0.1 if args.val is None else args.val,
                                 test=0.1 if args.test is None else args.test, train=args.train, seed=args.seed,
                                 categories=args.categories, force=args.force)
    except (ValueError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    annotations = Path(args.root) / "Annotations"
    written = ", ".join(f"{annotations / f'{split}.csv'} ({result['images'][split]} images, {result['rows'][split]} "
                        f"rows)" for split in SPLITS)
    print(f"wrote {written} from {result['source']} (seed {args.seed}; categories "
          f"{', '.join(args.categories) if args.categories else 'all'}: {result['not_selected']} images of other "
          f"categories and {result['left_out']} beyond the sizes are in no split)")
    return 0


def select_categories(annotations: FashionAIAnnotations, categories: Sequence[str]) -> FashionAIAnnotations:
    """The rows of the given FashionAI categories, in file order (Hu et al. 2018 use blouse, trousers, dress)."""
    unknown = sorted(set(categories) - set(FASHIONAI_CATEGORIES))
    if unknown or not categories:
        raise ValueError(f"categories: expected a non-empty list of {', '.join(FASHIONAI_CATEGORIES)}, "
                         f"got {list(categories)!r}")
    return _take(annotations, np.flatnonzero(np.isin(annotations.category, list(categories))))


def keep_categories(data, categories: Sequence[str]):
    """SplitDatasets (fashion_core.data.splits.load_fashionai) restricted to the given categories in every split.

    Each split's dataset is rebuilt, as its own class, over select_categories of its annotations
    with the same input size, flip, heatmaps, seed and caching; the data is returned as it is when
    categories names all five. The selection is kept in the result's `categories`, which the data
    fingerprint covers: the annotation files are the same whatever the selection. A split left empty raises (a FashionAIDataset needs one image).
    The classes come from `data` itself, since splits and datasets import this module.
    """
    if set(categories) == set(FASHIONAI_CATEGORIES):
        return data
    annotations = {split: select_categories(split_annotations, categories)
                   for split, split_annotations in data.annotations.items()}
    rebuilt = {split: type(dataset)(annotations[split], dataset.input_size, flip=dataset.flip,
                                    heatmaps=dataset.heatmaps, seed=dataset.seed, cache_images=dataset.cache_images)
               for split, dataset in (("train", data.train), ("val", data.val), ("test", data.test))}
    chosen = tuple(name for name in FASHIONAI_CATEGORIES if name in set(categories))
    # Recorded on the data, so its fingerprint (fashion_core.data.fingerprint) tells the selections apart.
    return dataclasses.replace(data, annotations=annotations, categories=chosen, **rebuilt)


if __name__ == "__main__":
    sys.exit(main())
