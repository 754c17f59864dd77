"""The mannequin wearing the item, the plain companion garment worn with it, and occluders."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fashion_core.data.synthfashion.catalogue import ItemSpec, weighted_choice
from fashion_core.data.synthfashion.colours import hsv_colour, palette_colour
from fashion_core.data.synthfashion.primitives import Pose, ellipse, point


# ----------------------------------------------------------------------------- figure
@dataclass
class Figure:
    skin: tuple
    hair: tuple
    shoe: tuple
    companion: ItemSpec | None
    inner: tuple
    long_hair: bool


def companion_spec(rng: np.random.Generator, s: ItemSpec) -> ItemSpec | None:
    """The plain garment worn with the item (trousers or a skirt under a top, a tee over a bottom)."""
    col = palette_colour(rng, weighted_choice(rng, {"monochrome": 5, "denim": 3, "dark": 2, "earth tone": 1}))
    if s.ctype == 1:
        if rng.random() < 0.7:
            c = ItemSpec(name="", category="Jeans", ctype=2, fashionai=None, kind="trousers", leg_len="full",
                         fit=weighted_choice(rng, {"straight": 2, "skinny": 2, "wide": 1}), base=col)
        else:
            c = ItemSpec(name="", category="Skirt", ctype=2, fashionai=None, kind="skirt",
                         skirt_len=weighted_choice(rng, {"mini": 1, "knee": 2, "midi": 1}), skirt_shape="a-line", base=col)
        return c
    if s.ctype == 2:
        return ItemSpec(name="", category="Tee", ctype=1, fashionai=None, kind="upper",
                        sleeve=weighted_choice(rng, {"short": 3, "none": 1, "long": 1}),
                        sleeve_shape="straight", neckline="crew", top_len="regular", base=col)
    return None


def figure_polys(fig: Figure, pose: Pose, s: ItemSpec) -> list:
    """Skin, hair and shoes in drawing order: list of (polygon, rgb)."""
    bw = pose.body_w
    out = []
    if fig.long_hair:
        out.append((np.array([[-0.17, -0.40], [0.17, -0.40], [0.24, 0.30], [-0.24, 0.30]]), fig.hair))
    for side, sgn in ((0, 1.0), (1, -1.0)):
        ga = pose.leg[side]
        d, n = point(sgn * math.sin(ga), math.cos(ga)), point(sgn * math.cos(ga), -math.sin(ga))
        p = point(sgn * 0.19 * bw, 1.10)
        a = p + d * 1.42
        out.append((np.array([p + n * 0.11, a + n * 0.05, a - n * 0.05, p - n * 0.12]), fig.skin))
        out.append((ellipse(a + point(sgn * 0.03, 0.04), 0.09, 0.05), fig.shoe))
    for side, sgn in ((0, 1.0), (1, -1.0)):
        al = pose.arm[side]
        d, n = point(sgn * math.sin(al), math.cos(al)), point(sgn * math.cos(al), -math.sin(al))
        j = point(sgn * 0.40 * bw, 0.10)
        w = j + d * 1.10
        out.append((np.array([j + n * 0.08 - d * 0.05, w + n * 0.045, w - n * 0.045, j - n * 0.075]), fig.skin))
        out.append((ellipse(w + d * 0.06, 0.055, 0.07, angle=-al * sgn), fig.skin))
    torso = np.array([[0.42 * bw, 0.06], [0.36 * bw, 0.40], [0.31 * bw, 0.78], [0.40 * bw, 1.08], [0.0, 1.25],
                      [-0.40 * bw, 1.08], [-0.31 * bw, 0.78], [-0.36 * bw, 0.40], [-0.42 * bw, 0.06], [0.0, -0.02]])
    out.append((torso, fig.skin))
    out.append((np.array([[-0.085, -0.2], [0.085, -0.2], [0.095, 0.06], [-0.095, 0.06]]), fig.skin))
    out.append((ellipse((0.0, -0.34), 0.155, 0.165), fig.hair))
    out.append((ellipse((0.0, -0.29), 0.13, 0.16), fig.skin))
    return out


# ----------------------------------------------------------------------------- occluders
def occluder_polys(rng: np.random.Generator, kind: str, target: np.ndarray, fig: Figure) -> list:
    """Polygons (world units) of one occluder that covers `target` with a safe margin."""
    u = rng.uniform
    if kind == "hand":
        c = target + point(u(-0.025, 0.025), u(-0.025, 0.025))
        psi = u(0, 2 * math.pi)
        d = point(math.cos(psi), math.sin(psi))
        n = point(-d[1], d[0])
        skin = tuple(int(x) for x in np.clip(np.array(fig.skin) + rng.integers(-25, 26, 3), 0, 255))
        polys = [(np.array([c + n * 0.06, c + n * 0.065 + d * 0.75, c - n * 0.065 + d * 0.75, c - n * 0.06]), skin),
                 (ellipse(c, 0.085, 0.075, angle=psi), skin)]
        for t in (-0.045, -0.015, 0.015, 0.045):
            polys.append((ellipse(c - d * 0.11 + n * t, 0.045, 0.016, angle=psi), skin))
        return polys
    if kind == "bag":
        w, h = u(0.30, 0.40), u(0.24, 0.32)
        c = target + point(u(-0.25, 0.25) * w, u(-0.25, 0.25) * h)
        col = hsv_colour(u(0, 1), u(0.2, 0.8), u(0.15, 0.7))
        body = np.array([c + point(-w / 2, -h / 2), c + point(w / 2, -h / 2), c + point(w / 2 + 0.02, h / 2),
                         c + point(-w / 2 - 0.02, h / 2)])
        top = c + point(u(-0.1, 0.1), -h / 2 - u(0.5, 0.8))
        strap = []
        for x in (-w / 2 + 0.04, w / 2 - 0.04):
            a = c + point(x, -h / 2)
            strap.append((np.array([a + point(-0.018, 0), top + point(-0.018, 0), top + point(0.018, 0), a + point(0.018, 0)]), col))
        dark = tuple(int(x * 0.6) for x in col)
        return strap + [(body, col), (np.array([c + point(-w / 2, -h / 2), c + point(w / 2, -h / 2), c + point(w / 2, -h / 2 + 0.07),
                                                 c + point(-w / 2, -h / 2 + 0.07)]), dark)]
    # hair: a long strand falling over the target
    top = target + point(u(-0.02, 0.02), -u(0.30, 0.45))
    bot = target + point(u(-0.02, 0.02), u(0.12, 0.25))
    k = 7
    cs = [top + (bot - top) * t + point(0.015 * math.sin(t * 7 + u(0, 6)), 0) for t in np.linspace(0, 1, k)]
    wid = [0.06 + 0.03 * math.sin(math.pi * t) for t in np.linspace(0, 1, k)]
    poly = [c + point(wi, 0) for c, wi in zip(cs, wid)] + [c - point(wi, 0) for c, wi in zip(cs[::-1], wid[::-1])]
    return [(np.array(poly), fig.hair)]


