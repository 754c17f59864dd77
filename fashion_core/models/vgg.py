"""The shared VGG16-style trunk, split at conv4_3 so models can branch there.

Two backbones, one topology (5 blocks of 2-2-3-3-3 3x3 convs, a 2x2 max-pool after each):

- ``"vgg16"``: torchvision's ``vgg16`` itself (width 1.0, no BatchNorm), optionally with the
  ImageNet weights ``VGG16_Weights.IMAGENET1K_V1`` (the paper backbone of FashionNet and
  Liu & Lu 2018).
- ``"vgg_mini"``: the same topology with every channel width multiplied by ``width``
  (width 0.125 -> 8, 16, 32, 64, 64), randomly initialised, and with BatchNorm after every
  conv so that it trains from scratch in a few epochs on a CPU. It is *not* the paper
  backbone; it exists for the SynthFashion profiles.

:func:`vgg16_trunk` returns a :class:`VGGTrunk` holding

- ``to_conv4``: image -> conv4_3 (after its ReLU), stride 8: conv blocks 1-3 with pool1-3,
  then the conv4 block (torchvision ``features[:23]`` for vgg16);
- ``conv5``: pool4 -> conv5 block -> pool5, stride 32 overall (``features[23:]``).

Models that need their own conv5 (Liu & Lu after the attention, FashionNet's pose and
global branches) take ``copy.deepcopy(trunk.conv5)`` so every copy starts from the same
(pretrained, when asked) weights.

Pretrained weights are found by fashion_core.models.weights (``weights_path``, else
``$TORCH_HOME/hub/checkpoints/vgg16-397923af.pth``, else one bounded download attempt, else a
RuntimeError saying which file to put where).
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path

import torchvision
from torch import nn
from torchvision.models.vgg import VGG16_Weights, make_layers

from fashion_core.models.weights import (
    imagenet_weights_file,
    missing_weights_message,
    read_state_dict,
    weights_cache_path,
)

__all__ = [
    "BACKBONES",
    "VGG16_WEIGHTS_URL",
    "VGG16_WEIGHTS_FILE",
    "VGGTrunk",
    "vgg16_trunk",
    "build_trunk",
    "vgg16_weights_cache_path",
    "scaled",
]

BACKBONES = ("vgg16", "vgg_mini")
VGG16_CHANNELS = (64, 128, 256, 512, 512)
VGG16_BLOCK_DEPTHS = (2, 2, 3, 3, 3)
VGG16_WEIGHTS_URL: str = VGG16_Weights.IMAGENET1K_V1.url
VGG16_WEIGHTS_FILE: str = os.path.basename(VGG16_WEIGHTS_URL)  # vgg16-397923af.pth


def scaled(channels: int, width: float, minimum: int = 4) -> int:
    """round(channels * width), at least `minimum`: the channel rule for every width-scaled layer."""
    return max(minimum, int(round(channels * width)))


@dataclass
class VGGTrunk:
    to_conv4: nn.Sequential  # image -> conv4_3 (post-ReLU), 1/8 resolution
    conv5: nn.Sequential  # pool4 -> conv5 block -> pool5, 1/32 resolution
    conv4_channels: int
    conv5_channels: int
    batch_norm: bool

    def conv5_copy(self) -> nn.Sequential:
        """An independent copy of pool4 + conv5 + pool5 with the same (possibly pretrained) weights."""
        return copy.deepcopy(self.conv5)


def vgg16_weights_cache_path() -> Path:
    """Where torchvision looks for the ImageNet VGG16 file: $TORCH_HOME/hub/checkpoints/vgg16-397923af.pth."""
    return weights_cache_path(VGG16_WEIGHTS_URL)


def _load_vgg16_weights(model: nn.Module, path: Path) -> None:
    state = read_state_dict(path, VGG16_WEIGHTS_URL, "VGG16")
    features = {key: value for key, value in state.items() if key.startswith("features.")}
    expected = {key for key in model.state_dict() if key.startswith("features.")}
    if set(features) != expected:
        missing = sorted(expected - set(features))[:4]
        raise RuntimeError(f"{path} is not a torchvision vgg16 state_dict (missing e.g. {missing}). "
                           + missing_weights_message(VGG16_WEIGHTS_URL, "VGG16", "the file has the wrong layout"))
    # Only the conv layers are used; the ImageNet classifier is dropped.
    model.load_state_dict(features, strict=False)


def _split_at_pool4(features: nn.Sequential) -> tuple[nn.Sequential, nn.Sequential]:
    pools = [index for index, layer in enumerate(features) if isinstance(layer, nn.MaxPool2d)]
    if len(pools) != 5:
        raise ValueError(f"expected a 5-block VGG feature stack, found {len(pools)} max-pools")
    pool4 = pools[3]
    return nn.Sequential(*features[:pool4]), nn.Sequential(*features[pool4:])


def vgg16_trunk(width: float = 1.0, pretrained: bool = False, weights_path: str | os.PathLike | None = None,
                *, batch_norm: bool | None = None) -> VGGTrunk:
    """The VGG16 conv stages split at conv4_3.

    width 1.0 without BatchNorm -> torchvision.models.vgg16 (ImageNet weights when
    ``pretrained``; ``weights_path`` overrides the hub cache). Any other width (or
    ``batch_norm=True``) -> the width-scaled "vgg_mini" stack, random init; ``batch_norm``
    defaults to True for it. Raises ValueError for pretrained with a scaled width and
    RuntimeError when pretrained weights are missing and cannot be downloaded.
    """
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    if batch_norm is None:
        batch_norm = width != 1.0
    if width == 1.0 and not batch_norm:
        # Find the weights file first: a missing file fails before building the 138M-parameter model.
        weights_file = imagenet_weights_file(VGG16_WEIGHTS_URL, "VGG16", weights_path) if pretrained else None
        model = torchvision.models.vgg16(weights=None)
        if weights_file is not None:
            _load_vgg16_weights(model, weights_file)
        to_conv4, conv5 = _split_at_pool4(model.features)
        return VGGTrunk(to_conv4, conv5, 512, 512, batch_norm=False)
    if pretrained or weights_path is not None:
        raise ValueError("ImageNet weights exist only for the full VGG16 (backbone='vgg16', width=1.0, no BatchNorm); "
                         f"got width={width}, batch_norm={batch_norm} with pretrained={pretrained}, "
                         f"weights_path={weights_path!r}")
    channels = [scaled(c, width) for c in VGG16_CHANNELS]
    config: list[int | str] = []
    for depth, c in zip(VGG16_BLOCK_DEPTHS, channels):
        config += [c] * depth + ["M"]
    to_conv4, conv5 = _split_at_pool4(make_layers(config, batch_norm=batch_norm))
    for module in list(to_conv4.modules()) + list(conv5.modules()):
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return VGGTrunk(to_conv4, conv5, channels[3], channels[4], batch_norm=batch_norm)


def build_trunk(backbone: str, width: float, pretrained: bool, weights_path: str | os.PathLike | None) -> VGGTrunk:
    """Resolve a builder's (backbone, width, pretrained, weights_path) to a trunk.

    "vgg16" is torchvision's VGG16 and requires width 1.0; "vgg_mini" is the width-scaled
    BatchNorm stack (random init only).
    """
    if backbone == "vgg16":
        if width != 1.0:
            raise ValueError(f"backbone 'vgg16' is the full torchvision VGG16 (width 1.0); got width={width}. "
                             "Use backbone='vgg_mini' for a width-scaled trunk")
        return vgg16_trunk(1.0, pretrained, weights_path, batch_norm=False)
    if backbone == "vgg_mini":
        if pretrained or weights_path is not None:
            raise ValueError("backbone 'vgg_mini' is trained from scratch: no pretrained weights exist for it "
                             "(use backbone='vgg16' for ImageNet weights)")
        return vgg16_trunk(width, False, None, batch_norm=True)
    raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
