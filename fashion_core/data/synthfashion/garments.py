"""Garment catalogue, parametric garment geometry and the rasteriser behind SynthFashion.

World coordinates are "body units": y points down, the origin is the centre of the neck
base, the neck-to-hip distance is about 1 and the shoulders sit at x = +-0.40.

Left/right convention: "left" is always the WEARER's left. Every garment is photographed
from the front, so before the in-plane rotation the wearer's left side has the larger x and
appears on the IMAGE's right. L collar, L sleeve, neckline_left, cuff_left_in, ... all
refer to that side, in DeepFashion-C, FLD and FashionAI alike.

One garment model yields all landmarks from the same geometry:
  collar    = neckline_left/right (where the neckline meets the shoulder seam)
  sleeve    = midpoint of cuff_in/cuff_out; for sleeveless garments the midpoint of the armhole
  waistline = the garment side at waist height (full body) or waistband_left/right (lower body)
  hem       = top_hem_left/right (upper body), hemline_left/right (skirt, dress, kimono),
              the midpoint of bottom_in/bottom_out (trousers, shorts, jumpsuits, rompers)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

# The writer uses the reader's keypoint order, so the CSV it writes and the loader cannot drift apart.

DEG = math.pi / 180.0

# ----------------------------------------------------------------------------- catalogue
# name, clothes type (1 upper, 2 lower, 3 full), FashionAI category (None: not exported),
# geometry kind, relative frequency.  Names come from the real DeepFashion-C vocabulary.
CATEGORIES: list[tuple[str, int, str | None, str, float]] = [
    ("Blouse", 1, "blouse", "upper", 9.0),
    ("Button-Down", 1, "blouse", "upper", 4.0),
    ("Cardigan", 1, "outwear", "upper", 5.0),
    ("Hoodie", 1, "outwear", "upper", 5.0),
    ("Jacket", 1, "outwear", "upper", 5.0),
    ("Sweater", 1, "blouse", "upper", 6.0),
    ("Tank", 1, "blouse", "upper", 7.0),
    ("Tee", 1, "blouse", "upper", 12.0),
    ("Culottes", 2, "trousers", "trousers", 2.5),
    ("Jeans", 2, "trousers", "trousers", 6.0),
    ("Joggers", 2, "trousers", "trousers", 4.0),
    ("Leggings", 2, "trousers", "trousers", 3.0),
    ("Shorts", 2, "trousers", "trousers", 7.0),
    ("Skirt", 2, "skirt", "skirt", 8.0),
    ("Dress", 3, "dress", "dress", 13.0),
    ("Jumpsuit", 3, None, "jumpsuit", 3.0),
    ("Kimono", 3, "outwear", "kimono", 2.5),
    ("Romper", 3, None, "jumpsuit", 3.5),
]
CATEGORY_NAMES = [c[0] for c in CATEGORIES]
CATEGORY_INFO = {c[0]: c for c in CATEGORIES}

# Attribute types: 1 texture (fill pattern), 2 fabric (grain / finish), 3 shape (silhouette,
# lengths, fit), 4 part (sleeves, neckline, closures, pockets, waist details), 5 style
# (palette and print motifs).  Written alphabetically, as the real list_attr_cloth.txt is.
ATTRIBUTE_TYPES: dict[str, int] = {
    # texture
    "solid": 1, "striped": 1, "pinstripe": 1, "polka dot": 1, "plaid": 1, "gingham": 1,
    "chevron": 1, "floral": 1, "leopard": 1, "camo": 1,
    # fabric
    "cotton": 2, "knit": 2, "denim": 2, "faux leather": 2, "lace": 2, "chiffon": 2,
    "heathered": 2, "quilted": 2, "satin": 2, "sequin": 2, "distressed": 2,
    # shape
    "crop": 3, "longline": 3, "mini": 3, "knee-length": 3, "midi": 3, "maxi": 3, "capri": 3,
    "skinny": 3, "straight-leg": 3, "wide-leg": 3, "flared": 3, "a-line": 3, "pencil": 3,
    "pleated": 3, "boxy": 3, "fitted": 3,
    # part
    "sleeveless": 4, "short sleeve": 4, "elbow sleeve": 4, "long sleeve": 4, "bell-sleeve": 4,
    "crew neck": 4, "v-neck": 4, "scoop": 4, "collar": 4, "off-the-shoulder": 4, "hooded": 4,
    "button-front": 4, "zip-up": 4, "open-front": 4, "pocket": 4, "belted": 4, "drawstring": 4,
    "cuffed": 4, "ruffle trim": 4, "bow": 4,
    # style
    "pastel": 5, "neon": 5, "monochrome": 5, "earth tone": 5, "dark": 5, "colorblock": 5,
    "star print": 5, "heart print": 5, "graphic": 5, "sporty": 5,
}
ATTRIBUTE_NAMES = sorted(ATTRIBUTE_TYPES)
_UPPER_KP = ["neckline_left", "neckline_right", "shoulder_left", "shoulder_right", "armpit_left",
             "armpit_right", "cuff_left_in", "cuff_left_out", "cuff_right_in", "cuff_right_out"]
# Keypoints annotated per FashionAI category (the others are written -1_-1_-1).
FASHIONAI_SETS: dict[str, frozenset[str]] = {
    "blouse": frozenset(_UPPER_KP + ["center_front", "top_hem_left", "top_hem_right"]),
    "outwear": frozenset(_UPPER_KP + ["waistline_left", "waistline_right", "top_hem_left", "top_hem_right"]),
    "dress": frozenset(_UPPER_KP + ["center_front", "waistline_left", "waistline_right",
                                    "hemline_left", "hemline_right"]),
    "skirt": frozenset(["waistband_left", "waistband_right", "hemline_left", "hemline_right"]),
    "trousers": frozenset(["waistband_left", "waistband_right", "crotch", "bottom_left_in",
                           "bottom_left_out", "bottom_right_in", "bottom_right_out"]),
}
# The FashionAI normaliser points: always kept inside the frame for exported categories.
FASHIONAI_ANCHORS = {"blouse": ("armpit_left", "armpit_right"), "outwear": ("armpit_left", "armpit_right"),
                     "dress": ("armpit_left", "armpit_right"), "skirt": ("waistband_left", "waistband_right"),
                     "trousers": ("waistband_left", "waistband_right")}
DF_SLOTS = ["L collar", "R collar", "L sleeve", "R sleeve", "L waistline", "R waistline", "L hem", "R hem"]
# 8-slot indices written per clothes type (DeepFashion order: upper 6, lower 4, full 8).
DF_SLOTS_BY_TYPE = {1: (0, 1, 2, 3, 6, 7), 2: (4, 5, 6, 7), 3: (0, 1, 2, 3, 4, 5, 6, 7)}


# ----------------------------------------------------------------------------- items
@dataclass(frozen=True)
class ItemSpec:
    """One garment product: category, design choices, colours.  Fixed for all its photos."""

    name: str
    category: str
    ctype: int
    fashionai: str | None
    kind: str
    sleeve: str = "none"          # none / short / elbow / long
    sleeve_shape: str = "straight"  # straight / bell / puff / strap
    neckline: str = "crew"        # crew / v / scoop / collar / off / hood
    open_front: bool = False
    closure: str = "none"         # none / buttons / zip
    top_len: str = "regular"      # crop / regular / longline
    skirt_len: str = "knee"       # mini / knee / midi / maxi
    leg_len: str = "full"         # shorts / culotte / cropped / full
    fit: str = "straight"         # trousers: skinny / straight / wide / flared / tapered
    skirt_shape: str = "a-line"   # a-line / pencil / pleated / straight
    top_fit: str = "regular"      # fitted / regular / boxy
    pockets: str = "none"         # none / patch / kangaroo / jeans / cargo / slash
    belt: bool = False
    drawstring: bool = False
    cuffs: bool = False
    hem_band: bool = False
    ruffle: bool = False
    bow: bool = False
    waist: str = "mid"            # high / mid / low
    texture: str = "solid"
    fabric: str = "cotton"
    distressed: bool = False
    palette: str = "plain"        # plain / pastel / neon / monochrome / earth tone / dark / denim
    motif: str = "none"           # none / star / heart / graphic
    colorblock: bool = False
    sporty: bool = False
    base: tuple = (128, 128, 128)
    accent: tuple = (255, 255, 255)
    trim: tuple = (40, 40, 40)
    tex_period: float = 0.12
    tex_angle: float = 0.0
    tex_phase: tuple = (0.0, 0.0)
    tex_strength: float = 1.0
    fab_phase: float = 0.0
    attrs: tuple = ()


def _pick(rng: np.random.Generator, table: dict) -> str:
    keys = list(table)
    r = rng.random() * sum(table.values())
    acc = 0.0
    for k in keys:
        acc += table[k]
        if r < acc:
            return k
    return keys[-1]


def _hsv(h: float, s: float, v: float) -> tuple:
    import colorsys
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))


def palette_color(rng: np.random.Generator, palette: str) -> tuple:
    u = rng.uniform
    if palette == "pastel":
        return _hsv(u(0, 1), u(0.18, 0.36), u(0.88, 1.0))
    if palette == "neon":
        return _hsv(float(rng.choice([0.92, 0.33, 0.16, 0.08, 0.5, 0.8])) + u(-0.02, 0.02), u(0.85, 1.0), 1.0)
    if palette == "monochrome":
        return _hsv(0, 0, float(rng.choice([u(0.06, 0.2), u(0.4, 0.6), u(0.9, 0.98)])))
    if palette == "earth tone":
        if rng.random() < 0.7:
            return _hsv(u(0.05, 0.12), u(0.35, 0.7), u(0.3, 0.72))
        return _hsv(u(0.17, 0.23), u(0.35, 0.6), u(0.3, 0.55))
    if palette == "dark":
        return _hsv(u(0, 1), u(0.3, 0.8), u(0.12, 0.3))
    if palette == "denim":
        return _hsv(u(0.58, 0.63), u(0.45, 0.75), u(0.3, 0.68))
    return _hsv(u(0, 1), u(0.35, 0.85), u(0.42, 0.92))


def _accent(rng: np.random.Generator, palette: str, base: tuple) -> tuple:
    if palette in ("pastel", "monochrome", "earth tone"):
        for _ in range(8):
            c = palette_color(rng, palette)
            if sum(abs(a - b) for a, b in zip(c, base)) > 120:
                return c
        return (250, 250, 250) if sum(base) < 380 else (30, 30, 30)
    if palette in ("neon", "dark", "denim") or rng.random() < 0.5:
        return (245, 245, 240) if sum(base) < 450 or rng.random() < 0.3 else (25, 25, 30)
    h = rng.uniform(0, 1)
    return _hsv(h, rng.uniform(0.4, 0.9), rng.uniform(0.3, 0.95))


# Category design tables: each entry is a weighted choice; missing keys keep the default.
_TEXTURES = {"solid": 34, "striped": 14, "floral": 12, "polka dot": 8, "plaid": 7, "pinstripe": 5,
             "gingham": 5, "chevron": 5, "leopard": 5, "camo": 4}
_DESIGN: dict[str, dict[str, dict]] = {
    "Tee": dict(sleeve={"short": 70, "long": 15, "elbow": 15}, neckline={"crew": 65, "v": 25, "scoop": 10},
                top_len={"regular": 85, "crop": 10, "longline": 5}, top_fit={"regular": 6, "fitted": 2.5, "boxy": 1.5},
                fabric={"cotton": 50, "knit": 15, "heathered": 27, "sequin": 3, "satin": 5},
                pockets={"none": 85, "patch": 15}, motif={"none": 74, "graphic": 16, "star": 5, "heart": 5},
                sporty={True: 6, False: 94}, colorblock={True: 8, False: 92}),
    "Blouse": dict(sleeve={"short": 30, "elbow": 30, "long": 25, "none": 15},
                   sleeve_shape={"straight": 40, "bell": 35, "puff": 25},
                   neckline={"v": 30, "collar": 25, "scoop": 15, "off": 15, "crew": 15},
                   top_len={"regular": 75, "crop": 20, "longline": 5}, ruffle={True: 30, False: 70},
                   bow={True: 15, False: 85}, closure={"none": 80, "buttons": 20},
                   fabric={"chiffon": 35, "satin": 20, "lace": 15, "cotton": 30},
                   texture={**_TEXTURES, "floral": 20, "polka dot": 12}),
    "Tank": dict(sleeve={"none": 1}, sleeve_shape={"strap": 1}, neckline={"scoop": 50, "crew": 30, "v": 20},
                 top_len={"regular": 60, "crop": 30, "longline": 10}, top_fit={"fitted": 5, "regular": 4, "boxy": 1},
                 fabric={"cotton": 40, "knit": 25, "heathered": 25, "satin": 5, "sequin": 5},
                 motif={"none": 82, "graphic": 10, "star": 4, "heart": 4}, sporty={True: 8, False: 92}),
    "Sweater": dict(sleeve={"long": 85, "elbow": 15}, cuffs={True: 80, False: 20}, hem_band={True: 85, False: 15},
                    neckline={"crew": 60, "v": 35, "collar": 5}, top_fit={"boxy": 4, "regular": 5, "fitted": 1},
                    top_len={"regular": 80, "crop": 10, "longline": 10},
                    fabric={"knit": 60, "heathered": 22, "cotton": 10, "sequin": 3, "quilted": 5},
                    colorblock={True: 10, False: 90}),
    "Button-Down": dict(sleeve={"long": 70, "short": 22, "elbow": 8}, neckline={"collar": 1}, closure={"buttons": 1},
                        cuffs={True: 55, False: 45}, pockets={"patch": 40, "none": 60},
                        fabric={"cotton": 60, "denim": 15, "chiffon": 10, "satin": 10, "knit": 5},
                        texture={**_TEXTURES, "plaid": 22, "gingham": 14, "striped": 18, "pinstripe": 12}),
    "Hoodie": dict(sleeve={"long": 92, "elbow": 8}, neckline={"hood": 1}, cuffs={True: 90, False: 10},
                   hem_band={True: 90, False: 10}, open_front={True: 35, False: 65}, drawstring={True: 70, False: 30},
                   pockets={"kangaroo": 75, "none": 25}, top_fit={"regular": 5, "boxy": 4, "fitted": 1},
                   fabric={"knit": 30, "heathered": 35, "cotton": 25, "quilted": 10},
                   motif={"none": 80, "graphic": 14, "star": 3, "heart": 3}, sporty={True: 15, False: 85},
                   colorblock={True: 12, False: 88}),
    "Jacket": dict(sleeve={"long": 90, "elbow": 10}, open_front={True: 55, False: 45},
                   closure={"zip": 50, "buttons": 50}, neckline={"collar": 60, "crew": 25, "hood": 15},
                   cuffs={True: 40, False: 60}, pockets={"patch": 70, "none": 30}, belt={True: 10, False: 90},
                   top_len={"regular": 65, "crop": 15, "longline": 20},
                   fabric={"denim": 30, "faux leather": 28, "quilted": 20, "cotton": 15, "satin": 7},
                   sporty={True: 8, False: 92}),
    "Cardigan": dict(sleeve={"long": 80, "elbow": 15, "short": 5}, open_front={True: 80, False: 20},
                     closure={"buttons": 70, "none": 30}, neckline={"v": 75, "crew": 25},
                     cuffs={True: 50, False: 50}, pockets={"patch": 30, "none": 70}, belt={True: 10, False: 90},
                     top_len={"regular": 50, "longline": 45, "crop": 5},
                     fabric={"knit": 70, "heathered": 15, "cotton": 10, "lace": 5}),
    "Shorts": dict(leg_len={"shorts": 1}, fit={"straight": 5, "wide": 3, "skinny": 2},
                   fabric={"denim": 40, "cotton": 40, "knit": 10, "faux leather": 5, "lace": 5},
                   pockets={"jeans": 40, "slash": 30, "cargo": 10, "none": 20}, drawstring={True: 25, False: 75},
                   belt={True: 10, False: 90}, cuffs={True: 25, False: 75}, waist={"mid": 6, "high": 3, "low": 1}),
    "Skirt": dict(skirt_len={"mini": 35, "knee": 30, "midi": 20, "maxi": 15},
                  skirt_shape={"a-line": 45, "pencil": 30, "pleated": 25}, belt={True: 15, False: 85},
                  pockets={"slash": 12, "none": 88}, ruffle={True: 10, False: 90}, closure={"none": 90, "buttons": 10},
                  fabric={"cotton": 30, "denim": 15, "faux leather": 10, "lace": 10, "chiffon": 15, "satin": 10, "knit": 10},
                  waist={"mid": 6, "high": 4}),
    "Jeans": dict(leg_len={"full": 80, "cropped": 20}, fit={"skinny": 40, "straight": 35, "flared": 15, "wide": 10},
                  fabric={"denim": 93, "cotton": 7}, pockets={"jeans": 1}, belt={True: 15, False: 85},
                  cuffs={True: 10, False: 90}, waist={"mid": 6, "high": 2, "low": 2}),
    "Joggers": dict(leg_len={"full": 90, "cropped": 10}, fit={"tapered": 1}, cuffs={True: 90, False: 10},
                    drawstring={True: 85, False: 15}, pockets={"slash": 50, "cargo": 15, "none": 35},
                    fabric={"knit": 35, "heathered": 35, "cotton": 25, "satin": 5}, sporty={True: 25, False: 75}),
    "Culottes": dict(leg_len={"culotte": 1}, fit={"wide": 1}, belt={True: 30, False: 70},
                     pockets={"slash": 30, "none": 70}, waist={"high": 1},
                     fabric={"cotton": 40, "chiffon": 20, "satin": 15, "denim": 10, "knit": 15}),
    "Leggings": dict(leg_len={"full": 80, "cropped": 20}, fit={"skinny": 1},
                     fabric={"knit": 60, "faux leather": 15, "cotton": 20, "sequin": 5}, sporty={True: 20, False: 80}),
    "Dress": dict(sleeve={"none": 35, "short": 30, "elbow": 15, "long": 20},
                  sleeve_shape={"straight": 60, "bell": 20, "puff": 20},
                  neckline={"v": 30, "crew": 20, "scoop": 25, "off": 12, "collar": 13},
                  skirt_len={"mini": 30, "knee": 35, "midi": 20, "maxi": 15},
                  skirt_shape={"a-line": 45, "pencil": 30, "pleated": 20, "straight": 5}, belt={True: 25, False: 75},
                  closure={"none": 88, "buttons": 12}, ruffle={True: 15, False: 85}, bow={True: 10, False: 90},
                  fabric={"chiffon": 20, "lace": 15, "cotton": 30, "satin": 12, "knit": 13, "denim": 5, "sequin": 5},
                  texture={**_TEXTURES, "floral": 20}),
    "Jumpsuit": dict(sleeve={"none": 50, "short": 30, "long": 20}, neckline={"v": 40, "crew": 20, "scoop": 20, "collar": 10, "off": 10},
                     leg_len={"full": 70, "cropped": 30}, fit={"wide": 50, "straight": 35, "skinny": 15},
                     belt={True: 50, False: 50}, pockets={"slash": 30, "none": 70}, closure={"none": 70, "buttons": 20, "zip": 10},
                     fabric={"cotton": 40, "denim": 20, "chiffon": 15, "satin": 10, "knit": 15}),
    "Romper": dict(sleeve={"none": 50, "short": 35, "elbow": 10, "long": 5}, leg_len={"shorts": 1},
                   fit={"wide": 6, "straight": 4}, belt={True: 35, False: 65}, ruffle={True: 15, False: 85},
                   neckline={"v": 35, "scoop": 25, "off": 20, "crew": 10, "collar": 10},
                   fabric={"cotton": 40, "chiffon": 25, "lace": 10, "denim": 10, "knit": 15},
                   texture={**_TEXTURES, "floral": 20}),
    "Kimono": dict(sleeve={"elbow": 50, "long": 40, "short": 10}, sleeve_shape={"bell": 1}, neckline={"v": 1},
                   open_front={True: 1}, skirt_len={"knee": 40, "midi": 35, "mini": 15, "maxi": 10},
                   belt={True: 35, False: 65}, fabric={"chiffon": 45, "satin": 25, "cotton": 20, "lace": 10},
                   texture={**_TEXTURES, "floral": 40}),
}
_PALETTES = {"plain": 42, "dark": 14, "pastel": 13, "monochrome": 12, "earth tone": 11, "neon": 5}


def sample_item(rng: np.random.Generator) -> ItemSpec:
    """Draw one product (category, design, colours) from the item's own random stream."""
    cat = _pick(rng, {c[0]: c[4] for c in CATEGORIES})
    _, ctype, fai, kind, _ = CATEGORY_INFO[cat]
    table = _DESIGN[cat]
    d: dict = {}
    for key in ("sleeve", "sleeve_shape", "neckline", "open_front", "closure", "top_len", "skirt_len", "leg_len",
                "fit", "skirt_shape", "top_fit", "pockets", "belt", "drawstring", "cuffs", "hem_band", "ruffle",
                "bow", "waist", "fabric", "sporty", "colorblock", "motif"):
        if key in table:
            d[key] = _pick(rng, table[key])
    has_top = kind in ("upper", "dress", "jumpsuit", "kimono")
    if "motif" not in d and has_top:
        d["motif"] = _pick(rng, {"none": 90, "star": 3, "heart": 3, "graphic": 4})
    elif "motif" not in d:
        d["motif"] = _pick(rng, {"none": 94, "star": 3, "heart": 3})
    if "colorblock" not in d:
        d["colorblock"] = rng.random() < 0.05
    if "sporty" not in d:
        d["sporty"] = rng.random() < 0.03
    if "top_fit" not in d and kind == "upper":
        d["top_fit"] = _pick(rng, {"regular": 6, "fitted": 2, "boxy": 2})
    if d.get("sleeve") in (None, "none") and d.get("sleeve_shape") in ("bell", "puff"):
        d["sleeve_shape"] = "straight"
    if d.get("open_front") and d.get("closure") == "buttons" and cat == "Hoodie":
        d["closure"] = "zip"
    if cat == "Hoodie" and d.get("open_front"):
        d["closure"] = "zip"
        if d.get("pockets") == "kangaroo":
            d["pockets"] = "patch"
    if d.get("neckline") == "hood" and cat == "Jacket":
        d["drawstring"] = rng.random() < 0.5
    if kind in ("dress", "jumpsuit", "kimono") and d.get("neckline") == "off":
        d["sleeve"] = "short" if d.get("sleeve") == "none" else d["sleeve"]
    fabric = d.get("fabric", "cotton")
    if fabric in ("denim", "faux leather", "sequin", "quilted"):
        texture = _pick(rng, {"solid": 92, "striped": 4, "camo": 2, "leopard": 2})
    elif fabric == "lace":
        texture = _pick(rng, {"solid": 85, "floral": 15})
    else:
        texture = _pick(rng, table.get("texture", _TEXTURES))
    d["texture"] = texture
    d["distressed"] = fabric == "denim" and kind in ("trousers", "skirt") and rng.random() < 0.3
    if fabric == "denim":
        palette = _pick(rng, {"denim": 80, "dark": 12, "monochrome": 8})
    elif fabric == "faux leather":
        palette = _pick(rng, {"dark": 45, "monochrome": 30, "earth tone": 15, "plain": 10})
    else:
        palette = _pick(rng, _PALETTES)
    base = palette_color(rng, palette)
    accent = _accent(rng, palette, base)
    trim = tuple(int(c * 0.45) for c in base) if sum(base) > 150 else (200, 200, 195)
    if d.get("closure") == "buttons" or d.get("sporty") or d.get("belt"):
        if rng.random() < 0.5:
            trim = _hsv(rng.uniform(0, 1), rng.uniform(0.0, 0.8), rng.uniform(0.1, 0.95))
    angle = 0.0 if rng.random() < 0.7 else (math.pi / 2 if rng.random() < 0.6 else math.pi / 4)
    spec = ItemSpec(
        name="", category=cat, ctype=ctype, fashionai=fai, kind=kind, palette=palette,
        base=base, accent=accent, trim=trim, tex_period=float(rng.uniform(0.09, 0.16)), tex_angle=angle,
        tex_phase=(float(rng.uniform(0, 1)), float(rng.uniform(0, 1))),
        tex_strength=float(rng.uniform(0.75, 1.0)), fab_phase=float(rng.uniform(0, 1)), **d)
    return _with_attrs(spec)


