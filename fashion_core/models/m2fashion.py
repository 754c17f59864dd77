"""M2Fashion (Wan et al., MMM 2022): attribute-aware spatial and channel attention, label-mask training.

As the paper (Sec. 3) describes it, with d = ``dim`` channels (512 in the paper):

    image -> ResNet trunk (no FC head) -> C5 (or C4, see feature_stride) -> 1x1 conv to d  = I (N,d,h,w)
    states A in {-1, 0, +1}^K (known negative, unknown, known positive), Eq. 1: T1 = tanh(W_a1 A),
        broadcast over the h x w grid
    ASA (Eq. 2-5): f2 = tanh(W_v1 I) (1x1 conv, d kernels); s = tanh(W_v2 (f2 * T1)) (1x1 conv to one map);
        alpha = softmax of s over the h x w locations; the attended map alpha_l * I_l is pooled to V_s
    ACA (Eq. 6-8): T2 = tanh(W_a2 A) (a separate embedding); alpha_c = sigmoid(W_c2 sigmoid(W_c1 [T2, V_s]));
        V_c = alpha_c * V_s
    Eq. 9: Z = W V_c + b; heads: category logits (softmax CE) and attribute logits (sigmoid BCE)

Pooling of the attended map (``pooling``): "gap" is the attention-weighted sum of Eq. 5, sum_l alpha_l I_l,
i.e. h*w times the average of alpha * I (ASEN's sum pooling); "gmp" (the paper's choice, Sec. 3.2
"we adopt global max pooling on the feature map V_s") is h*w times the max over locations of
alpha * I. The h*w factor makes both equal the plain average / max of I under uniform attention.

Ablation switches, as the paper's tables name them: ``asa=False`` replaces ASA by global pooling of I (max
with pooling="gmp": the paper's "w/o ASA"); ``aca=False`` uses V_s as V_c ("w/o ACA"); ``pooling``
gap|gmp (Table 2 bottom); ``tasks`` category|attribute|joint selects which classification losses
count (Table 2 top). The attribute states are an input in every task setting.

Loss (Eq. 15, lambda = 1, gamma = 0.5): L = L_category + lambda L_attribute + gamma L_triplet.
- L_attribute (Eq. 12, label-mask training after C-Tran): BCE averaged over the *unknown* labels
  of the batch only; known labels are inputs and add nothing.
- L_triplet: the hinge with margin m (0.2, ASEN's) on the similarity of Eq. 13. ``similarity=
  "cosine"`` (the default) is a.b / (||a|| ||b||), what the text before Eq. 13 states ("The
  similarity is defined as cosine similarity") and what retrieval ranks by; "printed" is Eq. 13 as
  printed, sim(a, b) = a.b / (||a|| + ||b||), which is not scale-invariant: scaling the embeddings
  up scales it up too, so the margin can be met by growing the norms instead of aligning the
  directions retrieval compares. Eq. 14 as printed, max(0, sim(a,p) - sim(a,n) + m), rewards the
  negative for being closer, which contradicts the sentence before it ("sim(Z^a, Z^p) >
  sim(Z^a, Z^n)"); the hinge here is max(0, sim(a,n) - sim(a,p) + m), the direction the text states.

Label masks (Sec. 3.3): per training sample |Y_u| is drawn uniformly from the integers in
[ceil(0.25 K), K] and Y_u uniformly among the K labels; the rest are fed in as known states. On
average a sample so reveals (K - (ceil(K/4) + K) / 2) / K of its labels (37.5% at K = 1000) and
reveals none with probability 1 / (K - ceil(K/4) + 1) (1/751), while the main test numbers reveal
none. ``all_unknown_share`` (not in the paper; 0 keeps the paper's rule) makes that share of the
training samples reveal no label, the state the test-time input is in; the other samples keep
the paper's draw, unchanged (:func:`label_mask_statistics` gives both expectations).
:func:`label_mask` is a pure function of (seed, epoch, annotation row, all_unknown_share) and the
samples left all-unknown at one share are among those at a larger one; :func:`revealed_labels`
(the test-time reveal of a fraction of the labels) is one of (seed, row) and nested across
fractions, so every run and every fraction sees the same labels.

Triplets (Sec. 3.4) are formed inside each batch by :func:`sample_triplets`: an anchor and an
attribute type t on which the anchor has a value (see fashion_core.metrics.retrieval), then a
positive and a negative by ``triplet_rule``:
- "shared_attribute" (the default), the paper's rule: the positive shares at least one positive
  attribute with the anchor, the negative none (over all K attributes, whatever t is), so t is
  drawn among the anchor's types with a value;
- "same_value", a deviation from the paper: the positive has the anchor's value of type t, the
  negative another value (or none). It matches the condition-specific relevance that Table 3's
  retrieval scores, and it keeps negatives in the batch: where nearly every pair shares some
  attribute (on SynthFashion half the images are "solid"), the paper's rule leaves few.
States in a training step (fashion_core.experiments.m2fashion.training_loss): the classification
heads see every batch image under its own label mask (``states``: its known labels as +1 / -1, 0
for the unknown ones). The triplets are embedded again from the same trunk features under their
condition, never under an image's own labels: the anchor states its type-t value, A = +1 on its
type-t attributes, -1 on the other type-t attributes, 0 elsewhere; positive and negative get
exactly what retrieval gives a gallery image (``gallery_condition``, below): the anchor's states
("query", the default) or every label unknown, A = 0 ("unknown").

Retrieval embeddings (``gallery_condition``): Sec. 4.5 gives a query as "an image and two labels"
and NOTES.md ranks gallery items by their *condition-specific* embeddings. "query" (the default)
embeds the gallery under the query's stated values, as ASEN embeds both sides under the same
condition: the condition is what the user looks for, the same input for every image, never a
gallery image's own labels; the triplets' positive and negative are embedded under the
anchor's states in the same way. "unknown" embeds the gallery (and the triplets' positive and
negative) with every state unknown, so only the query side is conditioned.

Not in the paper: ``feature_stride=16`` attends over C4 instead of C5, so a 64 px input gives a
4 x 4 grid rather than 2 x 2 (the CPU profiles use it; the paper profile uses 32 at 224 px, 7 x 7).
"""
from __future__ import annotations

