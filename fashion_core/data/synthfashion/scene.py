"""One SynthFashion photo as a scene: pose, placement, truncation, occluders, background, clutter, FLD crop.

sample_scene draws everything from the photo's own random stream, in a fixed order: the
output files are a function of that order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fashion_core.data.synthfashion.catalogue import DF_SLOTS_BY_TYPE, FASHIONAI_ANCHORS, ItemSpec, weighted_choice
from fashion_core.data.synthfashion.colours import hsv_colour
from fashion_core.data.synthfashion.figure import Figure, figure_polygons, occluder_polygons, sample_figure
from fashion_core.data.synthfashion.geometry import build_geometry
from fashion_core.data.synthfashion.primitives import DEG, Geometry, Pose, affine_apply, ellipse, point, similarity

# The occluder kinds likely to hide each DeepFashion slot's region.
_OCCLUDER_KINDS = {"collar": {"hair": 5, "hand": 3, "bag": 1}, "sleeve": {"hand": 3, "bag": 3, "hair": 1},
                   "low": {"hand": 4, "bag": 5}}


@dataclass
class Scene:
    """Everything needed to render one photo of one item, from any view."""

    item: ItemSpec
    pose: Pose
    geom: Geometry
    figure: Figure
    companion: Geometry | None
    world_to_image: np.ndarray    # world -> DeepFashion-C image pixels
    width: int
    height: int
    rotation: float               # radians
    background_start: tuple       # rgb at gradient position 0
    background_end: tuple         # rgb at gradient position 1
    gradient: tuple               # (gx, gy, offset): t = gx*x + gy*y + offset in image pixels
    clutter: list                 # (kind, (N,2) image pixels, rgb, width px)
    occluders: list               # ((N,2) world polygon, rgb)
    noise: float
    brightness: float
    truncated: bool
    fld_view: np.ndarray          # image pixels -> FLD crop pixels
    fld_zoom: float               # crop side / garment extent (<1 means zoomed in)
    pose_score: float
    texture_contrast: float
    figure_polygons: list         # skin, hair and shoe polygons (world), in drawing order


@dataclass(frozen=True)
class _Placement:
    """Scale and rotation of the garment in the image; transform(cx, cy) puts its bbox centre at (cx, cy)."""

    scale: float
    rotation: float
    world_centre: tuple           # centre of the unrotated garment's extent (world units)
    offset: tuple                 # rotated bbox centre -> image position of world_centre (pixels)
    size: tuple                   # rotated garment bbox (pixels)

    def transform(self, cx: float, cy: float) -> np.ndarray:
        return similarity(self.scale, self.rotation, self.world_centre, (cx + self.offset[0], cy + self.offset[1]))


def sample_pose(rng: np.random.Generator, pose_range: float) -> Pose:
    """Arm and leg spread (wider with pose_range) and body width of one photo."""
    arm_base = rng.uniform(6, 15)
    arm = tuple((arm_base + rng.uniform(-4, 4) + pose_range * rng.uniform(-8, 44)) * DEG for _ in range(2))
    leg = tuple((2.0 + rng.uniform(0, 2) + pose_range * rng.uniform(-2, 14)) * DEG for _ in range(2))
    return Pose(arm=arm, leg=leg, body_w=float(rng.uniform(0.95, 1.05)))


def garment_extent(geom: Geometry, affine: np.ndarray) -> tuple:
    """(x0, y0, x1, y1) of the garment's pieces mapped through `affine`."""
    mapped = affine_apply(affine, geom.all_points())
    return float(mapped[:, 0].min()), float(mapped[:, 1].min()), float(mapped[:, 0].max()), float(mapped[:, 1].max())


def sample_scene(item: ItemSpec, rng: np.random.Generator, size: int, *, occlusion_rate: float,
                 truncation_rate: float, clutter: float, pose_range: float, scale_range: tuple,
                 texture_contrast: float) -> Scene:
    """Pose, placement, background, occluders and the FLD crop of one photo."""
    height = int(size)
    width = int(round(size * rng.uniform(0.75, 1.0)))
    pose = sample_pose(rng, pose_range)
    geom = build_geometry(item, pose)
    figure = sample_figure(rng, item)
    companion = build_geometry(figure.companion, pose) if figure.companion is not None else None
    rotation = pose_range * rng.uniform(-20, 20) * DEG
    placement = _sample_placement(rng, geom, rotation, scale_range, width, height)
    centre = _free_position(rng, placement.size[0], width), _free_position(rng, placement.size[1], height)
    world_to_image, truncated = _sample_truncation(rng, item, geom, placement, centre, truncation_rate, size,
                                                   width, height)
    occluders = _sample_occluders(rng, item, geom, figure, world_to_image, occlusion_rate, width, height)
    background_start, background_end, gradient = _sample_background(rng, size, width, height)
    clutter_shapes = _sample_clutter(rng, clutter, size, width, height)
    fld_view, fld_zoom = _sample_fld_crop(rng, geom, world_to_image, truncation_rate, size)
    noise = 2.0 + 9.0 * clutter * rng.uniform(0.3, 1.0)
    brightness = rng.uniform(0.9, 1.08)
    return Scene(item=item, pose=pose, geom=geom, figure=figure, companion=companion, world_to_image=world_to_image,
                 width=width, height=height, rotation=rotation, background_start=background_start,
                 background_end=background_end, gradient=gradient, clutter=clutter_shapes, occluders=occluders,
                 noise=noise, brightness=brightness, truncated=truncated, fld_view=fld_view, fld_zoom=fld_zoom,
                 pose_score=_pose_score(item, pose, rotation), texture_contrast=texture_contrast,
                 figure_polygons=figure_polygons(figure, pose))