def _with_attrs(spec: ItemSpec) -> ItemSpec:
    from dataclasses import replace
    return replace(spec, attrs=tuple(sorted(item_attributes(spec))))


def item_attributes(s: ItemSpec) -> set[str]:
    """The positive attribute names implied by an item's design."""
    a = {s.texture, s.fabric}
    if s.distressed:
        a.add("distressed")
    has_top = s.kind in ("upper", "dress", "jumpsuit", "kimono")
    if s.kind == "upper":
        a |= {"crop": {"crop"}, "longline": {"longline"}}.get(s.top_len, set())
        a |= {"boxy": {"boxy"}, "fitted": {"fitted"}}.get(s.top_fit, set())
    if s.kind in ("skirt", "dress", "kimono"):
        a.add({"mini": "mini", "knee": "knee-length", "midi": "midi", "maxi": "maxi"}[s.skirt_len])
    if s.kind in ("skirt", "dress"):
        a |= {"a-line": {"a-line"}, "pencil": {"pencil"}, "pleated": {"pleated"}}.get(s.skirt_shape, set())
    if s.kind in ("trousers", "jumpsuit"):
        if s.leg_len == "cropped":
            a.add("capri")
        if s.leg_len != "shorts":
            a |= {"skinny": {"skinny"}, "straight": {"straight-leg"}, "wide": {"wide-leg"},
                  "flared": {"flared"}}.get(s.fit, set())
    if has_top:
        a.add({"none": "sleeveless", "short": "short sleeve", "elbow": "elbow sleeve", "long": "long sleeve"}[s.sleeve])
        if s.sleeve_shape == "bell" and s.sleeve != "none":
            a.add("bell-sleeve")
        a.add({"crew": "crew neck", "v": "v-neck", "scoop": "scoop", "collar": "collar",
               "off": "off-the-shoulder", "hood": "hooded"}[s.neckline])
        if s.motif == "graphic":
            a.add("graphic")
    if s.closure == "buttons":
        a.add("button-front")
    if s.closure == "zip":
        a.add("zip-up")
    if s.open_front:
        a.add("open-front")
    for flag, name in ((s.pockets != "none", "pocket"), (s.belt, "belted"), (s.drawstring, "drawstring"),
                       (s.cuffs, "cuffed"), (s.ruffle, "ruffle trim"), (s.bow, "bow"), (s.colorblock, "colorblock"),
                       (s.sporty, "sporty"), (s.motif == "star", "star print"), (s.motif == "heart", "heart print")):
        if flag:
            a.add(name)
    if s.palette in ("pastel", "neon", "monochrome", "earth tone", "dark"):
        a.add(s.palette)
    return a


