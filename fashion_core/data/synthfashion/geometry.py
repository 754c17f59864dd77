"""Parametric garment geometry: the pieces, details and named landmarks of one item in one pose.

The body outline is built down the wearer's left side (neck, shoulder, armhole, waist, hips,
hem or leg) and closed by mirroring it; legs and sleeves follow the pose, so they are built
per side.  One garment model yields all landmarks from the same geometry:
  collar    = neckline_left/right (where the neckline meets the shoulder seam)
  sleeve    = midpoint of cuff_in/cuff_out; for sleeveless garments the midpoint of the armhole
  waistline = the garment side at waist height (full body) or waistband_left/right (lower body)
  hem       = top_hem_left/right (upper body), hemline_left/right (skirt, dress, kimono),
              the midpoint of bottom_in/bottom_out (trousers, shorts, jumpsuits, rompers)
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from fashion_core.data.synthfashion.catalogue import ItemSpec
from fashion_core.data.synthfashion.details import add_details
from fashion_core.data.synthfashion.primitives import (
    CROTCH_Y, HIP_Y, KIMONO_HEM_Y, LEG_LENGTH, LEG_WIDTH, SKIRT_HEM_Y, WAIST_Y, Geometry, Leg, Pose, bezier,
    mirror_x, point, skirt_half_width)

SIDES = ((0, 1.0), (1, -1.0))   # (index into the pose's (left, right) angles, x sign of that side)
SLEEVE_LENGTH = {"short": 0.30, "elbow": 0.58, "long": 1.0}


class Neckline(NamedTuple):
    """The left neck point, the centre-front depth below it and how the opening is drawn ("v" or "curve")."""

    x: float
    y: float
    front_depth: float
    curve: str


def build_geometry(item: ItemSpec, pose: Pose) -> Geometry:
    """All polygons, details and named points of one garment in one pose (world units)."""
    geom = Geometry()
    body_width = pose.body_w
    has_top = item.kind in ("upper", "dress", "jumpsuit", "kimono")
    left_side: list = []     # outline from the left neck point down to the bottom, left side
    neckline = sleeve_mid = None
    if has_top:
        neckline = _neckline(item, body_width)
        left_side, sleeve_mid = _torso_side(geom, item, neckline, body_width)
    if item.kind in ("trousers", "skirt"):
        left_side = [_waistband(geom, item, body_width)]
    if item.kind in ("skirt", "dress"):
        _skirt_side(geom, item, left_side, body_width)
    legs: dict[int, Leg] = {}
    if item.kind in ("trousers", "jumpsuit"):
        left_side.append(point(0.40 * body_width, HIP_Y))
        legs = {side: _leg(item, pose.leg[side], sign, body_width) for side, sign in SIDES}
        outline = _outline_with_legs(geom, item, left_side, legs)
    else:
        outline = _outline_with_hem(item, left_side)
    if has_top:
        outline = outline + _neckline_opening(neckline)
    body = np.array(outline)
    _mirror_left_points(geom.points, legs)
    if item.neckline == "hood":      # drawn first so the body covers its feet
        lobe = _hood_lobe()
        geom.pieces.append(("hood", lobe))
        geom.pieces.append(("hood", mirror_x(lobe)[::-1]))
    geom.pieces.append(("body", body))
    if has_top and item.sleeve != "none":
        for side, sign in SIDES:
            _add_sleeve(geom, item, side, sign, pose.arm[side], body_width)
    elif has_top:
        geom.df[2] = sleeve_mid
        geom.df[3] = mirror_x(sleeve_mid)
    add_details(geom, item, body_width, legs)
    return geom


def _neckline(item: ItemSpec, body_width: float) -> Neckline:
    """The neckline of the wearer's left side."""
    if item.neckline == "off":
        return Neckline(0.44 * body_width, 0.15, 0.21, "curve")
    if item.open_front and item.kind in ("upper", "kimono"):
        return Neckline(0.13, 0.0, 0.42 if item.top_len == "longline" or item.kind == "kimono" else 0.34, "v")
    return Neckline(*{"crew": (0.125, 0.0, 0.09, "curve"), "v": (0.13, 0.0, 0.27, "v"),
                      "scoop": (0.17, 0.0, 0.20, "curve"), "collar": (0.115, -0.01, 0.19, "v"),
                      "hood": (0.13, 0.0, 0.11, "curve")}[item.neckline])


