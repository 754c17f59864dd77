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
visible"); category = softmax CE (category -1 ignored); triplet on the embedding.

Attributes (``attribute_loss``): the paper's weighted cross-entropy, one sigmoid logit per
attribute, sum(w * bce) / sum(w) over N x K as Liu & Lu normalise it
(fashion_core.models.losses.weighted_attribute_bce, which liu2018.py uses too). Negatives
weigh 1, positives (1 - p) / p, the negatives-to-positives ratio of the TRAINING split:
- "weighted" (default): p = the share of positive labels over all training images and
  attributes, one ratio for every attribute. This is Liu & Lu's scheme (positives 1, negatives
  0.1) with the ratio measured on the training split instead of fixed: 9.7 on the default
  SynthFashion tree (6.26 positives of 67 per image). A common ratio keeps the loss's optimum a
  monotone function of each attribute's posterior, so the recall@k ranking keeps the attribute
  frequencies;
- "weighted_per_attribute": p_k per attribute, so each attribute's positives and negatives
  weigh the same in expectation. The scores then rank attributes by their lift over the prior;
- "bce": plain BCE, every label weight 1.
The weights are a buffer that set_training_attributes fills from the training split's labels
(fashion_core.experiments.runs.set_training_statistics calls it before training). The buffer is
saved with the checkpoint, and a weighted model refuses to compute its loss before it is set.
Measured on the default profile (the model and data of the table below, 10 epochs, one seed,
test split; NE / category top-1 / attribute recall@3 all / texture): "weighted" 0.062 / 0.609 /
0.264 / 0.736; "weighted_per_attribute" 0.063 / 0.587 / 0.217 / 0.365. With step-1 visibility
weight 10: "weighted" 0.064 / 0.591 / 0.262 / 0.746, "bce" 0.061 / 0.610 / 0.266 / 0.734. The
frequency prior's texture recall@3 is 0.747. On one seed, "weighted" and "bce" are within each
other's noise, and neither beats the prior on texture.

Triplet loss: the paper's triplets are clothes *pairs* (the same item in consumer/shop photos).
When the batch has an ``item`` key (int64 item identities, the In-shop benchmark), the triplets
are mined by item: images of the same item are positives, images of other items negatives.
Otherwise (DeepFashion-C and SynthFashion have no item identities) they are mined by category.
Either way the mining is batch-hard: for each anchor, the hardest positive (largest distance) and
the hardest negative (smallest distance); max(0, d(a,p) - d(a,n) + margin), averaged over the
anchors that have both. Labels < 0 take no part.

Two-step schedule. In the paper, step 1 weights the landmark and visibility losses high, step 2
trains category, attributes and pairs, and the two steps iterate until convergence:
- "alternating" (default): ``schedule_cycle`` = (step-1 epochs, step-2 epochs), repeated over the
  epochs and starting with step 1. The default (2, 1) puts epochs 0 and 1 in step 1, epoch 2 in
  step 2, and so on;
- "single_switch": step 1 before ``loss_schedule_switch_epoch``, step 2 from it on.
Step 1 uses ``stage1_weights``, step 2 ``stage2_weights`` (DEFAULT_STAGE1_WEIGHTS /
DEFAULT_STAGE2_WEIGHTS). landmarks_only models are in step 1 at every epoch (landmark and
visibility terms only). The defaults come from the unweighted loss magnitudes of the default
profile model (vgg_mini x0.125 @ 64 px, SynthFashion default tree, seed 0, batch 32, Adam 1e-3
x0.9 per epoch, cycle (2, 1), "weighted" attributes). Epoch means:

    magnitude            landmark  visibility  category  attribute  triplet
    initialisation        0.287      0.702      2.90      0.696     0.364   (first 10 batches)
    epoch 0 (step 1)      0.051      0.630      2.60      0.621     0.227
    epoch 2 (step 2)      0.014      0.456      1.35      0.506     0.214
    epoch 9 (step 1)      0.0047     0.351      0.689     0.427     0.188

The normalised landmark error is two orders of magnitude below the other terms, so a landmark
weight of 10 does not make step 1 landmark-heavy: landmark 10, visibility 1 and 0.1 for the others
make the weighted landmark + visibility terms only 2.8-3.3 x the others. With the weights below:
- step 1: the weighted landmark + visibility terms are 39-149 x the others (epochs 0-9; 727 x at
  initialisation);
