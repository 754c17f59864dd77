"""Fashion Pose Machine (Hu et al., SPIE 2018): a convolutional pose machine for clothing keypoints.

As the paper (Sec. 2) and ../shared/papers/NOTES.md (after Convolutional Pose Machines, Wei et
al. 2016) describe it; channel counts scale with ``width`` (at width 1.0 on "vgg16" they are
CPM's):

    image -> VGG16 trunk up to conv4_3 (stride 8: 64 x 64 maps at the paper's 512 input)
    stage 1, g_1(x):   its own image features x: five 3x3 convs (128), then two 1x1 convs
                       (512, then L + 1) -> belief maps c_1 for the L keypoints + background
    x' (stages >= 2):  one 3x3 conv (128) on the trunk, computed once and fed to every later
                       stage: the image-feature weights are shared across all stages t >= 2
                       (Hu et al. Sec. 2.4 "share the weights ... across stages t > 2")
    stage t >= 2, g_t(x', c_{t-1}): concat(x', c_{t-1}) -> five k x k convs (k = 7, 128), a 1x1
                       conv (128) and a 1x1 conv -> c_t (L + 1 maps). Five 7x7 convs on the
                       8x-downscaled maps give each stage a receptive field of 31 cells (248
                       input px), so a later stage sees the whole garment's previous beliefs.

Loss (Eq. 4-5): loss_t = sum over maps and cells of (c_t - c*)^2, averaged over the images of
the batch, and F = sum_t loss_t: every stage is supervised (intermediate supervision). The
ideal map c* of keypoint l is a Gaussian exp(-d^2 / (2 sigma^2)) (sigma = ``heatmap_sigma``
heatmap cells) at its position; the background map is 1 - max over the keypoint maps (CPM).
A keypoint without a position (absent, FashionAI code -1; truncated, DeepFashion code 2) is
masked: its map adds nothing to the loss, and it is left out of the background target. Present
means code 0 or 1, which is "visible or occluded" in both the FashionAI (1 visible, 0 occluded)
and the DeepFashion (0 visible, 1 occluded) coding, so ``num_keypoints=8`` trains the same model
on DeepFashion-C / FLD landmarks.

Keypoints are decoded per stage from the keypoint maps (background excluded) with
fashion_core.models.heatmaps.decode_heatmaps (argmax + quarter-cell refinement, stride 8).

Not in the paper, chosen so the from-scratch width-scaled version learns at all (as for
Liu & Lu's landmark branch): the stage convs are He-initialised, each stage's last 1x1 conv
starts at zero (the all-zero prediction), and scaled channel counts are at least
MIN_STAGE_CHANNELS.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import torch
from torch import nn

from fashion_core.models.heatmaps import decode_heatmaps, heatmap_targets
from fashion_core.models.vgg import VGGTrunk, build_trunk, scaled

__all__ = ["FashionPoseMachine", "build_fashion_pose_machine", "FASHIONAI_NUM_KEYPOINTS", "FEATURE_STRIDE"]

FASHIONAI_NUM_KEYPOINTS = 24
FEATURE_STRIDE = 8
MIN_STAGE_CHANNELS = 16  # as Liu & Lu's landmark branch (fashion_core.models.liu2018.MIN_BRANCH_CHANNELS)


def _convs(in_channels: int, out_channels: int, count: int, kernel_size: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for _ in range(count):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2), nn.ReLU(inplace=True)]
        in_channels = out_channels
    return layers


def _he_init(module: nn.Module) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)


class BeliefStage(nn.Module):
    """One classifier g_t: convs, then two 1x1 convs to L + 1 belief maps (the last starts at zero)."""

    def __init__(self, in_channels: int, channels: int, hidden: int, num_maps: int, convs: int, kernel_size: int):
        super().__init__()
        self.body = nn.Sequential(*_convs(in_channels, channels, convs, kernel_size),
                                  nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True))
        self.head = nn.Conv2d(hidden, num_maps, 1)
        _he_init(self.body)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(inputs))


class FashionPoseMachine(nn.Module):
    """FPM; see the module docstring. forward(image) -> dict, compute_loss(outputs, batch, epoch) -> dict.

    Output keys: landmarks (N,L,2) input px, decoded from the last stage; beliefs (N,T,L+1,h,w),
    the belief maps of every stage (channel L is the background); stage_landmarks (N,T,L,2);
    heatmaps (N,L,h,w), the last stage's keypoint maps (the key every heatmap model shares).
    """

    def __init__(self, trunk: VGGTrunk, num_keypoints: int = FASHIONAI_NUM_KEYPOINTS, *, input_size: int = 512,
                 width: float = 1.0, stages: int = 6, kernel_size: int = 7, heatmap_sigma: float = 1.0):
        super().__init__()
        if input_size < 32 or input_size % FEATURE_STRIDE:
            raise ValueError(f"input_size must be a multiple of {FEATURE_STRIDE} and at least 32, got {input_size}")
        if stages < 1:
            raise ValueError(f"stages must be >= 1, got {stages}")
        if num_keypoints < 1:
            raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}")
        if not heatmap_sigma > 0:
            raise ValueError(f"heatmap_sigma must be positive, got {heatmap_sigma}")
        self.input_size = int(input_size)
        self.num_keypoints = int(num_keypoints)
        self.num_stages = int(stages)
        self.heatmap_sigma = float(heatmap_sigma)
        self.heatmap_stride = FEATURE_STRIDE
        num_maps = self.num_keypoints + 1
        features = scaled(128, width, MIN_STAGE_CHANNELS)
        hidden = scaled(512, width, MIN_STAGE_CHANNELS)

        self.trunk = trunk.to_conv4
        c4 = trunk.conv4_channels
        # Stage 1: five 3x3 convs of image features x, then two 1x1 convs (Hu et al. Sec. 2.2).
        self.stage1 = BeliefStage(c4, features, hidden, num_maps, convs=5, kernel_size=3)
        # x' of stages >= 2: one module, so its weights are shared by every later stage.
        self.later_features = nn.Sequential(*_convs(c4, features, 1, 3))
        _he_init(self.later_features)
        self.later_stages = nn.ModuleList(
            BeliefStage(features + num_maps, features, features, num_maps, convs=5, kernel_size=kernel_size)
            for _ in range(self.num_stages - 1))

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.dim() != 4 or image.shape[-1] != self.input_size or image.shape[-2] != self.input_size:
            raise ValueError(f"expected images (N, 3, {self.input_size}, {self.input_size}) for this model "
                             f"(input_size={self.input_size}), got {tuple(image.shape)}")
        trunk = self.trunk(image)
        beliefs = [self.stage1(trunk)]
        if self.later_stages:
            shared = self.later_features(trunk)
            for stage in self.later_stages:
                beliefs.append(stage(torch.cat([shared, beliefs[-1]], dim=1)))
        stacked = torch.stack(beliefs, dim=1)  # (N, T, L+1, h, w)
        n, stages, maps, height, width = stacked.shape
        keypoint_maps = stacked[:, :, :self.num_keypoints]
        stage_landmarks = decode_heatmaps(keypoint_maps.reshape(n * stages, self.num_keypoints, height, width),
                                          self.heatmap_stride).reshape(n, stages, self.num_keypoints, 2)
        return {"landmarks": stage_landmarks[:, -1], "beliefs": stacked, "stage_landmarks": stage_landmarks,
                "heatmaps": keypoint_maps[:, -1]}

    def belief_targets(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(targets (N, L+1, h, w), mask (N, L+1, 1, 1)): Gaussians of present keypoints, background = 1 - max."""
        codes = batch["visibility"]
        present = (codes == 0) | (codes == 1)
        keypoints = heatmap_targets(batch["landmarks"], present, self.input_size, self.heatmap_stride,
                                    self.heatmap_sigma, kernel="gaussian")
        background = 1.0 - keypoints.amax(dim=1, keepdim=True)
        mask = torch.cat([present, torch.ones_like(present[:, :1])], dim=1)
        return torch.cat([keypoints, background], dim=1), mask[..., None, None]

    def compute_loss(self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor],
                     epoch: int) -> dict[str, torch.Tensor]:
        """{'loss': sum over stages, 'stage1'..'stageT': each stage's masked squared error (Eq. 4-5)}."""
        beliefs = outputs["beliefs"]
        targets, mask = self.belief_targets(batch)
        targets, mask = targets.to(beliefs.dtype), mask.to(beliefs.dtype)
        n = beliefs.shape[0]
        stage_losses = {f"stage{t + 1}": ((beliefs[:, t] - targets) * mask).square().sum() / n
                        for t in range(beliefs.shape[1])}
        return {"loss": sum(stage_losses.values()), **stage_losses}


