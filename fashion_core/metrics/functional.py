"""The array metrics: landmark NE, FashionAI NE, top-k accuracy, attribute recall@k, retrieval mAP.

Every function accepts numpy arrays or torch tensors and returns plain floats or numpy arrays.
Published numbers in this field move by several points depending on the protocol (see
../shared/papers/NOTES.md, "Metric protocols"), so each docstring states exactly what is
counted, what goes in the denominator and how ties are broken. Fractions are returned in
[0, 1], never percentages.

The FashionAI NE under both normalisers (challenge and normalised coordinates), per group and
per category, is assembled from the FashionAI functions here in fashion_core.metrics.fashionai.

Tie rule shared by every ranking metric here: among equal scores the lower index ranks
first, i.e. the order of a *stable* sort by descending score. It is deterministic and
independent of the sorting algorithm, which mmfashion's ``np.argsort(...)[::-1]`` is not.
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "NE_PROTOCOLS",
    "FASHIONAI_CATEGORIES",
    "normalized_error",
    "fashionai_normalized_error",
    "fashionai_normalized_error_per_keypoint",
    "FASHIONAI_KEYPOINT_GROUPS",
    "fashionai_normalized_error_per_group",
    "topk_accuracy",
    "attribute_recall_at_k",
    "mmfashion_attribute_recall",
    "detection_rate",
    "retrieval_average_precisions",
    "retrieval_map",
]

NE_PROTOCOLS = ("visible", "mmfashion")

FASHIONAI_NUM_KEYPOINTS = 24
# Normalising keypoint pairs (0-based) of the FashionAI challenge: armpit_left/right for tops
# and dresses, waistband_left/right for skirts and trousers.
_ARMPITS = (5, 6)
_WAISTBAND = (15, 16)
FASHIONAI_CATEGORIES: dict[str, tuple[int, int]] = {
    "blouse": _ARMPITS,
    "outwear": _ARMPITS,
    "dress": _ARMPITS,
    "skirt": _WAISTBAND,
    "trousers": _WAISTBAND,
}

# Rows per block when ranking attributes; see _topk_hits.
_ATTRIBUTE_ROW_BLOCK = 512
_PARTITION_MAX_COLUMNS = 256
# The per-type grid (see _TypeLayout) keeps more per-row temporaries: half the block stays in L2.
_TYPE_GRID_ROW_BLOCK = 256
# Queries per block in retrieval: bounds the (block x G) similarity/argsort buffers to ~100 MB.
_RETRIEVAL_BLOCK_ELEMENTS = 4_000_000


# --------------------------------------------------------------------------- input helpers
def _to_numpy(value: Any, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach()
        if value.dtype in (torch.bfloat16, torch.float16):
            value = value.float()  # numpy has no bfloat16
        return value.cpu().numpy()
    try:
        return np.asarray(value)
    except Exception as error:  # pragma: no cover - message only
        raise TypeError(f"{name}: cannot convert {type(value).__name__} to an array") from error


def _float_array(value: Any, name: str) -> np.ndarray:
    array = _to_numpy(value, name)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name}: expected numbers, got dtype {array.dtype}")
    return array.astype(np.float64, copy=False)


def _bool_mask(value: Any, name: str) -> np.ndarray:
    array = _to_numpy(value, name)
    if array.dtype != bool:
        # DeepFashion codes 0 = visible, so silently casting an integer array would invert it.
        raise TypeError(
            f"{name}: expected a bool array (True = visible), got dtype {array.dtype}. "
            "Raw DeepFashion visibility codes mean 0 = visible; convert with `codes == 0`."
        )
    return array


def _positive_mask(value: Any, name: str) -> np.ndarray:
    """Attribute targets as bool: True where the target is > 0 (accepts {0,1}, {-1,1} or bool)."""
    array = _to_numpy(value, name)
    if array.dtype == bool:
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name}: expected numbers or bools, got dtype {array.dtype}")
    return array > 0


def _check_landmark_shapes(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> None:
    if pred.ndim != 3 or pred.shape[-1] != 2:
        raise ValueError(f"pred: expected shape (N, L, 2), got {pred.shape}")
    if gt.shape != pred.shape:
        raise ValueError(f"gt: expected shape {pred.shape} like pred, got {gt.shape}")
    if visible.shape != pred.shape[:2]:
        raise ValueError(f"visible: expected shape {pred.shape[:2]}, got {visible.shape}")


def _size_per_sample(size: Any, num_samples: int) -> np.ndarray:
    """Crop (width, height) as an (N or 1, 1, 2) array that broadcasts against (N, L, 2)."""
    array = _float_array(size, "size")
    if array.ndim == 0:
        array = np.array([float(array), float(array)])
    if array.shape == (2,):
        array = array.reshape(1, 2)
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] not in (1, num_samples):
        raise ValueError(
            f"size: expected a scalar, a (w, h) pair or an ({num_samples}, 2) array, got shape {array.shape}"
        )
    if not np.all(array > 0):
        raise ValueError("size: crop width and height must be > 0")
    return array[:, None, :]


def _landmark_distances(pred: Any, gt: Any, visible: Any, size: Any | None) -> tuple[np.ndarray, np.ndarray]:
    pred_array = _float_array(pred, "pred")
    gt_array = _float_array(gt, "gt")
    visible_mask = _bool_mask(visible, "visible")
    _check_landmark_shapes(pred_array, gt_array, visible_mask)
    offset = pred_array - gt_array
    if size is not None:
        offset = offset / _size_per_sample(size, pred_array.shape[0])
    return np.sqrt(np.sum(offset * offset, axis=-1)), visible_mask


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0, without a RuntimeWarning."""
    numerator = np.asarray(numerator, dtype=np.float64)
    out = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=out, where=np.asarray(denominator) != 0)
    return out