- step 2: the weighted category + attribute + triplet terms are 10.3-15.9 x the landmark +
  visibility terms (magnitudes of epochs 1-9; step 2 first runs at epoch 2).
These ratios hold for these magnitudes only. Another trunk, input size or dataset changes them,
and the landmark term itself falls 60 x from initialisation to epoch 9.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from fashion_core.models.losses import positive_class_weights, weighted_attribute_bce
from fashion_core.models.vgg import VGGTrunk, build_trunk, scaled

__all__ = ["FashionNet", "build_fashionnet", "DEFAULT_STAGE1_WEIGHTS", "DEFAULT_STAGE2_WEIGHTS", "NUM_LANDMARKS"]

NUM_LANDMARKS = 8
LOSS_NAMES = ("landmark", "visibility", "category", "attribute", "triplet")
LOSS_SCHEDULES = ("alternating", "single_switch")
ATTRIBUTE_LOSSES = ("weighted", "weighted_per_attribute", "bce")
# Step 1: landmarks and visibility are the main task, the others auxiliary. Landmark 1000: the
# normalised squared error is ~0.005-0.05 after the first epoch (module docstring), so this
# makes the weighted landmark + visibility terms 39-149 x the others on the default profile.
# Visibility 1 (10 x the classification terms). At 10 the full model's validation numbers were
# mixed (seed 0, cycle (2, 1): NE 0.0667 vs 0.0671, category top-1 0.636 vs 0.648, attribute
# recall@3 0.289 vs 0.279), and the landmarks-only rows would change balance: FPM's regression
# row was calibrated at landmark 1000 / visibility 1.
DEFAULT_STAGE1_WEIGHTS: dict[str, float] = {"landmark": 1000.0, "visibility": 1.0, "category": 0.1,
                                            "attribute": 0.1, "triplet": 0.1}
# Step 2: category, attributes and the embedding are the main task (10.3-15.9 x the weighted
# landmark + visibility terms on the default profile). The landmark and visibility terms keep
# small weights, so the pooling positions drift less before the next step 1.
DEFAULT_STAGE2_WEIGHTS: dict[str, float] = {"landmark": 10.0, "visibility": 0.1, "category": 1.0,
                                            "attribute": 1.0, "triplet": 1.0}
# Two step-1 epochs, then one step-2 epoch. On the default profile (seed 0, 10 epochs, step-1
# visibility weight 10) this cycle had the best validation NE of (1, 1), (2, 1) and (3, 2):
# 0.080, 0.067, 0.071 (category top-1 0.642, 0.636, 0.614).
DEFAULT_SCHEDULE_CYCLE = (2, 1)


def _check_schedule(loss_schedule: str, schedule_cycle: Sequence[int] | None,
                    switch_epoch: int | None) -> tuple[tuple[int, int] | None, int | None]:
    """(schedule_cycle, switch epoch) of a valid schedule; each argument belongs to one schedule only."""
    if loss_schedule not in LOSS_SCHEDULES:
        raise ValueError(f"loss_schedule must be one of {LOSS_SCHEDULES}, got {loss_schedule!r}")
    if loss_schedule == "alternating":
        if switch_epoch is not None:
            raise ValueError("loss_schedule_switch_epoch belongs to loss_schedule='single_switch'; the alternating "
                             f"schedule takes schedule_cycle=(step-1 epochs, step-2 epochs), got {switch_epoch!r}")
        cycle = tuple(DEFAULT_SCHEDULE_CYCLE if schedule_cycle is None else schedule_cycle)
        if len(cycle) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in cycle):
            raise ValueError("schedule_cycle must be (step-1 epochs, step-2 epochs), two integers >= 1, "
                             f"got {schedule_cycle!r}")
        return (int(cycle[0]), int(cycle[1])), None
    if schedule_cycle is not None:
        raise ValueError("schedule_cycle belongs to loss_schedule='alternating'; the single switch takes "
                         f"loss_schedule_switch_epoch, got schedule_cycle={schedule_cycle!r}")
    if switch_epoch is None or isinstance(switch_epoch, bool) or not isinstance(switch_epoch, int) or switch_epoch < 0:
        raise ValueError("loss_schedule='single_switch' needs loss_schedule_switch_epoch, the first 0-based epoch of "
                         f"step 2 (an integer >= 0), got {switch_epoch!r}")
    return None, int(switch_epoch)


