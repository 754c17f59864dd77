"""In-shop Clothes Retrieval top-k accuracy (DeepFashion, FashionNet's third task), stated exactly.

The protocol:

- **Queries and gallery**: the partition's query and gallery images (their items are disjoint
  from the training items). Every gallery image is ranked for every query; no image is in both.
- **Similarity**: cosine, i.e. the dot product of L2-normalised embeddings.
- **Correct at k**: a query is correct at k when at least one of its k most similar gallery images
  shows the query's item. top-k accuracy = correct queries / all queries. A query whose item has
  no gallery image counts as wrong at every k (it stays in the denominator; the real partition
  has none).
- **Ties**: among equal similarities the lower gallery index ranks first (the order of a stable
  sort by descending similarity, the rule of fashion_core.metrics.functional), so a result never
  depends on a sorting algorithm.
- **k**: each k must lie in [1, gallery size]; a k past the gallery is an error, not a silent 1.0.

Metric keys: ``inshop_top{k}`` (``inshop_top1``, ``inshop_top10``, ... ``inshop_top50``) for
models and baselines alike, like ``category_top{k}``.

The similarities are computed in blocks of queries (about 4M similarities each), so the real
benchmark's 14,218 x 12,612 pairs never sit in memory at once; nothing is sorted: a query's rank
is the number of gallery images ranked above its best-ranked match.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fashion_core.metrics.functional import _check_k, _check_no_nan, _float_array, _to_numpy, _unit_rows

INSHOP_TOPK = (1, 10, 20, 30, 40, 50)
# Similarities per query block: bounds the (block x G) float64 buffers to ~32 MB each.
_BLOCK_ELEMENTS = 4_000_000


def _item_labels(value: Any, name: str, count: int) -> np.ndarray:
    array = np.asarray(_to_numpy(value, name))
    if array.shape != (count,):
        raise ValueError(f"{name}: expected {count} item labels (one per embedding row), got shape {array.shape}")
    if array.size and array.dtype.kind not in "iuU":
        raise TypeError(f"{name}: expected integer item indices or item id strings, got dtype {array.dtype}")
    return array


def inshop_first_match_ranks(query_embeddings: Any, query_items: Any, gallery_embeddings: Any,
                             gallery_items: Any) -> np.ndarray:
    """(Q,) int64: per query, the 0-based rank of its best-ranked gallery image of the same item.

    Rank = gallery images more similar than that match + equally similar ones at a lower gallery
    index (stable descending order). A query whose item has no gallery image gets rank G (the
    gallery size), which no k reaches.
    """
    query = _unit_rows(_float_array(query_embeddings, "query_embeddings"), "query_embeddings")
    gallery = _unit_rows(_float_array(gallery_embeddings, "gallery_embeddings"), "gallery_embeddings")
    if query.shape[1] != gallery.shape[1]:
        raise ValueError(f"query_embeddings have {query.shape[1]} dims but gallery_embeddings {gallery.shape[1]}")
    query_labels = _item_labels(query_items, "query_items", query.shape[0])
    gallery_labels = _item_labels(gallery_items, "gallery_items", gallery.shape[0])
    kinds = {labels.dtype.kind == "U" for labels in (query_labels, gallery_labels) if labels.size}
    if len(kinds) > 1:
        raise TypeError("query_items and gallery_items must both be item indices or both item id strings")
    num_queries, num_gallery = query.shape[0], gallery.shape[0]
    ranks = np.full(num_queries, num_gallery, dtype=np.int64)
    if num_gallery == 0:
        return ranks
    positions = np.arange(num_gallery)
    block = max(1, _BLOCK_ELEMENTS // num_gallery)
    for start in range(0, num_queries, block):
        stop = min(start + block, num_queries)
        similarity = query[start:stop] @ gallery.T
        _check_no_nan(similarity, "similarity")
        match = query_labels[start:stop, None] == gallery_labels[None, :]
        has_match = match.any(axis=1)
        best = np.where(match, similarity, -np.inf).max(axis=1, keepdims=True)
        at_best = similarity == best
        first_match = np.argmax(match & at_best, axis=1)[:, None]
        rank = np.count_nonzero(similarity > best, axis=1) + np.count_nonzero(at_best & (positions < first_match),
                                                                              axis=1)
        ranks[start:stop] = np.where(has_match, rank, num_gallery)
    return ranks


def inshop_topk_accuracy(query_embeddings: Any, query_items: Any, gallery_embeddings: Any, gallery_items: Any,
                         ks: Sequence[int] = INSHOP_TOPK) -> dict[int, float]:
    """{k: share of queries with a gallery image of their item among their k most similar}, for each k in ks.

    query_embeddings (Q, D), gallery_embeddings (G, D): numpy or torch, L2-normalised here (a zero
    row is an error); query_items (Q,), gallery_items (G,): integer item indices or item id strings.
    Cosine similarity; ties to the lower gallery index; every k in [1, G] (else ValueError). NaN for
    each k when Q == 0. See the module docstring for the protocol.
    """
    ks = list(ks)
    if not ks:
        raise ValueError("ks: expected at least one k")
    num_gallery = int(np.shape(_to_numpy(gallery_embeddings, "gallery_embeddings"))[0])
    for k in ks:
        _check_k(k, num_gallery, "gallery images")
    ranks = inshop_first_match_ranks(query_embeddings, query_items, gallery_embeddings, gallery_items)
    if ranks.size == 0:
        return {int(k): float("nan") for k in ks}
    return {int(k): float(np.mean(ranks < k)) for k in ks}


def inshop_metric_keys(ks: Sequence[int] = INSHOP_TOPK) -> list[str]:
    return [f"inshop_top{int(k)}" for k in ks]


def inshop_retrieval_metrics(query_embeddings: Any, query_items: Any, gallery_embeddings: Any, gallery_items: Any,
                             ks: Sequence[int] = INSHOP_TOPK) -> dict[str, float]:
    """inshop_topk_accuracy under the metric keys: {"inshop_top1": ..., "inshop_top10": ..., ...}."""
    accuracy = inshop_topk_accuracy(query_embeddings, query_items, gallery_embeddings, gallery_items, ks)
    return {f"inshop_top{k}": value for k, value in accuracy.items()}


def inshop_chance_topk(query_items: Any, gallery_items: Any, ks: Sequence[int] = INSHOP_TOPK) -> dict[str, float]:
    """The expected inshop_top{k} of a uniformly random ranking: mean over queries of 1 - C(G-m, k) / C(G, k),
    m the query item's gallery images. What random embeddings approach as their repeats grow."""
    gallery_labels = np.asarray(_to_numpy(gallery_items, "gallery_items")).reshape(-1)
    query_labels = np.asarray(_to_numpy(query_items, "query_items")).reshape(-1)
    num_gallery = len(gallery_labels)
    labels, counts = np.unique(gallery_labels, return_counts=True)
    per_label = dict(zip(labels.tolist(), counts.tolist()))
    matches = np.array([per_label.get(label, 0) for label in query_labels.tolist()], dtype=np.int64)
    result = {}
    for k in ks:
        _check_k(k, num_gallery, "gallery images")
        # C(G-m, k) / C(G, k) = prod_{i<k} (G-m-i) / (G-i), computed as a product to stay in floating range.
        steps = np.arange(int(k), dtype=np.float64)
        miss = np.prod(np.clip(num_gallery - matches[:, None] - steps[None, :], 0, None)
                       / (num_gallery - steps[None, :]), axis=1)
        result[f"inshop_top{int(k)}"] = float(np.mean(1.0 - miss)) if len(matches) else float("nan")
    return result
