"""A data identity for checkpoints: one sha256 over the annotation files a dataset was read from.

What it covers: the bytes of every annotation / list file the reader read, each under its name
relative to the dataset root (DeepFashion-C: Anno/list_*.txt and Eval/list_eval_partition.txt;
FLD: Anno/list_landmarks.txt, Anno/list_bbox.txt when present and the partition; FashionAI:
Annotations/{train,val,test}.csv; In-shop: Anno/list_bbox_inshop.txt, Anno/list_landmarks_inshop.txt
and the partition, which holds the item ids and the query / gallery split). These decide which
images are in which split and every label, box and landmark the models learn from. Moving the
tree elsewhere keeps the fingerprint.

What it leaves out: the images. Hashing DeepFashion's 289k images would take minutes at every
notebook start, and an image changes without its annotations only when the tree is regenerated
or damaged. So replacing images under unchanged annotation files gives the same fingerprint.

Each file's digest is computed once per process for a given (path, size, modification time), so
calling this for every (row, seed) run of a notebook reads the files once.
"""
from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def annotation_files(source: Any) -> list[tuple[str, Path]]:
    """(name relative to the dataset root, path) of every annotation file `source` was read from, sorted.

    source: a SplitDatasets or InShopSplits (fashion_core.data.splits), one split's dataset (it carries
    the annotations of the whole tree), or the annotations themselves: DeepFashion-C / FLD / In-shop
    annotations (their `files`), FashionAI annotations (their `path`), or a mapping of them.
    """
    annotations = getattr(source, "annotations", source)
    if isinstance(annotations, Mapping):  # FashionAI: split -> annotations, one CSV each
        return sorted({item for value in annotations.values() for item in annotation_files(value)})
    files = getattr(annotations, "files", None)
    if isinstance(files, Mapping):  # DeepFashion-C / FLD / In-shop: role ("Anno/list_bbox.txt") -> path
        return sorted((str(role), Path(path)) for role, path in files.items())
    path = getattr(annotations, "path", None)
    if path is not None:
        path, root = Path(path), Path(getattr(annotations, "root", Path(path).parent))
        try:
            name = path.relative_to(root).as_posix()
        except ValueError:
            name = path.name
        return [(name, path)]
    raise TypeError(f"cannot tell which annotation files {type(source).__name__} was read from: expected "
                    "a SplitDatasets, a split dataset or DeepFashion / FLD / FashionAI / In-shop annotations")


def data_fingerprint(*sources: Any) -> str:
    """sha256 (64 hex digits) over the annotation files of every source, in the order given.

    Several sources (e.g. DAFE's DeepFashion-C and FLD trees) give one fingerprint that changes
    when any of their annotation files does. A SplitDatasets or InShopSplits whose training split
    does not flip (Liu & Lu's authors train without flips), or that keeps some FashionAI categories
    only (fashionai.keep_categories), gets another fingerprint: the same files, other samples.
    """
    if not sources:
        raise ValueError("data_fingerprint needs at least one dataset")
    digest = hashlib.sha256()
    for index, source in enumerate(sources):
        for name, path in annotation_files(source):
            digest.update(f"{index}\t{name}\t{_file_digest(path)}\n".encode())
        categories = getattr(source, "categories", None)
        if categories is not None:
            digest.update(f"{index}\tcategories\t{','.join(categories)}\n".encode())
        if getattr(getattr(source, "train", None), "flip", True) is False:
            digest.update(f"{index}\ttraining split not flipped\n".encode())
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    status = os.stat(path)
    return _cached_file_digest(str(Path(path).resolve()), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _cached_file_digest(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of one file; size and mtime are part of the cache key, so an edited file is read again."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