def _nanmean_quiet(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


# --------------------------------------------------------------------------- landmark NE
def normalized_error(pred: Any, gt: Any, visible: Any, size: Any, protocol: str = "visible") -> dict[str, Any]:
    """Normalised landmark error (NE) per landmark and averaged over landmarks.

    Args:
        pred, gt: (N, L, 2) pixel coordinates (x, y) in the crop.
        visible: (N, L) bool, True where the ground-truth landmark is visible (DeepFashion raw
            code 0). Integer arrays are refused because DeepFashion's codes mean 0 = visible.
        size: crop (width, height): an (N, 2) array, a (w, h) pair shared by all, or a scalar.
        protocol:
            "visible" (DeepFashion / Liu & Lu / DAFE / FashionNet): d = ||(pred - gt) / (w, h)||,
                per_landmark[j] = mean of d[i, j] over the samples i where landmark j is
                visible; NaN when no sample has it visible.
            "mmfashion": mmfashion's LandmarkDetectorEvaluator multiplies both the predicted and
                the ground-truth coordinates by the visibility mask, so an invisible landmark
                becomes pred = gt = (0, 0) and adds distance 0, and it then averages over all
                N x L slots. Here per_landmark[j] = (sum of d[i, j] over visible i) / N, so
                ``mean`` equals mmfashion's flat per-batch average. Not reproduced: its test
                loop averages per-batch values and only keeps batches with batch_idx % 20 == 0.

    Returns:
        dict(per_landmark=(L,) float array, mean=float): mean is the average of the non-NaN
        per_landmark values (NaN if all are NaN).
    """
    if protocol not in NE_PROTOCOLS:
        raise ValueError(f"unknown NE protocol {protocol!r}; valid protocols: {', '.join(NE_PROTOCOLS)}")
    distance, visible_mask = _landmark_distances(pred, gt, visible, size)
    # np.where, not multiplication: a NaN prediction for an invisible landmark must not leak in.
    visible_sum = np.where(visible_mask, distance, 0.0).sum(axis=0)
    if protocol == "visible":
        denominator = visible_mask.sum(axis=0)
    else:
        denominator = np.full(visible_sum.shape, visible_mask.shape[0])
    per_landmark = _safe_ratio(visible_sum, denominator)
    return {"per_landmark": per_landmark, "mean": _nanmean_quiet(per_landmark)}


def detection_rate(pred: Any, gt: Any, visible: Any, thresholds: Any, size: Any | None = None) -> np.ndarray:
    """Share of visible landmarks whose distance to the ground truth is <= each threshold.

    Distances are in pixels when ``size`` is None, otherwise in normalised units (divided by
    the crop (w, h) as in :func:`normalized_error`). Only visible landmarks count, in both the
    numerator and the denominator (mmfashion instead counts invisible slots as detected, with a
    single 10 px threshold at 224 px). Returns a float array the length of ``thresholds``; all
    NaN when no landmark is visible.
    """
    distance, visible_mask = _landmark_distances(pred, gt, visible, size)
    threshold_array = np.atleast_1d(_float_array(thresholds, "thresholds"))
    if threshold_array.ndim != 1:
        raise ValueError(f"thresholds: expected a scalar or a 1-D sequence, got shape {threshold_array.shape}")
    visible_distances = np.sort(distance[visible_mask])
    if visible_distances.size == 0:
        return np.full(threshold_array.shape, np.nan)
    within = np.searchsorted(visible_distances, threshold_array, side="right")
    return within / visible_distances.size


# --------------------------------------------------------------------------- FashionAI NE
def fashionai_normalized_error_per_keypoint(
    pred: Any, gt: Any, visibility: Any, category: Any
) -> tuple[np.ndarray, float]:
    """FashionAI NE per keypoint and overall.

    d = pixel distance between pred and gt; s = per-image normaliser, the ground-truth distance
    between keypoints 5 and 6 (armpit_left/right) for blouse, outwear and dress, and 15 and 16
    (waistband_left/right) for skirt and trousers. Only keypoints with visibility == 1 count
    (0 occluded and -1 absent are skipped). An image without a normaliser (a normalising keypoint
    absent, v == -1, or the two coinciding, s == 0) has no defined d / s: it is skipped, so one
    such image does not stop scoring a test split; fashionai_normaliser says which images are.

    Returns:
        (per_keypoint, overall): per_keypoint[j] = sum(d/s) / count over the scored images where
        keypoint j has v == 1 (NaN where none); overall = sum(d/s) / count pooled over every
        counted keypoint (the challenge score; NaN if nothing counts). Note overall is not the
        mean of per_keypoint: keypoints that occur more often weigh more.

    Raises:
        ValueError on malformed shapes or codes, or naming the image index of an unknown category.
    """
    pred_array, gt_array, visibility_codes, categories = fashionai_arrays(pred, gt, visibility, category)
    normaliser, scored = fashionai_normaliser(gt_array, visibility_codes, categories)
    counted = (visibility_codes == 1) & scored[:, None]
    offset = pred_array - gt_array
    relative_error = np.sqrt(np.sum(offset * offset, axis=-1)) / normaliser[:, None]
    error_sum = np.where(counted, relative_error, 0.0).sum(axis=0)
    count = counted.sum(axis=0)
    per_keypoint = _safe_ratio(error_sum, count)
    total = int(count.sum())
    overall = float(error_sum.sum() / total) if total else float("nan")
    return per_keypoint, overall


def fashionai_arrays(pred: Any, gt: Any, visibility: Any, category: Any
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pred, gt, visibility codes, categories) as checked numpy arrays: (N,24,2), (N,24,2), (N,24), (N,).

    Raises ValueError on a shape mismatch, a code outside {1, 0, -1}, or an unknown category
    (naming the first such image).
    """
    pred_array = _float_array(pred, "pred")
    gt_array = _float_array(gt, "gt")
    visibility_codes = _to_numpy(visibility, "visibility")
    categories = np.asarray(category).reshape(-1)
    expected = (pred_array.shape[0], FASHIONAI_NUM_KEYPOINTS, 2) if pred_array.ndim == 3 else None
    if expected is None or pred_array.shape != expected:
        raise ValueError(f"pred: expected shape (N, {FASHIONAI_NUM_KEYPOINTS}, 2), got {pred_array.shape}")
    num_images = pred_array.shape[0]
    if gt_array.shape != expected:
        raise ValueError(f"gt: expected shape {expected}, got {gt_array.shape}")
    if visibility_codes.shape != expected[:2]:
        raise ValueError(f"visibility: expected shape {expected[:2]}, got {visibility_codes.shape}")
    if categories.shape != (num_images,):
        raise ValueError(f"category: expected {num_images} entries, got shape {categories.shape}")
    if not np.isin(visibility_codes, (-1, 0, 1)).all():
        raise ValueError("visibility: FashionAI codes must be 1 (visible), 0 (occluded) or -1 (absent)")
    known = np.isin(categories, list(FASHIONAI_CATEGORIES))
    if not known.all():
        index = int(np.flatnonzero(~known)[0])
        raise ValueError(
            f"image {index}: unknown FashionAI category {str(categories[index])!r}; "
            f"valid: {', '.join(FASHIONAI_CATEGORIES)}"
        )
    return pred_array, gt_array, visibility_codes, categories


def fashionai_normaliser(gt: np.ndarray, visibility: np.ndarray, categories: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """(s, scored): each image's challenge normaliser and whether it has one, from checked arrays.

    s is the true armpit (blouse, outwear, dress) or waistband (skirt, trousers) distance.
    scored is False where a normalising keypoint is absent (v == -1; an occluded one, v == 0, is
    annotated and serves) or the two coincide (s == 0); s is 1 there, so dividing stays finite,
    and such an image must be left out of any sum.
    """
    uses_waistband = np.isin(categories, [name for name, pair in FASHIONAI_CATEGORIES.items() if pair == _WAISTBAND])
    first = np.where(uses_waistband, _WAISTBAND[0], _ARMPITS[0])
    second = np.where(uses_waistband, _WAISTBAND[1], _ARMPITS[1])
    rows = np.arange(gt.shape[0])
    present = (visibility[rows, first] != -1) & (visibility[rows, second] != -1)
    distance = np.linalg.norm(gt[rows, first] - gt[rows, second], axis=-1)
    scored = present & (distance > 0)
    return np.where(scored, distance, 1.0), scored


def fashionai_normalized_error(pred: Any, gt: Any, visibility: Any, category: Any) -> float:
    """FashionAI challenge NE: sum(d / s) / count over all keypoints with v == 1.

    See :func:`fashionai_normalized_error_per_keypoint` for the normaliser, the skipped images and the errors raised.
    """
    return fashionai_normalized_error_per_keypoint(pred, gt, visibility, category)[1]


# The keypoint groups of Hu et al. 2018 (FPM), Table 1 ("L.R" pools left and right), by 0-based
# FashionAI keypoint index (fashion_core.data.fashionai.FASHIONAI_KEYPOINTS order).
FASHIONAI_KEYPOINT_GROUPS: dict[str, tuple[int, ...]] = {
    "neck": (0, 1),
    "center_front": (2,),
    "shoulder": (3, 4),
    "armpit": (5, 6),
    "waistline": (7, 8),
    "cuff_in": (9, 11),
    "cuff_out": (10, 12),
    "top_hem": (13, 14),
    "waistband": (15, 16),
    "hemline": (17, 18),
    "crotch": (19,),
    "bottom_in": (20, 22),
    "bottom_out": (21, 23),
}


def fashionai_normalized_error_per_group(
    pred: Any, gt: Any, visibility: Any, category: Any,
    groups: dict[str, tuple[int, ...]] = FASHIONAI_KEYPOINT_GROUPS,
) -> tuple[dict[str, float], float]:
    """FashionAI NE pooled per keypoint group, and overall (the challenge score).

    A group's NE is sum(d / s) / count over every (image, keypoint) of the group with v == 1,
    i.e. its keypoints' per-keypoint values weighted by how often each is counted; NaN when none
    is. Normaliser, counting rule, skipped images and errors as in
    :func:`fashionai_normalized_error_per_keypoint`.
    """
    per_keypoint, overall = fashionai_normalized_error_per_keypoint(pred, gt, visibility, category)
    _, gt_array, codes, categories = fashionai_arrays(pred, gt, visibility, category)
    counts = ((codes == 1) & fashionai_normaliser(gt_array, codes, categories)[1][:, None]).sum(axis=0)
    result = {}
    for name, members in groups.items():
        members = list(members)
        total = int(counts[members].sum())
        sums = np.where(counts[members] > 0, per_keypoint[members] * counts[members], 0.0).sum()
        result[name] = float(sums / total) if total else float("nan")
    return result, overall


# --------------------------------------------------------------------------- classification
def topk_accuracy(scores: Any, labels: Any, k: int) -> float:
    """Share of samples whose true class is among the k highest scores.

    scores: (N, C); labels: (N,) integer class indices in [0, C). Ties: a class tied with the
    true class counts as ranked above it only if its index is lower (stable descending sort),
    so the result is deterministic. sklearn's top_k_accuracy_score breaks ties the other way
    (higher index first); both agree when there are no ties. NaN for N == 0.
    """
    score_array = _float_array(scores, "scores")
    label_array = _to_numpy(labels, "labels").reshape(-1)
    if score_array.ndim != 2:
        raise ValueError(f"scores: expected shape (N, C), got {score_array.shape}")
    num_samples, num_classes = score_array.shape
    _check_k(k, num_classes, "classes")
    if label_array.shape != (num_samples,):
        raise ValueError(f"labels: expected {num_samples} entries, got shape {label_array.shape}")
    if label_array.size and not np.issubdtype(label_array.dtype, np.integer):
        raise TypeError(f"labels: expected integer class indices, got dtype {label_array.dtype}")
    if label_array.size and (label_array.min() < 0 or label_array.max() >= num_classes):
        raise ValueError(f"labels: class indices must lie in [0, {num_classes})")
    if num_samples == 0:
        return float("nan")
    _check_no_nan(score_array, "scores")
    true_score = score_array[np.arange(num_samples), label_array][:, None]
    lower_index = np.arange(num_classes)[None, :] < label_array[:, None]
    rank = np.count_nonzero(score_array > true_score, axis=1) + np.count_nonzero(
        (score_array == true_score) & lower_index, axis=1
    )
    return float(np.mean(rank < k))


def _check_k(k: int, num_items: int, what: str) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k: expected an int, got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if k > num_items:
        raise ValueError(f"k = {k} exceeds the number of {what} ({num_items})")


def _check_no_nan(array: np.ndarray, name: str) -> None:
    if np.isnan(array).any():
        raise ValueError(f"{name}: contains NaN; ranking NaN scores is undefined")


def _kth_largest(scores: np.ndarray, k: int) -> np.ndarray:
    """(n, 1) k-th largest value of each row (a value, so it does not depend on any tie order)."""
    num_items = scores.shape[1]
    # Measured on 512-row blocks (2 cores): np.partition is ~2x faster than torch.topk up to a
    # few hundred columns but ~5x slower at 1000, where numpy's selection falls off a cliff.
    if num_items <= _PARTITION_MAX_COLUMNS:
        return np.partition(scores, num_items - k, axis=1)[:, num_items - k, None]
    return torch.topk(torch.from_numpy(scores), k, dim=1).values[:, -1:].numpy()


def _topk_mask(scores: np.ndarray, k: int, kth_largest: np.ndarray | None = None) -> np.ndarray:
    """(n, K) bool: True for each row's k highest scores; ties go to the lower column index.

    Only the k-th largest value is computed by a selection routine (or passed in, (n, 1));
    which tied columns are taken is decided here, so the tie rule is ours. Call it on row
    blocks (see _topk_hits).
    """
    num_items = scores.shape[1]
    if k >= num_items:
        return np.ones(scores.shape, dtype=bool)
    if kth_largest is None:
        kth_largest = _kth_largest(scores, k)
    mask = scores >= kth_largest
    ambiguous = np.flatnonzero(np.count_nonzero(mask, axis=1) > k)
    if ambiguous.size:
        # Only rows with more tied candidates than free slots need the (slow) running count.
        rows, threshold = scores[ambiguous], kth_largest[ambiguous]
        above = rows > threshold
        tied = rows == threshold
        slots_left = k - np.count_nonzero(above, axis=1, keepdims=True)
        mask[ambiguous] = above | (tied & (np.cumsum(tied, axis=1) <= slots_left))
    return mask


class _TypeLayout:
    """The attribute types as a padded (T, W) grid of columns, W the largest type's size.

    gather[t * W + j] is the j-th column of type t (original order, so the lower-index tie rule
    holds within a type); the slots past a type's size are padding (pad == True), filled with
    -inf. Sorting that grid finds every type's k-th largest score in one call per row block,
    instead of one strided copy and one selection per type (~2x faster at 1000 x 5 types).
    """

    def __init__(self, type_index: np.ndarray, num_types: int):
        self.type_index = np.asarray(type_index, dtype=np.int64)
        self.columns = [np.flatnonzero(self.type_index == code) for code in range(num_types)]
        self.sizes = np.array([len(columns) for columns in self.columns])
        self.width = int(self.sizes.max())
        gather = np.zeros((num_types, self.width), dtype=np.int64)
        pad = np.ones((num_types, self.width), dtype=bool)
        for code, columns in enumerate(self.columns):
            gather[code, : len(columns)] = columns
            pad[code, : len(columns)] = False
        self.gather, self.pad = gather.reshape(-1), pad.reshape(-1)

    @property
    def num_types(self) -> int:
        return len(self.columns)

    def worth_it(self) -> bool:
        # Very unequal types would make the padded grid much larger than the matrix itself.
        return self.num_types * self.width <= 2 * int(self.sizes.sum())


def _topk_hits_by_type_grid(
    block_scores: np.ndarray, block_positive: np.ndarray, k: int, layout: _TypeLayout
) -> tuple[np.ndarray, np.ndarray]:
    """Hits per column of one row block: (ranked among all columns, ranked within the column's type)."""
    rows, num_types, width = block_scores.shape[0], layout.num_types, layout.width
    # np.take, not block[:, gather]: fancy indexing returns a column-major copy here, which the
    # reshape would copy again. Sorted in place as 2-D rows: numpy's SIMD sort is ~4x slower
    # along the last axis of a 3-D array.
    ascending = np.take(block_scores, layout.gather, axis=1)
    ascending[:, layout.pad] = -np.inf
    ascending = ascending.reshape(rows * num_types, width)
    ascending.sort(axis=1)
    ascending = ascending.reshape(rows, num_types, width)
    type_k = np.minimum(k, layout.sizes)
    type_kth = ascending[:, np.arange(num_types), width - type_k]  # (rows, T)
    # The overall k-th largest is the k-th largest of the union of every type's k largest (with
    # multiplicity): anything above it has fewer than k larger values in its own type too.
    candidates = ascending[:, :, width - min(k, width):].reshape(rows, -1)
    overall_kth = np.partition(candidates, candidates.shape[1] - k, axis=1)[:, candidates.shape[1] - k, None]
    all_hits = np.count_nonzero(_topk_mask(block_scores, k, overall_kth) & block_positive, axis=0)

    type_mask = block_scores >= np.take(type_kth, layout.type_index, axis=1)
    # More than k_t columns reach the k-th value only if the value below it in the sorted row
    # equals it: a tie (or -inf scores, which the padding also holds; resolving those is exact too).
    below = width - type_k - 1
    has_below = below >= 0
    ambiguous = np.zeros((rows, num_types), dtype=bool)
    ambiguous[:, has_below] = (ascending[:, np.flatnonzero(has_below), below[has_below]]
                               == type_kth[:, has_below])
    for code in np.flatnonzero(ambiguous.any(axis=0)):
        tied_rows = np.flatnonzero(ambiguous[:, code])
        cells = np.ix_(tied_rows, layout.columns[code])
        type_mask[cells] = _topk_mask(block_scores[cells], int(type_k[code]))
    return all_hits, np.count_nonzero(type_mask & block_positive, axis=0)


def _attribute_inputs(scores: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
    score_array = _to_numpy(scores, "scores")
    if score_array.dtype not in (np.float32, np.float64):
        score_array = score_array.astype(np.float64)
    positive = _positive_mask(targets, "targets")
    if score_array.ndim != 2:
        raise ValueError(f"scores: expected shape (N, K), got {score_array.shape}")
    if positive.shape != score_array.shape:
        raise ValueError(f"targets: expected shape {score_array.shape} like scores, got {positive.shape}")
    _check_no_nan(score_array, "scores")
    return score_array, positive


def _topk_hits(
    score_array: np.ndarray,
    positive: np.ndarray,
    k: int,
    type_columns: np.ndarray | None = None,
    type_slices: Sequence[slice] = (),
    per_column: bool = False,
    type_layout: _TypeLayout | None = None,
) -> tuple[Any, list[Any]]:
    """Hits (positive and among the row's top k) over all columns and within each type.

    type_columns is a column permutation that makes every type a contiguous slice (type_slices
    index into the permuted columns); within a type the top min(k, type size) is taken.
    type_layout, when given, is the same types as a padded grid (see _TypeLayout), ranked in one
    sort per block instead of one selection per type.
    Returns (hits over all columns, [hits per type]): totals, or per-column counts when
    per_column. Rows go in blocks of _ATTRIBUTE_ROW_BLOCK so that the permuted copy and the
    masks stay in cache: ~2x faster than whole-matrix temporaries.
    """

    def empty(width: int) -> Any:
        return np.zeros(width, dtype=np.int64) if per_column else 0

    def count(mask: np.ndarray) -> Any:
        return np.count_nonzero(mask, axis=0) if per_column else np.count_nonzero(mask)

    all_hits = empty(score_array.shape[1])
    type_hits = [empty(group.stop - group.start) for group in type_slices]
    block = _TYPE_GRID_ROW_BLOCK if type_layout is not None else _ATTRIBUTE_ROW_BLOCK
    for row_start in range(0, score_array.shape[0], block):
        rows = slice(row_start, row_start + block)
        block_scores, block_positive = score_array[rows], positive[rows]
        if type_layout is not None:
            column_hits, within_type_hits = _topk_hits_by_type_grid(block_scores, block_positive, k, type_layout)
            all_hits += column_hits if per_column else int(column_hits.sum())
            for index, columns in enumerate(type_layout.columns):
                hits = within_type_hits[columns]
                type_hits[index] += hits if per_column else int(hits.sum())
            continue
        all_hits += count(_topk_mask(block_scores, k) & block_positive)
        if type_columns is None:
            continue
        # Ranked on the permuted copy only within a type, where the stable permutation keeps
        # the original column order, so the lower-index tie rule still holds.
        grouped_scores, grouped_positive = block_scores[:, type_columns], block_positive[:, type_columns]
        for index, group in enumerate(type_slices):
            mask = _topk_mask(grouped_scores[:, group], min(k, group.stop - group.start))
            type_hits[index] += count(mask & grouped_positive[:, group])
    return all_hits, type_hits


def attribute_recall_at_k(scores: Any, targets: Any, k: int, attr_types: Any = None) -> dict[Hashable, float]:
    """DeepFashion attribute recall@k (micro): sum of hits / sum of positives over the whole set.

    For each image the attributes are ranked by score and the top k taken (ties: lower index
    first). A hit is a positive attribute among them. scores: (N, K); targets: (N, K) with
    positive = target > 0 (so {0, 1}, {-1, 1} and bool all work).

    With attr_types (K,) (e.g. 1..5 or names), each type gets its own entry, keyed by the type
    value as given (numpy scalars become Python scalars): the ranking is done only among that
    type's attributes, taking min(k, size of the type). A type with no positives gives NaN,
    as does 'all' when the whole set has none.

    Returns:
        {'all': recall over all K attributes, type_1: ..., ...}
    """
    score_array, positive = _attribute_inputs(scores, targets)
    num_attributes = score_array.shape[1]
    _check_k(k, num_attributes, "attributes")
    positives_per_attribute = np.count_nonzero(positive, axis=0)
    if attr_types is None:
        all_hits, _ = _topk_hits(score_array, positive, k)
        return {"all": _ratio_or_nan(all_hits, positives_per_attribute.sum())}
    type_array = _to_numpy(attr_types, "attr_types").reshape(-1)
    if type_array.shape != (num_attributes,):
        raise ValueError(f"attr_types: expected {num_attributes} entries, got shape {type_array.shape}")
    type_values, type_index = np.unique(type_array, return_inverse=True)
    keys = [value.item() if isinstance(value, np.generic) else value for value in type_values]
    if "all" in keys:
        raise ValueError("attr_types: 'all' is reserved for the overall recall")
    type_columns = np.argsort(type_index, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(type_index, minlength=type_values.size))])
    type_slices = [slice(int(start), int(stop)) for start, stop in zip(bounds[:-1], bounds[1:])]
    positives_per_type = np.bincount(type_index, weights=positives_per_attribute, minlength=type_values.size)
    layout = _TypeLayout(type_index, type_values.size)
    all_hits, type_hits = _topk_hits(score_array, positive, k, type_columns, type_slices,
                                     type_layout=layout if layout.worth_it() else None)
    result: dict[Hashable, float] = {"all": _ratio_or_nan(all_hits, positives_per_attribute.sum())}
    for key, hits, type_positives in zip(keys, type_hits, positives_per_type):
        result[key] = _ratio_or_nan(hits, type_positives)
    return result


def _ratio_or_nan(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def mmfashion_attribute_recall(scores: Any, targets: Any, k: int, top_n: int = 50) -> float:
    """mmfashion's attribute "recall rate": per-attribute recall@k averaged over the best top_n.

    What mmfashion's AttrCalculator does, reproduced exactly except the tie rule:
      1. For each image, take the k highest-scoring attributes (mmfashion uses
         ``np.argsort(scores)[::-1][:k]``, whose tie order is unspecified; here lower index first).
      2. Per attribute a: tp[a] = images where a is positive and in the top k; fn[a] = positive
         and not in the top k. recall[a] = tp / (tp + fn), and 0 for attributes with no positive.
      3. Sort the K recalls in descending order and return sum(first top_n) /
         min(top_n, number of attributes with at least one positive).
    mmfashion reports this x100; this returns a fraction. Because it keeps only the best 50
    of 1000 attributes it is far higher than the DeepFashion micro recall. NaN if no positives.
    """
    score_array, positive = _attribute_inputs(scores, targets)
    _check_k(k, score_array.shape[1], "attributes")
    if isinstance(top_n, bool) or not isinstance(top_n, (int, np.integer)) or top_n < 1:
        raise ValueError(f"top_n must be a positive int, got {top_n!r}")
    positives_per_attribute = np.count_nonzero(positive, axis=0)
    attributes_with_positives = int(np.count_nonzero(positives_per_attribute))
    if attributes_with_positives == 0:
        return float("nan")
    hits_per_attribute, _ = _topk_hits(score_array, positive, k, per_column=True)
    per_attribute_recall = np.nan_to_num(_safe_ratio(hits_per_attribute, positives_per_attribute), nan=0.0)
    best = np.sort(per_attribute_recall)[::-1][:top_n]
    return float(best.sum() / min(top_n, attributes_with_positives))


# --------------------------------------------------------------------------- retrieval
def _unit_rows(embeddings: np.ndarray, name: str) -> np.ndarray:
    if embeddings.ndim != 2:
        raise ValueError(f"{name}: expected shape (n, D), got {embeddings.shape}")
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    zero = np.flatnonzero(~(norms[:, 0] > 0))
    if zero.size:
        raise ValueError(f"{name}: rows {zero[:10].tolist()} have zero (or NaN) norm; cosine similarity is undefined")
    return embeddings / norms


def retrieval_average_precisions(query: Any, gallery: Any, relevant: Any) -> np.ndarray:
    """Average precision of each query, ranking the gallery by cosine similarity.

    AP = mean over the query's relevant gallery items of precision@(rank of that item), which
    equals sklearn's average_precision_score when similarities have no ties. Ties: lower
    gallery index ranks first (stable sort). Returns (Q,) with NaN for queries that have no
    relevant item.
    """
    query_unit = _unit_rows(_float_array(query, "query"), "query")
    gallery_unit = _unit_rows(_float_array(gallery, "gallery"), "gallery")
    relevant_mask = _bool_mask(relevant, "relevant")
    if query_unit.shape[1] != gallery_unit.shape[1]:
        raise ValueError(f"query has {query_unit.shape[1]} dims but gallery has {gallery_unit.shape[1]}")
    if relevant_mask.shape != (query_unit.shape[0], gallery_unit.shape[0]):
        raise ValueError(
            f"relevant: expected shape ({query_unit.shape[0]}, {gallery_unit.shape[0]}), got {relevant_mask.shape}"
        )
    num_queries, num_gallery = relevant_mask.shape
    average_precision = np.full(num_queries, np.nan)
    if num_gallery == 0:
        return average_precision
    ranks = np.arange(1, num_gallery + 1, dtype=np.float64)
    block = max(1, _RETRIEVAL_BLOCK_ELEMENTS // num_gallery)
    for start in range(0, num_queries, block):
        stop = min(start + block, num_queries)
        similarity = torch.from_numpy(query_unit[start:stop] @ gallery_unit.T)
        # torch's stable sort keeps equal values (including -0.0 and 0.0) in index order like
        # numpy's, at ~60% of np.argsort's time here.
        order = torch.sort(similarity, dim=1, descending=True, stable=True).indices.numpy()
        ranked_relevant = np.take_along_axis(relevant_mask[start:stop], order, axis=1)
        hits_so_far = np.cumsum(ranked_relevant, axis=1, dtype=np.float64)
        precision_sum = np.sum(np.where(ranked_relevant, hits_so_far / ranks, 0.0), axis=1)
        average_precision[start:stop] = _safe_ratio(precision_sum, hits_so_far[:, -1])
    return average_precision


def retrieval_map(query: Any, gallery: Any, relevant: Any) -> float:
    """Mean average precision over queries that have at least one relevant gallery item.

    query: (Q, D), gallery: (G, D) embeddings; relevant: (Q, G) bool. Cosine similarity,
    ties broken by lower gallery index (see :func:`retrieval_average_precisions`). NaN when no
    query has a relevant item. For M2Fashion/ASEN Table 3, call once per condition (attribute
    type) and average the per-condition values.
    """
    return _nanmean_quiet(retrieval_average_precisions(query, gallery, relevant))
