"""FashionNet (Liu et al., CVPR 2016): landmarks + visibility, landmark pooling, category, attributes, embedding.

Layout (as the DeepFashion paper and its summary describe; sizes scale with ``width``):

    image -> VGG16 trunk up to conv4_3 (stride 8)
      pose branch:   its own pool4+conv5+pool5 -> fc -> fc -> 8 landmarks (sigmoid, x input_size)
                     and 8 visibility logits (visible vs not visible)
      local branch:  landmark pooling on conv4 at the PREDICTED landmarks: a pool_window x
                     pool_window window of conv4 cells around each point (roi_align, one bilinear
                     sample per cell), max-pooled over the window, multiplied by the predicted
                     visibility probability, the 8 vectors concatenated = pool5_local -> fc6_local
      global branch: its own pool4+conv5+pool5 -> fc6_global
      fc7_fusion = fc(concat(fc6_global, fc6_local)) -> category logits, attribute logits and an
                     L2-normalised embedding

Ground truth never enters forward(): the pooling windows come from the pose branch (the
boxes are detached, roi_align has no gradient w.r.t. them), so evaluation cannot leak the
annotated landmarks (a complaint about public FashionNet re-implementations).

Losses (compute_loss): landmark regression = squared error of the normalised coordinates
(x / input_size, y / input_size) summed over x, y and averaged over *visible* landmarks, the
batch's `visible` flag (DeepFashion code 0, FashionAI code 1; visibility code 0 when the batch
has none). The DeepFashion paper multiplies each landmark's regression error by its visibility
label (its landmark loss; the blog summary in ../shared/papers leaves the formula out), and an
occluded landmark's position is a guess through the garment, so occluded (DeepFashion code 1,
FashionAI code 0), truncated and absent landmarks take no part; Liu & Lu's heatmap loss uses
the same rule, and the NE metric counts the same landmarks. visibility = binary cross-entropy
(= 2-way softmax) with target `visible`, over all slots (an occluded or absent slot is "not
visible"); category = softmax CE (category -1 ignored); attributes = sigmoid BCE averaged over
N x K; triplet on the embedding.

Triplet loss: the paper's triplets are clothes *pairs* (the same item in consumer/shop photos).
DeepFashion-C and SynthFashion have no item identities, so the triplets here are mined in the
batch by category: for each anchor, the hardest positive (another image of the same category,
largest distance) and the hardest negative (different category, smallest distance)
("batch-hard"); max(0, d(a,p) - d(a,n) + margin), averaged over anchors that have both.

Two-step schedule (the paper): before ``loss_schedule_switch_epoch`` the landmark and
visibility losses get the large weights and the rest small ones (``stage1_weights``), from that
epoch on the reverse (``stage2_weights``); see DEFAULT_STAGE1_WEIGHTS / DEFAULT_STAGE2_WEIGHTS.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from fashion_core.models.vgg import VGGTrunk, build_trunk, scaled

__all__ = ["FashionNet", "build_fashionnet", "DEFAULT_STAGE1_WEIGHTS", "DEFAULT_STAGE2_WEIGHTS", "NUM_LANDMARKS"]

NUM_LANDMARKS = 8
LOSS_NAMES = ("landmark", "visibility", "category", "attribute", "triplet")
# Step 1: landmarks and visibility are the main task, the others auxiliary.
DEFAULT_STAGE1_WEIGHTS: dict[str, float] = {"landmark": 10.0, "visibility": 1.0, "category": 0.1,
                                            "attribute": 0.1, "triplet": 0.1}
# Step 2: category, attributes and the embedding are the main task; landmarks keep a small weight
# so the pooling positions do not drift.
DEFAULT_STAGE2_WEIGHTS: dict[str, float] = {"landmark": 1.0, "visibility": 0.1, "category": 1.0,
                                            "attribute": 1.0, "triplet": 1.0}


def _visible(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """(N, L) bool: the dataset's own `visible` flag (DeepFashion code 0, FashionAI code 1), else code 0."""
    return batch["visible"].bool() if "visible" in batch else batch["visibility"] == 0


