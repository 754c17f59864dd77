"""DAFE (Chen et al. 2019): a ResNet feature pyramid decoded by three Dual Attention Feature Enhancement modules.

As the paper (Sec. 3, Fig. 1) and ../shared/papers/NOTES.md describe it (channel counts scale
with ``width``; at the paper scale the trunk is ResNet-50 and the decoder has 256 channels):

    image (S x S) -> ResNet trunk -> C2, C3, C4, C5 (strides 4, 8, 16, 32)
    X = 1x1 conv(C5) + BN + ReLU (to D decoder channels)
    three DAFE modules, top-down, each doubling the resolution: for Y in (C4, C3, C2) through
    its own 1x1 lateral conv to D channels,
        SAU:  X~ = U_t(X) + U_b(M) * Y,  M = Sigmoid(C X)       (paper Eq. 1-2)
              U_t = transposed conv (kernel 4, stride 2, padding 1) + BN + ReLU;
              C = 1x1 conv to ONE channel, so M is a spatial map at X's resolution (the GCNet
              context mask the paper cites as [2]); U_b = bilinear upsampling to Y's size;
              * broadcasts M over the D channels.
        CAS:  X = X~ * U,  U = C2 ReLU(C1 GAP(X~))              (paper Eq. 3-5, cas_activation="eq4")
              or U = Sigmoid(C2 ReLU(C1 GAP(X~)))                    (cas_activation="sigmoid")
              C1: D -> D / cas_reduction, C2: back to D (1x1 convs).
    head: 3x3 conv + BN + ReLU, 1x1 conv -> 8 heatmaps at stride 4 (80 x 80 for 320).
    landmarks: decoding="argmax" takes the centre of each map's highest cell, as the paper does
    (Sec. 3.1 and 4: "the locations with the highest values are regarded as the predicted
    positions"); decoding="quarter_cell" moves that cell a quarter of a cell toward its larger
    neighbour (fashion_core.models.heatmaps.decode_heatmaps, shared with Liu & Lu and FPM).

Ablation switches: ``sau=False`` replaces SAU by a plain transposed conv plus a skip add,
X~ = U_t(X) + Y; ``cas=False`` drops CAS. Both off is the plain FPN-style decoder.

Options beside the paper's text (the paper profile, params/paper/dafe_train.yaml, takes the
paper's "eq4" and "argmax"; build_dafe's defaults are the other two):
- cas_activation="sigmoid" gates U with a sigmoid. Eq. 4 prints U = C2 ReLU(C1 Z) without one,
  but the block is the squeeze-and-excitation block it cites ([9], which gates with a sigmoid),
  the text calls its output channel *weights*, and without a gate a from-scratch decoder starts
  by multiplying its features by random numbers of either sign (C2's initial output), where
  the sigmoid starts every channel at a weight near 0.5.
- decoding="quarter_cell": on a small heatmap grid (16 x 16 for a 64 px input) one cell is 1/16
  of the crop, and the argmax cell's centre alone is up to half a cell on each axis (0.044 in
  NE) off the point; the quarter-cell shift halves that bound.

Choices the paper does not state, made here:
- Heatmap targets are Gaussians exp(-d^2 / (2 sigma^2)) with sigma = ``heatmap_sigma``
  heatmap cells (2 cells at 80 x 80, as in the SimpleBaseline/HRNet family), drawn for present
  landmarks (visibility code 0 or 1); a missing or truncated landmark's map is left out of the
  loss. The loss is the squared error averaged over the present maps' cells.
- The heatmap head's last conv starts at zero (the all-background prediction), as in the Liu &
  Lu branch of this workbook: the first steps then do not spend themselves shrinking a random
  output.

The model detects landmarks only: it has no category or attribute head, and ``build_dafe``
refuses a non-zero ``num_categories`` / ``num_attributes`` so no one mistakes it for a
classifier. forward() also returns what the attention viewer shows: ``sau_maps`` (N,3,S/4,S/4),
each module's M bilinearly resized to the heatmap grid, and ``cas_weights`` (N,3,D), each
module's U; module 1 is the coarsest (C5 into C4).
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from fashion_core.models.heatmaps import decode_heatmaps, heatmap_targets
from fashion_core.models.resnet import ResNetTrunk, build_resnet_trunk
from fashion_core.models.vgg import scaled

__all__ = ["DAFE", "DAFEModule", "build_dafe", "argmax_decode", "CAS_ACTIVATIONS", "DECODINGS", "NUM_LANDMARKS",
           "NUM_MODULES"]

NUM_LANDMARKS = 8
NUM_MODULES = 3
HEATMAP_STRIDE = 4
# "eq4": U = C2 ReLU(C1 z), the paper's Eq. 4; "sigmoid": the same passed through a sigmoid gate.
CAS_ACTIVATIONS = ("eq4", "sigmoid")
# "argmax": the highest cell's centre (the paper, Sec. 4); "quarter_cell": decode_heatmaps' refinement.
DECODINGS = ("argmax", "quarter_cell")


def argmax_decode(heatmaps: torch.Tensor, stride: float = 1.0) -> torch.Tensor:
    """(N, L, H, W) maps -> (N, L, 2) x, y in input pixels: the centre of each map's highest cell.

    Cell (i, j) is centred on input pixel ((j + 0.5) stride, (i + 0.5) stride); ties go to the
    lower flat index. No gradient flows through the result.
    """
    if heatmaps.dim() != 4:
        raise ValueError(f"heatmaps must be (N, L, H, W), got shape {tuple(heatmaps.shape)}")
    n, landmarks, height, width = heatmaps.shape
    index = heatmaps.detach().reshape(n, landmarks, height * width).argmax(dim=-1)
    y = torch.div(index, width, rounding_mode="floor")
    x = index - y * width
    dtype = heatmaps.dtype if heatmaps.is_floating_point() else torch.float32
    return torch.stack([(x.to(dtype) + 0.5) * stride, (y.to(dtype) + 0.5) * stride], dim=-1)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class DAFEModule(nn.Module):
    """One decoder step: SAU (or a plain transposed conv + skip add) then CAS (or nothing).

    cas_activation: "eq4" multiplies by U = C2 ReLU(C1 z) as printed; "sigmoid" by Sigmoid(U).
    forward(x, skip) -> (features at skip's resolution, {"sau_map": M upsampled, "cas_weights": U}),
    the dict holding only the attention the module has.
    """

    def __init__(self, channels: int, skip_channels: int, sau: bool = True, cas: bool = True,
                 cas_reduction: int = 16, cas_activation: str = "sigmoid"):
        super().__init__()
        self.sau, self.cas = bool(sau), bool(cas)
        self.cas_activation = _check_choice("cas_activation", cas_activation, CAS_ACTIVATIONS)
        self.upsample = nn.Sequential(nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1, bias=False),
                                      nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.lateral = nn.Sequential(nn.Conv2d(skip_channels, channels, 1, bias=False), nn.BatchNorm2d(channels))
        self.spatial = nn.Conv2d(channels, 1, 1) if self.sau else None
        if self.cas:
            hidden = max(1, channels // cas_reduction)
            self.channel = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
                                         nn.Conv2d(hidden, channels, 1))
        else:
            self.channel = None

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        y = self.lateral(skip)
        up = self.upsample(x)
        attention: dict[str, torch.Tensor] = {}
        if self.spatial is not None:
            mask = torch.sigmoid(self.spatial(x))
            mask = F.interpolate(mask, size=y.shape[-2:], mode="bilinear", align_corners=False)
            out = up + mask * y
            attention["sau_map"] = mask
        else:
            out = up + y
        if self.channel is not None:
            weights = self.channel(out)
            if self.cas_activation == "sigmoid":
                weights = torch.sigmoid(weights)
            out = out * weights
            attention["cas_weights"] = weights.flatten(1)
        return out, attention


class DAFE(nn.Module):
    """DAFE; see the module docstring. forward(image) -> dict, compute_loss(outputs, batch, epoch) -> dict.

    Output keys: landmarks (N,8,2) input px; heatmaps (N,8,S/4,S/4); sau_maps (N,3,S/4,S/4):
    module m's spatial attention M bilinearly resized to S/4 (absent when sau=False);
    cas_weights (N,3,D): module m's channel weights U (absent when cas=False; any sign under "eq4").
    """

    def __init__(self, trunk: ResNetTrunk, *, input_size: int = 320, decoder_channels: int = 256,
                 sau: bool = True, cas: bool = True, cas_reduction: int = 16, heatmap_sigma: float = 2.0,
                 cas_activation: str = "sigmoid", decoding: str = "quarter_cell"):
        super().__init__()
        if input_size < 32 or input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32 and at least 32, got {input_size}")
        if not heatmap_sigma > 0:
            raise ValueError(f"heatmap_sigma must be positive, got {heatmap_sigma}")
        if cas_reduction < 1:
            raise ValueError(f"cas_reduction must be >= 1, got {cas_reduction}")
        self.input_size = int(input_size)
        self.sau, self.cas = bool(sau), bool(cas)
        self.cas_activation = _check_choice("cas_activation", cas_activation, CAS_ACTIVATIONS)
        self.decoding = _check_choice("decoding", decoding, DECODINGS)
        self.heatmap_sigma = float(heatmap_sigma)
        self.heatmap_stride = HEATMAP_STRIDE
        self.decoder_channels = int(decoder_channels)
        c2, c3, c4, c5 = trunk.channels
        self.trunk = trunk
        self.top = nn.Sequential(nn.Conv2d(c5, decoder_channels, 1, bias=False), nn.BatchNorm2d(decoder_channels),
                                 nn.ReLU(inplace=True))
        self.modules_top_down = nn.ModuleList(
            DAFEModule(decoder_channels, skip, sau, cas, cas_reduction, cas_activation) for skip in (c4, c3, c2))
        self.head = nn.Sequential(_conv_bn_relu(decoder_channels, decoder_channels, 3),
                                  nn.Conv2d(decoder_channels, NUM_LANDMARKS, 1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.dim() != 4 or image.shape[-1] != self.input_size or image.shape[-2] != self.input_size:
            raise ValueError(f"expected images (N, 3, {self.input_size}, {self.input_size}) for this model "
                             f"(input_size={self.input_size}), got {tuple(image.shape)}")
        c2, c3, c4, c5 = self.trunk(image)
        x = self.top(c5)
        sau_maps, cas_weights = [], []
        for module, skip in zip(self.modules_top_down, (c4, c3, c2)):
            x, attention = module(x, skip)
            if "sau_map" in attention:
                sau_maps.append(attention["sau_map"])
            if "cas_weights" in attention:
                cas_weights.append(attention["cas_weights"])
        heatmaps = self.head(x)
        decode = argmax_decode if self.decoding == "argmax" else decode_heatmaps
        outputs = {"landmarks": decode(heatmaps, self.heatmap_stride), "heatmaps": heatmaps}
        if sau_maps:
            side = heatmaps.shape[-2:]
            outputs["sau_maps"] = torch.cat([F.interpolate(m, size=side, mode="bilinear", align_corners=False)
                                             for m in sau_maps], dim=1)
        if cas_weights:
            outputs["cas_weights"] = torch.stack(cas_weights, dim=1)
        return outputs

    def heatmap_targets(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(N, 8, S/4, S/4) Gaussian targets from batch['landmarks'] for present landmarks (code 0 or 1)."""
        codes = batch["visibility"]
        present = (codes == 0) | (codes == 1)
        return heatmap_targets(batch["landmarks"], present, self.input_size, self.heatmap_stride,
                               self.heatmap_sigma, kernel="gaussian")

    def compute_loss(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor],
                     epoch: int) -> dict[str, torch.Tensor]:
        """{'loss': squared heatmap error averaged over the cells of present landmarks' maps}."""
        heatmaps = outputs["heatmaps"]
        codes = batch["visibility"]
        present = ((codes == 0) | (codes == 1)).to(heatmaps.dtype)
        target = self.heatmap_targets(batch).to(heatmaps.dtype)
        squared = (heatmaps - target).square().mean(dim=(2, 3))
        loss = (squared * present).sum() / present.sum().clamp(min=1)
        return {"loss": loss}