def variation_type(scene: Scene) -> int:
    """FLD variation_type from the crop zoom and the pose: 1 normal, 2 medium, 3 large pose, 4/5 zoom-in."""
    if scene.fld_zoom < 0.78:
        return 5
    if scene.fld_zoom < 1.0:
        return 4
    if scene.pose_score < 0.35:
        return 1
    return 2 if scene.pose_score < 0.7 else 3


def _sample_placement(rng: np.random.Generator, geom: Geometry, rotation: float, scale_range: tuple,
                      width: int, height: int) -> _Placement:
    """Rotate about the garment centre and scale it to a height fraction drawn from scale_range (capped to fit)."""
    x0, y0, x1, y1 = garment_extent(geom, similarity(1.0, 0.0, (0, 0), (0, 0)))
    world_centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    rx0, ry0, rx1, ry1 = garment_extent(geom, similarity(1.0, rotation, world_centre, (0, 0)))
    fraction = rng.uniform(*scale_range)
    scale = fraction * height / (ry1 - ry0)
    scale = min(scale, 0.96 * width / (rx1 - rx0), 0.98 * height / (ry1 - ry0))
    size = (rx1 - rx0) * scale, (ry1 - ry0) * scale
    offset = -(rx0 + rx1) / 2 * scale, -(ry0 + ry1) / 2 * scale
    return _Placement(scale, rotation, world_centre, offset, size)


def _free_position(rng: np.random.Generator, extent: float, limit: int) -> float:
    """A bbox centre coordinate keeping an extent-long garment inside [0, limit), or the middle if it cannot."""
    low, high = extent / 2 + 1, limit - 2 - extent / 2
    return rng.uniform(low, high) if high > low else limit / 2


def _sample_truncation(rng: np.random.Generator, item: ItemSpec, geom: Geometry, placement: _Placement,
                       centre: tuple, truncation_rate: float, size: int, width: int, height: int) -> tuple:
    """(world -> image map, truncated): with probability truncation_rate, a landmark is shifted out of the frame.

    Landmarks are tried in random order; a shift is kept only if the FashionAI normaliser points
    stay inside and more than 55% of the garment's bbox remains in the frame.
    """
    cx, cy = centre
    world_to_image = placement.transform(cx, cy)
    anchors = FASHIONAI_ANCHORS.get(item.fashionai or "", ())
    if item.fashionai is None:   # still keep a stable reference inside the frame
        anchors = ("armpit_left", "armpit_right")
    if rng.random() >= truncation_rate:
        return world_to_image, False
    slots = [i for i in DF_SLOTS_BY_TYPE[item.ctype] if geom.df[i] is not None]
    garment_w, garment_h = placement.size
    for slot_index in rng.permutation(len(slots)):
        landmark = affine_apply(world_to_image, geom.df[slots[slot_index]])
        dx, dy = landmark[0] - cx, landmark[1] - cy
        delta = rng.uniform(1.5, 0.14 * size)
        shifted_x, shifted_y = cx, cy
        if abs(dx) / width > abs(dy) / height:
            shifted_x = (width - 1 + delta - dx) if dx > 0 else (-delta - dx)
        else:
            shifted_y = (height - 1 + delta - dy) if dy > 0 else (-delta - dy)
        shifted = placement.transform(shifted_x, shifted_y)
        anchors_inside = all(2 <= mapped[0] <= width - 3 and 2 <= mapped[1] <= height - 3
                             for mapped in (affine_apply(shifted, geom.points[anchor])
                                            for anchor in anchors if anchor in geom.points))
        extent = garment_extent(geom, shifted)
        inside = ((min(extent[2], width) - max(extent[0], 0)) * (min(extent[3], height) - max(extent[1], 0))
                  / max(garment_w * garment_h, 1e-6))
        if anchors_inside and inside > 0.55:
            return shifted, True
    return world_to_image, False