def build_fashion_pose_machine(num_categories: int = 0, num_attributes: int = 0, *,
                               num_keypoints: int = FASHIONAI_NUM_KEYPOINTS, backbone: str = "vgg16",
                               width: float = 1.0, input_size: int = 512, pretrained: bool = False,
                               weights_path: str | os.PathLike | None = None, stages: int = 6,
                               kernel_size: int = 7, heatmap_sigma: float = 1.0) -> FashionPoseMachine:
    """FPM on a "vgg16" (torchvision, ImageNet weights if pretrained) or "vgg_mini" trunk.

    num_categories / num_attributes are accepted because every registered builder takes them
    (fashion_core.experiments passes them); FPM has no classification heads and ignores them.
    stages: T (6 in the paper). heatmap_sigma: the target Gaussian's sigma in heatmap cells
    (stride 8). num_keypoints: 24 FashionAI keypoints, or 8 DeepFashion landmarks.
    """
    trunk = build_trunk(backbone, width, pretrained, weights_path)
    model = FashionPoseMachine(trunk, num_keypoints, input_size=input_size, width=width, stages=stages,
                               kernel_size=kernel_size, heatmap_sigma=heatmap_sigma)
    # Conv weights in channels_last make every conv run channels_last (faster training on CPU).
    return model.to(memory_format=torch.channels_last)
