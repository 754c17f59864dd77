"""Parser for the DeepFashion list files: line 1 is a row count, line 2 names the columns, rows follow.

Fields are separated by runs of spaces (tabs and a trailing CR are tolerated). The real
list_attr_img.txt has 289,222 rows of 1001 fields, so `read_number_table` streams the file
in blocks of lines parsed by numpy's C tokenizer (`np.loadtxt`); only a block that fails is
bisected down to its bad rows, which is how every error still names its exact line.
"""
from __future__ import annotations

import os
import warnings
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

import numpy as np

from fashion_core.data.errors import AnnotationError

FIRST_DATA_LINE = 3
# Lines per np.loadtxt call: large enough to amortise the call, small enough to stream.
_BLOCK_ROWS = 4096


@dataclass(frozen=True)
class SkippedRow:
    """One bad row that `skip_bad=True` dropped instead of raising."""

    path: str
    line: int | None
    reason: str
    message: str


class Issue(NamedTuple):
    """One problem found by a check that can either raise or be skipped: RowIssues.report(*issue) takes it."""

    reason: str
    path: Path
    line: int | None
    expected: str
    got: str | None = None

    def error(self) -> AnnotationError:
        return AnnotationError(self.path, self.line, self.expected, self.got)


class RowIssues:
    """Where loaders send bad rows: raise at once, or (skip_bad) record them and carry on."""

    def __init__(self, skip_bad: bool):
        self.skip_bad = skip_bad
        self.skipped: list[SkippedRow] = []

    def report(self, reason: str, path: str | os.PathLike, line: int | None, expected: str,
               got: str | None = None) -> None:
        error = AnnotationError(path, line, expected, got)
        if not self.skip_bad:
            raise error
        self.skipped.append(SkippedRow(os.fspath(path), line, reason, str(error)))

    def warn_if_skipped(self, source: str | os.PathLike, rows_kept: int, rows_dropped: int,
                        stacklevel: int = 4) -> None:
        if not self.skipped and not rows_dropped:
            return
        reasons = ", ".join(f"{count} {reason}" for reason, count in skipped_reasons(self.skipped).most_common())
        warnings.warn(
            f"{os.fspath(source)}: skip_bad dropped {rows_dropped} images (kept {rows_kept}); "
            f"{len(self.skipped)} problems: {reasons}. See .skipped for files and lines.",
            stacklevel=stacklevel,
        )


def skipped_reasons(skipped: Sequence[SkippedRow]) -> Counter:
    return Counter(row.reason for row in skipped)


def require_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise AnnotationError(path, None, "an existing annotation file", "no such file")
    return path


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based number, text) per line. Only '\\n' ends a line, so numbers match `sed -n` and editors."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                # utf-8-sig drops a byte-order mark, which Windows editors put before line 1.
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                raise AnnotationError(path, number, "UTF-8 text", f"byte {raw[error.start]:#04x}") from None


def read_text_lines(path: str | os.PathLike) -> list[str]:
    """All lines of a UTF-8 file without line endings; trailing blank lines dropped (editors add them)."""
    path = require_file(path)
    lines = [text.rstrip("\r\n") for _, text in _numbered_lines(path)]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _parse_header(path: Path, lines: list[str]) -> tuple[int, list[str]]:
    if not lines:
        raise AnnotationError(path, 1, "the number of rows (an integer)", "an empty file")
    try:
        declared_rows = int(lines[0].strip())
    except ValueError:
        raise AnnotationError(path, 1, "the number of rows (an integer)", repr(lines[0].strip())) from None
    if declared_rows < 0:
        raise AnnotationError(path, 1, "a non-negative number of rows", str(declared_rows))
    if len(lines) < 2 or not lines[1].split():
        raise AnnotationError(path, 2, "a line of column names")
    return declared_rows, lines[1].split()


def _check_row_count(path: Path, declared_rows: int, rows: int, issues: RowIssues) -> None:
    if declared_rows != rows:
        issues.report("header count mismatch", path, 1, f"a row count equal to the {rows} rows below the header",
                      str(declared_rows))