def _category_loss(logits: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
    """Mean softmax CE over samples with a category (label >= 0); 0 when none has one (no host sync)."""
    valid = category >= 0
    losses = F.cross_entropy(logits, category.clamp(min=0), reduction="none")
    return (losses * valid).sum() / valid.sum().clamp(min=1)


def batch_hard_triplet_loss(embedding: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """In-batch batch-hard triplet loss on L2-normalised embeddings; labels < 0 take no part."""
    n = embedding.shape[0]
    similarity = embedding @ embedding.t()
    distance = (2.0 - 2.0 * similarity).clamp(min=1e-12).sqrt()
    labelled = labels >= 0
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    both = labelled.unsqueeze(0) & labelled.unsqueeze(1)
    eye = torch.eye(n, dtype=torch.bool, device=embedding.device)
    positive = same & both & ~eye
    negative = ~same & both
    hardest_positive = torch.where(positive, distance, torch.zeros_like(distance)).amax(dim=1)
    hardest_negative = torch.where(negative, distance, torch.full_like(distance, 4.0)).amin(dim=1)
    valid = positive.any(dim=1) & negative.any(dim=1)
    losses = F.relu(hardest_positive - hardest_negative + margin)
    return (losses * valid).sum() / valid.sum().clamp(min=1)


def _linear(in_features: int, out_features: int) -> nn.Linear:
    """nn.Linear that also builds with out_features == 0 (no attributes, e.g. FashionAI), without a warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Initializing zero-element tensors is a no-op")
        return nn.Linear(in_features, out_features)


def _linear_relu(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, out_features), nn.ReLU(inplace=True))


class FashionNet(nn.Module):
    """FashionNet; see the module docstring. forward(image) -> dict, compute_loss(outputs, batch, epoch) -> dict.

    Output keys (L = num_landmarks, 8 by default): landmarks (N,L,2) input px; landmark_visibility
    (N,L) P(visible); visibility_logits (N,L); category_logits (N,C); attribute_logits (N,K) (sigmoid
    scores); embedding (N,D) L2-normalised; pool_boxes (N,L,4) landmark-pooling windows x1,y1,x2,y2 in
    input px.
    """

    def __init__(self, trunk: VGGTrunk, num_categories: int, num_attributes: int, *, input_size: int = 224,
                 width: float = 1.0, embedding_dim: int = 128, pool_window: int = 3, hidden_dim: int | None = None,
                 triplet_margin: float = 0.2, loss_schedule_switch_epoch: int = 1,
                 stage1_weights: Mapping[str, float] | None = None,
                 stage2_weights: Mapping[str, float] | None = None, num_landmarks: int = NUM_LANDMARKS,
                 landmarks_only: bool = False, landmark_pooling: bool = True):
        super().__init__()
        if input_size < 32:
            raise ValueError(f"input_size must be at least 32 (five 2x2 poolings), got {input_size}")
        if pool_window < 1:
            raise ValueError(f"pool_window must be >= 1, got {pool_window}")
        self.input_size = int(input_size)
        self.num_categories = int(num_categories)
        self.num_attributes = int(num_attributes)
        self.num_landmarks = int(num_landmarks)
        self.landmarks_only = bool(landmarks_only)
        # False: the ablation of the paper's claim that landmark-pooled local features help classification;
        # category, attributes and embedding then come from the global branch alone.
        self.landmark_pooling = bool(landmark_pooling)
        self.pool_window = int(pool_window)
        self.triplet_margin = float(triplet_margin)
        self.loss_schedule_switch_epoch = int(loss_schedule_switch_epoch)
        self.stage1_weights = self._check_weights(stage1_weights, DEFAULT_STAGE1_WEIGHTS)
        self.stage2_weights = self._check_weights(stage2_weights, DEFAULT_STAGE2_WEIGHTS)
        hidden = int(hidden_dim) if hidden_dim is not None else scaled(1024, width, minimum=16)
        self.conv4_stride = 8
        pool5_side = input_size // 32
        pool5_features = trunk.conv5_channels * pool5_side * pool5_side

        self.trunk = trunk.to_conv4
        # Pose branch.
        self.pose_conv5 = trunk.conv5_copy()
        self.pose_fc = nn.Sequential(nn.Flatten(), _linear_relu(pool5_features, hidden), _linear_relu(hidden, hidden))
        self.landmark_head = nn.Linear(hidden, self.num_landmarks * 2)
        self.visibility_head = nn.Linear(hidden, self.num_landmarks)
        # sigmoid(0) = 0.5: the regression starts around the image centre.
        nn.init.zeros_(self.landmark_head.bias)
        if self.landmarks_only:
            return
        # Global branch.
        self.global_conv5 = trunk.conv5_copy()
        self.fc6_global = nn.Sequential(nn.Flatten(), _linear_relu(pool5_features, hidden))
        # Local branch.
        if self.landmark_pooling:
            self.fc6_local = _linear_relu(self.num_landmarks * trunk.conv4_channels, hidden)
        # Fusion and heads.
        self.fc7_fusion = _linear_relu((2 if self.landmark_pooling else 1) * hidden, hidden)
        self.category_head = nn.Linear(hidden, num_categories)
        self.attribute_head = _linear(hidden, num_attributes)
        self.embedding_head = nn.Linear(hidden, embedding_dim)

    @staticmethod
    def _check_weights(weights: Mapping[str, float] | None, defaults: Mapping[str, float]) -> dict[str, float]:
        merged = dict(defaults)
        if weights is not None:
            unknown = sorted(set(weights) - set(LOSS_NAMES))
            if unknown:
                raise ValueError(f"unknown loss weight(s) {unknown}; expected keys among {LOSS_NAMES}")
            merged.update({key: float(value) for key, value in weights.items()})
        return merged

    def loss_weights(self, epoch: int) -> dict[str, float]:
        """The loss weights used at `epoch` (0-based): stage 1 before the switch epoch, stage 2 from it on."""
        return self.stage1_weights if epoch < self.loss_schedule_switch_epoch else self.stage2_weights

    def _check_input(self, image: torch.Tensor) -> None:
        if image.dim() != 4 or image.shape[-1] != self.input_size or image.shape[-2] != self.input_size:
            raise ValueError(f"expected images (N, 3, {self.input_size}, {self.input_size}) for this model "
                             f"(input_size={self.input_size}), got {tuple(image.shape)}")

    def pool_boxes(self, landmarks: torch.Tensor) -> torch.Tensor:
        """(N,8,2) points in input px -> (N,8,4) pooling windows x1,y1,x2,y2 of pool_window conv4 cells."""
        half = 0.5 * self.pool_window * self.conv4_stride
        return torch.cat([landmarks - half, landmarks + half], dim=-1)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        self._check_input(image)
        n = image.shape[0]
        conv4 = self.trunk(image)

        pose = self.pose_fc(self.pose_conv5(conv4))
        landmarks = torch.sigmoid(self.landmark_head(pose)).view(n, self.num_landmarks, 2) * self.input_size
        visibility_logits = self.visibility_head(pose)
        visibility = torch.sigmoid(visibility_logits)
        if self.landmarks_only:
            return {"landmarks": landmarks, "landmark_visibility": visibility, "visibility_logits": visibility_logits}

        fc6_global = self.fc6_global(self.global_conv5(conv4))
        pooled = {}
        if self.landmark_pooling:
            boxes = self.pool_boxes(landmarks.detach())
            batch_index = torch.arange(n, device=image.device, dtype=boxes.dtype).repeat_interleave(self.num_landmarks)
            rois = torch.cat([batch_index.unsqueeze(1), boxes.reshape(n * self.num_landmarks, 4)], dim=1)
            windows = roi_align(conv4, rois, output_size=self.pool_window, spatial_scale=1.0 / self.conv4_stride,
                                sampling_ratio=1, aligned=True)  # (N*L, C4, P, P), one sample per conv4 cell
            local = windows.amax(dim=(2, 3)).view(n, self.num_landmarks, -1) * visibility.unsqueeze(-1)
            fc6_local = self.fc6_local(local.flatten(1))  # pool5_local -> fc6_local
            fusion = self.fc7_fusion(torch.cat([fc6_global, fc6_local], dim=1))
            pooled = {"pool_boxes": boxes}
        else:
            fusion = self.fc7_fusion(fc6_global)
        return {
            "landmarks": landmarks,
            "landmark_visibility": visibility,
            "visibility_logits": visibility_logits,
            "category_logits": self.category_head(fusion),
            "attribute_logits": self.attribute_head(fusion),
            "embedding": F.normalize(self.embedding_head(fusion), dim=1),
            **pooled,
        }

    def compute_loss(self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor],
                     epoch: int) -> dict[str, torch.Tensor]:
        """{'loss': weighted sum, and the unweighted components landmark, visibility, category, attribute, triplet}."""
        visible = _visible(batch)
        weight = visible.to(outputs["landmarks"].dtype)
        error = ((outputs["landmarks"] - batch["landmarks"]) / self.input_size).square().sum(dim=-1)
        landmark = (error * weight).sum() / weight.sum().clamp(min=1)
        visibility = F.binary_cross_entropy_with_logits(outputs["visibility_logits"],
                                                        visible.to(outputs["visibility_logits"].dtype))
        if self.landmarks_only:
            weights = self.stage1_weights
            return {"loss": weights["landmark"] * landmark + weights["visibility"] * visibility,
                    "landmark": landmark, "visibility": visibility}
        category = _category_loss(outputs["category_logits"], batch["category"])
        attribute_logits = outputs["attribute_logits"]
        if attribute_logits.shape[1] > 0 and batch["attributes"].shape[-1] == attribute_logits.shape[1]:
            attribute = F.binary_cross_entropy_with_logits(attribute_logits, batch["attributes"].to(attribute_logits.dtype))
        else:
            attribute = attribute_logits.sum() * 0.0
        triplet = batch_hard_triplet_loss(outputs["embedding"], batch["category"], self.triplet_margin)
        components = {"landmark": landmark, "visibility": visibility, "category": category,
                      "attribute": attribute, "triplet": triplet}
        weights = self.loss_weights(epoch)
        loss = sum(weights[name] * value for name, value in components.items())
        return {"loss": loss, **components}


def build_fashionnet(num_categories: int, num_attributes: int, *, backbone: str = "vgg16", width: float = 1.0,
                     input_size: int = 224, pretrained: bool = False, weights_path: str | os.PathLike | None = None,
                     embedding_dim: int = 128, pool_window: int = 3, loss_schedule_switch_epoch: int = 1,
                     triplet_margin: float = 0.2, stage1_weights: Mapping[str, float] | None = None,
                     stage2_weights: Mapping[str, float] | None = None,
                     num_landmarks: int = NUM_LANDMARKS, landmarks_only: bool = False,
                     landmark_pooling: bool = True) -> FashionNet:
    """FashionNet on a VGG16 ("vgg16": torchvision, ImageNet weights if pretrained) or "vgg_mini" trunk.

    FC widths are 1024 x width (at least 16). loss_schedule_switch_epoch: first 0-based epoch of
    the paper's second training step (default 1: one landmark-focused epoch, then
    classification-focused). See FashionNet for the loss weights. num_landmarks: 8 DeepFashion
    landmarks, or 24 FashionAI keypoints (the FPM paper's regression baseline; num_attributes may be 0).
    landmarks_only: the pose branch alone (trunk, its conv5, fc layers, landmark and visibility
    heads), trained at every epoch on the step-1 landmark and visibility losses (DAFE's
    comparison row on DeepFashion-C and FLD); the output has landmarks and visibility only.
    landmark_pooling=False: no local branch (no pooling at the predicted landmarks, no pool_boxes
    output); fc7_fusion sees fc6_global alone. The pose branch and its losses are unchanged.
    """
    trunk = build_trunk(backbone, width, pretrained, weights_path)
    model = FashionNet(trunk, num_categories, num_attributes, input_size=input_size, width=width,
                       embedding_dim=embedding_dim, pool_window=pool_window, triplet_margin=triplet_margin,
                       loss_schedule_switch_epoch=loss_schedule_switch_epoch, stage1_weights=stage1_weights,
                       stage2_weights=stage2_weights, num_landmarks=num_landmarks, landmarks_only=landmarks_only,
                       landmark_pooling=landmark_pooling)
    # Conv weights in channels_last make every conv run channels_last (1.3-1.4x faster training on CPU).
    return model.to(memory_format=torch.channels_last)
