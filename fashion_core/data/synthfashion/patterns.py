"""Per-pixel fill patterns of a garment: texture prints, motifs and fabric shading.

Every function takes the garment pixels' world coordinates (u, v) as 1-D float32 arrays and
returns one value per pixel; the rasteriser blends colours with them.
"""
from __future__ import annotations

import math

import numpy as np

from fashion_core.data.synthfashion.catalogue import ItemSpec


def _fraction(values):
    return values - np.floor(values)


def _cell_hash(cell_x, cell_y, salt: float = 0.0):
    """A pseudo-random number in [0, 1) per pattern cell (the same for every pixel of the cell)."""
    noise = np.sin(cell_x * 12.9898 + cell_y * 78.233 + salt * 37.719) * 43758.5453
    return noise - np.floor(noise)


def texture_alpha(item: ItemSpec, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Accent-colour weight in [0, 1] of the item's fill pattern at world points (u, v)."""
    period = item.tex_period
    phase_y, phase_x = item.tex_phase
    cos_a, sin_a = math.cos(item.tex_angle), math.sin(item.tex_angle)
    # pattern coordinates: the world rotated by the item's texture angle
    x = u * cos_a + v * sin_a
    y = -u * sin_a + v * cos_a
    texture = item.texture
    if texture == "solid":
        return np.zeros_like(u)
    if texture == "striped":
        return (_fraction(y / period + phase_y) < 0.42).astype(np.float32)
    if texture == "pinstripe":
        return (_fraction(u / (period * 0.55) + phase_y) < 0.17).astype(np.float32)
    if texture == "polka dot":
        grid_y = y / period + phase_y
        grid_x = x / period + phase_x + 0.5 * (np.floor(grid_y) % 2)
        return (np.hypot(_fraction(grid_x) - 0.5, _fraction(grid_y) - 0.5) < 0.23).astype(np.float32)
    if texture == "plaid":
        cell = period * 1.1
        rows = (_fraction(y / cell + phase_y) < 0.33).astype(np.float32)
        columns = (_fraction(x / cell + phase_x) < 0.33).astype(np.float32)
        thin = ((np.abs(_fraction(y / cell + phase_y + 0.66) - 0.5) < 0.05)
                | (np.abs(_fraction(x / cell + phase_x + 0.66) - 0.5) < 0.05))
        return np.maximum(0.5 * (rows + columns), 0.85 * thin)
    if texture == "gingham":
        cell = period * 0.7
        return 0.5 * ((_fraction(y / cell + phase_y) < 0.5).astype(np.float32) + (_fraction(x / cell + phase_x) < 0.5))
    if texture == "chevron":
        cell = period * 1.4
        zigzag = np.abs(_fraction(x / cell + phase_x) - 0.5) * cell * 1.3
        return (_fraction((y + zigzag) / period + phase_y) < 0.45).astype(np.float32)
    if texture in ("floral", "leopard"):
        return _spots(texture, period * (1.9 if texture == "floral" else 1.4), x, y, phase_x, phase_y)
    if texture == "camo":
        frequency = 6.283 / (period * 3.2)
        field = (np.sin(u * frequency * 1.1 + phase_y * 6.3) * np.sin(v * frequency * 0.9 + phase_x * 6.3)
                 + 0.6 * np.sin((u + v) * frequency * 1.7 + phase_x * 3)
                 + 0.4 * np.sin((u - 0.6 * v) * frequency * 2.3 + phase_y * 5))
        return np.where(field > 0.45, 1.0, np.where(field > -0.15, 0.5, 0.0)).astype(np.float32)
    raise ValueError(texture)


def _spots(texture: str, cell: float, x, y, phase_x: float, phase_y: float) -> np.ndarray:
    """One jittered, randomly turned flower or leopard rosette per grid cell."""
    grid_x, grid_y = x / cell + phase_x, y / cell + phase_y
    cell_x, cell_y = np.floor(grid_x), np.floor(grid_y)
    offset_x = _fraction(grid_x) - 0.5 - (_cell_hash(cell_x, cell_y, 1.0) - 0.5) * 0.35
    offset_y = _fraction(grid_y) - 0.5 - (_cell_hash(cell_x, cell_y, 2.0) - 0.5) * 0.35
    radius = np.hypot(offset_x, offset_y)
    angle = np.arctan2(offset_y, offset_x) + _cell_hash(cell_x, cell_y, 3.0) * 6.283
    if texture == "floral":
        petals = radius < 0.33 * (0.62 + 0.38 * np.cos(5 * angle))
        return np.where(radius < 0.09, 0.45, petals.astype(np.float32)).astype(np.float32)
    relative = radius / (0.32 * (1 + 0.25 * np.sin(3 * angle)))
    return np.where((relative > 0.55) & (relative < 1.0), 1.0, np.where(relative <= 0.55, 0.4, 0.0)).astype(np.float32)


def motif_alpha(item: ItemSpec, u: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """Weight of the item's printed motif (a chest graphic, or a grid of stars or hearts); None without one."""
    if item.motif == "none":
        return None
    if item.motif == "graphic":
        radius = np.hypot(u, v - 0.42)
        return ((radius < 0.13) & ((radius > 0.09) | (np.abs(v - 0.42) < 0.025))).astype(np.float32)
    cell = 0.21
    grid_y = v / cell + item.tex_phase[0]
    grid_x = u / cell + item.tex_phase[1] + 0.5 * (np.floor(grid_y) % 2)
    offset_x, offset_y = (_fraction(grid_x) - 0.5) * cell, (_fraction(grid_y) - 0.5) * cell
    if item.motif == "star":
        radius = np.hypot(offset_x, offset_y)
        angle = np.arctan2(offset_y, offset_x)
        arm_phase = _fraction(5 * (angle + math.pi / 2) / (2 * math.pi))
        arm = np.abs(arm_phase - 0.5) * 2
        return (radius < 0.062 * (0.42 + 0.58 * arm ** 1.6)).astype(np.float32)
    # heart: the implicit curve (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0
    x, y = offset_x / 0.042, -offset_y / 0.042 + 0.25
    return (((x * x + y * y - 1) ** 3 - x * x * y ** 3) <= 0).astype(np.float32)


def fabric_shading(item: ItemSpec, u, v, rng):
    """Luminance factor, opacity and lace holes of the item's fabric."""
    fabric = item.fabric
    phase = item.fab_phase
    holes = None
    opacity = 1.0
    if fabric == "knit":
        luminance = 1 + 0.11 * np.sign(np.sin(2 * math.pi * u / 0.05))
    elif fabric == "denim":
        luminance = 1 + 0.08 * np.sin(2 * math.pi * (u + v) / 0.04) + rng.normal(0, 0.05, u.shape)
    elif fabric == "faux leather":
        diagonal = u * 0.5 + v * 0.85
        luminance = (0.85 + 0.6 * np.exp(-((diagonal - 0.2 - phase) / 0.09) ** 2)
                     + 0.3 * np.exp(-((diagonal - 0.9 - phase) / 0.06) ** 2))
    elif fabric == "lace":
        cell = 0.065
        grid_x, grid_y = u / cell + phase, v / cell + 0.5 * (np.floor(u / cell + phase) % 2)
        radius = np.hypot(_fraction(grid_x) - 0.5, _fraction(grid_y) - 0.5)
        holes = radius < 0.2
        luminance = np.where(np.abs(radius - 0.36) < 0.06, 0.8, 1.0)
    elif fabric == "chiffon":
        luminance = 1 + 0.07 * np.sin(2 * math.pi * (u * 0.9 + v * 0.3) / 0.3 + phase * 6)
        opacity = 0.62
    elif fabric == "heathered":
        luminance = 1 + rng.normal(0, 0.11, u.shape)
    elif fabric == "quilted":
        rising, falling = _fraction((u + v) / 0.17 + phase), _fraction((u - v) / 0.17)
        to_seam = np.minimum(np.minimum(rising, 1 - rising), np.minimum(falling, 1 - falling))
        luminance = np.where(to_seam < 0.06, 0.68, 0.9 + 0.5 * to_seam)
    elif fabric == "satin":
        luminance = (1 + 0.22 * np.sin(2 * math.pi * (0.6 * u + 0.8 * v) / 0.45 + phase * 6)
                     + 0.08 * np.sin(2 * math.pi * (u - 0.3 * v) / 0.2))
    elif fabric == "sequin":
        sparkle = rng.random(u.shape)
        luminance = np.where(sparkle < 0.07, 1.65, np.where(sparkle > 0.94, 0.65, 1.0))
    else:
        luminance = np.ones_like(u)
    return luminance.astype(np.float32), opacity, holes
