"""Geometry primitives of SynthFashion in world units, and the affine maps that place them in images.

World coordinates are "body units": y points down, the origin is the centre of the neck
base, the neck-to-hip distance is about 1 and the shoulders sit at x = +-0.40.

Left/right convention: "left" is always the WEARER's left. Every garment is photographed
from the front, so before the in-plane rotation the wearer's left side has the larger x and
appears on the IMAGE's right. L collar, L sleeve, neckline_left, cuff_left_in, ... all
refer to that side, in DeepFashion-C, FLD and FashionAI alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from fashion_core.data.synthfashion.catalogue import ItemSpec

DEG = math.pi / 180.0

# Heights of the body (world units) where garments change shape, and the hem heights and leg
# proportions the catalogue's length and fit choices map to.
WAIST_Y, HIP_Y, CROTCH_Y = 0.78, 1.05, 1.27
SKIRT_HEM_Y = {"mini": 1.38, "knee": 1.75, "midi": 2.05, "maxi": 2.42}
KIMONO_HEM_Y = {"mini": 1.30, "knee": 1.65, "midi": 1.95, "maxi": 2.30}
LEG_LENGTH = {"shorts": 0.42, "culotte": 1.0, "cropped": 1.16, "full": 1.40}
# fit -> (width at the knee, width of the leg opening)
LEG_WIDTH = {"skinny": (0.17, 0.15), "straight": (0.24, 0.23), "wide": (0.34, 0.38), "flared": (0.20, 0.33),
             "tapered": (0.21, 0.14)}


@dataclass
class Pose:
    """The mannequin's stance in one photo."""

    arm: tuple          # radians from vertical, outward positive: (left, right)
    leg: tuple          # radians from vertical, outward positive: (left, right)
    body_w: float       # width factor


@dataclass
class Geometry:
    """One garment in one pose, in world units: what the rasteriser draws and the landmarks it annotates."""

    pieces: list = field(default_factory=list)    # (role, (N,2) polygon); union = garment
    hole: np.ndarray | None = None                # open-front wedge (shows the inner top)
    lines: list = field(default_factory=list)     # ((N,2) polyline, colour key, width in units)
    dots: list = field(default_factory=list)      # ((2,), radius, colour key)
    fills: list = field(default_factory=list)     # ((N,2) polygon, colour key) drawn over the fabric
    points: dict = field(default_factory=dict)    # FashionAI-named points that exist
    df: list = field(default_factory=lambda: [None] * 8)   # the 8 DeepFashion landmark slots (None: absent)

    def all_points(self) -> np.ndarray:
        return np.concatenate([polygon for _, polygon in self.pieces], axis=0)


class Leg(NamedTuple):
    """One trouser leg in world units: its opening's corners and midpoint, knee corners, axis and normal."""

    outer: np.ndarray
    inner: np.ndarray
    opening: np.ndarray               # midpoint of the leg opening
    knee_outer: np.ndarray | None     # None for legs too short to bend at a knee
    knee_inner: np.ndarray | None
    direction: np.ndarray             # unit vector from the hip down the leg
    normal: np.ndarray                # unit vector across the leg, pointing outwards


def point(*xy) -> np.ndarray:
    return np.array(xy, dtype=float)


# Curve parameters and unit circles by vertex count, shared by every call (they are read, never written).
_BEZIER_PARAMS: dict = {}
_UNIT_CIRCLES: dict = {}


def bezier(p0, p1, p2, samples: int = 8) -> np.ndarray:
    """`samples` points of the quadratic Bezier curve from p0 to p2 with control point p1."""
    param = _BEZIER_PARAMS.get(samples)
    if param is None:
        param = _BEZIER_PARAMS[samples] = np.linspace(0.0, 1.0, samples)[:, None]
    return ((1 - param) ** 2 * np.asarray(p0) + 2 * (1 - param) * param * np.asarray(p1)
            + param ** 2 * np.asarray(p2))


def ellipse(centre, rx: float, ry: float, angle: float = 0.0, vertices: int = 18) -> np.ndarray:
    """Polygon of an ellipse with semi-axes rx, ry rotated by `angle` (radians)."""
    unit = _UNIT_CIRCLES.get(vertices)
    if unit is None:
        turn = np.linspace(0, 2 * math.pi, vertices, endpoint=False)
        unit = _UNIT_CIRCLES[vertices] = np.stack([np.cos(turn), np.sin(turn)], axis=1)
    scaled = unit * (rx, ry)
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    return scaled @ np.array([[cos_a, sin_a], [-sin_a, cos_a]]) + np.asarray(centre, dtype=float)


def mirror_x(points: np.ndarray) -> np.ndarray:
    """The mirror image across the body's centre line (x -> -x), as a new array."""
    mirrored = np.array(points, dtype=float)
    mirrored[..., 0] = -mirrored[..., 0]
    return mirrored


def skirt_half_width(item: ItemSpec, y: float, body_width: float) -> float:
    """Half-width of a skirt or dress body at height y."""
    if y <= HIP_Y:
        return (0.30 + (0.40 - 0.30) * (y - WAIST_Y) / (HIP_Y - WAIST_Y)) * body_width
    slope = {"a-line": 0.40, "pencil": -0.06, "pleated": 0.50, "straight": 0.12}[item.skirt_shape]
    if y > 1.9 and slope > 0.3:
        slope = 0.30
    return max(0.30, 0.40 + (y - HIP_Y) * slope) * body_width


# ----------------------------------------------------------------------------- affine maps
# A 2x3 array [linear | translation] maps (x, y) to linear @ (x, y) + translation.
def affine_apply(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=float)
    return points @ affine[:, :2].T + affine[:, 2]


def affine_compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The map `outer` after `inner`."""
    return np.concatenate([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]], axis=1)


def affine_inverse(affine: np.ndarray) -> np.ndarray:
    linear_inverse = np.linalg.inv(affine[:, :2])
    return np.concatenate([linear_inverse, (-linear_inverse @ affine[:, 2])[:, None]], axis=1)


def similarity(scale: float, angle: float, src_center, dst_center) -> np.ndarray:
    """Rotation by `angle` and scaling about src_center, moving src_center to dst_center."""
    cos_s, sin_s = math.cos(angle) * scale, math.sin(angle) * scale
    linear = np.array([[cos_s, -sin_s], [sin_s, cos_s]])
    translation = np.asarray(dst_center, dtype=float) - linear @ np.asarray(src_center, dtype=float)
    return np.concatenate([linear, translation[:, None]], axis=1)
