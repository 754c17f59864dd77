"""The SynthFashion rasteriser: draws a scene through a view into an RGB image and its masks.

Drawing order: background gradient, clutter, the figure, the companion garment, the garment's
fabric (colour, texture print, fabric shading, motif; per pixel), its seams and details, the
occluders, then brightness and pixel noise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from fashion_core.data.synthfashion.catalogue import ItemSpec
from fashion_core.data.synthfashion.patterns import fabric_shading, motif_alpha, texture_alpha
from fashion_core.data.synthfashion.primitives import WAIST_Y, Geometry, affine_apply, affine_compose, affine_inverse
from fashion_core.data.synthfashion.scene import Scene


@dataclass
class _GarmentPixels:
    """The garment's pixels in row-major order: output coordinates, world coordinates, sleeve flags."""

    xs: np.ndarray
    ys: np.ndarray
    u: np.ndarray               # float32 world x of each pixel
    v: np.ndarray               # float32 world y of each pixel
    in_sleeve: np.ndarray


def render(scene: Scene, view: np.ndarray, out_w: int, out_h: int, rng: np.random.Generator):
    """Rasterise a scene through `view` (image pixels -> output pixels).

    Returns (rgb uint8 HxWx3, garment mask bool HxW, occluder mask bool HxW).
    """
    world_to_out = affine_compose(view, scene.world_to_image)
    scale = math.sqrt(abs(np.linalg.det(world_to_out[:, :2])))
    image = _background(scene, view, out_w, out_h)
    draw = ImageDraw.Draw(image)
    _draw_clutter(draw, scene.clutter, view)
    for polygon, colour in scene.figure_polygons:
        draw.polygon(_flat(affine_apply(world_to_out, polygon)), fill=colour)
    line_width = max(1, int(round(scale * 0.011)))
    if scene.companion is not None:
        _draw_companion(draw, scene.companion, scene.figure.companion.base, world_to_out, scale, line_width)
    garment_mask, sleeve_mask = _garment_masks(scene.geom, world_to_out, out_w, out_h)
    keys = _colour_keys(scene.item)
    pixels = np.asarray(image).copy()
    garment = _garment_pixels(garment_mask, sleeve_mask, world_to_out)
    if garment is not None:
        _paint_fabric(pixels, garment_mask, garment, scene, keys, rng)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    _draw_garment_details(draw, scene, world_to_out, scale, line_width, keys)
    if scene.geom.fills:    # the fills and details are part of the garment
        fill_mask = Image.new("L", (out_w, out_h), 0)
        fill_draw = ImageDraw.Draw(fill_mask)
        for polygon, _ in scene.geom.fills:
            fill_draw.polygon(_flat(affine_apply(world_to_out, polygon)), fill=255)
        garment_mask |= np.asarray(fill_mask) > 0
    occluder_mask = _draw_occluders(draw, scene.occluders, world_to_out, out_w, out_h)
    return _brightness_and_noise(np.asarray(image), scene, out_w, out_h, rng), garment_mask, occluder_mask


def _colour_keys(item: ItemSpec) -> dict:
    """The detail colours of an item by key; the accent is replaced when too close to the base colour."""
    base = np.array(item.base, dtype=float)
    accent = item.accent
    if np.abs(np.array(accent) - base).sum() < 90:
        accent = (245, 245, 240) if base.sum() < 400 else (25, 25, 30)
    return {"seam": tuple(int(channel) for channel in base * 0.55), "trim": tuple(item.trim), "metal": (178, 176, 170),
            "light": (236, 234, 228), "accent": tuple(accent)}


def _flat(points: np.ndarray) -> list:
    """Points as the flat [x0, y0, x1, y1, ...] list PIL draws."""
    return points.ravel().tolist()


def _closed(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points, points[:1]])


