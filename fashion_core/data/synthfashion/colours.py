"""Colours of SynthFashion: HSV conversion and the palettes garments, figures and backgrounds draw from."""
from __future__ import annotations

import colorsys

import numpy as np


def hsv_colour(h: float, s: float, v: float) -> tuple:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))


def palette_colour(rng: np.random.Generator, palette: str) -> tuple:
    u = rng.uniform
    if palette == "pastel":
        return hsv_colour(u(0, 1), u(0.18, 0.36), u(0.88, 1.0))
    if palette == "neon":
        return hsv_colour(float(rng.choice([0.92, 0.33, 0.16, 0.08, 0.5, 0.8])) + u(-0.02, 0.02), u(0.85, 1.0), 1.0)
    if palette == "monochrome":
        return hsv_colour(0, 0, float(rng.choice([u(0.06, 0.2), u(0.4, 0.6), u(0.9, 0.98)])))
    if palette == "earth tone":
        if rng.random() < 0.7:
            return hsv_colour(u(0.05, 0.12), u(0.35, 0.7), u(0.3, 0.72))
        return hsv_colour(u(0.17, 0.23), u(0.35, 0.6), u(0.3, 0.55))
    if palette == "dark":
        return hsv_colour(u(0, 1), u(0.3, 0.8), u(0.12, 0.3))
    if palette == "denim":
        return hsv_colour(u(0.58, 0.63), u(0.45, 0.75), u(0.3, 0.68))
    return hsv_colour(u(0, 1), u(0.35, 0.85), u(0.42, 0.92))


def accent_colour(rng: np.random.Generator, palette: str, base: tuple) -> tuple:
    if palette in ("pastel", "monochrome", "earth tone"):
        for _ in range(8):
            c = palette_colour(rng, palette)
            if sum(abs(a - b) for a, b in zip(c, base)) > 120:
                return c
        return (250, 250, 250) if sum(base) < 380 else (30, 30, 30)
    if palette in ("neon", "dark", "denim") or rng.random() < 0.5:
        return (245, 245, 240) if sum(base) < 450 or rng.random() < 0.3 else (25, 25, 30)
    h = rng.uniform(0, 1)
    return hsv_colour(h, rng.uniform(0.4, 0.9), rng.uniform(0.3, 0.95))
