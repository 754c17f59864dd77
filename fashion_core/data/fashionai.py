"""Reader for the FashionAI keypoint annotations (Alibaba Tianchi 2018): Annotations/{split}.csv.

Columns: image_id, image_category, then 24 keypoint cells `x_y_v` (v: 1 visible, 0 occluded,
-1 absent, written `-1_-1_-1`). Absent keypoints are stored as (0, 0) with visibility -1.
"""
from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashion_core.data.deepfashion import find_missing_images
from fashion_core.data.errors import AnnotationError
from fashion_core.data.listfile import RowIssues, SkippedRow, read_text_lines, require_file, skipped_reasons
from fashion_core.data.vocab import (
    FASHIONAI_CATEGORIES,
    FASHIONAI_KEYPOINTS,
    FASHIONAI_VISIBILITY_CODES,
)

FASHIONAI_HEADER = ("image_id", "image_category", *FASHIONAI_KEYPOINTS)


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


def read_fashionai(
    root: str | os.PathLike,
    split: str = "train",
    *,
    skip_bad: bool = False,
    check_images: bool = True,
) -> FashionAIAnnotations:
    """Read root/Annotations/{split}.csv; image_id paths resolve against root."""
    root = Path(root)
    path = require_file(root / "Annotations" / f"{split}.csv")
    issues = RowIssues(skip_bad)
    lines = read_text_lines(path)
    if not lines:
        raise AnnotationError(path, 1, "a header line " + ",".join(FASHIONAI_HEADER), "an empty file")
    _check_header(path, next(csv.reader([lines[0]])))

    image_ids: list[str] = []
    categories: list[str] = []
    cells: list[str] = []
    line_numbers: list[int] = []
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
    keypoints = np.where(absent[..., None], 0.0, values[..., :2]).astype(np.float32)
    visibility = np.where(ok[:, None], codes, -1).astype(np.int8)
    return keypoints, visibility, ok


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
