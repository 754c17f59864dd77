"""One SynthFashion photo as a scene: pose, placement, truncation, occluders, background, clutter, FLD crop."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fashion_core.data.synthfashion.catalogue import DF_SLOTS_BY_TYPE, FASHIONAI_ANCHORS, ItemSpec, weighted_choice
from fashion_core.data.synthfashion.colours import hsv_colour, palette_colour
from fashion_core.data.synthfashion.figure import Figure, companion_spec, figure_polys, occluder_polys
from fashion_core.data.synthfashion.geometry import build_geometry
from fashion_core.data.synthfashion.primitives import (
    DEG, Geometry, Pose, affine_apply, ellipse, point, similarity)


def sample_pose(rng: np.random.Generator, pose_range: float) -> Pose:
    arm_base = rng.uniform(6, 15)
    arm = tuple((arm_base + rng.uniform(-4, 4) + pose_range * rng.uniform(-8, 44)) * DEG for _ in range(2))
    leg = tuple((2.0 + rng.uniform(0, 2) + pose_range * rng.uniform(-2, 14)) * DEG for _ in range(2))
    return Pose(arm=arm, leg=leg, body_w=float(rng.uniform(0.95, 1.05)))


@dataclass
class Scene:
    """Everything needed to render one photo of one item, from any view."""

    item: ItemSpec
    pose: Pose
    geom: Geometry
    fig: Figure
    companion: Geometry | None
    T: np.ndarray                 # world -> DeepFashion-C image pixels
    width: int
    height: int
    rotation: float               # radians
    bg0: tuple
    bg1: tuple
    grad: tuple                   # (gx, gy, offset): t = gx*x + gy*y + offset in image pixels
    clutter: list                 # (kind, (N,2) image pixels, rgb, width px)
    occluders: list               # ((N,2) world polygon, rgb)
    noise: float
    brightness: float
    truncated: bool
    fld_view: np.ndarray          # image pixels -> FLD crop pixels
    fld_zoom: float               # crop side / garment extent (<1 means zoomed in)
    pose_score: float
    texture_contrast: float
    figure: list                  # skin, hair and shoe polygons (world), in drawing order


def garment_extent(geom: Geometry, A: np.ndarray) -> tuple:
    p = affine_apply(A, geom.all_points())
    return float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())


def sample_scene(item: ItemSpec, rng: np.random.Generator, size: int, *, occlusion_rate: float,
                 truncation_rate: float, clutter: float, pose_range: float, scale_range: tuple,
                 texture_contrast: float) -> Scene:
    """Pose, placement, background, occluders and the FLD crop of one photo."""
    u = rng.uniform
    H = int(size)
    W = int(round(size * u(0.75, 1.0)))
    pose = sample_pose(rng, pose_range)
    geom = build_geometry(item, pose)
    skin = hsv_colour(u(0.03, 0.09), u(0.25, 0.6), u(0.35, 0.95))
    hair = hsv_colour(u(0.04, 0.12), u(0.3, 0.8), float(rng.choice([u(0.05, 0.2), u(0.25, 0.5), u(0.6, 0.85)])))
    fig = Figure(skin=skin, hair=hair, shoe=hsv_colour(u(0, 1), u(0, 0.6), u(0.05, 0.6)),
                 companion=companion_spec(rng, item),
                 inner=palette_colour(rng, weighted_choice(rng, {"monochrome": 4, "pastel": 1, "plain": 1})),
                 long_hair=bool(rng.random() < 0.4))
    comp = build_geometry(fig.companion, pose) if fig.companion is not None else None
    rotation = pose_range * u(-20, 20) * DEG
    # placement: rotate about the garment centre, scale to the requested height fraction
    x0, y0, x1, y1 = garment_extent(geom, similarity(1.0, 0.0, (0, 0), (0, 0)))
    cw = ((x0 + x1) / 2, (y0 + y1) / 2)
    R1 = similarity(1.0, rotation, cw, (0, 0))
    rx0, ry0, rx1, ry1 = garment_extent(geom, R1)
    frac = u(*scale_range)
    s = frac * H / (ry1 - ry0)
    s = min(s, 0.96 * W / (rx1 - rx0), 0.98 * H / (ry1 - ry0))
    gw, gh = (rx1 - rx0) * s, (ry1 - ry0) * s
    # offset of the garment centre from its bbox centre (in pixels) is zero by construction of R1
    ocx, ocy = -(rx0 + rx1) / 2 * s, -(ry0 + ry1) / 2 * s

    def place(cx, cy):
        return similarity(s, rotation, cw, (cx + ocx, cy + ocy))

    def free(extent, limit):
        lo, hi = extent / 2 + 1, limit - 2 - extent / 2
        return u(lo, hi) if hi > lo else limit / 2

    cx, cy = free(gw, W), free(gh, H)
    T = place(cx, cy)
    truncated = False
    anchors = FASHIONAI_ANCHORS.get(item.fashionai or "", ())
    if item.fashionai is None:   # still keep a stable reference inside the frame
        anchors = ("armpit_left", "armpit_right")
    if rng.random() < truncation_rate:
        slots = [i for i in DF_SLOTS_BY_TYPE[item.ctype] if geom.df[i] is not None]
        for k in rng.permutation(len(slots)):
            lm = affine_apply(T, geom.df[slots[k]])
            dx, dy = lm[0] - cx, lm[1] - cy
            delta = u(1.5, 0.14 * size)
            ncx, ncy = cx, cy
            if abs(dx) / W > abs(dy) / H:
                ncx = (W - 1 + delta - dx) if dx > 0 else (-delta - dx)
            else:
                ncy = (H - 1 + delta - dy) if dy > 0 else (-delta - dy)
            T2 = place(ncx, ncy)
            ok = all(2 <= q[0] <= W - 3 and 2 <= q[1] <= H - 3
                     for q in (affine_apply(T2, geom.points[a]) for a in anchors if a in geom.points))
            ex = garment_extent(geom, T2)
            inside = (min(ex[2], W) - max(ex[0], 0)) * (min(ex[3], H) - max(ex[1], 0)) / max(gw * gh, 1e-6)
            if ok and inside > 0.55:
                T, cx, cy, truncated = T2, ncx, ncy, True
                break
    # occluders, each hiding at least one in-frame landmark
    occluders = []
    if rng.random() < occlusion_rate:
        slots = [i for i in DF_SLOTS_BY_TYPE[item.ctype] if geom.df[i] is not None]
        inframe = [i for i in slots if 0 <= affine_apply(T, geom.df[i])[0] <= W - 1
                   and 0 <= affine_apply(T, geom.df[i])[1] <= H - 1]
        n_occ = 1 if rng.random() < 0.8 else 2
        for i in rng.permutation(inframe)[:n_occ] if inframe else []:
            region = {0: "collar", 1: "collar", 2: "sleeve", 3: "sleeve"}.get(int(i), "low")
            kind = weighted_choice(rng, {"collar": {"hair": 5, "hand": 3, "bag": 1}, "sleeve": {"hand": 3, "bag": 3, "hair": 1},
                               "low": {"hand": 4, "bag": 5}}[region])
            occluders.extend(occluder_polys(rng, kind, geom.df[int(i)], fig))
    # background
    if rng.random() < 0.7:
        bg0 = hsv_colour(u(0, 1), u(0, 0.1), u(0.78, 0.98))
    elif rng.random() < 0.66:
        bg0 = hsv_colour(u(0, 1), u(0.1, 0.4), u(0.6, 0.95))
    else:
        bg0 = hsv_colour(u(0, 1), u(0, 0.4), u(0.2, 0.5))
    bg1 = tuple(int(np.clip(c + rng.integers(-40, 41), 0, 255)) for c in bg0)
    ang = u(0, 2 * math.pi)
    gx, gy = math.cos(ang) / size, math.sin(ang) / size
    grad = (gx, gy, 0.5 - gx * W / 2 - gy * H / 2)
    clut = []
    if rng.random() < clutter:
        clut.append(("floor", np.array([[-size, u(0.6, 0.9) * H], [W + size, u(0.6, 0.9) * H],
                                        [W + size, 2 * H + size], [-size, 2 * H + size]]),
                     hsv_colour(u(0, 1), u(0, 0.4), u(0.3, 0.9)), 0))
    for _ in range(int(round(clutter * u(0, 14)))):
        col = hsv_colour(u(0, 1), u(0, 0.9), u(0.1, 1.0))
        c = point(u(-0.1, 1.1) * W, u(-0.1, 1.1) * H)
        r = u(0.04, 0.3) * size
        kind = weighted_choice(rng, {"rect": 3, "ellipse": 2, "line": 3, "poly": 2})
        if kind == "rect":
            pts = ellipse(c, r, r * u(0.3, 1.5), angle=u(0, math.pi), vertices=4)
        elif kind == "ellipse":
            pts = ellipse(c, r, r * u(0.3, 1.0), angle=u(0, math.pi), vertices=16)
        elif kind == "line":
            pts = np.array([c, c + point(u(-1, 1), u(-1, 1)) * r * 3])
        else:
            pts = c + rng.uniform(-r, r, (int(rng.integers(3, 7)), 2))
        clut.append((kind, pts, col, max(1, int(u(0.005, 0.03) * size))))
    # FLD: square crop around the whole garment; zoom-ins cut landmarks off
    ex = garment_extent(geom, T)
    side0 = max(ex[2] - ex[0], ex[3] - ex[1])
    if rng.random() < truncation_rate:
        zoom = u(0.6, 0.95)
    else:
        zoom = u(1.05, 1.35)
    side = side0 * zoom
    jit = (1.0 - min(zoom, 1.0)) * 0.5 + 0.04
    ccx = (ex[0] + ex[2]) / 2 + u(-jit, jit) * side0
    ccy = (ex[1] + ex[3]) / 2 + u(-jit, jit) * side0
    kf = size / side
    fld_view = np.array([[kf, 0.0, -kf * (ccx - side / 2)], [0.0, kf, -kf * (ccy - side / 2)]])
    arm_dev = max(abs(a / DEG - 11.0) for a in pose.arm) / 40.0
    leg_dev = max(abs(a / DEG - 3.0) for a in pose.leg) / 14.0
    pose_score = max(abs(rotation / DEG) / 20.0, arm_dev if item.ctype != 2 else leg_dev)
    return Scene(item=item, pose=pose, geom=geom, fig=fig, companion=comp, T=T, width=W, height=H,
                 rotation=rotation, bg0=bg0, bg1=bg1, grad=grad, clutter=clut, occluders=occluders,
                 noise=2.0 + 9.0 * clutter * u(0.3, 1.0), brightness=u(0.9, 1.08), truncated=truncated,
                 fld_view=fld_view, fld_zoom=zoom, pose_score=pose_score,
                 texture_contrast=texture_contrast, figure=figure_polys(fig, pose, item))


def variation_type(scene: Scene) -> int:
    """FLD variation_type from the crop zoom and the pose: 1 normal, 2 medium, 3 large pose, 4/5 zoom-in."""
    if scene.fld_zoom < 0.78:
        return 5
    if scene.fld_zoom < 1.0:
        return 4
    if scene.pose_score < 0.35:
        return 1
    return 2 if scene.pose_score < 0.7 else 3