def _background(scene: Scene, view: np.ndarray, out_w: int, out_h: int) -> Image.Image:
    """The background gradient (defined in image pixels) seen through `view`."""
    out_to_image = affine_inverse(view)
    gx, gy, offset = scene.gradient
    step_x = gx * out_to_image[0, 0] + gy * out_to_image[1, 0]
    step_y = gx * out_to_image[0, 1] + gy * out_to_image[1, 1]
    start = gx * out_to_image[0, 2] + gy * out_to_image[1, 2] + offset
    # a linear gradient: colour the four corners, let PIL interpolate
    corners = np.clip(np.array([[start, step_x * (out_w - 1) + start],
                                [step_y * (out_h - 1) + start, step_x * (out_w - 1) + step_y * (out_h - 1) + start]]),
                      0, 1)
    colour_start = np.array(scene.background_start, np.float64)
    colour_end = np.array(scene.background_end, np.float64)
    small = (colour_start * (1 - corners[..., None]) + colour_end * corners[..., None]).round().astype(np.uint8)
    return Image.fromarray(small, "RGB").resize((out_w, out_h), Image.BILINEAR)


def _draw_clutter(draw: ImageDraw.ImageDraw, clutter: list, view: np.ndarray) -> None:
    view_scale = math.sqrt(abs(np.linalg.det(view[:, :2])))
    for kind, outline, colour, width in clutter:
        mapped = affine_apply(view, outline)
        if kind == "line":
            draw.line(_flat(mapped), fill=colour, width=max(1, int(round(width * view_scale))))
        else:
            draw.polygon(_flat(mapped), fill=colour)


def _draw_companion(draw: ImageDraw.ImageDraw, companion: Geometry, colour: tuple, world_to_out: np.ndarray,
                    scale: float, line_width: int) -> None:
    """The companion garment, flat in its colour with darker outlines and seams."""
    dark = tuple(int(channel * 0.6) for channel in colour)
    for _, polygon in companion.pieces:
        draw.polygon(_flat(affine_apply(world_to_out, polygon)), fill=colour)
    for _, polygon in companion.pieces:
        draw.line(_flat(_closed(affine_apply(world_to_out, polygon))), fill=dark, width=line_width)
    for line, _, width in companion.lines:
        draw.line(_flat(affine_apply(world_to_out, line)), fill=dark, width=max(1, int(round(width * scale))))


def _garment_masks(geom: Geometry, world_to_out: np.ndarray, out_w: int, out_h: int) -> tuple:
    """(garment mask, sleeve mask) of the pieces; the open-front hole is not garment."""
    garment = Image.new("L", (out_w, out_h), 0)
    garment_draw = ImageDraw.Draw(garment)
    sleeves = Image.new("L", (out_w, out_h), 0)
    sleeve_draw = ImageDraw.Draw(sleeves)
    for role, polygon in geom.pieces:
        flat = _flat(affine_apply(world_to_out, polygon))
        garment_draw.polygon(flat, fill=255)
        if role == "sleeve":
            sleeve_draw.polygon(flat, fill=255)
    if geom.hole is not None:
        garment_draw.polygon(_flat(affine_apply(world_to_out, geom.hole)), fill=0)
    return np.asarray(garment) > 0, np.asarray(sleeves) > 0


def _garment_pixels(garment_mask: np.ndarray, sleeve_mask: np.ndarray,
                    world_to_out: np.ndarray) -> _GarmentPixels | None:
    """The garment pixels and their world coordinates; None when no pixel is garment."""
    rows = np.flatnonzero(garment_mask.any(1))
    cols = np.flatnonzero(garment_mask.any(0))
    if not rows.size:
        return None
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    out_to_world = affine_inverse(world_to_out).astype(np.float32)
    ys, xs = np.nonzero(garment_mask[y0:y1, x0:x1])
    ys, xs = ys + y0, xs + x0
    xs_f, ys_f = xs.astype(np.float32), ys.astype(np.float32)
    u = out_to_world[0, 0] * xs_f + out_to_world[0, 1] * ys_f + out_to_world[0, 2]
    v = out_to_world[1, 0] * xs_f + out_to_world[1, 1] * ys_f + out_to_world[1, 2]
    return _GarmentPixels(xs, ys, u, v, sleeve_mask[ys, xs])


def _colorblock_region(item: ItemSpec, geom: Geometry, garment: _GarmentPixels) -> np.ndarray:
    """The pixels of a colour-blocked garment drawn in the accent colour: the sleeves or a lower band."""
    v = garment.v
    if item.kind in ("upper", "dress", "jumpsuit", "kimono") and item.sleeve != "none":
        return garment.in_sleeve
    if item.kind == "trousers":
        return v > 1.75
    if item.kind == "skirt":
        return v > (geom.points["hemline_left"][1] + geom.points["waistband_left"][1]) / 2
    if item.kind == "upper":
        return v > 0.62
    return v > WAIST_Y


