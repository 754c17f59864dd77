"""The two retrieval baselines of M2Fashion Table 3, on M2Fashion's trunk and trained on its triplets.

- condition="none": a triplet network with one unconditioned embedding, Z = FC(GMP(I)); the
  condition is ignored (Table 3's "Triplet" row).
- condition="type": ASEN-style (Ma et al. 2020, as ../shared/papers/NOTES.md describes it): the
  condition is the attribute *type* alone, a learned embedding of its one-hot code. Spatial
  attention tanh(1x1 conv I) * tanh(W c), 1x1 conv + tanh to one map, softmax over the grid, and the
  attention-weighted sum of I (sum pooling); channel attention sigmoid(FC(ReLU(FC([pooled, c])))),
  then an FC layer and L2 normalisation, as ASEN's public code normalises the attribute-specific
  embedding before the triplet's distance: the triplet loss then sees unit vectors under either
  similarity (with "printed", a.b / 2), and retrieval's cosine ranking is unchanged by it.

Both have the same trunk as M2Fashion (fashion_core.models.m2fashion.ConditionedTrunk), no
classification heads, and only the triplet loss (margin 0.2, the same similarity and triplet-rule
switches). They
are separate from build_m2fashion because they differ in what conditions the attention (nothing,
or the type instead of the attribute values) and in their training objective, not by a switch
of the paper.
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from fashion_core.models.m2fashion import (
    SIMILARITIES,
    TRIPLET_RULES,
    ChannelAttention,
    ConditionedTrunk,
    SpatialAttention,
    checked_image,
    global_pool,
    triplet_term,
)
from fashion_core.models.resnet import build_resnet_trunk

__all__ = ["RetrievalBaseline", "build_retrieval_baseline", "CONDITIONS"]

CONDITIONS = ("none", "type")


class RetrievalBaseline(nn.Module):
    """forward(image, states=None, condition_index=None, condition_types=None, condition_states=None) -> dict.

    Output: embedding (N,d) (condition="none" only; a type-conditioned model has no embedding
    without a condition), condition_embedding (M,d) for images condition_index under
    condition_types (M,) (type codes 0..num_conditions-1; condition_states is ignored; unit norm
    with condition="type"), and attention (M,1,h,w) for those (condition="type").
    """

    tasks = "retrieval"

    def __init__(self, trunk: ConditionedTrunk, *, dim: int, input_size: int, condition: str = "none",
                 num_conditions: int = 5, similarity: str = "cosine", margin: float = 0.2,
                 triplet_rule: str = "same_value"):
        super().__init__()
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
        if triplet_rule not in TRIPLET_RULES:
            raise ValueError(f"triplet_rule must be one of {TRIPLET_RULES}, got {triplet_rule!r}")
        self.triplet_rule = triplet_rule
        self.input_size, self.condition, self.num_conditions = int(input_size), condition, int(num_conditions)
        self.conditions_on = "type" if condition == "type" else "nothing"  # see fashion_core.metrics.retrieval
        self.similarity, self.margin = similarity, float(margin)
        self.trunk = trunk
        if condition == "type":
            self.type_embedding_spatial = nn.Linear(num_conditions, dim)
            self.spatial_attention = SpatialAttention(dim, "gap")  # h*w x mean = ASEN's attention-weighted sum
            self.type_embedding_channel = nn.Linear(num_conditions, dim)
            self.channel_attention = ChannelAttention(dim, dim, activation="relu")
        self.project = nn.Linear(dim, dim)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        return self.trunk(checked_image(image, self.input_size))

    def precompute(self, features: torch.Tensor) -> torch.Tensor | None:
        """What attend() may reuse across conditions for the same images (the spatial f2(I)), or None."""
        return self.spatial_attention.transform(features) if self.condition == "type" else None

    def attend(self, features: torch.Tensor, condition_types: torch.Tensor | None,
               precomputed: torch.Tensor | None = None):
        if self.condition == "none":
            return self.project(global_pool(features, "gmp")), None
        if condition_types is None:
            raise ValueError("an ASEN-style model needs condition_types (the attribute type of each condition)")
        code = nn.functional.one_hot(condition_types.long(), self.num_conditions).to(features.dtype)
        pooled, alpha = self.spatial_attention(features, torch.tanh(self.type_embedding_spatial(code)), precomputed)
        pooled = self.channel_attention(pooled, torch.tanh(self.type_embedding_channel(code)))
        return F.normalize(self.project(pooled), dim=-1), alpha

    def condition_embedding(self, features: torch.Tensor, condition_types: torch.Tensor | None,
                            condition_states: torch.Tensor | None = None,
                            precomputed: torch.Tensor | None = None) -> torch.Tensor:
        return self.attend(features, condition_types, precomputed)[0]

    def forward(self, image: torch.Tensor, states: torch.Tensor | None = None,
                condition_index: torch.Tensor | None = None, condition_types: torch.Tensor | None = None,
                condition_states: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        features = self.features(image)
        outputs: dict[str, torch.Tensor] = {}
        if self.condition == "none":
            outputs["embedding"] = self.attend(features, None)[0]
        if condition_index is not None:
            embedding, alpha = self.attend(features[condition_index], condition_types)
            outputs["condition_embedding"] = embedding
            if alpha is not None:
                outputs["attention"] = alpha
        return outputs

    def compute_loss(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                     epoch: int) -> dict[str, torch.Tensor]:
        """{'loss': the triplet loss, 'triplet': the same} (the same component names in every batch)."""
        if "condition_embedding" not in outputs:
            raise ValueError("a retrieval baseline trains on triplets only: call it with condition_index")
        triplet = triplet_term(outputs, self.margin, self.similarity)
        return {"loss": triplet, "triplet": triplet}


def build_retrieval_baseline(num_categories: int, num_attributes: int, *, backbone: str = "resnet50",
                             width: float = 1.0, input_size: int = 224, pretrained: bool = False,
                             weights_path: str | os.PathLike | None = None, dim: int | None = None,
                             feature_stride: int = 32, blocks: int = 1, condition: str = "none",
                             num_conditions: int = 5, similarity: str = "cosine",
                             margin: float = 0.2, triplet_rule: str = "same_value") -> RetrievalBaseline:
    """condition "none" (triplet network) or "type" (ASEN-style); the other arguments as build_m2fashion's.

    num_categories and num_attributes are accepted so every builder takes the same arguments; a
    retrieval baseline predicts neither.
    """
    trunk = build_resnet_trunk(backbone, width, pretrained, weights_path, blocks=blocks)
    if input_size % feature_stride or input_size < 2 * feature_stride:
        raise ValueError(f"input_size {input_size} must be a multiple of feature_stride {feature_stride} "
                         f"and give at least a 2 x 2 grid")
    dim = int(dim) if dim is not None else max(16, round(512 * width))
    model = RetrievalBaseline(ConditionedTrunk(trunk, dim, feature_stride), dim=dim, input_size=input_size,
                              condition=condition, num_conditions=num_conditions, similarity=similarity,
                              margin=margin, triplet_rule=triplet_rule)
    return model.to(memory_format=torch.channels_last)
