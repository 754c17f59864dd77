"""Garment details drawn over the fabric: openings, collars, closures, pockets, waistbands, trims.

add_details appends them to a Geometry whose pieces and named points are already built; the
order of the calls is the drawing order.  Colours are keys of the rasteriser's colour table
("seam", "trim", "metal", "light", "accent").
"""
from __future__ import annotations

import numpy as np

from fashion_core.data.synthfashion.catalogue import ItemSpec
from fashion_core.data.synthfashion.primitives import (
    HIP_Y, LEG_LENGTH, WAIST_Y, Geometry, Leg, bezier, mirror_x, point, skirt_half_width)


def add_details(geom: Geometry, item: ItemSpec, body_width: float, legs: dict[int, Leg]) -> None:
    """Append every detail the item's design calls for (legs: the trouser legs by side, empty without legs)."""
    points = geom.points
    has_top = item.kind in ("upper", "dress", "jumpsuit", "kimono")
    top_y = points["center_front"][1] if has_top else None
    hem_y = points["top_hem_left"][1] if "top_hem_left" in points else None
    if item.open_front and has_top:
        gap = 0.06 if item.kind == "upper" else 0.09
        geom.hole = np.array([points["center_front"] + point(0, -0.005), point(gap, hem_y + 0.04),
                              point(-gap, hem_y + 0.04)])
    if item.neckline == "collar" and has_top:
        _add_collar(geom, item)
    if item.closure == "buttons" and has_top:
        _add_front_buttons(geom, item, top_y, hem_y)
    if item.closure == "buttons" and item.kind == "skirt":
        for y in np.linspace(points["waistband_left"][1] + 0.12, points["hemline_left"][1] - 0.08, 5):
            geom.dots.append((point(0.0, y), 0.02, "trim"))
    if item.closure == "zip" and has_top:
        _add_front_zip(geom, item, top_y, hem_y)
    if item.hem_band and hem_y is not None:
        hem_left = points["top_hem_left"]
        geom.lines.append((np.array([hem_left + point(-0.005, -0.08), mirror_x(hem_left) + point(0.005, -0.08)]),
                           "seam", 0.012))
    if item.pockets != "none":
        _add_pockets(geom, item, has_top, hem_y, legs)
    if item.kind in ("trousers", "skirt"):
        _add_waistband_seams(geom, item)
    if item.kind == "trousers" and item.cuffs:
        for side in (0, 1):
            leg = legs[side]
            geom.lines.append((np.array([leg.outer - leg.direction * 0.08, leg.inner - leg.direction * 0.08]),
                               "seam", 0.014))
    if item.drawstring:
        _add_drawstring_cords(geom, item)
    if item.belt:
        _add_belt(geom, item, hem_y, body_width)
    if item.bow and has_top:
        knot = points["center_front"] + point(0.0, 0.03)
        for sign in (1.0, -1.0):
            geom.fills.append((np.array([knot, knot + point(sign * 0.09, -0.05), knot + point(sign * 0.09, 0.05)]),
                               "trim"))
        geom.dots.append((knot, 0.02, "trim"))
    if item.kind in ("skirt", "dress") and item.skirt_shape == "pleated":
        _add_pleats(geom, item, body_width)
    if item.kind == "trousers" and item.sporty:
        for side in (0, 1):
            leg = legs[side]
            hip = point((1 if side == 0 else -1) * 0.40 * body_width, HIP_Y)
            for offset in (0.025, 0.055):
                geom.lines.append((np.array([hip - leg.normal * offset, leg.outer - leg.normal * offset]),
                                   "accent", 0.02))
    if item.distressed:
        _add_distressed_scuffs(geom, item, legs)


def _add_collar(geom: Geometry, item: ItemSpec) -> None:
    """Two collar flaps from the neck points to the centre front (larger on jackets: lapels)."""
    neck, front = geom.points["neckline_left"], geom.points["center_front"]
    big = 0.06 if item.category == "Jacket" else 0.0
    for sign in (1.0, -1.0):
        flap = np.array([point(sign * (neck[0] - 0.01), neck[1] - 0.04),
                         point(sign * (neck[0] + 0.10 + big), neck[1] + 0.11 + big),
                         point(sign * (0.05 + big / 2), front[1] + 0.03 + big / 2), point(0.0, front[1] - 0.01)])
        geom.pieces.append(("collar", flap))