def _torso_side(geom: Geometry, item: ItemSpec, neckline: Neckline, body_width: float) -> tuple[list, np.ndarray]:
    """Left side of a top from the neck point to the waist or hem, and the armhole midpoint.

    Records the neckline, centre-front, shoulder, armpit, waistline and top-hem points that exist
    and the collar, waistline (full body) and hem (upper body, kimono) DeepFashion slots.
    """
    points = geom.points
    is_kimono = item.kind == "kimono"
    if item.sleeve_shape == "strap":
        shoulder = point(neckline.x + 0.10, 0.02)
    elif item.neckline == "off":
        shoulder = point(neckline.x, neckline.y)
    else:
        shoulder = point((0.43 if is_kimono else 0.40) * body_width * (1.05 if item.top_fit == "boxy" else 1.0), 0.05)
    fit_width = {"fitted": 0.95, "regular": 1.0, "boxy": 1.08}[item.top_fit]
    armpit = point((0.44 if is_kimono else 0.36) * body_width * fit_width,
                   0.58 if is_kimono else 0.36 + (0.05 if item.neckline == "off" else 0.0))
    waist_x = (0.45 if is_kimono else {"fitted": 0.29, "regular": 0.33, "boxy": 0.39}[item.top_fit]) * body_width
    if item.kind in ("dress", "jumpsuit"):
        waist_x = 0.30 * body_width
    points.update(neckline_left=point(neckline.x, neckline.y),
                  center_front=point(0.0, neckline.y + neckline.front_depth),
                  shoulder_left=shoulder, armpit_left=armpit)
    side = [point(neckline.x, neckline.y)]
    if item.neckline != "off":
        side.append(shoulder)
    sleeve_mid = None
    if item.sleeve == "none":
        # the armhole bows inwards between shoulder and armpit
        control = point(shoulder[0] - 0.09, (shoulder[1] + armpit[1]) * 0.5)
        side.extend(bezier(shoulder, control, armpit, 9)[1:-1])
        sleeve_mid = bezier(shoulder, control, armpit, 3)[1]
    side.append(armpit)
    _torso_bottom(geom, item, side, armpit, waist_x, body_width)
    geom.df[0], geom.df[1] = point(neckline.x, neckline.y), point(-neckline.x, neckline.y)
    if item.kind in ("dress", "jumpsuit", "kimono"):
        geom.df[4], geom.df[5] = points["waistline_left"], mirror_x(points["waistline_left"])
    return side, sleeve_mid


def _torso_bottom(geom: Geometry, item: ItemSpec, side: list, armpit: np.ndarray, waist_x: float,
                  body_width: float) -> None:
    """Continue a top's left side below the armpit: to the hem (upper body, kimono) or the waist."""
    points = geom.points
    if item.kind == "upper":
        hem_y = {"crop": 0.60, "regular": 1.05, "longline": 1.45}[item.top_len]
        hem_x = {"fitted": 0.37, "regular": 0.40, "boxy": 0.42}[item.top_fit] * body_width
        if item.category == "Blouse":
            hem_x += 0.04
        if item.top_len == "crop":
            # a crop top ends above the waist, on the line from the armpit to the waist
            hem_x = (armpit[0] + (waist_x - armpit[0]) * (hem_y - armpit[1]) / (WAIST_Y - armpit[1])
                     + (0.02 if item.top_fit == "boxy" else 0.0))
        else:
            side.append(point(waist_x, WAIST_Y))
            points["waistline_left"] = point(waist_x, WAIST_Y)
        if item.top_len == "longline":
            side.append(point(0.41 * body_width, HIP_Y))
        hem_left = point(hem_x, hem_y)
    elif item.kind == "kimono":
        hem_y = KIMONO_HEM_Y[item.skirt_len]
        side.append(point(waist_x, WAIST_Y))
        points["waistline_left"] = point(waist_x, WAIST_Y)
        hem_left = point(waist_x + 0.02, hem_y)
    else:   # dress / jumpsuit: the lower part continues from the waist
        side.append(point(waist_x, WAIST_Y))
        points["waistline_left"] = point(waist_x, WAIST_Y)
        return
    side.append(hem_left)
    points["top_hem_left"] = hem_left
    geom.df[6], geom.df[7] = hem_left, mirror_x(hem_left)


def _waistband(geom: Geometry, item: ItemSpec, body_width: float) -> np.ndarray:
    """The left waistband corner of a lower-body garment (its waistline slots)."""
    band_y = {"high": 0.68, "mid": WAIST_Y, "low": 0.86}[item.waist]
    band_x = (0.305 if band_y <= WAIST_Y else 0.33) * body_width
    geom.points["waistband_left"] = point(band_x, band_y)
    geom.df[4], geom.df[5] = point(band_x, band_y), point(-band_x, band_y)
    return point(band_x, band_y)


