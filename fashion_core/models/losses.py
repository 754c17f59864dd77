"""Attribute losses shared by FashionNet and Liu & Lu 2018.

Both papers train 1000 sparse binary attributes with a class-weighted cross-entropy. Here each
attribute is one logit with sigmoid BCE (a 2-way softmax over (z_neg, z_pos) is sigmoid(z_pos -
z_neg), the same model), and the weighted loss is normalised as PyTorch's weighted
CrossEntropyLoss(reduction="mean") normalises, and as the Liu & Lu authors' code does:

    loss = sum_{n,k} w_nk * bce_nk / sum_{n,k} w_nk,   w_nk = positive_weight_k if y_nk = 1 else negative_weight_k

so scaling every weight by one constant changes nothing; only the ratio of a positive's weight to
a negative's matters, per attribute. Liu & Lu pass the fixed pair 1 / 0.1; FashionNet weighs
positives by the negatives-to-positives ratio of its training split (positive_class_weights).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["weighted_attribute_bce", "positive_class_weights"]


def weighted_attribute_bce(logits: torch.Tensor, targets: torch.Tensor, positive_weight: float | torch.Tensor,
                           negative_weight: float | torch.Tensor) -> torch.Tensor:
    """sum(w * bce) / sum(w) over the (N, K) logits; see the module docstring.

    positive_weight, negative_weight: floats (one weight for every attribute) or (K,) tensors
    (per attribute). targets: (N, K), 1 positive, 0 negative. A model without attributes or a
    batch without attribute labels (K = 0, e.g. FashionAI) gives 0 (still part of the graph).
    """
    if logits.shape[-1] == 0 or targets.shape[-1] == 0:
        return logits.sum() * 0.0
    if targets.shape != logits.shape:
        raise ValueError(f"attribute targets {tuple(targets.shape)} do not match the logits {tuple(logits.shape)}: "
                         "the dataset and the model disagree on the number of attributes")
    targets = targets.to(logits.dtype)
    positive = torch.as_tensor(positive_weight, dtype=logits.dtype, device=logits.device)
    negative = torch.as_tensor(negative_weight, dtype=logits.dtype, device=logits.device)
    weights = torch.where(targets > 0.5, positive, negative)
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return (weights * bce).sum() / weights.sum()


def positive_class_weights(attributes: np.ndarray | torch.Tensor, per_attribute: bool = False) -> torch.Tensor:
    """(K,) weights of the positives (the negatives weigh 1) from the TRAINING split's (N, K) labels.

    The weight is the negatives-to-positives ratio (1 - p) / p (PyTorch's recommended BCE pos_weight):
    - per_attribute=False: one p for every attribute, the share of positive labels over all N x K
      labels (Liu & Lu's scheme, positives 1 / negatives 0.1, with the ratio measured instead of
      fixed). A common ratio keeps the loss's optimum a monotone function of each attribute's
      posterior, so ranking the K scores (recall@k) keeps the frequency prior;
    - per_attribute=True: p_k per attribute, so every attribute's positives and negatives carry the
      same expected weight; each score then ranks by how much more likely the attribute is than
      its prior, which ignores the prior in the top-k ranking.
    p is clamped to [1 / count, 1 - 1 / count] (count = the labels it is the share of), so an
    attribute no training image has, or every image has, gets a finite weight.
    """
    labels = _labels(attributes) > 0
    if per_attribute:
        p, count = labels.to(torch.float64).mean(dim=0), labels.shape[0]
    else:
        p, count = labels.to(torch.float64).mean().expand(labels.shape[1]), labels.numel()
    if count < 2:
        raise ValueError(f"the positive rate needs at least 2 labels, got attribute labels of shape "
                         f"{tuple(labels.shape)}")
    p = p.clamp(1.0 / count, 1.0 - 1.0 / count)
    return ((1.0 - p) / p).to(torch.float32).contiguous()


def _labels(attributes: np.ndarray | torch.Tensor) -> torch.Tensor:
    labels = attributes if isinstance(attributes, torch.Tensor) else torch.from_numpy(np.asarray(attributes))
    if labels.dim() != 2 or labels.shape[0] == 0:
        raise ValueError(f"attributes must be (N, K) labels of at least one image, got shape {tuple(labels.shape)}")
    return labels