_NAME_WORDS = {
    "striped": "Striped", "pinstripe": "Pinstriped", "polka dot": "Polka_Dot", "plaid": "Plaid", "gingham": "Gingham",
    "chevron": "Chevron", "floral": "Floral", "leopard": "Leopard_Print", "camo": "Camo", "knit": "Knit",
    "denim": "Denim", "faux leather": "Faux_Leather", "lace": "Lace", "chiffon": "Chiffon", "heathered": "Heathered",
    "quilted": "Quilted", "satin": "Satin", "sequin": "Sequin", "distressed": "Distressed", "crop": "Cropped",
    "longline": "Longline", "mini": "Mini", "midi": "Midi", "maxi": "Maxi", "capri": "Capri", "skinny": "Skinny",
    "wide-leg": "Wide-Leg", "flared": "Flared", "a-line": "A-Line", "pencil": "Pencil", "pleated": "Pleated",
    "boxy": "Boxy", "v-neck": "V-Neck", "hooded": "Hooded", "off-the-shoulder": "Off-the-Shoulder",
    "collar": "Collared", "button-front": "Button-Front", "zip-up": "Zip-Up", "open-front": "Open-Front",
    "belted": "Belted", "drawstring": "Drawstring", "bell-sleeve": "Bell-Sleeve", "ruffle trim": "Ruffled",
    "bow": "Bow", "sleeveless": "Sleeveless", "long sleeve": "Long-Sleeve", "neon": "Neon", "pastel": "Pastel",
    "colorblock": "Colorblock", "star print": "Star_Print", "heart print": "Heart_Print", "graphic": "Graphic",
    "sporty": "Sporty", "monochrome": "Monochrome", "earth tone": "Earth-Tone", "pocket": "Pocket",
}
_FILLER_WORDS = ["Classic", "Soft", "Relaxed", "Everyday", "Essential", "Lightweight", "Tailored", "Vintage",
                 "Modern", "Breezy", "Cozy", "Simple", "Textured", "Structured", "Easy", "Layered"]