def _paint_fabric(pixels: np.ndarray, garment_mask: np.ndarray, garment: _GarmentPixels, scene: Scene, keys: dict,
                  rng: np.random.Generator) -> None:
    """Write the garment's fabric colours into `pixels`; lace holes show what is under them and leave the mask."""
    item = scene.item
    u, v = garment.u, garment.v
    base = np.array(item.base, np.float32)
    accent = np.array(keys["accent"] if item.texture != "solid" else item.accent, np.float32)
    if item.colorblock:
        region = _colorblock_region(item, scene.geom, garment)
        colour = np.where(region[:, None], np.array(keys["accent"], np.float32), base)
    else:
        colour = np.broadcast_to(base, u.shape + (3,))
    if item.texture != "solid":
        alpha = texture_alpha(item, u, v) * np.float32(scene.texture_contrast * item.tex_strength)
        colour = colour + (accent - colour) * alpha[:, None]
    luminance, opacity, holes = fabric_shading(item, u, v, rng)
    # shade towards the sides of the body, and the sleeves a little darker
    luminance = luminance * (1 - np.float32(0.14) * np.minimum(np.abs(u) * np.float32(1 / 0.7), 1) ** 2)
    luminance[garment.in_sleeve] *= np.float32(0.93)
    colour = colour * luminance[:, None]
    motif = motif_alpha(item, u, v)
    if motif is not None:
        motif_colour = np.array(keys["accent"] if item.texture == "solid" else keys["trim"], np.float32)
        colour = colour + (motif_colour - colour) * motif[:, None]
    np.clip(colour, 0, 255, out=colour)
    xs, ys = garment.xs, garment.ys
    if opacity < 1 or holes is not None:
        under = pixels[ys, xs].astype(np.float32)
        if opacity < 1:
            colour = under * (1 - opacity) + colour * opacity
        if holes is not None:
            colour = np.where(holes[:, None], under, colour)
            garment_mask[ys[holes], xs[holes]] = False
    pixels[ys, xs] = colour.astype(np.uint8)


def _draw_garment_details(draw: ImageDraw.ImageDraw, scene: Scene, world_to_out: np.ndarray, scale: float,
                          line_width: int, keys: dict) -> None:
    """The top seen through an open front, the piece outlines, then fills, lines and dots in the detail colours."""
    geom = scene.geom
    if geom.hole is not None:
        draw.polygon(_flat(affine_apply(world_to_out, geom.hole)), fill=scene.figure.inner)
    for _, polygon in geom.pieces:
        draw.line(_flat(_closed(affine_apply(world_to_out, polygon))), fill=keys["seam"], width=line_width)
    for polygon, key in geom.fills:
        draw.polygon(_flat(affine_apply(world_to_out, polygon)), fill=keys[key])
    for line, key, width in geom.lines:
        draw.line(_flat(affine_apply(world_to_out, line)), fill=keys[key], width=max(1, int(round(width * scale))))
    for centre, radius, key in geom.dots:
        mapped = affine_apply(world_to_out, centre)
        radius_px = max(1.0, radius * scale)
        draw.ellipse([mapped[0] - radius_px, mapped[1] - radius_px, mapped[0] + radius_px, mapped[1] + radius_px],
                     fill=keys[key])


def _draw_occluders(draw: ImageDraw.ImageDraw, occluders: list, world_to_out: np.ndarray, out_w: int,
                    out_h: int) -> np.ndarray:
    """Draw the occluders over everything and return their mask."""
    mask = Image.new("L", (out_w, out_h), 0)
    mask_draw = ImageDraw.Draw(mask)
    for polygon, colour in occluders:
        flat = _flat(affine_apply(world_to_out, polygon))
        draw.polygon(flat, fill=colour)
        mask_draw.polygon(flat, fill=255)
    return np.asarray(mask) > 0


def _brightness_and_noise(rgb: np.ndarray, scene: Scene, out_w: int, out_h: int, rng: np.random.Generator):
    """Scale the brightness and add per-pixel grey noise of amplitude scene.noise."""
    lut = np.clip(np.arange(256) * scene.brightness, 0, 255).astype(np.int16)
    out = lut[rgb]
    out += rng.integers(-int(scene.noise), int(scene.noise) + 1, (out_h, out_w, 1), dtype=np.int16)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)