import functools
import hashlib
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fashion_core.models.resnet import ResNetTrunk, build_resnet_trunk

__all__ = ["M2Fashion", "build_m2fashion", "POOLINGS", "TASKS", "SIMILARITIES", "FEATURE_STRIDES", "GALLERY_CONDITIONS",
           "TRIPLET_RULES", "SpatialAttention", "ChannelAttention", "global_pool", "similarity", "triplet_loss",
           "triplet_candidates", "sample_triplets", "label_mask", "label_mask_statistics", "revealed_labels",
           "min_unknown", "ConditionedTrunk"]

POOLINGS = ("gmp", "gap")
TASKS = ("joint", "category", "attribute")
SIMILARITIES = ("printed", "cosine")
TRIPLET_RULES = ("shared_attribute", "same_value")
GALLERY_CONDITIONS = ("query", "unknown")
FEATURE_STRIDES = (16, 32)
MIN_UNKNOWN_FRACTION = 0.25


# ----------------------------------------------------------------------------- label masks
def _rng(*parts: int | str) -> np.random.Generator:
    """A generator that depends only on its parts (stable across processes and Python versions)."""
    digest = hashlib.blake2b(":".join(str(part) for part in parts).encode(), digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def min_unknown(num_labels: int) -> int:
    """ceil(0.25 K): the fewest labels a training sample leaves unknown."""
    return math.ceil(MIN_UNKNOWN_FRACTION * num_labels)


def _checked_share(all_unknown_share: float) -> float:
    if not 0.0 <= all_unknown_share <= 1.0:
        raise ValueError(f"all_unknown_share must lie in [0, 1], got {all_unknown_share}")
    return float(all_unknown_share)


def label_mask(seed: int, epoch: int, row: int, num_labels: int, all_unknown_share: float = 0.0) -> np.ndarray:
    """(K,) bool, True = unknown: a training sample's label mask, a pure function of its arguments.

    With probability all_unknown_share every label is unknown. Otherwise (the paper's rule, which
    draws every sample at share 0) |Y_u| is uniform on the integers [ceil(0.25 K), K]; which
    labels, uniform among the K. The all-unknown draw has its own stream, so the paper's draw of a sample is the same at
    every share, and a sample all-unknown at one share is all-unknown at every larger one.
    """
    if _checked_share(all_unknown_share) > 0.0 and \
            _rng("m2fashion-all-unknown", seed, epoch, row).random() < all_unknown_share:
        return np.ones(num_labels, dtype=bool)
    rng = _rng("m2fashion-label-mask", seed, epoch, row)
    count = int(rng.integers(min_unknown(num_labels), num_labels + 1))
    unknown = np.zeros(num_labels, dtype=bool)
    unknown[rng.permutation(num_labels)[:count]] = True
    return unknown


def label_mask_statistics(num_labels: int, all_unknown_share: float = 0.0) -> dict[str, float]:
    """What :func:`label_mask` gives a training sample in expectation (exact, not sampled).

    mean_revealed: the expected share of its K labels given as known states; none_revealed: the
    probability that it reveals no label (every state unknown, as at test time with no reveal).
    """
    if num_labels < 1:
        raise ValueError(f"num_labels must be at least 1, got {num_labels}")
    share = _checked_share(all_unknown_share)
    low = min_unknown(num_labels)
    mean_unknown = (low + num_labels) / 2.0
    return {"mean_revealed": (1.0 - share) * (num_labels - mean_unknown) / num_labels,
            "none_revealed": share + (1.0 - share) / (num_labels - low + 1)}


def revealed_labels(seed: int, row: int, num_labels: int, fraction: float) -> np.ndarray:
    """(K,) bool, True = known at test time: round(fraction K) labels of image `row`.

    One fixed permutation per (seed, row), so the labels revealed at 0.25 are among those revealed
    at 0.5, and every model and training seed is evaluated on the same reveal.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"known-label fraction must lie in [0, 1], got {fraction}")
    order = _reveal_order(int(seed), int(row), int(num_labels))
    known = np.zeros(num_labels, dtype=bool)
    known[order[:int(round(fraction * num_labels))]] = True
    return known


@functools.lru_cache(maxsize=65536)
def _reveal_order(seed: int, row: int, num_labels: int) -> np.ndarray:
    # Cached: the sweep asks for the same image's order at every fraction, for every model.
    order = _rng("m2fashion-reveal", seed, row).permutation(num_labels)
    order.flags.writeable = False
    return order


def label_states(attributes: np.ndarray | torch.Tensor, known: np.ndarray | torch.Tensor):
    """A in {-1, 0, +1}: +1 known positive, -1 known negative, 0 unknown (same type as the inputs)."""
    if isinstance(attributes, torch.Tensor):
        return torch.where(torch.as_tensor(known, device=attributes.device), attributes.float() * 2 - 1,
                           torch.zeros((), device=attributes.device))
    return np.where(known, np.asarray(attributes, dtype=np.float32) * 2 - 1, 0.0).astype(np.float32)


# ----------------------------------------------------------------------------- triplets
def similarity(a: torch.Tensor, b: torch.Tensor, kind: str = "cosine", eps: float = 1e-8) -> torch.Tensor:
    """Row-wise similarity: "cosine", a.b / (||a|| ||b||) (scale-invariant); "printed" Eq. 13, a.b / (||a|| + ||b||)."""
    dot = (a * b).sum(dim=-1)
    if kind == "printed":
        return dot / (a.norm(dim=-1) + b.norm(dim=-1)).clamp_min(eps)
    if kind == "cosine":
        return dot / (a.norm(dim=-1) * b.norm(dim=-1)).clamp_min(eps)
    raise ValueError(f"similarity must be one of {SIMILARITIES}, got {kind!r}")


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float = 0.2,
                 kind: str = "cosine") -> torch.Tensor:
    """mean of max(0, sim(a, n) - sim(a, p) + margin) (see the module docstring for Eq. 14's sign)."""
    if anchor.shape[0] == 0:
        return anchor.sum() * 0.0
    return F.relu(similarity(anchor, negative, kind) - similarity(anchor, positive, kind) + margin).mean()


def triplet_candidates(type_values: torch.Tensor, attributes: torch.Tensor | None = None,
                       rule: str = "shared_attribute") -> tuple[torch.Tensor, torch.Tensor]:
    """(positives, negatives), each (B, B, T) bool: [a, j, t] = image j may serve anchor a under type t.

    type_values: (B, T) value ids (-1: no value); attributes: (B, K) 0/1, needed by "shared_attribute".
    An anchor only takes types it has a value for. "shared_attribute" (the paper's, the default):
    positive shares at least one positive attribute with the anchor, negative none; the same for
    every t. "same_value" (a deviation): positive has the anchor's value of type t, negative another
    one or none.
    """
    batch = type_values.shape[0]
    device = type_values.device
    has_value = (type_values >= 0)[:, None, :]                                       # (B, 1, T)
    not_self = ~torch.eye(batch, dtype=torch.bool, device=device)[..., None]
    if rule == "same_value":
        same = type_values[:, None, :] == type_values[None, :, :]                   # (B, B, T)
    elif rule == "shared_attribute":
        if attributes is None:
            raise ValueError("the 'shared_attribute' triplet rule needs the batch's attributes")
        positive = attributes > 0
        same = ((positive.float() @ positive.float().T) > 0)[..., None]               # (B, B, 1)
    else:
        raise ValueError(f"triplet rule must be one of {TRIPLET_RULES}, got {rule!r}")
    return same & not_self & has_value, ~same & not_self & has_value


def sample_triplets(type_values: torch.Tensor, generator: torch.Generator | None = None,
                    attributes: torch.Tensor | None = None, rule: str = "shared_attribute") -> torch.Tensor:
    """(M, 4) long rows [anchor, positive, negative, type] from one batch.

    An anchor takes a type, uniformly among those where :func:`triplet_candidates` (by `rule`)
    leaves it both a positive and a negative; positive and negative are then uniform among the
    candidates. Anchors with no such type are skipped. Draws from `generator` (or torch's global
    RNG, which fashion_core.engine.trainer reseeds every epoch), so the triplets are deterministic.
    """
    device = type_values.device
    positives, negatives = triplet_candidates(type_values, attributes, rule)
    usable = positives.any(dim=1) & negatives.any(dim=1)                             # (B, T)
    anchors = torch.nonzero(usable.any(dim=1)).flatten()
    if anchors.numel() == 0:
        return torch.zeros((0, 4), dtype=torch.long, device=device)

    def pick(mask: torch.Tensor) -> torch.Tensor:
        # argmax of uniform noise over the allowed entries: a uniform choice among them.
        noise = torch.rand(mask.shape, generator=generator, device="cpu" if generator is None else generator.device)
        return torch.where(mask, noise.to(device) + 1.0, torch.zeros((), device=device)).argmax(dim=-1)

    chosen_type = pick(usable[anchors])
    positive = pick(positives[anchors, :, chosen_type])
    negative = pick(negatives[anchors, :, chosen_type])
    return torch.stack([anchors, positive, negative, chosen_type], dim=1)


# ----------------------------------------------------------------------------- modules
class ConditionedTrunk(nn.Module):
    """The ResNet trunk up to C4 (feature_stride 16) or C5 (32), then the 1x1 conv to d channels."""

    def __init__(self, trunk: ResNetTrunk, dim: int, feature_stride: int):
        super().__init__()
        if feature_stride not in FEATURE_STRIDES:
            raise ValueError(f"feature_stride must be one of {FEATURE_STRIDES}, got {feature_stride}")
        stages = [trunk.stem, trunk.layer1, trunk.layer2, trunk.layer3]
        if feature_stride == 32:
            stages.append(trunk.layer4)
        self.body = nn.Sequential(*stages)
        self.reduce = nn.Conv2d(trunk.channels[3 if feature_stride == 32 else 2], dim, 1)
        self.stride = feature_stride

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.body(image))


def checked_image(image: torch.Tensor, input_size: int) -> torch.Tensor:
    """image itself, after checking it is the (N, 3, S, S) batch a model built for input_size S takes."""
    if image.dim() != 4 or image.shape[-2:] != (input_size, input_size):
        raise ValueError(f"expected images (N, 3, {input_size}, {input_size}) for this model "
                         f"(input_size={input_size}), got {tuple(image.shape)}")
    return image


def global_pool(maps: torch.Tensor, pooling: str) -> torch.Tensor:
    """(N,d,h,w) -> (N,d): "gmp" max over locations, "gap" mean over locations."""
    if pooling == "gmp":
        return maps.amax(dim=(2, 3))
    if pooling == "gap":
        return maps.mean(dim=(2, 3))
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")


class SpatialAttention(nn.Module):
    """ASA (Eq. 2-5): condition-guided softmax attention over the grid, then pooling of alpha * I."""

    def __init__(self, dim: int, pooling: str):
        super().__init__()
        self.image_transform = nn.Conv2d(dim, dim, 1)  # W_v1
        self.score = nn.Conv2d(dim, 1, 1)              # W_v2
        self.pooling = pooling

    def transform(self, features: torch.Tensor) -> torch.Tensor:
        """f2(I) = tanh(W_v1 I) (Eq. 2): the condition-free part, computed once per image in retrieval."""
        return torch.tanh(self.image_transform(features))

    def forward(self, features: torch.Tensor, condition: torch.Tensor,
                transformed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """features I (N,d,h,w), condition T1 (N,d) -> (V_s (N,d), alpha (N,1,h,w), summing to 1)."""
        n, _, h, w = features.shape
        fused = (self.transform(features) if transformed is None else transformed) * condition[:, :, None, None]
        scores = torch.tanh(self.score(fused)).flatten(1)
        alpha = torch.softmax(scores, dim=1).view(n, 1, h, w)
        return (h * w) * global_pool(alpha * features, self.pooling), alpha


class ChannelAttention(nn.Module):
    """ACA (Eq. 7-8): alpha_c = sigmoid(W_c2 act(W_c1 [T2, V_s])), V_c = alpha_c * V_s.

    act is the sigmoid M2Fashion prints (Eq. 7); ASEN uses ReLU there.
    """

    def __init__(self, dim: int, hidden: int, activation: str = "sigmoid"):
        super().__init__()
        if activation not in ("sigmoid", "relu"):
            raise ValueError(f"activation must be 'sigmoid' or 'relu', got {activation!r}")
        self.fc1 = nn.Linear(2 * dim, hidden)  # W_c1
        self.fc2 = nn.Linear(hidden, dim)      # W_c2
        self.activation = torch.sigmoid if activation == "sigmoid" else torch.relu

    def forward(self, pooled: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.fc2(self.activation(self.fc1(torch.cat([condition, pooled], dim=1)))))
        return weights * pooled


class M2Fashion(nn.Module):
    """M2Fashion; see the module docstring.

    forward(image, states=None, condition_index=None, condition_types=None, condition_states=None) -> dict:
      category_logits (N,C), attribute_logits (N,K), embedding Z (N,d), attention (N,1,h,w) (ASA's
      softmax map; absent with asa=False); with condition_index (M,) also condition_embedding (M,d):
      Z of images condition_index under condition_states (M,K) (condition_types is for models
      conditioned on the type alone and is ignored here). states None = every label unknown.
    """

    conditions_on = "values"  # retrieval: the query's attribute values are its states (fashion_core.metrics.retrieval)

    def __init__(self, trunk: ConditionedTrunk, num_categories: int, num_attributes: int, *, dim: int,
                 input_size: int, asa: bool = True, aca: bool = True, pooling: str = "gmp", tasks: str = "joint",
                 similarity: str = "cosine", margin: float = 0.2, attribute_weight: float = 1.0,
                 triplet_weight: float = 0.5, gallery_condition: str = "query", triplet_rule: str = "shared_attribute",
                 all_unknown_share: float = 0.0):
        super().__init__()
        # The label-mask rule the model is trained under (label_mask draws the masks in the training set):
        # a builder argument like triplet_rule, so every checkpoint's identity records it.
        self.all_unknown_share = _checked_share(all_unknown_share)
        if gallery_condition not in GALLERY_CONDITIONS:
            raise ValueError(f"gallery_condition must be one of {GALLERY_CONDITIONS}, got {gallery_condition!r}")
        self.gallery_condition = gallery_condition
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if tasks not in TASKS:
            raise ValueError(f"tasks must be one of {TASKS}, got {tasks!r}")
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
        if triplet_rule not in TRIPLET_RULES:
            raise ValueError(f"triplet_rule must be one of {TRIPLET_RULES}, got {triplet_rule!r}")
        self.triplet_rule = triplet_rule
        self.input_size, self.num_attributes = int(input_size), int(num_attributes)
        self.asa, self.aca, self.pooling, self.tasks = bool(asa), bool(aca), pooling, tasks
        self.similarity, self.margin = similarity, float(margin)
        self.attribute_weight, self.triplet_weight = float(attribute_weight), float(triplet_weight)
        self.trunk = trunk
        self.state_embedding_spatial = nn.Linear(num_attributes, dim)   # W_a1 (Eq. 1)
        self.spatial_attention = SpatialAttention(dim, pooling) if asa else None
        self.state_embedding_channel = nn.Linear(num_attributes, dim) if aca else None  # W_a2 (Eq. 6)
        self.channel_attention = ChannelAttention(dim, dim) if aca else None
        self.project = nn.Linear(dim, dim)                              # Eq. 9
        self.category_head = nn.Linear(dim, num_categories)
        self.attribute_head = nn.Linear(dim, num_attributes)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """I (N,d,h,w): the part of the model that does not depend on the attribute states."""
        return self.trunk(checked_image(image, self.input_size))

    def precompute(self, features: torch.Tensor) -> torch.Tensor | None:
        """What attend() may reuse across conditions for the same images (ASA's f2(I)), or None."""
        return self.spatial_attention.transform(features) if self.spatial_attention is not None else None

    def attend(self, features: torch.Tensor, states: torch.Tensor,
               precomputed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(Z (N,d), alpha (N,1,h,w) or None) for features I under attribute states A (N,K)."""
        if states.shape != (features.shape[0], self.num_attributes):
            raise ValueError(f"states: expected shape ({features.shape[0]}, {self.num_attributes}), "
                             f"got {tuple(states.shape)}")
        states = states.to(features.dtype)
        if self.spatial_attention is not None:
            condition = torch.tanh(self.state_embedding_spatial(states))
            pooled, alpha = self.spatial_attention(features, condition, precomputed)
        else:
            pooled, alpha = global_pool(features, self.pooling), None
        if self.channel_attention is not None:
            pooled = self.channel_attention(pooled, torch.tanh(self.state_embedding_channel(states)))
        return self.project(pooled), alpha

    def head(self, features: torch.Tensor, states: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if states is None:
            states = features.new_zeros(features.shape[0], self.num_attributes)
        embedding, alpha = self.attend(features, states)
        outputs = {"category_logits": self.category_head(embedding),
                   "attribute_logits": self.attribute_head(embedding), "embedding": embedding}
        if alpha is not None:
            outputs["attention"] = alpha
        return outputs

    def condition_embedding(self, features: torch.Tensor, condition_types: torch.Tensor | None,
                            condition_states: torch.Tensor, precomputed: torch.Tensor | None = None) -> torch.Tensor:
        """Z of each image under its retrieval condition (the attribute values stated as known)."""
        return self.attend(features, condition_states, precomputed)[0]

    def forward(self, image: torch.Tensor, states: torch.Tensor | None = None,
                condition_index: torch.Tensor | None = None, condition_types: torch.Tensor | None = None,
                condition_states: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        features = self.features(image)
        outputs = self.head(features, states)
        if condition_index is not None:
            outputs["condition_embedding"] = self.condition_embedding(features[condition_index], condition_types,
                                                                      condition_states)
        return outputs

    def compute_loss(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                     epoch: int) -> dict[str, torch.Tensor]:
        """{'loss': L_cat + 1 L_attr + 0.5 L_tri (the terms `tasks` keeps), and the unweighted terms}.

        batch: category (N,), attributes (N,K) 0/1, unknown (N,K) bool (the label mask: only these
        count in L_attr); outputs["condition_embedding"] (3M,d) holds the triplets as
        [anchors, positives, negatives] (see fashion_core.experiments.m2fashion.training_loss).
        """
        zero = outputs["embedding"].sum() * 0.0
        category = F.cross_entropy(outputs["category_logits"], batch["category"]) \
            if self.tasks in ("joint", "category") else zero
        if self.tasks in ("joint", "attribute"):
            logits = outputs["attribute_logits"]
            unknown = batch["unknown"].to(logits.dtype)
            bce = F.binary_cross_entropy_with_logits(logits, batch["attributes"].to(logits.dtype), reduction="none")
            attribute = (bce * unknown).sum() / unknown.sum().clamp(min=1.0)
        else:
            attribute = zero
        triplet = triplet_term(outputs, self.margin, self.similarity) if "condition_embedding" in outputs else zero
        loss = category + self.attribute_weight * attribute + self.triplet_weight * triplet
        return {"loss": loss, "category": category, "attribute": attribute, "triplet": triplet}


def triplet_term(outputs: dict[str, torch.Tensor], margin: float, kind: str) -> torch.Tensor:
    """The triplet loss of outputs["condition_embedding"] laid out as [anchors; positives; negatives]."""
    anchor, positive, negative = outputs["condition_embedding"].chunk(3, dim=0)
    return triplet_loss(anchor, positive, negative, margin, kind)


def build_m2fashion(num_categories: int, num_attributes: int, *, backbone: str = "resnet50", width: float = 1.0,
                    input_size: int = 224, pretrained: bool = False, weights_path: str | os.PathLike | None = None,
                    dim: int | None = None, feature_stride: int = 32, blocks: int = 1, asa: bool = True,
                    aca: bool = True, pooling: str = "gmp", tasks: str = "joint", similarity: str = "cosine",
                    margin: float = 0.2, attribute_weight: float = 1.0, triplet_weight: float = 0.5,
                    gallery_condition: str = "query", triplet_rule: str = "shared_attribute",
                    all_unknown_share: float = 0.0) -> M2Fashion:
    """M2Fashion on a "resnet50" (torchvision; ImageNet weights if pretrained) or "resnet_mini" trunk.

    dim: d after the 1x1 conv (default round(512 * width), at least 16; 512 for the paper's ResNet-50).
    feature_stride: 32 attends over C5 (the paper), 16 over C4. blocks: BasicBlocks per resnet_mini stage.
    asa, aca, pooling ("gmp" | "gap"), tasks ("joint" | "category" | "attribute"): the ablation switches.
    similarity: "cosine" (the text) or "printed" (Eq. 13 as printed) in the triplet loss; margin m of the hinge.
    triplet_rule: "shared_attribute" (the paper's, the default) or "same_value", how training picks triplets.
    all_unknown_share: the share of training samples whose label mask hides every label (0: the paper's rule).
    attribute_weight, triplet_weight: lambda and gamma of Eq. 15 (1 and 0.5 in the paper).
    gallery_condition: "query" or "unknown", the states retrieval embeds gallery images with (module docstring).
    """
    trunk = build_resnet_trunk(backbone, width, pretrained, weights_path, blocks=blocks)
    if input_size % feature_stride or input_size < 2 * feature_stride:
        raise ValueError(f"input_size {input_size} must be a multiple of feature_stride {feature_stride} "
                         f"and give at least a 2 x 2 grid")
    dim = int(dim) if dim is not None else max(16, round(512 * width))
    model = M2Fashion(ConditionedTrunk(trunk, dim, feature_stride), num_categories, num_attributes, dim=dim,
                      input_size=input_size, asa=asa, aca=aca, pooling=pooling, tasks=tasks, similarity=similarity,
                      margin=margin, attribute_weight=attribute_weight, triplet_weight=triplet_weight,
                      gallery_condition=gallery_condition, triplet_rule=triplet_rule,
                      all_unknown_share=all_unknown_share)
    return model.to(memory_format=torch.channels_last)