def name_candidates(spec: ItemSpec, rng: np.random.Generator) -> list[str]:
    """Item names in order of preference (the planner takes the first one not yet used)."""
    order = [n for t in (5, 1, 2, 3, 4) for n in spec.attrs if ATTRIBUTE_TYPES[n] == t and n in _NAME_WORDS]
    words = [_NAME_WORDS[n] for n in order]
    k = int(rng.integers(1, 4))
    chosen = sorted(rng.permutation(len(words))[:k].tolist()) if words else []
    first = [words[i] for i in chosen]
    rest = [w for i, w in enumerate(words) if i not in chosen]
    fillers = [_FILLER_WORDS[i] for i in rng.permutation(len(_FILLER_WORDS))]
    cands = ["_".join(first + [spec.category])]
    for w in rest:
        first = first + [w]
        cands.append("_".join(first + [spec.category]))
    for f in fillers:
        cands.append("_".join([f] + first + [spec.category]))
    return cands


# ----------------------------------------------------------------------------- geometry
@dataclass
class Pose:
    arm: tuple          # radians from vertical, outward positive: (left, right)
    leg: tuple          # radians from vertical, outward positive: (left, right)
    body_w: float       # width factor


def sample_pose(rng: np.random.Generator, pose_range: float) -> Pose:
    arm_base = rng.uniform(6, 15)
    arm = tuple((arm_base + rng.uniform(-4, 4) + pose_range * rng.uniform(-8, 44)) * DEG for _ in range(2))
    leg = tuple((2.0 + rng.uniform(0, 2) + pose_range * rng.uniform(-2, 14)) * DEG for _ in range(2))
    return Pose(arm=arm, leg=leg, body_w=float(rng.uniform(0.95, 1.05)))


@dataclass
class Geometry:
    pieces: list = field(default_factory=list)    # (role, (N,2) polygon); union = garment
    hole: np.ndarray | None = None                # open-front wedge (shows the inner top)
    lines: list = field(default_factory=list)     # ((N,2) polyline, colour key, width in units)
    dots: list = field(default_factory=list)      # ((2,), radius, colour key)
    fills: list = field(default_factory=list)     # ((N,2) polygon, colour key) drawn over the fabric
    points: dict = field(default_factory=dict)    # FashionAI-named points that exist
    df: list = field(default_factory=lambda: [None] * 8)

    def all_points(self) -> np.ndarray:
        return np.concatenate([p for _, p in self.pieces], axis=0)


def _a(*xy) -> np.ndarray:
    return np.array(xy, dtype=float)


_LIN: dict = {}
_CIRC: dict = {}


def bezier(p0, p1, p2, n: int = 8) -> np.ndarray:
    t = _LIN.get(n)
    if t is None:
        t = _LIN[n] = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(p1) + t ** 2 * np.asarray(p2)


