"""The one exception type every loader raises for bad input.

A researcher with a 289k-line annotation file needs to know *where* it is
wrong, so every error carries the file, the 1-based line and what was expected.
"""
from __future__ import annotations

import os


class AnnotationError(ValueError):
    """Bad dataset input: names the file, the line (1-based, or None) and the expectation."""

    def __init__(self, path: str | os.PathLike, line: int | None, expected: str, got: str | None = None):
        self.path = os.fspath(path)
        self.line = line
        self.expected = expected
        self.got = got
        where = f"{self.path}:{line}" if line is not None else self.path
        message = f"{where}: expected {expected}"
        if got is not None:
            message += f", got {got}"
        super().__init__(message)
