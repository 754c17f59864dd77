"""The mannequin wearing the item, the plain companion garment worn with it, and the occluders over it."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fashion_core.data.synthfashion.catalogue import ItemSpec, weighted_choice
from fashion_core.data.synthfashion.colours import hsv_colour, palette_colour
from fashion_core.data.synthfashion.primitives import Pose, ellipse, point


@dataclass
class Figure:
    """The mannequin's colours, the companion garment and the colour of the top seen through an open front."""

    skin: tuple
    hair: tuple
    shoe: tuple
    companion: ItemSpec | None
    inner: tuple
    long_hair: bool


def sample_figure(rng: np.random.Generator, item: ItemSpec) -> Figure:
    uniform = rng.uniform
    skin = hsv_colour(uniform(0.03, 0.09), uniform(0.25, 0.6), uniform(0.35, 0.95))
    hair = hsv_colour(uniform(0.04, 0.12), uniform(0.3, 0.8),
                      float(rng.choice([uniform(0.05, 0.2), uniform(0.25, 0.5), uniform(0.6, 0.85)])))
    shoe = hsv_colour(uniform(0, 1), uniform(0, 0.6), uniform(0.05, 0.6))
    companion = companion_spec(rng, item)
    inner = palette_colour(rng, weighted_choice(rng, {"monochrome": 4, "pastel": 1, "plain": 1}))
    return Figure(skin=skin, hair=hair, shoe=shoe, companion=companion, inner=inner,
                  long_hair=bool(rng.random() < 0.4))


def companion_spec(rng: np.random.Generator, item: ItemSpec) -> ItemSpec | None:
    """The plain garment worn with the item (trousers or a skirt under a top, a tee over a bottom)."""
    colour = palette_colour(rng, weighted_choice(rng, {"monochrome": 5, "denim": 3, "dark": 2, "earth tone": 1}))
    if item.ctype == 1:
        if rng.random() < 0.7:
            return ItemSpec(name="", category="Jeans", ctype=2, fashionai=None, kind="trousers", leg_len="full",
                            fit=weighted_choice(rng, {"straight": 2, "skinny": 2, "wide": 1}), base=colour)
        return ItemSpec(name="", category="Skirt", ctype=2, fashionai=None, kind="skirt",
                        skirt_len=weighted_choice(rng, {"mini": 1, "knee": 2, "midi": 1}), skirt_shape="a-line",
                        base=colour)
    if item.ctype == 2:
        return ItemSpec(name="", category="Tee", ctype=1, fashionai=None, kind="upper",
                        sleeve=weighted_choice(rng, {"short": 3, "none": 1, "long": 1}),
                        sleeve_shape="straight", neckline="crew", top_len="regular", base=colour)
    return None


def figure_polygons(figure: Figure, pose: Pose) -> list:
    """Skin, hair and shoes in drawing order: list of (polygon, rgb)."""
    body_width = pose.body_w
    polygons = []
    if figure.long_hair:
        polygons.append((np.array([[-0.17, -0.40], [0.17, -0.40], [0.24, 0.30], [-0.24, 0.30]]), figure.hair))
    for side, sign in ((0, 1.0), (1, -1.0)):
        angle = pose.leg[side]
        direction = point(sign * math.sin(angle), math.cos(angle))
        normal = point(sign * math.cos(angle), -math.sin(angle))
        hip = point(sign * 0.19 * body_width, 1.10)
        ankle = hip + direction * 1.42
        polygons.append((np.array([hip + normal * 0.11, ankle + normal * 0.05, ankle - normal * 0.05,
                                   hip - normal * 0.12]), figure.skin))
        polygons.append((ellipse(ankle + point(sign * 0.03, 0.04), 0.09, 0.05), figure.shoe))
    for side, sign in ((0, 1.0), (1, -1.0)):
        angle = pose.arm[side]
        direction = point(sign * math.sin(angle), math.cos(angle))
        normal = point(sign * math.cos(angle), -math.sin(angle))
        shoulder = point(sign * 0.40 * body_width, 0.10)
        wrist = shoulder + direction * 1.10
        polygons.append((np.array([shoulder + normal * 0.08 - direction * 0.05, wrist + normal * 0.045,
                                   wrist - normal * 0.045, shoulder - normal * 0.075]), figure.skin))
        polygons.append((ellipse(wrist + direction * 0.06, 0.055, 0.07, angle=-angle * sign), figure.skin))
    torso = np.array([[0.42 * body_width, 0.06], [0.36 * body_width, 0.40], [0.31 * body_width, 0.78],
                      [0.40 * body_width, 1.08], [0.0, 1.25], [-0.40 * body_width, 1.08], [-0.31 * body_width, 0.78],
                      [-0.36 * body_width, 0.40], [-0.42 * body_width, 0.06], [0.0, -0.02]])
    polygons.append((torso, figure.skin))
    polygons.append((np.array([[-0.085, -0.2], [0.085, -0.2], [0.095, 0.06], [-0.095, 0.06]]), figure.skin))
    polygons.append((ellipse((0.0, -0.34), 0.155, 0.165), figure.hair))
    polygons.append((ellipse((0.0, -0.29), 0.13, 0.16), figure.skin))
    return polygons