def ellipse(c, rx: float, ry: float, ang: float = 0.0, n: int = 18) -> np.ndarray:
    unit = _CIRC.get(n)
    if unit is None:
        t = np.linspace(0, 2 * math.pi, n, endpoint=False)
        unit = _CIRC[n] = np.stack([np.cos(t), np.sin(t)], axis=1)
    p = unit * (rx, ry)
    ca, sa = math.cos(ang), math.sin(ang)
    return p @ np.array([[ca, sa], [-sa, ca]]) + np.asarray(c, dtype=float)


def _mx(p: np.ndarray) -> np.ndarray:
    q = np.array(p, dtype=float)
    q[..., 0] = -q[..., 0]
    return q


WAIST_Y, HIP_Y, CROTCH_Y = 0.78, 1.05, 1.27
_SKIRT_Y = {"mini": 1.38, "knee": 1.75, "midi": 2.05, "maxi": 2.42}
_KIMONO_Y = {"mini": 1.30, "knee": 1.65, "midi": 1.95, "maxi": 2.30}
_LEG_LEN = {"shorts": 0.42, "culotte": 1.0, "cropped": 1.16, "full": 1.40}
_LEG_W = {"skinny": (0.17, 0.15), "straight": (0.24, 0.23), "wide": (0.34, 0.38), "flared": (0.20, 0.33),
          "tapered": (0.21, 0.14)}


def _neckline(s: ItemSpec, bw: float):
    """(neck point x, y, centre-front depth, curve type) for the wearer's left side."""
    if s.neckline == "off":
        return 0.44 * bw, 0.15, 0.21, "curve"
    if s.open_front and s.kind in ("upper", "kimono"):
        return 0.13, 0.0, 0.42 if s.top_len == "longline" or s.kind == "kimono" else 0.34, "v"
    return {"crew": (0.125, 0.0, 0.09, "curve"), "v": (0.13, 0.0, 0.27, "v"), "scoop": (0.17, 0.0, 0.20, "curve"),
            "collar": (0.115, -0.01, 0.19, "v"), "hood": (0.13, 0.0, 0.11, "curve")}[s.neckline]


def _side_x(s: ItemSpec, y: float, bw: float) -> float:
    """Half-width of a skirt or dress body at height y."""
    if y <= HIP_Y:
        return (0.30 + (0.40 - 0.30) * (y - WAIST_Y) / (HIP_Y - WAIST_Y)) * bw
    slope = {"a-line": 0.40, "pencil": -0.06, "pleated": 0.50, "straight": 0.12}[s.skirt_shape]
    if y > 1.9 and slope > 0.3:
        slope = 0.30
    return max(0.30, 0.40 + (y - HIP_Y) * slope) * bw


