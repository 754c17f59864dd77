"""The shared ResNet feature trunk of DAFE and M2Fashion: C2..C5 at strides 4, 8, 16, 32.

Two backbones, one interface:

- ``"resnet50"``: torchvision's ``resnet50`` (the paper backbone of DAFE and M2Fashion), with
  the ImageNet weights ``ResNet50_Weights.IMAGENET1K_V1`` when ``pretrained``. C2..C5 have
  256, 512, 1024, 2048 channels.
- ``"resnet_mini"``: torchvision's ``BasicBlock`` ResNet layout (stem conv 7x7/2 + max-pool,
  four stages of ``blocks`` basic blocks each, strides 1, 2, 2, 2) with the widths 64, 128,
  256, 512 multiplied by ``width``; random init. It is *not* a paper backbone; it exists so
  the SynthFashion profiles train from scratch on a CPU.

Weights are found by fashion_core.models.weights (``weights_path``, else the torch hub cache,
else one bounded download attempt, else a RuntimeError naming the file and where to put it).
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models import ResNet50_Weights
from torchvision.models.resnet import BasicBlock

from fashion_core.models.vgg import scaled
from fashion_core.models.weights import imagenet_weights_file, missing_weights_message, read_state_dict

__all__ = ["RESNET_BACKBONES", "RESNET50_WEIGHTS_URL", "RESNET50_WEIGHTS_FILE", "ResNetTrunk", "build_resnet_trunk"]

RESNET_BACKBONES = ("resnet50", "resnet_mini")
RESNET50_WEIGHTS_URL: str = ResNet50_Weights.IMAGENET1K_V1.url
RESNET50_WEIGHTS_FILE: str = os.path.basename(RESNET50_WEIGHTS_URL)  # resnet50-0676ba61.pth
MINI_STAGE_WIDTHS = (64, 128, 256, 512)


class ResNetTrunk(nn.Module):
    """image -> [C2, C3, C4, C5] (strides 4, 8, 16, 32); ``channels`` holds their channel counts."""

    strides = (4, 8, 16, 32)

    def __init__(self, stem: nn.Module, stages: list[nn.Module], channels: tuple[int, int, int, int]):
        super().__init__()
        self.stem = stem
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.channels = channels

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        c2 = self.layer1(self.stem(image))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        return [c2, c3, c4, self.layer4(c4)]


class SubsampledPointwiseConv(nn.Conv2d):
    """A 1x1 convolution with stride s, computed as the 1x1 convolution of every s-th pixel.

    The two are the same function with the same parameters (weight, bias): the outputs are
    bitwise equal, the gradients equal up to the order of oneDNN's floating-point sums. The
    strided form is avoided because oneDNN 3.12 (torch 2.14.1) corrupts the heap, aborting the
    process, in its ``jit_1x1:avx2`` backward-weights kernel for a strided 1x1 convolution of
    channels-last tensors with fewer than 8 input channels on one thread: the resnet_mini
    shortcuts at the smoke width, in the single-threaded training workers, on AVX2 CPUs. The
    images of a DataLoader batch arrive channels-last.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        row_stride, column_stride = self.stride
        return F.conv2d(input[:, :, ::row_stride, ::column_stride], self.weight, self.bias)


def subsampled_pointwise(conv: nn.Conv2d) -> SubsampledPointwiseConv:
    """The same strided 1x1 convolution (its parameters moved over) as a SubsampledPointwiseConv."""
    if conv.kernel_size != (1, 1) or conv.padding != (0, 0) or conv.dilation != (1, 1) or conv.groups != 1:
        raise ValueError(f"expected a 1x1 convolution without padding, dilation or groups, got {conv}")
    replacement = SubsampledPointwiseConv(conv.in_channels, conv.out_channels, 1, conv.stride, bias=conv.bias is not None)
    replacement.weight = conv.weight
    if conv.bias is not None:
        replacement.bias = conv.bias
    return replacement


