"""The three retrieval baselines of M2Fashion Table 3, on M2Fashion's trunk and trained on its triplets.

- condition="none": a triplet network with one unconditioned embedding, Z = FC(GMP(I)); the
  condition is ignored (Table 3's "Triplet" row).
- condition="mask": CSN, the Conditional Similarity Network (Veit et al., CVPR 2017; Table 3's
  "CSN" row, M2Fashion's reference [23]). One shared embedding Z = FC(GMP(I)), as the triplet
  network's, and one learned mask per condition (attribute type) c: m_c = ReLU(w_c), w_c a
  free d-vector initialised from N(0.9, 0.7^2) (the learned masks of the CSN authors' code). The
  condition-specific embedding is Z * m_c, and the triplet loss and retrieval compare those.
  CSN's loss adds to the triplet term an L2 penalty on the embeddings and an L1 penalty on the
  masks, L = L_tri + lambda_1 L_W + lambda_2 L_M with lambda_1 = 5e-3, lambda_2 = 5e-4 (the CSN
  code's defaults), computed as that code does over a batch's M triplets: L_W = the mean over
  anchors, positives and negatives of ||Z_role||_F / sqrt(M) (the root mean square of the
  unmasked embeddings' L2 norms), L_M = the mean L1 norm of the masks the triplets use.
- condition="type": ASEN-style (Ma et al. 2020, as ../shared/papers/NOTES.md describes it): the
  condition is the attribute *type* alone, a learned embedding of its one-hot code. Spatial
  attention tanh(1x1 conv I) * tanh(W c), 1x1 conv + tanh to one map, softmax over the grid, and the
  attention-weighted sum of I (sum pooling); channel attention sigmoid(FC(ReLU(FC([pooled, c])))),
  then an FC layer and L2 normalisation, as ASEN's public code normalises the attribute-specific
  embedding before the triplet's distance: the triplet loss then sees unit vectors under either
  similarity (with "printed", a.b / 2), and retrieval's cosine ranking is unchanged by it.

All three have the same trunk as M2Fashion (fashion_core.models.m2fashion.ConditionedTrunk), no
classification heads, and the same triplet loss (margin 0.2, the same similarity and triplet-rule
switches) on the same in-batch triplets. CSN, like the others here, uses the workbook's similarity
switch (cosine by default) where the CSN paper uses the Euclidean distance of the masked
embeddings; the penalties are CSN's. They are separate from build_m2fashion because they differ
in what conditions the embedding (nothing, the type through a mask, or the type through attention
instead of the attribute values) and in their training objective, not by a switch of the paper.
"""
from __future__ import annotations

import math
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

__all__ = ["RetrievalBaseline", "build_retrieval_baseline", "csn_penalties", "CONDITIONS", "CSN_MASK_INIT"]

CONDITIONS = ("none", "mask", "type")
# CSN's learned masks start from N(mean, sd^2) before the ReLU (the CSN authors' code).
CSN_MASK_INIT = (0.9, 0.7)


