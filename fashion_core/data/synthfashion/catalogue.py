"""The SynthFashion garment catalogue: categories, attributes, keypoint sets and the item sampler.

18 categories from the DeepFashion-C vocabulary and 67 attributes of the five DeepFashion types.
An item (ItemSpec) is one product: its category, design choices and colours, fixed for all its
photos.  sample_item draws one from per-category design tables; item_attributes derives its
positive attributes and name_candidates its DeepFashion-style names.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from fashion_core.data.synthfashion.colours import accent_colour, hsv_colour, palette_colour


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
CATEGORY_NAMES = [category[0] for category in CATEGORIES]
CATEGORY_INFO = {category[0]: category for category in CATEGORIES}

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


def weighted_choice(rng: np.random.Generator, table: dict) -> str:
    """One key of `table`, drawn with probability proportional to its weight (one uniform draw)."""
    keys = list(table)
    threshold = rng.random() * sum(table.values())
    cumulative = 0.0
    for key in keys:
        cumulative += table[key]
        if threshold < cumulative:
            return key
    return keys[-1]


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
                  fabric={"cotton": 30, "denim": 15, "faux leather": 10, "lace": 10, "chiffon": 15, "satin": 10,
                          "knit": 10},
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
    "Jumpsuit": dict(sleeve={"none": 50, "short": 30, "long": 20},
                     neckline={"v": 40, "crew": 20, "scoop": 20, "collar": 10, "off": 10},
                     leg_len={"full": 70, "cropped": 30}, fit={"wide": 50, "straight": 35, "skinny": 15},
                     belt={True: 50, False: 50}, pockets={"slash": 30, "none": 70},
                     closure={"none": 70, "buttons": 20, "zip": 10},
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


# The design fields drawn from a category's table, in drawing order.
_DESIGN_FIELDS = ("sleeve", "sleeve_shape", "neckline", "open_front", "closure", "top_len", "skirt_len", "leg_len",
                  "fit", "skirt_shape", "top_fit", "pockets", "belt", "drawstring", "cuffs", "hem_band", "ruffle",
                  "bow", "waist", "fabric", "sporty", "colorblock", "motif")


def sample_item(rng: np.random.Generator) -> ItemSpec:
    """Draw one product (category, design, colours) from the item's own random stream."""
    category = weighted_choice(rng, {name: frequency for name, _, _, _, frequency in CATEGORIES})
    _, ctype, fashionai, kind, _ = CATEGORY_INFO[category]
    table = _DESIGN[category]
    design = _sample_design(rng, category, kind, table)
    fabric = design.get("fabric", "cotton")
    design["texture"] = _sample_texture(rng, fabric, table)
    design["distressed"] = fabric == "denim" and kind in ("trousers", "skirt") and rng.random() < 0.3
    if fabric == "denim":
        palette = weighted_choice(rng, {"denim": 80, "dark": 12, "monochrome": 8})
    elif fabric == "faux leather":
        palette = weighted_choice(rng, {"dark": 45, "monochrome": 30, "earth tone": 15, "plain": 10})
    else:
        palette = weighted_choice(rng, _PALETTES)
    base = palette_colour(rng, palette)
    accent = accent_colour(rng, palette, base)
    trim = tuple(int(channel * 0.45) for channel in base) if sum(base) > 150 else (200, 200, 195)
    if design.get("closure") == "buttons" or design.get("sporty") or design.get("belt"):
        if rng.random() < 0.5:
            trim = hsv_colour(rng.uniform(0, 1), rng.uniform(0.0, 0.8), rng.uniform(0.1, 0.95))
    angle = 0.0 if rng.random() < 0.7 else (math.pi / 2 if rng.random() < 0.6 else math.pi / 4)
    spec = ItemSpec(
        name="", category=category, ctype=ctype, fashionai=fashionai, kind=kind, palette=palette,
        base=base, accent=accent, trim=trim, tex_period=float(rng.uniform(0.09, 0.16)), tex_angle=angle,
        tex_phase=(float(rng.uniform(0, 1)), float(rng.uniform(0, 1))),
        tex_strength=float(rng.uniform(0.75, 1.0)), fab_phase=float(rng.uniform(0, 1)), **design)
    return replace(spec, attrs=tuple(sorted(item_attributes(spec))))