@dataclass
class ListFile:
    """A list file split into its header and its data lines (line endings removed, not parsed)."""

    path: Path
    declared_rows: int
    columns: list[str]
    lines: list[str]

    @property
    def line_numbers(self) -> np.ndarray:
        return np.arange(FIRST_DATA_LINE, FIRST_DATA_LINE + len(self.lines), dtype=np.int64)


def read_list_file(path: str | os.PathLike, issues: RowIssues) -> ListFile:
    """Split a two-line-header list file; the line-1 count must match the rows that follow."""
    path = require_file(path)
    lines = read_text_lines(path)
    declared_rows, columns = _parse_header(path, lines[:2])
    rows = lines[2:]
    _check_row_count(path, declared_rows, len(rows), issues)
    return ListFile(path=path, declared_rows=declared_rows, columns=columns, lines=rows)


def split_first_field(lines: Sequence[str], count: int = 1) -> tuple[list[list[str]], list[str]]:
    """Per line: its first `count` fields and the unparsed remainder ('' when absent)."""
    heads: list[list[str]] = []
    rests: list[str] = []
    for line in lines:
        parts = line.split(None, count)
        if len(parts) > count:
            heads.append(parts[:count])
            rests.append(parts[count])
        else:
            heads.append(parts)
            rests.append("")
    return heads, rests


@dataclass
class NumberTable:
    """Rows of `image_name` followed by a fixed number of numbers; `ok` is False for rows reported as bad."""

    path: Path
    columns: list[str]
    names: list[str]
    values: np.ndarray
    ok: np.ndarray
    line_numbers: np.ndarray


def read_number_table(path: str | os.PathLike, n_values: int, dtype: np.dtype | type, issues: RowIssues,
                      description: str = "") -> NumberTable:
    """Stream a list file whose rows are an image name and `n_values` numbers (bbox, labels, attributes)."""
    path = require_file(path)
    dtype = np.dtype(dtype)
    row_dtype = np.dtype([("name", object), ("values", dtype, (n_values,))])
    lines = _numbered_lines(path)
    header = [text for _, text in islice(lines, 2)]
    declared_rows, columns = _parse_header(path, header)

    names: list[str] = []
    value_blocks: list[np.ndarray] = []
    ok_blocks: list[np.ndarray] = []
    numbers: list[int] = []
    block: list[str] = []
    block_numbers: list[int] = []

    def flush(texts: list[str], line_numbers: list[int]) -> None:
        block_names, block_values, block_ok = _parse_named_block(
            path, texts, line_numbers, n_values, dtype, row_dtype, issues, description)
        names.extend(block_names)
        value_blocks.append(block_values)
        ok_blocks.append(block_ok)
        numbers.extend(line_numbers)

    for number, text in lines:
        # A block is flushed only when a non-blank line follows it, so trailing blank lines
        # (which editors add) never reach the parser while blank lines inside the file do.
        if len(block) >= _BLOCK_ROWS and text.strip():
            flush(block, block_numbers)
            block, block_numbers = [], []
        block.append(text)
        block_numbers.append(number)
    while block and not block[-1].strip():
        block.pop()
        block_numbers.pop()
    if block:
        flush(block, block_numbers)

    _check_row_count(path, declared_rows, len(names), issues)
    values = np.concatenate(value_blocks) if value_blocks else np.zeros((0, n_values), dtype)
    ok = np.concatenate(ok_blocks) if ok_blocks else np.zeros(0, bool)
    return NumberTable(path, columns, names, values, ok, np.array(numbers, dtype=np.int64))