class RetrievalBaseline(nn.Module):
    """forward(image, states=None, condition_index=None, condition_types=None, condition_states=None) -> dict.

    Output: embedding (N,d) (condition="none" only; a conditioned model has no embedding without
    a condition), condition_embedding (M,d) for images condition_index under condition_types (M,)
    (type codes 0..num_conditions-1; states and condition_states are ignored: no baseline takes
    attribute values; unit norm with condition="type"), attention (M,1,h,w) for those
    (condition="type"), and with condition="mask" also unmasked_embedding (M,d), the shared Z of
    those images, and condition_mask (M,d), the mask m_c each was embedded under.
    """

    tasks = "retrieval"

    def __init__(self, trunk: ConditionedTrunk, *, dim: int, input_size: int, condition: str = "none",
                 num_conditions: int = 5, similarity: str = "cosine", margin: float = 0.2,
                 triplet_rule: str = "shared_attribute", embedding_l2_weight: float = 5e-3,
                 mask_l1_weight: float = 5e-4):
        super().__init__()
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
        if triplet_rule not in TRIPLET_RULES:
            raise ValueError(f"triplet_rule must be one of {TRIPLET_RULES}, got {triplet_rule!r}")
        self.triplet_rule = triplet_rule
        self.input_size, self.condition, self.num_conditions = int(input_size), condition, int(num_conditions)
        self.conditions_on = "nothing" if condition == "none" else "type"  # see fashion_core.metrics.retrieval
        self.similarity, self.margin = similarity, float(margin)
        if embedding_l2_weight < 0 or mask_l1_weight < 0:
            raise ValueError(f"CSN's penalty weights must be >= 0, got embedding_l2_weight={embedding_l2_weight}, "
                             f"mask_l1_weight={mask_l1_weight}")
        self.embedding_l2_weight, self.mask_l1_weight = float(embedding_l2_weight), float(mask_l1_weight)
        self.trunk = trunk
        if condition == "mask":
            self.masks = nn.Parameter(torch.empty(num_conditions, dim).normal_(*CSN_MASK_INIT))  # w_c, one row per c
        if condition == "type":
            self.type_embedding_spatial = nn.Linear(num_conditions, dim)
            self.spatial_attention = SpatialAttention(dim, "gap")  # h*w x mean = ASEN's attention-weighted sum
            self.type_embedding_channel = nn.Linear(num_conditions, dim)
            self.channel_attention = ChannelAttention(dim, dim, activation="relu")
        self.project = nn.Linear(dim, dim)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        return self.trunk(checked_image(image, self.input_size))

    def precompute(self, features: torch.Tensor) -> torch.Tensor | None:
        """What attend() may reuse across conditions for the same images: the spatial f2(I) (ASEN-style), the
        shared embedding Z (CSN), or None."""
        if self.condition == "type":
            return self.spatial_attention.transform(features)
        return self.shared_embedding(features) if self.condition == "mask" else None

    def shared_embedding(self, features: torch.Tensor) -> torch.Tensor:
        """Z = FC(GMP(I)) (N,d): the triplet network's embedding, and CSN's before its masks."""
        return self.project(global_pool(features, "gmp"))

    def condition_masks(self, condition_types: torch.Tensor) -> torch.Tensor:
        """CSN's m_c = ReLU(w_c) (M,d) for each condition (non-negative; an entry at 0 masks its dimension out)."""
        return F.relu(self.masks)[condition_types.long()]

    def attend(self, features: torch.Tensor, condition_types: torch.Tensor | None,
               precomputed: torch.Tensor | None = None):
        if self.condition == "none":
            return self.shared_embedding(features), None
        if condition_types is None:
            raise ValueError(f"a {'CSN' if self.condition == 'mask' else 'ASEN-style'} model needs condition_types "
                             "(the attribute type of each condition)")
        if self.condition == "mask":
            shared = self.shared_embedding(features) if precomputed is None else precomputed
            return shared * self.condition_masks(condition_types), None
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
            selected = features[condition_index]
            precomputed = self.precompute(selected) if self.condition == "mask" else None
            embedding, alpha = self.attend(selected, condition_types, precomputed)
            outputs["condition_embedding"] = embedding
            if alpha is not None:
                outputs["attention"] = alpha
            if self.condition == "mask":  # what CSN's penalties read
                outputs["unmasked_embedding"] = precomputed
                outputs["condition_mask"] = self.condition_masks(condition_types)
        return outputs

    def compute_loss(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                     epoch: int) -> dict[str, torch.Tensor]:
        """{'loss', 'triplet'}, and for CSN 'embedding_norm' (L_W) and 'mask_norm' (L_M) (module docstring).

        The same component names in every batch; a batch without triplets adds zero penalties.
        """
        if "condition_embedding" not in outputs:
            raise ValueError("a retrieval baseline trains on triplets only: call it with condition_index")
        triplet = triplet_term(outputs, self.margin, self.similarity)
        if self.condition != "mask":
            return {"loss": triplet, "triplet": triplet}
        embedding_norm, mask_norm = csn_penalties(outputs["unmasked_embedding"], outputs["condition_mask"])
        loss = triplet + self.embedding_l2_weight * embedding_norm + self.mask_l1_weight * mask_norm
        return {"loss": loss, "triplet": triplet, "embedding_norm": embedding_norm, "mask_norm": mask_norm}


def csn_penalties(unmasked: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_W, L_M) of CSN for M triplets laid out as [anchors; positives; negatives] (each (3M, d)).

    L_W: the mean over the three roles of ||Z_role||_F / sqrt(M); L_M: the mean L1 norm of the masks.
    Both zero (and still in the graph) when there is no triplet.
    """
    count = unmasked.shape[0] // 3
    if count == 0:
        return unmasked.sum() * 0.0, masks.sum() * 0.0
    embedding_norm = torch.stack([role.norm() for role in unmasked.chunk(3, dim=0)]).mean() / math.sqrt(count)
    return embedding_norm, masks.abs().sum(dim=1).mean()


def build_retrieval_baseline(num_categories: int, num_attributes: int, *, backbone: str = "resnet50",
                             width: float = 1.0, input_size: int = 224, pretrained: bool = False,
                             weights_path: str | os.PathLike | None = None, dim: int | None = None,
                             feature_stride: int = 32, blocks: int = 1, condition: str = "none",
                             num_conditions: int = 5, similarity: str = "cosine", margin: float = 0.2,
                             triplet_rule: str = "shared_attribute", embedding_l2_weight: float = 5e-3,
                             mask_l1_weight: float = 5e-4) -> RetrievalBaseline:
    """condition "none" (triplet network), "mask" (CSN) or "type" (ASEN-style); the others as build_m2fashion's.

    embedding_l2_weight, mask_l1_weight: CSN's lambda_1 and lambda_2 (used by condition="mask" only).
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
                              margin=margin, triplet_rule=triplet_rule, embedding_l2_weight=embedding_l2_weight,
                              mask_l1_weight=mask_l1_weight)
    return model.to(memory_format=torch.channels_last)