def _sample_occluders(rng: np.random.Generator, item: ItemSpec, geom: Geometry, figure: Figure,
                      world_to_image: np.ndarray, occlusion_rate: float, width: int, height: int) -> list:
    """With probability occlusion_rate, one occluder (20%: two) each hiding an in-frame landmark."""
    occluders = []
    if rng.random() >= occlusion_rate:
        return occluders
    slots = [i for i in DF_SLOTS_BY_TYPE[item.ctype] if geom.df[i] is not None]
    in_frame = [i for i in slots if 0 <= affine_apply(world_to_image, geom.df[i])[0] <= width - 1
                and 0 <= affine_apply(world_to_image, geom.df[i])[1] <= height - 1]
    count = 1 if rng.random() < 0.8 else 2
    for slot in rng.permutation(in_frame)[:count] if in_frame else []:
        region = {0: "collar", 1: "collar", 2: "sleeve", 3: "sleeve"}.get(int(slot), "low")
        kind = weighted_choice(rng, _OCCLUDER_KINDS[region])
        occluders.extend(occluder_polygons(rng, kind, geom.df[int(slot)], figure))
    return occluders


def _sample_background(rng: np.random.Generator, size: int, width: int, height: int) -> tuple:
    """(start rgb, end rgb, gradient): mostly pale, sometimes tinted or dark, graded in a random direction."""
    uniform = rng.uniform
    if rng.random() < 0.7:
        start = hsv_colour(uniform(0, 1), uniform(0, 0.1), uniform(0.78, 0.98))
    elif rng.random() < 0.66:
        start = hsv_colour(uniform(0, 1), uniform(0.1, 0.4), uniform(0.6, 0.95))
    else:
        start = hsv_colour(uniform(0, 1), uniform(0, 0.4), uniform(0.2, 0.5))
    end = tuple(int(np.clip(channel + rng.integers(-40, 41), 0, 255)) for channel in start)
    angle = uniform(0, 2 * math.pi)
    gx, gy = math.cos(angle) / size, math.sin(angle) / size
    return start, end, (gx, gy, 0.5 - gx * width / 2 - gy * height / 2)


def _sample_clutter(rng: np.random.Generator, clutter: float, size: int, width: int, height: int) -> list:
    """A floor (with probability clutter) and up to 14 * clutter random shapes, in image pixels."""
    uniform = rng.uniform
    shapes = []
    if rng.random() < clutter:
        floor = np.array([[-size, uniform(0.6, 0.9) * height], [width + size, uniform(0.6, 0.9) * height],
                          [width + size, 2 * height + size], [-size, 2 * height + size]])
        shapes.append(("floor", floor, hsv_colour(uniform(0, 1), uniform(0, 0.4), uniform(0.3, 0.9)), 0))
    for _ in range(int(round(clutter * uniform(0, 14)))):
        colour = hsv_colour(uniform(0, 1), uniform(0, 0.9), uniform(0.1, 1.0))
        centre = point(uniform(-0.1, 1.1) * width, uniform(-0.1, 1.1) * height)
        radius = uniform(0.04, 0.3) * size
        kind = weighted_choice(rng, {"rect": 3, "ellipse": 2, "line": 3, "poly": 2})
        if kind == "rect":
            outline = ellipse(centre, radius, radius * uniform(0.3, 1.5), angle=uniform(0, math.pi), vertices=4)
        elif kind == "ellipse":
            outline = ellipse(centre, radius, radius * uniform(0.3, 1.0), angle=uniform(0, math.pi), vertices=16)
        elif kind == "line":
            outline = np.array([centre, centre + point(uniform(-1, 1), uniform(-1, 1)) * radius * 3])
        else:
            outline = centre + rng.uniform(-radius, radius, (int(rng.integers(3, 7)), 2))
        shapes.append((kind, outline, colour, max(1, int(uniform(0.005, 0.03) * size))))
    return shapes


def _sample_fld_crop(rng: np.random.Generator, geom: Geometry, world_to_image: np.ndarray, truncation_rate: float,
                     size: int) -> tuple:
    """(image -> crop map, zoom) of the FLD photo: a square around the whole garment; zoom-ins cut landmarks off."""
    extent = garment_extent(geom, world_to_image)
    garment_side = max(extent[2] - extent[0], extent[3] - extent[1])
    if rng.random() < truncation_rate:
        zoom = rng.uniform(0.6, 0.95)
    else:
        zoom = rng.uniform(1.05, 1.35)
    side = garment_side * zoom
    jitter = (1.0 - min(zoom, 1.0)) * 0.5 + 0.04
    crop_cx = (extent[0] + extent[2]) / 2 + rng.uniform(-jitter, jitter) * garment_side
    crop_cy = (extent[1] + extent[3]) / 2 + rng.uniform(-jitter, jitter) * garment_side
    scale = size / side
    return np.array([[scale, 0.0, -scale * (crop_cx - side / 2)], [0.0, scale, -scale * (crop_cy - side / 2)]]), zoom


def _pose_score(item: ItemSpec, pose: Pose, rotation: float) -> float:
    """How far the pose is from the neutral stance: 0 neutral, 1 at the ends of the default ranges."""
    arm_deviation = max(abs(angle / DEG - 11.0) for angle in pose.arm) / 40.0
    leg_deviation = max(abs(angle / DEG - 3.0) for angle in pose.leg) / 14.0
    return max(abs(rotation / DEG) / 20.0, arm_deviation if item.ctype != 2 else leg_deviation)
