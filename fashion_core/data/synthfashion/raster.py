"""The SynthFashion rasteriser: draws a scene through a view into an RGB image and its masks."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from fashion_core.data.synthfashion.catalogue import ItemSpec
from fashion_core.data.synthfashion.patterns import fabric_shading, motif_alpha, texture_alpha
from fashion_core.data.synthfashion.primitives import WAIST_Y, affine_apply, affine_compose, affine_inverse
from fashion_core.data.synthfashion.scene import Scene


def _colour_keys(s: ItemSpec) -> dict:
    base = np.array(s.base, dtype=float)
    acc = s.accent
    if np.abs(np.array(acc) - base).sum() < 90:
        acc = (245, 245, 240) if base.sum() < 400 else (25, 25, 30)
    return {"seam": tuple(int(c) for c in base * 0.55), "trim": tuple(s.trim), "metal": (178, 176, 170),
            "light": (236, 234, 228), "accent": tuple(acc)}


def _poly(p: np.ndarray) -> list:
    return p.ravel().tolist()


def render(scene: Scene, view: np.ndarray, out_w: int, out_h: int, rng: np.random.Generator):
    """Rasterise a scene through `view` (image pixels -> output pixels).

    Returns (rgb uint8 HxWx3, garment mask bool HxW, occluder mask bool HxW).
    """
    s = scene.item
    M = affine_compose(view, scene.T)
    scale = math.sqrt(abs(np.linalg.det(M[:, :2])))
    vscale = math.sqrt(abs(np.linalg.det(view[:, :2])))
    Vinv = affine_inverse(view)
    # background gradient, defined in image pixels
    gx, gy, g0 = scene.grad
    ax = gx * Vinv[0, 0] + gy * Vinv[1, 0]
    ay = gx * Vinv[0, 1] + gy * Vinv[1, 1]
    a0 = gx * Vinv[0, 2] + gy * Vinv[1, 2] + g0
    # a linear gradient: colour the four corners, let PIL interpolate
    corners = np.clip(np.array([[a0, ax * (out_w - 1) + a0], [ay * (out_h - 1) + a0, ax * (out_w - 1) + ay * (out_h - 1) + a0]]), 0, 1)
    c0, c1 = np.array(scene.bg0, np.float64), np.array(scene.bg1, np.float64)
    small = (c0 * (1 - corners[..., None]) + c1 * corners[..., None]).round().astype(np.uint8)
    img = Image.fromarray(small, "RGB").resize((out_w, out_h), Image.BILINEAR)
    dr = ImageDraw.Draw(img)
    for kind, pts, col, wid in scene.clutter:
        q = affine_apply(view, pts)
        if kind == "line":
            dr.line(_poly(q), fill=col, width=max(1, int(round(wid * vscale))))
        else:
            dr.polygon(_poly(q), fill=col)
    for poly, col in scene.figure:
        dr.polygon(_poly(affine_apply(M, poly)), fill=col)
    lw = max(1, int(round(scale * 0.011)))
    if scene.companion is not None:
        col = scene.fig.companion.base
        dark = tuple(int(c * 0.6) for c in col)
        for _, poly in scene.companion.pieces:
            q = _poly(affine_apply(M, poly))
            dr.polygon(q, fill=col)
        for _, poly in scene.companion.pieces:
            q = affine_apply(M, poly)
            dr.line(_poly(np.concatenate([q, q[:1]])), fill=dark, width=lw)
        for line, _, w in scene.companion.lines:
            dr.line(_poly(affine_apply(M, line)), fill=dark, width=max(1, int(round(w * scale))))
    # garment mask (pieces, then fills), sleeves mask, hole
    gimg = Image.new("L", (out_w, out_h), 0)
    gd = ImageDraw.Draw(gimg)
    simg = Image.new("L", (out_w, out_h), 0)
    sd = ImageDraw.Draw(simg)
    for role, poly in scene.geom.pieces:
        q = _poly(affine_apply(M, poly))
        gd.polygon(q, fill=255)
        if role == "sleeve":
            sd.polygon(q, fill=255)
    if scene.geom.hole is not None:
        gd.polygon(_poly(affine_apply(M, scene.geom.hole)), fill=0)
    gmask = np.asarray(gimg) > 0
    arr = np.asarray(img).copy()
    rows = np.flatnonzero(gmask.any(1))
    cols = np.flatnonzero(gmask.any(0))
    if rows.size:
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        Minv = affine_inverse(M).astype(np.float32)
        m = gmask[y0:y1, x0:x1]
        ys, xs = np.nonzero(m)
        xs_f, ys_f = (xs + x0).astype(np.float32), (ys + y0).astype(np.float32)
        # work on the garment pixels only (1-D arrays)
        u = Minv[0, 0] * xs_f + Minv[0, 1] * ys_f + Minv[0, 2]
        v = Minv[1, 0] * xs_f + Minv[1, 1] * ys_f + Minv[1, 2]
        sleeve = (np.asarray(simg)[y0:y1, x0:x1] > 0)[ys, xs]
        base = np.array(s.base, np.float32)
        keys = _colour_keys(s)
        acc = np.array(keys["accent"] if s.texture != "solid" else s.accent, np.float32)
        if s.colorblock:
            if s.kind in ("upper", "dress", "jumpsuit", "kimono") and s.sleeve != "none":
                region = sleeve
            elif s.kind == "trousers":
                region = v > 1.75
            elif s.kind == "skirt":
                region = v > (scene.geom.points["hemline_left"][1] + scene.geom.points["waistband_left"][1]) / 2
            elif s.kind == "upper":
                region = v > 0.62
            else:
                region = v > WAIST_Y
            col = np.where(region[:, None], np.array(keys["accent"], np.float32), base)
        else:
            col = np.broadcast_to(base, u.shape + (3,))
        if s.texture != "solid":
            a = texture_alpha(s, u, v) * np.float32(scene.texture_contrast * s.tex_strength)
            col = col + (acc - col) * a[:, None]
        L, opacity, holes = fabric_shading(s, u, v, rng)
        L = L * (1 - np.float32(0.14) * np.minimum(np.abs(u) * np.float32(1 / 0.7), 1) ** 2)
        L[sleeve] *= np.float32(0.93)
        col = col * L[:, None]
        mo = motif_alpha(s, u, v)
        if mo is not None:
            mcol = np.array(keys["accent"] if s.texture == "solid" else keys["trim"], np.float32)
            col = col + (mcol - col) * mo[:, None]
        np.clip(col, 0, 255, out=col)
        sub = arr[y0:y1, x0:x1]
        if opacity < 1 or holes is not None:
            under = sub[ys, xs].astype(np.float32)
            if opacity < 1:
                col = under * (1 - opacity) + col * opacity
            if holes is not None:
                col = np.where(holes[:, None], under, col)
                gmask[y0 + ys[holes], x0 + xs[holes]] = False
        sub[ys, xs] = col.astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    dr = ImageDraw.Draw(img)
    keys = _colour_keys(s)
    if scene.geom.hole is not None:
        dr.polygon(_poly(affine_apply(M, scene.geom.hole)), fill=scene.fig.inner)
    for role, poly in scene.geom.pieces:
        q = affine_apply(M, poly)
        dr.line(_poly(np.concatenate([q, q[:1]])), fill=keys["seam"], width=lw)
    for poly, key in scene.geom.fills:
        dr.polygon(_poly(affine_apply(M, poly)), fill=keys[key])
    for line, key, w in scene.geom.lines:
        dr.line(_poly(affine_apply(M, line)), fill=keys[key], width=max(1, int(round(w * scale))))
    for c, r, key in scene.geom.dots:
        q = affine_apply(M, c)
        rr = max(1.0, r * scale)
        dr.ellipse([q[0] - rr, q[1] - rr, q[0] + rr, q[1] + rr], fill=keys[key])
    # the fills and details are part of the garment
    if scene.geom.fills:
        fimg = Image.new("L", (out_w, out_h), 0)
        fd = ImageDraw.Draw(fimg)
        for poly, key in scene.geom.fills:
            fd.polygon(_poly(affine_apply(M, poly)), fill=255)
        gmask |= np.asarray(fimg) > 0
    # occluders
    oimg = Image.new("L", (out_w, out_h), 0)
    od = ImageDraw.Draw(oimg)
    for poly, col in scene.occluders:
        q = _poly(affine_apply(M, poly))
        dr.polygon(q, fill=col)
        od.polygon(q, fill=255)
    omask = np.asarray(oimg) > 0
    lut = np.clip(np.arange(256) * scene.brightness, 0, 255).astype(np.int16)
    out = lut[np.asarray(img)]
    out += rng.integers(-int(scene.noise), int(scene.noise) + 1, (out_h, out_w, 1), dtype=np.int16)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8), gmask, omask

