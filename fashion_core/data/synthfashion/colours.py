"""Colours of SynthFashion: HSV conversion and the palettes garments, figures and backgrounds draw from."""
from __future__ import annotations

import colorsys

import numpy as np


def hsv_colour(h: float, s: float, v: float) -> tuple:
    """8-bit RGB of a hue (wrapped to [0, 1)), saturation and value (clipped to [0, 1])."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))


def palette_colour(rng: np.random.Generator, palette: str) -> tuple:
    """A random colour of one of the catalogue's palettes ("plain" for anything unnamed)."""
    uniform = rng.uniform
    if palette == "pastel":
        return hsv_colour(uniform(0, 1), uniform(0.18, 0.36), uniform(0.88, 1.0))
    if palette == "neon":
        return hsv_colour(float(rng.choice([0.92, 0.33, 0.16, 0.08, 0.5, 0.8])) + uniform(-0.02, 0.02),
                          uniform(0.85, 1.0), 1.0)
    if palette == "monochrome":
        return hsv_colour(0, 0, float(rng.choice([uniform(0.06, 0.2), uniform(0.4, 0.6), uniform(0.9, 0.98)])))
    if palette == "earth tone":
        if rng.random() < 0.7:
            return hsv_colour(uniform(0.05, 0.12), uniform(0.35, 0.7), uniform(0.3, 0.72))
        return hsv_colour(uniform(0.17, 0.23), uniform(0.35, 0.6), uniform(0.3, 0.55))
    if palette == "dark":
        return hsv_colour(uniform(0, 1), uniform(0.3, 0.8), uniform(0.12, 0.3))
    if palette == "denim":
        return hsv_colour(uniform(0.58, 0.63), uniform(0.45, 0.75), uniform(0.3, 0.68))
    return hsv_colour(uniform(0, 1), uniform(0.35, 0.85), uniform(0.42, 0.92))


def accent_colour(rng: np.random.Generator, palette: str, base: tuple) -> tuple:
    """A pattern colour that stands out from `base`: from the same palette, or near-white / near-black."""
    if palette in ("pastel", "monochrome", "earth tone"):
        for _ in range(8):
            candidate = palette_colour(rng, palette)
            if sum(abs(a - b) for a, b in zip(candidate, base)) > 120:
                return candidate
        return (250, 250, 250) if sum(base) < 380 else (30, 30, 30)
    if palette in ("neon", "dark", "denim") or rng.random() < 0.5:
        return (245, 245, 240) if sum(base) < 450 or rng.random() < 0.3 else (25, 25, 30)
    hue = rng.uniform(0, 1)
    return hsv_colour(hue, rng.uniform(0.4, 0.9), rng.uniform(0.3, 0.95))
