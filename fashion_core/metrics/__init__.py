"""Metrics: the functional metrics (re-exported here), the evaluation protocols, retrieval, no-model baselines.

functional holds the array metrics (NE, top-k, recall@k, detection rate, retrieval AP);
evaluation runs a model over a split under the stated protocol; retrieval is attribute-specific
retrieval; inshop is In-shop Clothes Retrieval top-k (keys inshop_top{k}); baselines are what a
model must beat without looking at the image.
"""
from fashion_core.metrics.functional import (
    FASHIONAI_CATEGORIES,
    FASHIONAI_KEYPOINT_GROUPS,
    NE_PROTOCOLS,
    attribute_recall_at_k,
    detection_rate,
    fashionai_normalized_error,
    fashionai_normalized_error_per_group,
    fashionai_normalized_error_per_keypoint,
    mmfashion_attribute_recall,
    normalized_error,
    retrieval_average_precisions,
    retrieval_map,
    topk_accuracy,
)
from fashion_core.metrics.inshop import (
    INSHOP_TOPK,
    inshop_chance_topk,
    inshop_first_match_ranks,
    inshop_retrieval_metrics,
    inshop_topk_accuracy,
)

__all__ = [
    "FASHIONAI_CATEGORIES", "FASHIONAI_KEYPOINT_GROUPS", "NE_PROTOCOLS", "attribute_recall_at_k", "detection_rate",
    "fashionai_normalized_error", "fashionai_normalized_error_per_group", "fashionai_normalized_error_per_keypoint",
    "mmfashion_attribute_recall", "normalized_error", "retrieval_average_precisions", "retrieval_map",
    "topk_accuracy", "INSHOP_TOPK", "inshop_chance_topk", "inshop_first_match_ranks", "inshop_retrieval_metrics",
    "inshop_topk_accuracy",
]