def _stem(out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, out_channels, 7, 2, 3, bias=False), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))


def _basic_stage(in_channels: int, out_channels: int, blocks: int, stride: int) -> nn.Sequential:
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(SubsampledPointwiseConv(in_channels, out_channels, 1, stride, bias=False),
                                   nn.BatchNorm2d(out_channels))
    layers = [BasicBlock(in_channels, out_channels, stride, downsample)]
    layers += [BasicBlock(out_channels, out_channels) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def _resnet_mini(width: float, blocks: int) -> ResNetTrunk:
    widths = tuple(scaled(channels, width) for channels in MINI_STAGE_WIDTHS)
    stages, previous = [], widths[0]
    for index, channels in enumerate(widths):
        stages.append(_basic_stage(previous, channels, blocks, 1 if index == 0 else 2))
        previous = channels
    trunk = ResNetTrunk(_stem(widths[0]), stages, widths)
    for module in trunk.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, BasicBlock):
            # Each residual block starts as the identity, as torchvision's zero_init_residual does.
            nn.init.zeros_(module.bn2.weight)
    return trunk


def _resnet50(pretrained: bool, weights_path: str | os.PathLike | None) -> ResNetTrunk:
    # Find the weights file first: a missing file fails before building the model.
    weights_file = imagenet_weights_file(RESNET50_WEIGHTS_URL, "ResNet-50", weights_path) if pretrained else None
    model = torchvision.models.resnet50(weights=None)
    if weights_file is not None:
        state = read_state_dict(weights_file, RESNET50_WEIGHTS_URL, "ResNet-50")
        trunk_state = {key: value for key, value in state.items() if not key.startswith("fc.")}
        expected = {key for key in model.state_dict() if not key.startswith("fc.")}
        if set(trunk_state) != expected:
            missing = sorted(expected - set(trunk_state))[:4]
            raise RuntimeError(f"{weights_file} is not a torchvision resnet50 state_dict (missing e.g. {missing}). "
                               + missing_weights_message(RESNET50_WEIGHTS_URL, "ResNet-50", "the file has the wrong layout"))
        # The ImageNet classifier is dropped.
        model.load_state_dict(trunk_state, strict=False)
    for layer in (model.layer2, model.layer3, model.layer4):
        layer[0].downsample[0] = subsampled_pointwise(layer[0].downsample[0])
    stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
    return ResNetTrunk(stem, [model.layer1, model.layer2, model.layer3, model.layer4], (256, 512, 1024, 2048))


def build_resnet_trunk(backbone: str, width: float = 1.0, pretrained: bool = False,
                       weights_path: str | os.PathLike | None = None, blocks: int = 1) -> ResNetTrunk:
    """Resolve a builder's (backbone, width, pretrained, weights_path) to a ResNet trunk.

    "resnet50" requires width 1.0 (``blocks`` is ignored: it is 3-4-6-3 bottlenecks);
    "resnet_mini" has ``blocks`` BasicBlocks per stage and is random-init only.
    """
    if backbone == "resnet50":
        if width != 1.0:
            raise ValueError(f"backbone 'resnet50' is torchvision's ResNet-50 (width 1.0); got width={width}. "
                             "Use backbone='resnet_mini' for a width-scaled trunk")
        return _resnet50(pretrained, weights_path)
    if backbone == "resnet_mini":
        if pretrained or weights_path is not None:
            raise ValueError("backbone 'resnet_mini' is trained from scratch: no pretrained weights exist for it "
                             "(use backbone='resnet50' for ImageNet weights)")
        if not width > 0 or blocks < 1:
            raise ValueError(f"resnet_mini needs width > 0 and blocks >= 1, got width={width}, blocks={blocks}")
        return _resnet_mini(width, blocks)
    raise ValueError(f"backbone must be one of {RESNET_BACKBONES}, got {backbone!r}")