def _after_loading(model: FashionNet, incompatible_keys) -> None:
    """A loaded state dict brings the attribute weights its run was trained with."""
    model._attribute_weights_ready = bool(torch.isfinite(model.attribute_positive_weight).all())


def _visible(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """(N, L) bool: the dataset's own `visible` flag (DeepFashion code 0, FashionAI code 1), else code 0."""
    return batch["visible"].bool() if "visible" in batch else batch["visibility"] == 0


def _category_loss(logits: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
    """Mean softmax CE over samples with a category (label >= 0); 0 when none has one (no host sync)."""
    valid = category >= 0
    losses = F.cross_entropy(logits, category.clamp(min=0), reduction="none")
    return (losses * valid).sum() / valid.sum().clamp(min=1)


def batch_hard_triplet_loss(embedding: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """In-batch batch-hard triplet loss on L2-normalised embeddings; equal labels are positives, labels < 0 take no part."""
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


def triplet_labels(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Whose images are positives of each other: batch["item"] (In-shop item identities) if present, else category."""
    return batch["item"] if "item" in batch else batch["category"]


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
                 triplet_margin: float = 0.2, loss_schedule: str = "alternating",
                 schedule_cycle: Sequence[int] | None = None, loss_schedule_switch_epoch: int | None = None,
                 stage1_weights: Mapping[str, float] | None = None,
                 stage2_weights: Mapping[str, float] | None = None, attribute_loss: str = "weighted",
                 num_landmarks: int = NUM_LANDMARKS, landmarks_only: bool = False, landmark_pooling: bool = True):
        super().__init__()
        if input_size < 32:
            raise ValueError(f"input_size must be at least 32 (five 2x2 poolings), got {input_size}")
        if pool_window < 1:
            raise ValueError(f"pool_window must be >= 1, got {pool_window}")
        if attribute_loss not in ATTRIBUTE_LOSSES:
            raise ValueError(f"attribute_loss must be one of {ATTRIBUTE_LOSSES}, got {attribute_loss!r}")
        self.loss_schedule = loss_schedule
        self.schedule_cycle, self.loss_schedule_switch_epoch = _check_schedule(
            loss_schedule, schedule_cycle, loss_schedule_switch_epoch)
        self.attribute_loss = attribute_loss
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
        if self.attribute_loss != "bce":
            # Set from the training split by set_training_attributes; NaN until then. A buffer, so a
            # checkpoint carries the weights it was trained with (a state dict without it is refused).
            self.register_buffer("attribute_positive_weight", torch.full((self.num_attributes,), float("nan")))
            self._attribute_weights_ready = self.num_attributes == 0
            self.register_load_state_dict_post_hook(_after_loading)

    @property
    def needs_training_attributes(self) -> bool:
        """True when the attribute loss weighs labels by the training split (see set_training_attributes)."""
        return not self.landmarks_only and self.attribute_loss != "bce" and self.num_attributes > 0

    def set_training_attributes(self, attributes: np.ndarray | torch.Tensor) -> None:
        """The (N, K) attribute labels of the TRAINING split -> the weights of the weighted attribute loss.

        Negatives weigh 1, positives (1 - p) / p (losses.positive_class_weights): p the share of
        positive labels over the whole split ("weighted"), or attribute k's own share p_k
        ("weighted_per_attribute").
        """
        if not self.needs_training_attributes:
            raise RuntimeError("set_training_attributes applies to a weighted attribute_loss with an attribute "
                               f"head; this model has attribute_loss={self.attribute_loss!r}, "
                               f"landmarks_only={self.landmarks_only}, num_attributes={self.num_attributes}")
        labels = attributes if isinstance(attributes, torch.Tensor) else torch.from_numpy(np.asarray(attributes))
        if labels.dim() != 2 or labels.shape[1] != self.num_attributes:
            raise ValueError(f"training attributes must be (N, {self.num_attributes}) labels, "
                             f"got shape {tuple(labels.shape)}")
        per_attribute = self.attribute_loss == "weighted_per_attribute"
        self.attribute_positive_weight.copy_(positive_class_weights(labels, per_attribute=per_attribute))
        self._attribute_weights_ready = True

    @staticmethod
    def _check_weights(weights: Mapping[str, float] | None, defaults: Mapping[str, float]) -> dict[str, float]:
        merged = dict(defaults)
        if weights is not None:
            unknown = sorted(set(weights) - set(LOSS_NAMES))
            if unknown:
                raise ValueError(f"unknown loss weight(s) {unknown}; expected keys among {LOSS_NAMES}")
            merged.update({key: float(value) for key, value in weights.items()})
        return merged

    def loss_step(self, epoch: int) -> int:
        """1 or 2: the paper's training step at `epoch` (0-based); landmarks_only models are always in step 1.

        "alternating": epochs cycle through schedule_cycle = (step-1 epochs, step-2 epochs), from step 1;
        "single_switch": step 1 before loss_schedule_switch_epoch, step 2 from it on.
        """
        if self.landmarks_only:
            return 1
        if self.loss_schedule == "single_switch":
            return 1 if epoch < self.loss_schedule_switch_epoch else 2
        step1, step2 = self.schedule_cycle
        return 1 if epoch % (step1 + step2) < step1 else 2

    def loss_weights(self, epoch: int) -> dict[str, float]:
        """The loss weights used at `epoch` (0-based): stage1_weights in step 1, stage2_weights in step 2."""
        return self.stage1_weights if self.loss_step(epoch) == 1 else self.stage2_weights

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
        if self.attribute_loss != "bce":
            if not self._attribute_weights_ready:
                raise RuntimeError(f"attribute_loss={self.attribute_loss!r} weighs positives by the positive rate "
                                   "of the training split: call model.set_training_attributes(<the training split's (N, "
                                   f"{self.num_attributes}) attribute labels>) before training, or build the model "
                                   "with attribute_loss='bce'")
            positive_weight = self.attribute_positive_weight
        else:
            positive_weight = 1.0
        attribute = weighted_attribute_bce(outputs["attribute_logits"], batch["attributes"], positive_weight, 1.0)
        triplet = batch_hard_triplet_loss(outputs["embedding"], triplet_labels(batch), self.triplet_margin)
        components = {"landmark": landmark, "visibility": visibility, "category": category,
                      "attribute": attribute, "triplet": triplet}
        weights = self.loss_weights(epoch)
        loss = sum(weights[name] * value for name, value in components.items())
        return {"loss": loss, **components}


def build_fashionnet(num_categories: int, num_attributes: int, *, backbone: str = "vgg16", width: float = 1.0,
                     input_size: int = 224, pretrained: bool = False, weights_path: str | os.PathLike | None = None,
                     embedding_dim: int = 128, pool_window: int = 3, loss_schedule: str = "alternating",
                     schedule_cycle: Sequence[int] | None = None, loss_schedule_switch_epoch: int | None = None,
                     triplet_margin: float = 0.2, stage1_weights: Mapping[str, float] | None = None,
                     stage2_weights: Mapping[str, float] | None = None, attribute_loss: str = "weighted",
                     num_landmarks: int = NUM_LANDMARKS, landmarks_only: bool = False,
                     landmark_pooling: bool = True) -> FashionNet:
    """FashionNet on a VGG16 ("vgg16": torchvision, ImageNet weights if pretrained) or "vgg_mini" trunk.

    FC widths are 1024 x width (at least 16). loss_schedule: "alternating" (cycles of
    schedule_cycle = (step-1 epochs, step-2 epochs), default DEFAULT_SCHEDULE_CYCLE) or
    "single_switch" (step 2 from loss_schedule_switch_epoch on). attribute_loss: "weighted"
    (default), "weighted_per_attribute" or "bce"; a weighted model needs
    set_training_attributes(<training labels>) before training. The module docstring gives the
    loss weights and the measurements behind them. num_landmarks: 8 DeepFashion
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
                       loss_schedule=loss_schedule, schedule_cycle=schedule_cycle,
                       loss_schedule_switch_epoch=loss_schedule_switch_epoch, stage1_weights=stage1_weights,
                       stage2_weights=stage2_weights, attribute_loss=attribute_loss, num_landmarks=num_landmarks,
                       landmarks_only=landmarks_only, landmark_pooling=landmark_pooling)
    # Conv weights in channels_last make every conv run channels_last (1.3-1.4x faster training on CPU).
    return model.to(memory_format=torch.channels_last)