def build_dafe(num_categories: int = 0, num_attributes: int = 0, *, backbone: str = "resnet50", width: float = 1.0,
               input_size: int = 320, pretrained: bool = False, weights_path: str | os.PathLike | None = None,
               blocks: int = 1, sau: bool = True, cas: bool = True, decoder_channels: int | None = None,
               cas_reduction: int = 16, heatmap_sigma: float = 2.0, cas_activation: str = "sigmoid",
               decoding: str = "quarter_cell") -> DAFE:
    """DAFE on a "resnet50" (paper; ImageNet weights if pretrained) or width-scaled "resnet_mini" trunk.

    sau / cas: the ablation switches (see the module docstring). decoder_channels defaults to
    256 x width (at least 16). blocks: BasicBlocks per stage of resnet_mini (ignored for resnet50).
    heatmap_sigma: the target Gaussian's sigma in heatmap cells. cas_activation ("eq4": the paper's
    Eq. 4, or "sigmoid") and decoding ("argmax": the paper's, or "quarter_cell"): see the module
    docstring. num_categories and
    num_attributes exist so every model is built the same way; DAFE has no such heads, so they must be 0.
    """
    if num_categories or num_attributes:
        raise ValueError(f"DAFE detects landmarks only; build it with num_categories=0 and num_attributes=0 "
                         f"(got {num_categories} and {num_attributes})")
    trunk = build_resnet_trunk(backbone, width, pretrained, weights_path, blocks)
    channels = int(decoder_channels) if decoder_channels is not None else scaled(256, width, minimum=16)
    model = DAFE(trunk, input_size=input_size, decoder_channels=channels, sau=sau, cas=cas,
                 cas_reduction=cas_reduction, heatmap_sigma=heatmap_sigma, cas_activation=cas_activation,
                 decoding=decoding)
    # Conv weights in channels_last make every conv run channels_last (faster training on CPU).
    return model.to(memory_format=torch.channels_last)
