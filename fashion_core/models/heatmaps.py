"""Heatmap targets and heatmap -> coordinate decoding shared by every heatmap model.

Coordinates follow fashion_core.data.datasets: continuous input pixels, heatmap cell (i, j)
of a map with stride s is centred on input pixel ((j + 0.5) s, (i + 0.5) s).

Decoder (one for every resolution, so the Liu & Lu upsampling ablation compares only the
heatmap resolution): the argmax cell, moved a quarter of a cell toward the larger of its two
neighbours along x and along y (no move when they are equal or the argmax is on the border),
then scaled by the stride to input pixels. For a peak-shaped map of a point this is within
a quarter cell of the point (0.25 px at full resolution, 2 px at stride 8), and within half a
cell on the outermost row / column, which has one neighbour only and is not shifted. Ties in
the argmax go to the lower index.
"""
from __future__ import annotations

import torch

from fashion_core.data.datasets import HEATMAP_KERNELS

__all__ = ["decode_heatmaps", "heatmap_targets"]


def decode_heatmaps(heatmaps: torch.Tensor, stride: float = 1.0) -> torch.Tensor:
    """(N, L, H, W) maps -> (N, L, 2) x, y in input pixels (argmax + quarter-cell refinement).

    No gradient flows through the result (argmax). Works on any device, without host syncs.
    """
    if heatmaps.dim() != 4:
        raise ValueError(f"heatmaps must be (N, L, H, W), got shape {tuple(heatmaps.shape)}")
    n, landmarks, height, width = heatmaps.shape
    maps = heatmaps.detach().reshape(n * landmarks, height * width)
    index = maps.argmax(dim=1)
    y = torch.div(index, width, rounding_mode="floor")
    x = index - y * width

    def value_at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        flat = yy.clamp(0, height - 1) * width + xx.clamp(0, width - 1)
        return maps.gather(1, flat.unsqueeze(1)).squeeze(1)

    shift_x = torch.sign(value_at(y, x + 1) - value_at(y, x - 1)) * ((x > 0) & (x < width - 1))
    shift_y = torch.sign(value_at(y + 1, x) - value_at(y - 1, x)) * ((y > 0) & (y < height - 1))
    dtype = heatmaps.dtype if heatmaps.is_floating_point() else torch.float32
    px = (x.to(dtype) + 0.5 + 0.25 * shift_x.to(dtype)) * stride
    py = (y.to(dtype) + 0.5 + 0.25 * shift_y.to(dtype)) * stride
    return torch.stack([px, py], dim=-1).reshape(n, landmarks, 2)


def heatmap_targets(points: torch.Tensor, present: torch.Tensor, input_size: int, stride: int = 1,
                    radius: float = 8.0, kernel: str = "liu_lu") -> torch.Tensor:
    """Batched, on-device twin of fashion_core.data.datasets.render_heatmaps.

    points (N, L, 2) in input pixels, present (N, L) bool -> (N, L, S//stride, S//stride) float.
    radius is in heatmap cells (like HeatmapSpec.radius). kernel "liu_lu": exp(-0.5 d / r) with d
    the plain Euclidean distance (Liu & Lu 2018); "gaussian": exp(-d^2 / (2 r^2)). A point that is
    not present or lies outside [0, input_size) gets an all-zero map.
    """
    if kernel not in HEATMAP_KERNELS:
        raise ValueError(f"kernel must be one of {HEATMAP_KERNELS}, got {kernel!r}")
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    points = points.detach().float()
    side = input_size // stride
    x, y = points[..., 0], points[..., 1]
    inside = present.bool() & (x >= 0) & (x < input_size) & (y >= 0) & (y < input_size)
    centres = torch.arange(side, device=points.device, dtype=torch.float32) + 0.5
    dx2 = (centres - (x / stride).unsqueeze(-1)).square()  # (N, L, W)
    dy2 = (centres - (y / stride).unsqueeze(-1)).square()  # (N, L, H)
    d2 = dy2.unsqueeze(-1) + dx2.unsqueeze(-2)  # (N, L, H, W)
    if kernel == "gaussian":
        maps = torch.exp(d2 * (-1.0 / (2.0 * radius**2)))
    else:
        maps = torch.exp(d2.sqrt() * (-0.5 / radius))
    return maps * inside.to(maps.dtype)[..., None, None]