def _skirt_side(geom: Geometry, item: ItemSpec, side: list, body_width: float) -> None:
    """Continue the left side of a skirt or dress over the hip to the hemline."""
    hem_y = SKIRT_HEM_Y[item.skirt_len]
    if hem_y > HIP_Y + 0.1:
        side.append(point(skirt_half_width(item, HIP_Y, body_width), HIP_Y))
    hem_left = point(skirt_half_width(item, hem_y, body_width), hem_y)
    side.append(hem_left)
    geom.points["hemline_left"] = hem_left
    geom.df[6], geom.df[7] = hem_left, mirror_x(hem_left)


def _leg(item: ItemSpec, angle: float, sign: float, body_width: float) -> Leg:
    """One trouser leg hanging from the hip at `angle` from vertical, on the side of x sign `sign`."""
    length = LEG_LENGTH[item.leg_len]
    knee_width, opening_width = LEG_WIDTH[item.fit]
    if item.leg_len == "shorts":
        opening_width = {"skinny": 0.27, "straight": 0.31, "wide": 0.37}.get(item.fit, 0.31)
    if item.leg_len == "culotte":
        knee_width, opening_width = 0.38, 0.44
    direction = point(sign * math.sin(angle), math.cos(angle))
    normal = point(sign * math.cos(angle), -math.sin(angle))
    hip = point(sign * 0.19 * body_width, 1.10)
    opening = hip + direction * length
    outer, inner = opening + normal * opening_width / 2, opening - normal * opening_width / 2
    if sign * inner[0] < 0.02:
        # a leg swung inwards would cross the centre line: move the opening out
        shift = 0.02 - sign * inner[0]
        outer, inner, opening = (outer + point(sign * shift, 0), inner + point(sign * shift, 0),
                                 opening + point(sign * shift, 0))
    knee_outer = knee_inner = None
    if length > 0.8:
        knee = hip + direction * 0.72
        knee_outer, knee_inner = knee + normal * knee_width / 2, knee - normal * knee_width / 2
        if sign * knee_inner[0] < 0.02:
            knee_inner = point(sign * 0.02, knee_inner[1])
    return Leg(outer, inner, opening, knee_outer, knee_inner, direction, normal)


def _outline_with_legs(geom: Geometry, item: ItemSpec, left_side: list, legs: dict[int, Leg]) -> list:
    """Closed outline of trousers or a jumpsuit: left side, left leg, crotch, right leg, mirrored right side.

    Records the crotch and leg-opening points and the hem slots (the leg-opening midpoints).
    """
    left_leg, right_leg = legs[0], legs[1]
    if left_leg.knee_outer is not None:
        left_side.append(left_leg.knee_outer)
    left_side.append(left_leg.outer)
    crotch = point(0.0, CROTCH_Y - (0.02 if item.leg_len == "shorts" else 0.0))
    geom.points["crotch"] = crotch
    bottom = [left_leg.inner] + ([left_leg.knee_inner] if left_leg.knee_inner is not None else []) + [crotch]
    bottom += ([right_leg.knee_inner] if right_leg.knee_inner is not None else []) + [right_leg.inner]
    geom.points.update(bottom_left_in=left_leg.inner, bottom_left_out=left_leg.outer,
                       bottom_right_in=right_leg.inner, bottom_right_out=right_leg.outer)
    geom.df[6], geom.df[7] = left_leg.opening, right_leg.opening
    right_tail = ([right_leg.knee_outer] if right_leg.knee_outer is not None else []) + [right_leg.outer]
    # the right side mirrors the left one above the legs, which follow the pose
    leg_points = 1 + (1 if left_leg.knee_outer is not None else 0)
    right_side = [mirror_x(vertex) for vertex in left_side[:-leg_points]] + right_tail
    return left_side + bottom + right_side[::-1]


def _outline_with_hem(item: ItemSpec, left_side: list) -> list:
    """Closed outline of a garment without legs: left side, the hem, the mirrored right side."""
    right_side = [mirror_x(vertex) for vertex in left_side]
    hem_left, hem_right = left_side[-1], right_side[-1]
    hem_y = hem_left[1]
    sag = 0.03
    if item.category == "Button-Down":
        sag = 0.10
    if item.ruffle:
        scallops = 9
        xs = np.linspace(hem_left[0], hem_right[0], 2 * scallops + 1)[1:-1]
        bottom = [point(x, hem_y + (0.045 if i % 2 == 0 else 0.0) + sag * (1 - (x / hem_left[0]) ** 2))
                  for i, x in enumerate(xs)]
    else:
        bottom = list(bezier(hem_left, point(0.0, hem_y + 2 * sag), hem_right, 7)[1:-1])
    return left_side + bottom + right_side[::-1]