def _parse_named_block(path: Path, texts: list[str], line_numbers: list[int], n_values: int, dtype: np.dtype,
                       row_dtype: np.dtype, issues: RowIssues,
                       description: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    names = [""] * len(texts)
    values = np.zeros((len(texts), n_values), dtype=dtype)
    ok = np.ones(len(texts), dtype=bool)

    def parse_range(start: int, stop: int) -> None:
        parsed = _load(texts[start:stop], row_dtype)
        if parsed is not None:
            names[start:stop] = parsed["name"].tolist()
            values[start:stop] = parsed["values"].reshape(stop - start, n_values)
        elif stop - start > 1:
            # Bisect: one bad row costs about two extra block parses, not a Python loop over the block.
            middle = (start + stop) // 2
            parse_range(start, middle)
            parse_range(middle, stop)
        else:
            fields = texts[start].split()
            names[start] = fields[0] if fields else ""
            if not fields:
                issues.report("wrong field count", path, line_numbers[start], f"{n_values + 1} fields{description}",
                              "0")
                ok[start] = False
                return
            parsed_row = _parse_fields(path, line_numbers[start], fields[1:], n_values, dtype, issues, 1, description)
            if parsed_row is None:
                ok[start] = False
            else:
                values[start] = parsed_row

    parse_range(0, len(texts))
    return names, values, ok


def _load(texts: Sequence[str], dtype: np.dtype, n_values: int | None = None) -> np.ndarray | None:
    """np.loadtxt of `texts`, or None unless every line fits: a structured `dtype` row, or `n_values` numbers."""
    structured = dtype.names is not None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loadtxt warns on an all-blank block
            parsed = np.loadtxt(texts, dtype=dtype, comments=None, ndmin=1 if structured else 2)
    except ValueError:
        return None
    # loadtxt silently skips blank lines and only checks that rows agree with each other.
    if parsed.shape != ((len(texts),) if structured else (len(texts), n_values)):
        return None
    numbers = parsed["values"] if structured else parsed
    if numbers.dtype.kind == "f" and not np.isfinite(numbers).all():
        return None
    return parsed


def parse_number_rows(
    path: Path,
    texts: Sequence[str],
    line_numbers: np.ndarray,
    n_values: int,
    dtype: np.dtype | type,
    issues: RowIssues,
    *,
    leading_fields: int = 1,
    row_description: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Parse rows of exactly `n_values` numbers each; returns (values, ok mask).

    `texts` are the row remainders after `leading_fields` fields (the image name, ...), which
    only shifts the field numbers in messages. Bad rows are reported and left as zeros.
    """
    dtype = np.dtype(dtype)
    values = np.zeros((len(texts), n_values), dtype=dtype)
    ok = np.ones(len(texts), dtype=bool)

    def parse_range(start: int, stop: int) -> None:
        parsed = _load(texts[start:stop], dtype, n_values)
        if parsed is not None:
            values[start:stop] = parsed
        elif stop - start > 1:
            middle = (start + stop) // 2
            parse_range(start, middle)
            parse_range(middle, stop)
        else:
            parsed_row = _parse_fields(path, int(line_numbers[start]), texts[start].split(), n_values, dtype, issues,
                                       leading_fields, row_description)
            if parsed_row is None:
                ok[start] = False
            else:
                values[start] = parsed_row

    for block_start in range(0, len(texts), _BLOCK_ROWS):
        parse_range(block_start, min(block_start + _BLOCK_ROWS, len(texts)))
    return values, ok


def _parse_fields(path: Path, line: int, fields: list[str], n_values: int, dtype: np.dtype, issues: RowIssues,
                  leading_fields: int, row_description: str) -> np.ndarray | None:
    if len(fields) != n_values:
        issues.report("wrong field count", path, line, f"{n_values + leading_fields} fields{row_description}",
                      f"{len(fields) + leading_fields}")
        return None
    numbers = [_parse_token(token, dtype) for token in fields]
    for position, (token, number) in enumerate(zip(fields, numbers)):
        if number is None:
            if dtype.kind in "iu":
                kind = f"an integer from {np.iinfo(dtype).min} to {np.iinfo(dtype).max}"
            else:
                kind = "a finite number"
            issues.report("non-numeric field", path, line, f"{kind} in field {position + leading_fields + 1}",
                          repr(token))
            return None
    return np.array(numbers, dtype=dtype)


def _parse_token(token: str, dtype: np.dtype) -> int | float | None:
    try:
        if dtype.kind in "iu":
            number = int(token)
            info = np.iinfo(dtype)
            return number if info.min <= number <= info.max else None
        number = float(token)
        return number if np.isfinite(number) else None
    except ValueError:
        return None