def build_geometry(s: ItemSpec, pose: Pose) -> Geometry:
    """All polygons, details and named points of one garment in one pose (world units)."""
    g = Geometry()
    bw = pose.body_w
    pts = g.points
    has_top = s.kind in ("upper", "dress", "jumpsuit", "kimono")
    left: list = []          # outline from the left neck point down to the bottom, left side
    bottom: list = []        # from the left bottom corner to the right one (exclusive of the corners)
    sides = {}
    if has_top:
        nx, ny, cfd, ncurve = _neckline(s, bw)
        kim = s.kind == "kimono"
        if s.sleeve_shape == "strap":
            sh = _a(nx + 0.10, 0.02)
        elif s.neckline == "off":
            sh = _a(nx, ny)
        else:
            sh = _a((0.43 if kim else 0.40) * bw * (1.05 if s.top_fit == "boxy" else 1.0), 0.05)
        fitw = {"fitted": 0.95, "regular": 1.0, "boxy": 1.08}[s.top_fit]
        ap = _a((0.44 if kim else 0.36) * bw * fitw, 0.58 if kim else 0.36 + (0.05 if s.neckline == "off" else 0.0))
        wx = (0.45 if kim else {"fitted": 0.29, "regular": 0.33, "boxy": 0.39}[s.top_fit]) * bw
        if s.kind in ("dress", "jumpsuit"):
            wx = 0.30 * bw
        pts.update(neckline_left=_a(nx, ny), center_front=_a(0.0, ny + cfd), shoulder_left=sh, armpit_left=ap)
        left = [_a(nx, ny)]
        if s.neckline != "off":
            left.append(sh)
        sleeve_mid = None
        if s.sleeve == "none":
            ctrl = _a(sh[0] - 0.09, (sh[1] + ap[1]) * 0.5)
            curve = bezier(sh, ctrl, ap, 9)
            left.extend(curve[1:-1])
            sleeve_mid = bezier(sh, ctrl, ap, 3)[1]
        left.append(ap)
        # torso bottom
        if s.kind == "upper":
            hy = {"crop": 0.60, "regular": 1.05, "longline": 1.45}[s.top_len]
            hx = {"fitted": 0.37, "regular": 0.40, "boxy": 0.42}[s.top_fit] * bw
            if s.category == "Blouse":
                hx += 0.04
            if s.top_len == "crop":
                hx = ap[0] + (wx - ap[0]) * (hy - ap[1]) / (WAIST_Y - ap[1]) + (0.02 if s.top_fit == "boxy" else 0.0)
            else:
                left.append(_a(wx, WAIST_Y))
                pts["waistline_left"] = _a(wx, WAIST_Y)
            if s.top_len == "longline":
                left.append(_a(0.41 * bw, HIP_Y))
            hl = _a(hx, hy)
            left.append(hl)
            pts["top_hem_left"] = hl
            g.df[6], g.df[7] = hl, _mx(hl)
        elif s.kind == "kimono":
            hy = _KIMONO_Y[s.skirt_len]
            left.append(_a(wx, WAIST_Y))
            pts["waistline_left"] = _a(wx, WAIST_Y)
            hl = _a(wx + 0.02, hy)
            left.append(hl)
            pts["top_hem_left"] = hl
            g.df[6], g.df[7] = hl, _mx(hl)
        else:  # dress / jumpsuit: waist then the lower part
            left.append(_a(wx, WAIST_Y))
            pts["waistline_left"] = _a(wx, WAIST_Y)
        g.df[0], g.df[1] = _a(nx, ny), _a(-nx, ny)
        if s.kind in ("dress", "jumpsuit", "kimono"):
            g.df[4], g.df[5] = pts["waistline_left"], _mx(pts["waistline_left"])
        sides["neck"] = (nx, ny, cfd, ncurve)
        sides["sleeve_mid"] = sleeve_mid
    if s.kind in ("trousers", "skirt"):
        wby = {"high": 0.68, "mid": WAIST_Y, "low": 0.86}[s.waist]
        wbx = (0.305 if wby <= WAIST_Y else 0.33) * bw
        left = [_a(wbx, wby)]
        pts["waistband_left"] = _a(wbx, wby)
        g.df[4], g.df[5] = _a(wbx, wby), _a(-wbx, wby)
        sides["waistband_y"] = wby
    # lower part
    if s.kind in ("skirt", "dress"):
        hy = _SKIRT_Y[s.skirt_len]
        if hy > HIP_Y + 0.1:
            left.append(_a(_side_x(s, HIP_Y, bw), HIP_Y))
        hl = _a(_side_x(s, hy, bw), hy)
        left.append(hl)
        pts["hemline_left"] = hl
        g.df[6], g.df[7] = hl, _mx(hl)
    legs = {}
    if s.kind in ("trousers", "jumpsuit"):
        left.append(_a(0.40 * bw, HIP_Y))
        L = _LEG_LEN[s.leg_len]
        kw, w = _LEG_W[s.fit]
        if s.leg_len == "shorts":
            w = {"skinny": 0.27, "straight": 0.31, "wide": 0.37}.get(s.fit, 0.31)
        if s.leg_len == "culotte":
            kw, w = 0.38, 0.44
        for side, sgn in ((0, 1.0), (1, -1.0)):
            ga = pose.leg[side]
            d = _a(sgn * math.sin(ga), math.cos(ga))
            n = _a(sgn * math.cos(ga), -math.sin(ga))
            p = _a(sgn * 0.19 * bw, 1.10)
            b = p + d * L
            out, inn = b + n * w / 2, b - n * w / 2
            if sgn * inn[0] < 0.02:
                shift = 0.02 - sgn * inn[0]
                out, inn, b = out + _a(sgn * shift, 0), inn + _a(sgn * shift, 0), b + _a(sgn * shift, 0)
            knee_o = knee_i = None
            if L > 0.8:
                k = p + d * 0.72
                knee_o, knee_i = k + n * kw / 2, k - n * kw / 2
                if sgn * knee_i[0] < 0.02:
                    knee_i = _a(sgn * 0.02, knee_i[1])
            legs[side] = (out, inn, b, knee_o, knee_i, d, n)
        out, inn, b, ko, ki, d, n = legs[0]
        if ko is not None:
            left.append(ko)
        left.append(out)
        crotch = _a(0.0, CROTCH_Y - (0.02 if s.leg_len == "shorts" else 0.0))
        pts["crotch"] = crotch
        bottom = [inn] + ([ki] if ki is not None else []) + [crotch]
        out_r, inn_r, b_r, ko_r, ki_r, _, _ = legs[1]
        bottom += ([ki_r] if ki_r is not None else []) + [inn_r]
        pts.update(bottom_left_in=inn, bottom_left_out=out, bottom_right_in=inn_r, bottom_right_out=out_r)
        g.df[6], g.df[7] = b, b_r
        right_tail = ([ko_r] if ko_r is not None else []) + [out_r]
    # assemble the outline: right side is the mirror of the left, except for the legs
    if s.kind in ("trousers", "jumpsuit"):
        right = [_mx(p) for p in left[:-1 - (1 if legs[0][3] is not None else 0)]] + right_tail
    else:
        right = [_mx(p) for p in left]
        hem_l, hem_r = left[-1], right[-1]
        hy = hem_l[1]
        sag = 0.03
        if s.category == "Button-Down":
            sag = 0.10
        if s.ruffle:
            n_sc = 9
            xs = np.linspace(hem_l[0], hem_r[0], 2 * n_sc + 1)[1:-1]
            bottom = [_a(x, hy + (0.045 if i % 2 == 0 else 0.0) + sag * (1 - (x / hem_l[0]) ** 2))
                      for i, x in enumerate(xs)]
        else:
            bottom = list(bezier(hem_l, _a(0.0, hy + 2 * sag), hem_r, 7)[1:-1])
    outline = left + bottom + right[::-1]
    if has_top:
        nx, ny, cfd, ncurve = sides["neck"]
        if ncurve == "v":
            neck = [_a(0.0, ny + cfd)]
        else:
            # half-ellipse from the right neck point through the centre front to the left one
            neck = [_a(nx * math.cos(a), ny + cfd * math.sin(a)) for a in np.linspace(math.pi, 0, 9)[1:-1]]
        outline = outline + neck
    poly = np.array(outline)
    for k in list(pts):
        if k.endswith("_left"):
            pts[k[:-5] + "_right"] = _mx(pts[k])
    if "bottom_right_in" in pts:   # legs are not mirror images
        pts["bottom_right_in"], pts["bottom_right_out"] = legs[1][1], legs[1][0]
    # hood is drawn first so the body covers its feet
    if s.neckline == "hood":
        # the hood lies on the shoulders behind the neck: one lobe each side of the neck
        cy, ro, ri, xn = 0.05, (0.29, 0.22), (0.145, 0.10), 0.09
        to, ti = math.acos(xn / ro[0]), math.acos(xn / ri[0])
        outer = [(ro[0] * math.cos(a), cy - ro[1] * math.sin(a)) for a in np.linspace(to, 0.0, 8)]
        inner = [(ri[0] * math.cos(a), cy - ri[1] * math.sin(a)) for a in np.linspace(0.0, ti, 6)]
        lobe = np.array(outer + inner)
        g.pieces.append(("hood", lobe))
        g.pieces.append(("hood", _mx(lobe)[::-1]))
    g.pieces.append(("body", poly))
    # sleeves
    if has_top and s.sleeve != "none":
        L = {"short": 0.30, "elbow": 0.58, "long": 1.0}[s.sleeve]
        for side, sgn in ((0, 1.0), (1, -1.0)):
            al = pose.arm[side]
            d = _a(sgn * math.sin(al), math.cos(al))
            n = _a(sgn * math.cos(al), -math.sin(al))
            j = _a(sgn * 0.40 * bw, 0.10)
            sh = pts["shoulder_left"] if sgn > 0 else pts["shoulder_right"]
            ap = pts["armpit_left"] if sgn > 0 else pts["armpit_right"]
            if s.kind == "kimono":
                j = _a(sgn * 0.42 * bw, 0.30)
                w = {"short": 0.50, "elbow": 0.56, "long": 0.50}[s.sleeve]
            elif s.sleeve_shape == "bell":
                w = {"short": 0.32, "elbow": 0.38, "long": 0.40}[s.sleeve]
            else:
                w = {"short": 0.25, "elbow": 0.20, "long": 0.16}[s.sleeve]
            if s.neckline == "off":
                j = j + _a(0, 0.10)
            c = j + d * L
            cout, cin = c + n * w / 2, c - n * w / 2
            path = [sh]
            if s.sleeve_shape == "puff":
                mid = j + d * L * 0.5
                path.append(mid + n * 0.19)
                path.extend([cout, cin, mid - n * 0.10])
            else:
                path.extend([cout, cin])
            path.append(ap)
            g.pieces.append(("sleeve", np.array(path)))
            key = "left" if sgn > 0 else "right"
            pts[f"cuff_{key}_in"], pts[f"cuff_{key}_out"] = cin, cout
            g.df[2 + side] = c
            if s.cuffs and s.sleeve != "short":
                g.lines.append((np.array([cout - d * 0.07, cin - d * 0.07]), "seam", 0.012))
                for t in np.linspace(0.15, 0.85, 5):
                    q = cout + (cin - cout) * t
                    g.lines.append((np.array([q, q - d * 0.065]), "seam", 0.007))
            if s.sporty:
                for off in (0.03, 0.065):
                    g.lines.append((np.array([sh - n * off + d * 0.03, cout - n * off]), "accent", 0.022))
    elif has_top:
        g.df[2] = sides["sleeve_mid"]
        g.df[3] = _mx(sides["sleeve_mid"])
    # ---- details
    top_y = pts["center_front"][1] if has_top else None
    hem_y = pts["top_hem_left"][1] if "top_hem_left" in pts else None
    if s.open_front and has_top:
        gap = 0.06 if s.kind == "upper" else 0.09
        g.hole = np.array([pts["center_front"] + _a(0, -0.005), _a(gap, hem_y + 0.04), _a(-gap, hem_y + 0.04)])
    if s.neckline == "collar" and has_top:
        nl, cf = pts["neckline_left"], pts["center_front"]
        big = 0.06 if s.category == "Jacket" else 0.0
        for sgn in (1.0, -1.0):
            flap = np.array([_a(sgn * (nl[0] - 0.01), nl[1] - 0.04), _a(sgn * (nl[0] + 0.10 + big), nl[1] + 0.11 + big),
                             _a(sgn * (0.05 + big / 2), cf[1] + 0.03 + big / 2), _a(0.0, cf[1] - 0.01)])
            g.pieces.append(("collar", flap))
    if s.closure == "buttons" and has_top:
        y0 = top_y + 0.05
        y1 = (hem_y if hem_y is not None else WAIST_Y + 0.05) - 0.05
        # closed: a placket down the centre; open: buttons on the wearer's right front edge
        x = 0.0 if not s.open_front else -0.06 if s.kind == "upper" else -0.09
        nb = max(2, int((y1 - y0) / 0.13) + 1)
        if not s.open_front:
            g.lines.append((np.array([_a(0.025, top_y), _a(0.025, y1 + 0.05)]), "seam", 0.008))
        for y in np.linspace(y0, y1, nb):
            g.dots.append((_a(x, y), 0.022, "trim"))
    if s.closure == "buttons" and s.kind == "skirt":
        for y in np.linspace(sides["waistband_y"] + 0.12, pts["hemline_left"][1] - 0.08, 5):
            g.dots.append((_a(0.0, y), 0.02, "trim"))
    if s.closure == "zip" and has_top:
        y1 = hem_y if hem_y is not None else WAIST_Y
        # closed: one zip down the centre; open: a zip along each front edge
        for x in ((0.06, -0.06) if s.open_front else (0.0,)):
            g.lines.append((np.array([_a(0.0, top_y), _a(x, y1)]), "metal", 0.018))
        if not s.open_front:
            g.fills.append((np.array([_a(-0.02, top_y + 0.02), _a(0.02, top_y + 0.02), _a(0.02, top_y + 0.08),
                                      _a(-0.02, top_y + 0.08)]), "metal"))
    if s.hem_band and hem_y is not None:
        hl = pts["top_hem_left"]
        g.lines.append((np.array([hl + _a(-0.005, -0.08), _mx(hl) + _a(0.005, -0.08)]), "seam", 0.012))
    if s.pockets != "none":
        if s.pockets == "patch" and has_top:
            if s.category == "Button-Down" or (hem_y is not None and hem_y < 0.9):
                p0 = _a(0.12, 0.32)
                g.lines.append((np.array([p0, p0 + _a(0.13, 0), p0 + _a(0.13, 0.14), p0 + _a(0.065, 0.17),
                                          p0 + _a(0, 0.14), p0]), "seam", 0.012))
            else:
                yb = (hem_y if hem_y is not None else 1.0) - 0.12
                for sgn in (1.0, -1.0):
                    p0 = _a(sgn * 0.10, yb - 0.2)
                    q = [p0, p0 + _a(sgn * 0.18, 0), p0 + _a(sgn * 0.18, 0.18), p0 + _a(0, 0.18), p0]
                    g.lines.append((np.array(q), "seam", 0.012))
                    g.lines.append((np.array([p0 + _a(0, 0.045), p0 + _a(sgn * 0.18, 0.045)]), "seam", 0.01))
        elif s.pockets == "kangaroo":
            yb = (hem_y if hem_y is not None else 1.0) - 0.10
            q = [_a(-0.22, yb), _a(-0.16, yb - 0.24), _a(0.16, yb - 0.24), _a(0.22, yb), _a(-0.22, yb)]
            g.lines.append((np.array(q), "seam", 0.014))
        elif s.pockets in ("jeans", "slash") and "waistband_left" in pts or (s.pockets == "slash" and s.kind == "jumpsuit"):
            wy = pts["waistband_left"][1] if "waistband_left" in pts else WAIST_Y
            for sgn in (1.0, -1.0):
                if s.pockets == "jeans":
                    curve = bezier(_a(sgn * 0.18, wy + 0.05), _a(sgn * 0.22, wy + 0.17), _a(sgn * 0.34, wy + 0.19), 6)
                else:
                    curve = np.array([_a(sgn * 0.25, wy + 0.06), _a(sgn * 0.36, wy + 0.24)])
                g.lines.append((curve, "seam", 0.013))
        elif s.pockets == "cargo" and s.kind == "trousers":
            for side, sgn in ((0, 1.0), (1, -1.0)):
                out, inn, b, ko, ki, d, n = legs[side]
                c = _a(sgn * 0.19, 1.10) + d * min(0.55, _LEG_LEN[s.leg_len] * 0.55) + n * 0.06
                box = [c + _a(-0.07, -0.07), c + _a(0.07, -0.07), c + _a(0.07, 0.08), c + _a(-0.07, 0.08)]
                g.lines.append((np.array(box + box[:1]), "seam", 0.012))
    if s.kind in ("trousers", "skirt"):
        wl = pts["waistband_left"]
        g.lines.append((np.array([wl + _a(0.0, 0.075), _mx(wl) + _a(0.0, 0.075)]), "seam", 0.012))
        if s.drawstring or s.fit == "tapered":
            for t in np.linspace(-0.9, 0.9, 11):
                g.lines.append((np.array([_a(wl[0] * t, wl[1] + 0.01), _a(wl[0] * t, wl[1] + 0.065)]), "seam", 0.006))
        if s.pockets == "jeans" or s.category == "Jeans":
            g.dots.append((_a(0.0, wl[1] + 0.04), 0.022, "metal"))
            g.lines.append((bezier(_a(0.0, wl[1] + 0.08), _a(0.07, wl[1] + 0.25), _a(0.0, wl[1] + 0.36), 6), "seam", 0.01))
    if s.kind == "trousers" and s.cuffs:
        for side in (0, 1):
            out, inn, b, ko, ki, d, n = legs[side]
            g.lines.append((np.array([out - d * 0.08, inn - d * 0.08]), "seam", 0.014))
    if s.drawstring:
        if s.kind in ("trousers", "skirt"):
            y = pts["waistband_left"][1] + 0.04
        elif s.neckline == "hood":
            y = pts["center_front"][1] - 0.01
        else:
            y = None
        if y is not None:
            for x in (0.05, -0.05):
                g.lines.append((np.array([_a(x, y), _a(x * 1.3, y + 0.2)]), "light", 0.014))
                g.dots.append((_a(x * 1.3, y + 0.21), 0.016, "light"))
    if s.belt:
        y = pts["waistband_left"][1] + 0.04 if s.kind in ("trousers", "skirt") else WAIST_Y
        if s.kind == "upper":
            y = min(WAIST_Y, (hem_y or 1.0) - 0.08)
        x = _side_x(s, y, bw) if s.kind in ("skirt", "dress") else 0.31 * bw
        if s.kind == "upper" or s.kind == "kimono":
            x = (pts["waistline_left"][0] if "waistline_left" in pts else 0.33) + 0.01
        band = np.array([_a(-x, y - 0.035), _a(x, y - 0.035), _a(x, y + 0.035), _a(-x, y + 0.035)])
        g.fills.append((band, "trim"))
        g.lines.append((np.array([_a(-0.05, y - 0.05), _a(0.05, y - 0.05), _a(0.05, y + 0.05), _a(-0.05, y + 0.05),
                                  _a(-0.05, y - 0.05)]), "metal", 0.014))
    if s.bow and has_top:
        c = pts["center_front"] + _a(0.0, 0.03)
        for sgn in (1.0, -1.0):
            g.fills.append((np.array([c, c + _a(sgn * 0.09, -0.05), c + _a(sgn * 0.09, 0.05)]), "trim"))
        g.dots.append((c, 0.02, "trim"))
    if s.kind in ("skirt", "dress") and s.skirt_shape == "pleated":
        y0 = HIP_Y - 0.05 if s.kind == "skirt" else WAIST_Y + 0.04
        hl = pts["hemline_left"]
        x0 = _side_x(s, y0, bw)
        for t in np.linspace(-0.8, 0.8, 7):
            g.lines.append((np.array([_a(x0 * t, y0), _a(hl[0] * t, hl[1])]), "seam", 0.009))
    if s.kind == "trousers" and s.sporty:
        for side in (0, 1):
            out, inn, b, ko, ki, d, n = legs[side]
            hip = _a((1 if side == 0 else -1) * 0.40 * bw, HIP_Y)
            for off in (0.025, 0.055):
                g.lines.append((np.array([hip - n * off, out - n * off]), "accent", 0.02))
    if s.distressed:
        for side in (0, 1):
            out, inn, b, ko, ki, d, n = legs.get(side, (None,) * 7) if legs else (None,) * 7
            base = _a((1 if side == 0 else -1) * 0.19, 1.10)
            dd = d if d is not None else _a(0, 1)
            for t, off in ((0.35, 0.02), (0.6, -0.03), (0.7, 0.04)):
                if s.kind == "skirt":
                    c = _a((1 if side == 0 else -1) * 0.18, HIP_Y + 0.05 + t * 0.2)
                else:
                    c = base + dd * t * min(1.0, _LEG_LEN[s.leg_len])
                c = c + _a(off, 0)
                g.lines.append((np.array([c + _a(-0.05, 0), c + _a(0.05, 0.005)]), "light", 0.018))
    return g


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
    col = palette_color(rng, _pick(rng, {"monochrome": 5, "denim": 3, "dark": 2, "earth tone": 1}))
    if s.ctype == 1:
        if rng.random() < 0.7:
            c = ItemSpec(name="", category="Jeans", ctype=2, fashionai=None, kind="trousers", leg_len="full",
                         fit=_pick(rng, {"straight": 2, "skinny": 2, "wide": 1}), base=col)
        else:
            c = ItemSpec(name="", category="Skirt", ctype=2, fashionai=None, kind="skirt",
                         skirt_len=_pick(rng, {"mini": 1, "knee": 2, "midi": 1}), skirt_shape="a-line", base=col)
        return c
    if s.ctype == 2:
        return ItemSpec(name="", category="Tee", ctype=1, fashionai=None, kind="upper",
                        sleeve=_pick(rng, {"short": 3, "none": 1, "long": 1}),
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
        d, n = _a(sgn * math.sin(ga), math.cos(ga)), _a(sgn * math.cos(ga), -math.sin(ga))
        p = _a(sgn * 0.19 * bw, 1.10)
        a = p + d * 1.42
        out.append((np.array([p + n * 0.11, a + n * 0.05, a - n * 0.05, p - n * 0.12]), fig.skin))
        out.append((ellipse(a + _a(sgn * 0.03, 0.04), 0.09, 0.05), fig.shoe))
    for side, sgn in ((0, 1.0), (1, -1.0)):
        al = pose.arm[side]
        d, n = _a(sgn * math.sin(al), math.cos(al)), _a(sgn * math.cos(al), -math.sin(al))
        j = _a(sgn * 0.40 * bw, 0.10)
        w = j + d * 1.10
        out.append((np.array([j + n * 0.08 - d * 0.05, w + n * 0.045, w - n * 0.045, j - n * 0.075]), fig.skin))
        out.append((ellipse(w + d * 0.06, 0.055, 0.07, ang=-al * sgn), fig.skin))
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
        c = target + _a(u(-0.025, 0.025), u(-0.025, 0.025))
        psi = u(0, 2 * math.pi)
        d = _a(math.cos(psi), math.sin(psi))
        n = _a(-d[1], d[0])
        skin = tuple(int(x) for x in np.clip(np.array(fig.skin) + rng.integers(-25, 26, 3), 0, 255))
        polys = [(np.array([c + n * 0.06, c + n * 0.065 + d * 0.75, c - n * 0.065 + d * 0.75, c - n * 0.06]), skin),
                 (ellipse(c, 0.085, 0.075, ang=psi), skin)]
        for t in (-0.045, -0.015, 0.015, 0.045):
            polys.append((ellipse(c - d * 0.11 + n * t, 0.045, 0.016, ang=psi), skin))
        return polys
    if kind == "bag":
        w, h = u(0.30, 0.40), u(0.24, 0.32)
        c = target + _a(u(-0.25, 0.25) * w, u(-0.25, 0.25) * h)
        col = _hsv(u(0, 1), u(0.2, 0.8), u(0.15, 0.7))
        body = np.array([c + _a(-w / 2, -h / 2), c + _a(w / 2, -h / 2), c + _a(w / 2 + 0.02, h / 2),
                         c + _a(-w / 2 - 0.02, h / 2)])
        top = c + _a(u(-0.1, 0.1), -h / 2 - u(0.5, 0.8))
        strap = []
        for x in (-w / 2 + 0.04, w / 2 - 0.04):
            a = c + _a(x, -h / 2)
            strap.append((np.array([a + _a(-0.018, 0), top + _a(-0.018, 0), top + _a(0.018, 0), a + _a(0.018, 0)]), col))
        dark = tuple(int(x * 0.6) for x in col)
        return strap + [(body, col), (np.array([c + _a(-w / 2, -h / 2), c + _a(w / 2, -h / 2), c + _a(w / 2, -h / 2 + 0.07),
                                                 c + _a(-w / 2, -h / 2 + 0.07)]), dark)]
    # hair: a long strand falling over the target
    top = target + _a(u(-0.02, 0.02), -u(0.30, 0.45))
    bot = target + _a(u(-0.02, 0.02), u(0.12, 0.25))
    k = 7
    cs = [top + (bot - top) * t + _a(0.015 * math.sin(t * 7 + u(0, 6)), 0) for t in np.linspace(0, 1, k)]
    wid = [0.06 + 0.03 * math.sin(math.pi * t) for t in np.linspace(0, 1, k)]
    poly = [c + _a(wi, 0) for c, wi in zip(cs, wid)] + [c - _a(wi, 0) for c, wi in zip(cs[::-1], wid[::-1])]
    return [(np.array(poly), fig.hair)]


# ----------------------------------------------------------------------------- scenes
def affine_apply(A: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return p @ A[:, :2].T + A[:, 2]


def affine_compose(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A after B."""
    return np.concatenate([A[:, :2] @ B[:, :2], (A[:, :2] @ B[:, 2] + A[:, 2])[:, None]], axis=1)


def affine_inverse(A: np.ndarray) -> np.ndarray:
    R = np.linalg.inv(A[:, :2])
    return np.concatenate([R, (-R @ A[:, 2])[:, None]], axis=1)


def similarity(scale: float, angle: float, src_center, dst_center) -> np.ndarray:
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    R = np.array([[c, -s], [s, c]])
    t = np.asarray(dst_center, dtype=float) - R @ np.asarray(src_center, dtype=float)
    return np.concatenate([R, t[:, None]], axis=1)


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
    skin = _hsv(u(0.03, 0.09), u(0.25, 0.6), u(0.35, 0.95))
    hair = _hsv(u(0.04, 0.12), u(0.3, 0.8), float(rng.choice([u(0.05, 0.2), u(0.25, 0.5), u(0.6, 0.85)])))
    fig = Figure(skin=skin, hair=hair, shoe=_hsv(u(0, 1), u(0, 0.6), u(0.05, 0.6)),
                 companion=companion_spec(rng, item),
                 inner=palette_color(rng, _pick(rng, {"monochrome": 4, "pastel": 1, "plain": 1})),
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
            kind = _pick(rng, {"collar": {"hair": 5, "hand": 3, "bag": 1}, "sleeve": {"hand": 3, "bag": 3, "hair": 1},
                               "low": {"hand": 4, "bag": 5}}[region])
            occluders.extend(occluder_polys(rng, kind, geom.df[int(i)], fig))
    # background
    if rng.random() < 0.7:
        bg0 = _hsv(u(0, 1), u(0, 0.1), u(0.78, 0.98))
    elif rng.random() < 0.66:
        bg0 = _hsv(u(0, 1), u(0.1, 0.4), u(0.6, 0.95))
    else:
        bg0 = _hsv(u(0, 1), u(0, 0.4), u(0.2, 0.5))
    bg1 = tuple(int(np.clip(c + rng.integers(-40, 41), 0, 255)) for c in bg0)
    ang = u(0, 2 * math.pi)
    gx, gy = math.cos(ang) / size, math.sin(ang) / size
    grad = (gx, gy, 0.5 - gx * W / 2 - gy * H / 2)
    clut = []
    if rng.random() < clutter:
        clut.append(("floor", np.array([[-size, u(0.6, 0.9) * H], [W + size, u(0.6, 0.9) * H],
                                        [W + size, 2 * H + size], [-size, 2 * H + size]]),
                     _hsv(u(0, 1), u(0, 0.4), u(0.3, 0.9)), 0))
    for _ in range(int(round(clutter * u(0, 14)))):
        col = _hsv(u(0, 1), u(0, 0.9), u(0.1, 1.0))
        c = _a(u(-0.1, 1.1) * W, u(-0.1, 1.1) * H)
        r = u(0.04, 0.3) * size
        kind = _pick(rng, {"rect": 3, "ellipse": 2, "line": 3, "poly": 2})
        if kind == "rect":
            pts = ellipse(c, r, r * u(0.3, 1.5), ang=u(0, math.pi), n=4)
        elif kind == "ellipse":
            pts = ellipse(c, r, r * u(0.3, 1.0), ang=u(0, math.pi), n=16)
        elif kind == "line":
            pts = np.array([c, c + _a(u(-1, 1), u(-1, 1)) * r * 3])
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


# ----------------------------------------------------------------------------- rasteriser
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


def _fabric(s: ItemSpec, u, v, rng):
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
        L, opacity, holes = _fabric(s, u, v, rng)
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