def _sample_design(rng: np.random.Generator, category: str, kind: str, table: dict) -> dict:
    """The design fields of the category's table, the generic ones it leaves out, then consistency fixes."""
    design: dict = {}
    for key in _DESIGN_FIELDS:
        if key in table:
            design[key] = weighted_choice(rng, table[key])
    has_top = kind in ("upper", "dress", "jumpsuit", "kimono")
    if "motif" not in design and has_top:
        design["motif"] = weighted_choice(rng, {"none": 90, "star": 3, "heart": 3, "graphic": 4})
    elif "motif" not in design:
        design["motif"] = weighted_choice(rng, {"none": 94, "star": 3, "heart": 3})
    if "colorblock" not in design:
        design["colorblock"] = rng.random() < 0.05
    if "sporty" not in design:
        design["sporty"] = rng.random() < 0.03
    if "top_fit" not in design and kind == "upper":
        design["top_fit"] = weighted_choice(rng, {"regular": 6, "fitted": 2, "boxy": 2})
    if design.get("sleeve") in (None, "none") and design.get("sleeve_shape") in ("bell", "puff"):
        design["sleeve_shape"] = "straight"
    if category == "Hoodie" and design.get("open_front"):
        # an open hoodie zips up, and a kangaroo pocket cannot cross its opening
        design["closure"] = "zip"
        if design.get("pockets") == "kangaroo":
            design["pockets"] = "patch"
    if design.get("neckline") == "hood" and category == "Jacket":
        design["drawstring"] = rng.random() < 0.5
    if kind in ("dress", "jumpsuit", "kimono") and design.get("neckline") == "off":
        design["sleeve"] = "short" if design.get("sleeve") == "none" else design["sleeve"]
    return design


def _sample_texture(rng: np.random.Generator, fabric: str, table: dict) -> str:
    """The fill pattern: heavy fabrics are mostly plain and lace at most floral."""
    if fabric in ("denim", "faux leather", "sequin", "quilted"):
        return weighted_choice(rng, {"solid": 92, "striped": 4, "camo": 2, "leopard": 2})
    if fabric == "lace":
        return weighted_choice(rng, {"solid": 85, "floral": 15})
    return weighted_choice(rng, table.get("texture", _TEXTURES))


def item_attributes(item: ItemSpec) -> set[str]:
    """The positive attribute names implied by an item's design."""
    names = {item.texture, item.fabric}
    if item.distressed:
        names.add("distressed")
    has_top = item.kind in ("upper", "dress", "jumpsuit", "kimono")
    if item.kind == "upper":
        names |= {"crop": {"crop"}, "longline": {"longline"}}.get(item.top_len, set())
        names |= {"boxy": {"boxy"}, "fitted": {"fitted"}}.get(item.top_fit, set())
    if item.kind in ("skirt", "dress", "kimono"):
        names.add({"mini": "mini", "knee": "knee-length", "midi": "midi", "maxi": "maxi"}[item.skirt_len])
    if item.kind in ("skirt", "dress"):
        names |= {"a-line": {"a-line"}, "pencil": {"pencil"}, "pleated": {"pleated"}}.get(item.skirt_shape, set())
    if item.kind in ("trousers", "jumpsuit"):
        if item.leg_len == "cropped":
            names.add("capri")
        if item.leg_len != "shorts":
            names |= {"skinny": {"skinny"}, "straight": {"straight-leg"}, "wide": {"wide-leg"},
                      "flared": {"flared"}}.get(item.fit, set())
    if has_top:
        names.add({"none": "sleeveless", "short": "short sleeve", "elbow": "elbow sleeve",
                   "long": "long sleeve"}[item.sleeve])
        if item.sleeve_shape == "bell" and item.sleeve != "none":
            names.add("bell-sleeve")
        names.add({"crew": "crew neck", "v": "v-neck", "scoop": "scoop", "collar": "collar",
                   "off": "off-the-shoulder", "hood": "hooded"}[item.neckline])
        if item.motif == "graphic":
            names.add("graphic")
    if item.closure == "buttons":
        names.add("button-front")
    if item.closure == "zip":
        names.add("zip-up")
    if item.open_front:
        names.add("open-front")
    for flag, name in ((item.pockets != "none", "pocket"), (item.belt, "belted"), (item.drawstring, "drawstring"),
                       (item.cuffs, "cuffed"), (item.ruffle, "ruffle trim"), (item.bow, "bow"),
                       (item.colorblock, "colorblock"), (item.sporty, "sporty"), (item.motif == "star", "star print"),
                       (item.motif == "heart", "heart print")):
        if flag:
            names.add(name)
    if item.palette in ("pastel", "neon", "monochrome", "earth tone", "dark"):
        names.add(item.palette)
    return names


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
    # style words first, then texture, fabric, shape and part words
    ordered = [name for attr_type in (5, 1, 2, 3, 4) for name in spec.attrs
               if ATTRIBUTE_TYPES[name] == attr_type and name in _NAME_WORDS]
    words = [_NAME_WORDS[name] for name in ordered]
    first_count = int(rng.integers(1, 4))
    chosen = sorted(rng.permutation(len(words))[:first_count].tolist()) if words else []
    first = [words[i] for i in chosen]
    rest = [word for i, word in enumerate(words) if i not in chosen]
    fillers = [_FILLER_WORDS[i] for i in rng.permutation(len(_FILLER_WORDS))]
    candidates = ["_".join(first + [spec.category])]
    for word in rest:
        first = first + [word]
        candidates.append("_".join(first + [spec.category]))
    for filler in fillers:
        candidates.append("_".join([filler] + first + [spec.category]))
    return candidates
