"""Every name list of the benchmarks, once: landmarks, clothes and attribute types, FashionAI keypoints.

The readers, metrics, tables and viewers all take their names from here, so a metric key
(``ne_l_collar``), a legend ("left collar") and a paper's row ("L.Collar") name the same slot.
"""
from __future__ import annotations

# DeepFashion-C / FLD's 8 landmark slots: (metric key, name, the papers' table row).
LANDMARKS = (
    ("l_collar", "left collar", "L.Collar"),
    ("r_collar", "right collar", "R.Collar"),
    ("l_sleeve", "left sleeve", "L.Sleeve"),
    ("r_sleeve", "right sleeve", "R.Sleeve"),
    ("l_waist", "left waistline", "L.Waistline"),
    ("r_waist", "right waistline", "R.Waistline"),
    ("l_hem", "left hem", "L.Hem"),
    ("r_hem", "right hem", "R.Hem"),
)
LANDMARK_KEYS = tuple(key for key, _, _ in LANDMARKS)
LANDMARK_NAMES = tuple(name for _, name, _ in LANDMARKS)
LANDMARK_TABLE_NAMES = tuple(row for _, _, row in LANDMARKS)
# Which of the 8 slots each clothes_type's triples fill, in file order.
LANDMARK_SLOTS = {1: (0, 1, 2, 3, 6, 7), 2: (4, 5, 6, 7), 3: (0, 1, 2, 3, 4, 5, 6, 7)}
CLOTHES_TYPE_NAMES = {1: "upper-body", 2: "lower-body", 3: "full-body"}
ATTRIBUTE_TYPE_NAMES = {1: "texture", 2: "fabric", 3: "shape", 4: "part", 5: "style"}
VISIBILITY_CODES = {0: "visible", 1: "occluded", 2: "truncated"}

FASHIONAI_KEYPOINTS = (
    "neckline_left", "neckline_right", "center_front", "shoulder_left", "shoulder_right",
    "armpit_left", "armpit_right", "waistline_left", "waistline_right",
    "cuff_left_in", "cuff_left_out", "cuff_right_in", "cuff_right_out",
    "top_hem_left", "top_hem_right", "waistband_left", "waistband_right",
    "hemline_left", "hemline_right", "crotch",
    "bottom_left_in", "bottom_left_out", "bottom_right_in", "bottom_right_out",
)
FASHIONAI_CATEGORIES = ("blouse", "outwear", "dress", "skirt", "trousers")
# Upper / lower / full body, the DeepFashion clothes_type codes, so datasets share one field.
FASHIONAI_CLOTHES_TYPE = {"blouse": 1, "outwear": 1, "dress": 3, "skirt": 2, "trousers": 2}
FASHIONAI_VISIBILITY_CODES = {1: "visible", 0: "occluded", -1: "absent"}


def _flip_pairs() -> tuple[tuple[int, int], ...]:
    index = {name: position for position, name in enumerate(FASHIONAI_KEYPOINTS)}
    pairs = []
    for name, position in index.items():
        # cuff_left_in <-> cuff_right_in: the side word is not always the last token.
        if "left" in name.split("_"):
            pairs.append((position, index[name.replace("left", "right")]))
    return tuple(pairs)


FASHIONAI_FLIP_PAIRS = _flip_pairs()  # (0,1),(3,4),(5,6),(7,8),(9,11),(10,12),(13,14),(15,16),(17,18),(20,22),(21,23)