# ----------------------------------------------------------------------------- occluders
def occluder_polygons(rng: np.random.Generator, kind: str, target: np.ndarray, figure: Figure) -> list:
    """(polygon, rgb) in world units of one occluder ("hand", "bag" or "hair") covering `target` with a margin."""
    if kind == "hand":
        return _hand(rng, target, figure)
    if kind == "bag":
        return _bag(rng, target)
    return _hair_strand(rng, target, figure)


def _hand(rng: np.random.Generator, target: np.ndarray, figure: Figure) -> list:
    """An arm reaching in with its palm over the target, fingers beyond it."""
    uniform = rng.uniform
    palm = target + point(uniform(-0.025, 0.025), uniform(-0.025, 0.025))
    angle = uniform(0, 2 * math.pi)
    direction = point(math.cos(angle), math.sin(angle))
    normal = point(-direction[1], direction[0])
    skin = tuple(int(channel) for channel in np.clip(np.array(figure.skin) + rng.integers(-25, 26, 3), 0, 255))
    polygons = [(np.array([palm + normal * 0.06, palm + normal * 0.065 + direction * 0.75,
                           palm - normal * 0.065 + direction * 0.75, palm - normal * 0.06]), skin),
                (ellipse(palm, 0.085, 0.075, angle=angle), skin)]
    for finger in (-0.045, -0.015, 0.015, 0.045):
        polygons.append((ellipse(palm - direction * 0.11 + normal * finger, 0.045, 0.016, angle=angle), skin))
    return polygons


def _bag(rng: np.random.Generator, target: np.ndarray) -> list:
    """A handbag over the target, hanging from two straps, with a darker flap."""
    uniform = rng.uniform
    width, height = uniform(0.30, 0.40), uniform(0.24, 0.32)
    centre = target + point(uniform(-0.25, 0.25) * width, uniform(-0.25, 0.25) * height)
    colour = hsv_colour(uniform(0, 1), uniform(0.2, 0.8), uniform(0.15, 0.7))
    body = np.array([centre + point(-width / 2, -height / 2), centre + point(width / 2, -height / 2),
                     centre + point(width / 2 + 0.02, height / 2), centre + point(-width / 2 - 0.02, height / 2)])
    strap_top = centre + point(uniform(-0.1, 0.1), -height / 2 - uniform(0.5, 0.8))
    straps = []
    for x in (-width / 2 + 0.04, width / 2 - 0.04):
        foot = centre + point(x, -height / 2)
        straps.append((np.array([foot + point(-0.018, 0), strap_top + point(-0.018, 0), strap_top + point(0.018, 0),
                                 foot + point(0.018, 0)]), colour))
    dark = tuple(int(channel * 0.6) for channel in colour)
    flap = np.array([centre + point(-width / 2, -height / 2), centre + point(width / 2, -height / 2),
                     centre + point(width / 2, -height / 2 + 0.07), centre + point(-width / 2, -height / 2 + 0.07)])
    return straps + [(body, colour), (flap, dark)]


def _hair_strand(rng: np.random.Generator, target: np.ndarray, figure: Figure) -> list:
    """A long, slightly wavy strand of hair falling over the target."""
    uniform = rng.uniform
    top = target + point(uniform(-0.02, 0.02), -uniform(0.30, 0.45))
    bottom = target + point(uniform(-0.02, 0.02), uniform(0.12, 0.25))
    samples = 7
    centres = [top + (bottom - top) * t + point(0.015 * math.sin(t * 7 + uniform(0, 6)), 0)
               for t in np.linspace(0, 1, samples)]
    half_widths = [0.06 + 0.03 * math.sin(math.pi * t) for t in np.linspace(0, 1, samples)]
    outline = ([centre + point(half, 0) for centre, half in zip(centres, half_widths)]
               + [centre - point(half, 0) for centre, half in zip(centres[::-1], half_widths[::-1])])
    return [(np.array(outline), figure.hair)]
