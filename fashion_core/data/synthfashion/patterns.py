"""Per-pixel fill patterns of a garment: texture prints, motifs and fabric shading, in world units."""
from __future__ import annotations

import math

import numpy as np

from fashion_core.data.synthfashion.catalogue import ItemSpec


def _frac(x):
    return x - np.floor(x)


def _hash(i, j, k: float = 0.0):
    x = np.sin(i * 12.9898 + j * 78.233 + k * 37.719) * 43758.5453
    return x - np.floor(x)


def texture_alpha(s: ItemSpec, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Accent-colour weight in [0, 1] of the item's fill pattern at world points (u, v)."""
    p = s.tex_period
    ph0, ph1 = s.tex_phase
    ca, sa = math.cos(s.tex_angle), math.sin(s.tex_angle)
    x = u * ca + v * sa
    y = -u * sa + v * ca
    t = s.texture
    if t == "solid":
        return np.zeros_like(u)
    if t == "striped":
        return (_frac(y / p + ph0) < 0.42).astype(np.float32)
    if t == "pinstripe":
        return (_frac(u / (p * 0.55) + ph0) < 0.17).astype(np.float32)
    if t == "polka dot":
        gy = y / p + ph0
        gx = x / p + ph1 + 0.5 * (np.floor(gy) % 2)
        return (np.hypot(_frac(gx) - 0.5, _frac(gy) - 0.5) < 0.23).astype(np.float32)
    if t == "plaid":
        q = p * 1.1
        a = (_frac(y / q + ph0) < 0.33).astype(np.float32)
        b = (_frac(x / q + ph1) < 0.33).astype(np.float32)
        thin = (np.abs(_frac(y / q + ph0 + 0.66) - 0.5) < 0.05) | (np.abs(_frac(x / q + ph1 + 0.66) - 0.5) < 0.05)
        return np.maximum(0.5 * (a + b), 0.85 * thin)
    if t == "gingham":
        q = p * 0.7
        return 0.5 * ((_frac(y / q + ph0) < 0.5).astype(np.float32) + (_frac(x / q + ph1) < 0.5))
    if t == "chevron":
        q = p * 1.4
        zig = np.abs(_frac(x / q + ph1) - 0.5) * q * 1.3
        return (_frac((y + zig) / p + ph0) < 0.45).astype(np.float32)
    if t in ("floral", "leopard"):
        q = p * (1.9 if t == "floral" else 1.4)
        gx, gy = x / q + ph1, y / q + ph0
        i, j = np.floor(gx), np.floor(gy)
        fx = _frac(gx) - 0.5 - (_hash(i, j, 1.0) - 0.5) * 0.35
        fy = _frac(gy) - 0.5 - (_hash(i, j, 2.0) - 0.5) * 0.35
        r = np.hypot(fx, fy)
        th = np.arctan2(fy, fx) + _hash(i, j, 3.0) * 6.283
        if t == "floral":
            petals = r < 0.33 * (0.62 + 0.38 * np.cos(5 * th))
            return np.where(r < 0.09, 0.45, petals.astype(np.float32)).astype(np.float32)
        rn = r / (0.32 * (1 + 0.25 * np.sin(3 * th)))
        return np.where((rn > 0.55) & (rn < 1.0), 1.0, np.where(rn <= 0.55, 0.4, 0.0)).astype(np.float32)
    if t == "camo":
        w = 6.283 / (p * 3.2)
        n = (np.sin(u * w * 1.1 + ph0 * 6.3) * np.sin(v * w * 0.9 + ph1 * 6.3)
             + 0.6 * np.sin((u + v) * w * 1.7 + ph1 * 3) + 0.4 * np.sin((u - 0.6 * v) * w * 2.3 + ph0 * 5))
        return np.where(n > 0.45, 1.0, np.where(n > -0.15, 0.5, 0.0)).astype(np.float32)
    raise ValueError(t)


def motif_alpha(s: ItemSpec, u: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    if s.motif == "none":
        return None
    if s.motif == "graphic":
        r = np.hypot(u, v - 0.42)
        return ((r < 0.13) & ((r > 0.09) | (np.abs(v - 0.42) < 0.025))).astype(np.float32)
    q = 0.21
    gy = v / q + s.tex_phase[0]
    gx = u / q + s.tex_phase[1] + 0.5 * (np.floor(gy) % 2)
    fx, fy = (_frac(gx) - 0.5) * q, (_frac(gy) - 0.5) * q
    if s.motif == "star":
        r = np.hypot(fx, fy)
        th = np.arctan2(fy, fx)
        tt = _frac(5 * (th + math.pi / 2) / (2 * math.pi))
        w = np.abs(tt - 0.5) * 2
        return (r < 0.062 * (0.42 + 0.58 * w ** 1.6)).astype(np.float32)
    x, y = fx / 0.042, -fy / 0.042 + 0.25
    return (((x * x + y * y - 1) ** 3 - x * x * y ** 3) <= 0).astype(np.float32)


def fabric_shading(s: ItemSpec, u, v, rng):
    """Luminance factor, opacity and lace holes of the item's fabric."""
    f = s.fabric
    ph = s.fab_phase
    holes = None
    alpha = 1.0
    if f == "knit":
        L = 1 + 0.11 * np.sign(np.sin(2 * math.pi * u / 0.05))
    elif f == "denim":
        L = 1 + 0.08 * np.sin(2 * math.pi * (u + v) / 0.04) + rng.normal(0, 0.05, u.shape)
    elif f == "faux leather":
        d = u * 0.5 + v * 0.85
        L = 0.85 + 0.6 * np.exp(-((d - 0.2 - ph) / 0.09) ** 2) + 0.3 * np.exp(-((d - 0.9 - ph) / 0.06) ** 2)
    elif f == "lace":
        q = 0.065
        gx, gy = u / q + ph, v / q + 0.5 * (np.floor(u / q + ph) % 2)
        r = np.hypot(_frac(gx) - 0.5, _frac(gy) - 0.5)
        holes = r < 0.2
        L = np.where(np.abs(r - 0.36) < 0.06, 0.8, 1.0)
    elif f == "chiffon":
        L = 1 + 0.07 * np.sin(2 * math.pi * (u * 0.9 + v * 0.3) / 0.3 + ph * 6)
        alpha = 0.62
    elif f == "heathered":
        L = 1 + rng.normal(0, 0.11, u.shape)
    elif f == "quilted":
        a, b = _frac((u + v) / 0.17 + ph), _frac((u - v) / 0.17)
        m = np.minimum(np.minimum(a, 1 - a), np.minimum(b, 1 - b))
        L = np.where(m < 0.06, 0.68, 0.9 + 0.5 * m)
    elif f == "satin":
        L = 1 + 0.22 * np.sin(2 * math.pi * (0.6 * u + 0.8 * v) / 0.45 + ph * 6) + 0.08 * np.sin(
            2 * math.pi * (u - 0.3 * v) / 0.2)
    elif f == "sequin":
        r = rng.random(u.shape)
        L = np.where(r < 0.07, 1.65, np.where(r > 0.94, 0.65, 1.0))
    else:
        L = np.ones_like(u)
    return L.astype(np.float32), alpha, holes