def _add_front_buttons(geom: Geometry, item: ItemSpec, top_y: float, hem_y: float | None) -> None:
    """Closed: a placket down the centre with buttons on it; open: buttons on the wearer's right front edge."""
    first_y = top_y + 0.05
    last_y = (hem_y if hem_y is not None else WAIST_Y + 0.05) - 0.05
    x = 0.0 if not item.open_front else -0.06 if item.kind == "upper" else -0.09
    buttons = max(2, int((last_y - first_y) / 0.13) + 1)
    if not item.open_front:
        geom.lines.append((np.array([point(0.025, top_y), point(0.025, last_y + 0.05)]), "seam", 0.008))
    for y in np.linspace(first_y, last_y, buttons):
        geom.dots.append((point(x, y), 0.022, "trim"))


def _add_front_zip(geom: Geometry, item: ItemSpec, top_y: float, hem_y: float | None) -> None:
    """Closed: one zip down the centre with its pull; open: a zip along each front edge."""
    bottom_y = hem_y if hem_y is not None else WAIST_Y
    for x in ((0.06, -0.06) if item.open_front else (0.0,)):
        geom.lines.append((np.array([point(0.0, top_y), point(x, bottom_y)]), "metal", 0.018))
    if not item.open_front:
        geom.fills.append((np.array([point(-0.02, top_y + 0.02), point(0.02, top_y + 0.02), point(0.02, top_y + 0.08),
                                     point(-0.02, top_y + 0.08)]), "metal"))


def _add_pockets(geom: Geometry, item: ItemSpec, has_top: bool, hem_y: float | None, legs: dict[int, Leg]) -> None:
    """Pocket seams: patch or kangaroo pockets on tops, jeans or slash pockets at the hips, cargo pockets on legs."""
    points = geom.points
    if item.pockets == "patch" and has_top:
        if item.category == "Button-Down" or (hem_y is not None and hem_y < 0.9):
            # one chest pocket with a pointed bottom
            corner = point(0.12, 0.32)
            geom.lines.append((np.array([corner, corner + point(0.13, 0), corner + point(0.13, 0.14),
                                         corner + point(0.065, 0.17), corner + point(0, 0.14), corner]), "seam", 0.012))
        else:
            # two flapped pockets above the hem
            pocket_bottom = (hem_y if hem_y is not None else 1.0) - 0.12
            for sign in (1.0, -1.0):
                corner = point(sign * 0.10, pocket_bottom - 0.2)
                box = [corner, corner + point(sign * 0.18, 0), corner + point(sign * 0.18, 0.18),
                       corner + point(0, 0.18), corner]
                geom.lines.append((np.array(box), "seam", 0.012))
                flap = np.array([corner + point(0, 0.045), corner + point(sign * 0.18, 0.045)])
                geom.lines.append((flap, "seam", 0.01))
    elif item.pockets == "kangaroo":
        pocket_bottom = (hem_y if hem_y is not None else 1.0) - 0.10
        outline = [point(-0.22, pocket_bottom), point(-0.16, pocket_bottom - 0.24), point(0.16, pocket_bottom - 0.24),
                   point(0.22, pocket_bottom), point(-0.22, pocket_bottom)]
        geom.lines.append((np.array(outline), "seam", 0.014))
    elif (item.pockets in ("jeans", "slash") and "waistband_left" in points
          or (item.pockets == "slash" and item.kind == "jumpsuit")):
        top_y = points["waistband_left"][1] if "waistband_left" in points else WAIST_Y
        for sign in (1.0, -1.0):
            if item.pockets == "jeans":
                opening = bezier(point(sign * 0.18, top_y + 0.05), point(sign * 0.22, top_y + 0.17),
                                 point(sign * 0.34, top_y + 0.19), 6)
            else:
                opening = np.array([point(sign * 0.25, top_y + 0.06), point(sign * 0.36, top_y + 0.24)])
            geom.lines.append((opening, "seam", 0.013))
    elif item.pockets == "cargo" and item.kind == "trousers":
        for side, sign in ((0, 1.0), (1, -1.0)):
            leg = legs[side]
            centre = (point(sign * 0.19, 1.10) + leg.direction * min(0.55, LEG_LENGTH[item.leg_len] * 0.55)
                      + leg.normal * 0.06)
            box = [centre + point(-0.07, -0.07), centre + point(0.07, -0.07), centre + point(0.07, 0.08),
                   centre + point(-0.07, 0.08)]
            geom.lines.append((np.array(box + box[:1]), "seam", 0.012))