def _neckline_opening(neckline: Neckline) -> list:
    """Outline points from the right neck point back to the left one, through the centre front."""
    if neckline.curve == "v":
        return [point(0.0, neckline.y + neckline.front_depth)]
    return [point(neckline.x * math.cos(angle), neckline.y + neckline.front_depth * math.sin(angle))
            for angle in np.linspace(math.pi, 0, 9)[1:-1]]


def _mirror_left_points(points: dict, legs: dict[int, Leg]) -> None:
    """Add the mirror image of every "_left" point as its "_right" point; leg openings keep their own."""
    for name in list(points):
        if name.endswith("_left"):
            points[name[:-5] + "_right"] = mirror_x(points[name])
    if "bottom_right_in" in points:
        points["bottom_right_in"], points["bottom_right_out"] = legs[1].inner, legs[1].outer


def _hood_lobe() -> np.ndarray:
    """The left lobe of a hood lying on the shoulders behind the neck."""
    centre_y, outer_radii, inner_radii, neck_x = 0.05, (0.29, 0.22), (0.145, 0.10), 0.09
    outer_start, inner_end = math.acos(neck_x / outer_radii[0]), math.acos(neck_x / inner_radii[0])
    outer = [(outer_radii[0] * math.cos(angle), centre_y - outer_radii[1] * math.sin(angle))
             for angle in np.linspace(outer_start, 0.0, 8)]
    inner = [(inner_radii[0] * math.cos(angle), centre_y - inner_radii[1] * math.sin(angle))
             for angle in np.linspace(0.0, inner_end, 6)]
    return np.array(outer + inner)


def _sleeve_width(item: ItemSpec) -> float:
    if item.kind == "kimono":
        return {"short": 0.50, "elbow": 0.56, "long": 0.50}[item.sleeve]
    if item.sleeve_shape == "bell":
        return {"short": 0.32, "elbow": 0.38, "long": 0.40}[item.sleeve]
    return {"short": 0.25, "elbow": 0.20, "long": 0.16}[item.sleeve]


def _add_sleeve(geom: Geometry, item: ItemSpec, side: int, sign: float, angle: float, body_width: float) -> None:
    """One sleeve from the shoulder to the armpit along the arm, its cuff points, cuff seams and sport stripes."""
    points = geom.points
    length = SLEEVE_LENGTH[item.sleeve]
    direction = point(sign * math.sin(angle), math.cos(angle))
    normal = point(sign * math.cos(angle), -math.sin(angle))
    joint = point(sign * 0.40 * body_width, 0.10)
    side_name = "left" if sign > 0 else "right"
    shoulder, armpit = points[f"shoulder_{side_name}"], points[f"armpit_{side_name}"]
    if item.kind == "kimono":
        joint = point(sign * 0.42 * body_width, 0.30)
    width = _sleeve_width(item)
    if item.neckline == "off":
        joint = joint + point(0, 0.10)
    cuff = joint + direction * length
    cuff_out, cuff_in = cuff + normal * width / 2, cuff - normal * width / 2
    path = [shoulder]
    if item.sleeve_shape == "puff":
        mid = joint + direction * length * 0.5
        path.append(mid + normal * 0.19)
        path.extend([cuff_out, cuff_in, mid - normal * 0.10])
    else:
        path.extend([cuff_out, cuff_in])
    path.append(armpit)
    geom.pieces.append(("sleeve", np.array(path)))
    points[f"cuff_{side_name}_in"], points[f"cuff_{side_name}_out"] = cuff_in, cuff_out
    geom.df[2 + side] = cuff
    if item.cuffs and item.sleeve != "short":
        geom.lines.append((np.array([cuff_out - direction * 0.07, cuff_in - direction * 0.07]), "seam", 0.012))
        for t in np.linspace(0.15, 0.85, 5):
            rib = cuff_out + (cuff_in - cuff_out) * t
            geom.lines.append((np.array([rib, rib - direction * 0.065]), "seam", 0.007))
    if item.sporty:
        for offset in (0.03, 0.065):
            geom.lines.append((np.array([shoulder - normal * offset + direction * 0.03, cuff_out - normal * offset]),
                               "accent", 0.022))