def _add_waistband_seams(geom: Geometry, item: ItemSpec) -> None:
    """The waistband seam of a lower-body garment, drawstring gathers, and the rivet and fly of jeans."""
    band_left = geom.points["waistband_left"]
    geom.lines.append((np.array([band_left + point(0.0, 0.075), mirror_x(band_left) + point(0.0, 0.075)]),
                       "seam", 0.012))
    if item.drawstring or item.fit == "tapered":
        for t in np.linspace(-0.9, 0.9, 11):
            geom.lines.append((np.array([point(band_left[0] * t, band_left[1] + 0.01),
                                         point(band_left[0] * t, band_left[1] + 0.065)]), "seam", 0.006))
    if item.pockets == "jeans" or item.category == "Jeans":
        geom.dots.append((point(0.0, band_left[1] + 0.04), 0.022, "metal"))
        geom.lines.append((bezier(point(0.0, band_left[1] + 0.08), point(0.07, band_left[1] + 0.25),
                                  point(0.0, band_left[1] + 0.36), 6), "seam", 0.01))


def _add_drawstring_cords(geom: Geometry, item: ItemSpec) -> None:
    """Two cords hanging from the waistband or the hood opening (none elsewhere)."""
    if item.kind in ("trousers", "skirt"):
        y = geom.points["waistband_left"][1] + 0.04
    elif item.neckline == "hood":
        y = geom.points["center_front"][1] - 0.01
    else:
        return
    for x in (0.05, -0.05):
        geom.lines.append((np.array([point(x, y), point(x * 1.3, y + 0.2)]), "light", 0.014))
        geom.dots.append((point(x * 1.3, y + 0.21), 0.016, "light"))


def _add_belt(geom: Geometry, item: ItemSpec, hem_y: float | None, body_width: float) -> None:
    """A belt band across the waist (or the waistband, or above a short top's hem) with its buckle."""
    points = geom.points
    y = points["waistband_left"][1] + 0.04 if item.kind in ("trousers", "skirt") else WAIST_Y
    if item.kind == "upper":
        y = min(WAIST_Y, (hem_y or 1.0) - 0.08)
    x = skirt_half_width(item, y, body_width) if item.kind in ("skirt", "dress") else 0.31 * body_width
    if item.kind == "upper" or item.kind == "kimono":
        x = (points["waistline_left"][0] if "waistline_left" in points else 0.33) + 0.01
    band = np.array([point(-x, y - 0.035), point(x, y - 0.035), point(x, y + 0.035), point(-x, y + 0.035)])
    geom.fills.append((band, "trim"))
    geom.lines.append((np.array([point(-0.05, y - 0.05), point(0.05, y - 0.05), point(0.05, y + 0.05),
                                 point(-0.05, y + 0.05), point(-0.05, y - 0.05)]), "metal", 0.014))


def _add_pleats(geom: Geometry, item: ItemSpec, body_width: float) -> None:
    """Seven pleat lines fanning out from the hip (skirt) or the waist (dress) to the hem."""
    top_y = HIP_Y - 0.05 if item.kind == "skirt" else WAIST_Y + 0.04
    hem_left = geom.points["hemline_left"]
    top_x = skirt_half_width(item, top_y, body_width)
    for t in np.linspace(-0.8, 0.8, 7):
        geom.lines.append((np.array([point(top_x * t, top_y), point(hem_left[0] * t, hem_left[1])]), "seam", 0.009))


def _add_distressed_scuffs(geom: Geometry, item: ItemSpec, legs: dict[int, Leg]) -> None:
    """Three light scuffs per side: down each leg, or over the hips of a skirt."""
    for side in (0, 1):
        direction = legs[side].direction if legs else None
        hip = point((1 if side == 0 else -1) * 0.19, 1.10)
        down = direction if direction is not None else point(0, 1)
        for t, offset in ((0.35, 0.02), (0.6, -0.03), (0.7, 0.04)):
            if item.kind == "skirt":
                centre = point((1 if side == 0 else -1) * 0.18, HIP_Y + 0.05 + t * 0.2)
            else:
                centre = hip + down * t * min(1.0, LEG_LENGTH[item.leg_len])
            centre = centre + point(offset, 0)
            geom.lines.append((np.array([centre + point(-0.05, 0), centre + point(0.05, 0.005)]), "light", 0.018))
