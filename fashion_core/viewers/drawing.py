"""What every viewer draws alike: figures, the image, overlays, notes, the landmark panel and its legend.

Pixel convention as in fashion_core.data.datasets: pixel i covers [i, i+1), so images are drawn
with extent (0, S, S, 0) and a landmark at x = i + 0.5 sits on pixel i's centre. Maps coarser
than the image are upsampled bilinearly to S before they are laid over it.

Two kinds of figure: `new_figure` for the widgets (a bare matplotlib Figure on an Agg canvas,
outside pyplot) and `report_grid` for the static grids of the executed reports (pyplot, see there).
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from fashion_core.viewers.plots import VISIBILITY_STYLE, draw_landmarks

PREDICTION_COLOR = "#e7298a"
POOL_BOX_COLOR = "#66c2a5"


# ---------------------------------------------------------------------------- figures

def new_figure(figsize: tuple[float, float]) -> Figure:
    """A constrained-layout Figure on its own Agg canvas, for a widget to render into."""
    # Not pyplot: no global figure list to grow, and the inline backend does not show it a second time.
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def report_grid(rows: int, columns: int, figsize: tuple[float, float], **subplot_options):
    """(figure, (rows, columns) array of axes) with constrained layout, for a report's static grid.

    pyplot on purpose: the attention notebooks and the reproduction report show a grid through
    the inline backend, which displays the figures pyplot holds when the cell ends.
    """
    return plt.subplots(rows, columns, figsize=figsize, squeeze=False, layout="constrained", **subplot_options)


# ---------------------------------------------------------------------------- maps

def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """(C,h,w) or (h,w) maps -> (C,size,size) / (size,size), bilinear (align_corners=False: cell centres line up)."""
    maps = np.asarray(maps, dtype=np.float32)
    tensor = torch.from_numpy(maps.reshape((-1,) + maps.shape[-2:]))[None]
    resized = torch.nn.functional.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False)[0]
    return resized.numpy().reshape(maps.shape[:-2] + (size, size))


# ---------------------------------------------------------------------------- panels

def show_image(ax, image: np.ndarray) -> None:
    """The (H,W,3) uint8 image over the whole axes, in input pixels, without ticks."""
    height, width = image.shape[:2]
    ax.imshow(image, extent=(0, width, height, 0), interpolation="nearest")
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_xticks([])
    ax.set_yticks([])


def overlay(ax, values: np.ndarray, cmap: str, opacity: float, vmin: float, vmax: float, size: int) -> None:
    """A (size,size) map laid over the image at `opacity`, coloured from vmin to vmax."""
    if vmax <= vmin:
        vmax = vmin + 1e-6
    ax.imshow(values, cmap=cmap, alpha=float(opacity), vmin=vmin, vmax=vmax, extent=(0, size, size, 0),
              interpolation="nearest")


def no_data(ax, message: str, fontsize: float = 9) -> None:
    """A boxed note in the middle of the axes for what the model does not have; the note (short) titles it."""
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=fontsize,
            bbox=dict(boxstyle="round", fc="white", alpha=0.85))
    ax.set_title(message.replace(" in this model", ""), fontsize=8)


def draw_landmark_panel(ax, prediction: dict, ground_truth: dict | None, names: Sequence[str]) -> None:
    """Predicted landmarks over the image already drawn in `ax`, against the ground truth when given.

    Predictions are diamonds, filled when predicted visible (p >= 0.5) and hollow otherwise, numbered
    by slot; the truth is styled by its visibility code, with a line joining each predicted landmark
    to its true position; FashionNet's pooling windows (`pool_boxes`) are outlined.
    """
    points = np.asarray(prediction["landmarks"], dtype=np.float64).reshape(-1, 2)
    for x1, y1, x2, y2 in np.asarray(prediction.get("pool_boxes", np.zeros((0, 4)))).reshape(-1, 4):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=POOL_BOX_COLOR, linewidth=0.8,
                               alpha=0.9, zorder=2))
    if ground_truth is not None:
        truth, codes = np.asarray(ground_truth["landmarks"]), np.asarray(ground_truth["visibility"])
        for slot in np.flatnonzero(codes >= 0):
            ax.plot([points[slot, 0], truth[slot, 0]], [points[slot, 1], truth[slot, 1]], zorder=2,
                    **pair_line_style())
        draw_landmarks(ax, truth, codes, label_points=False)
    probability = prediction.get("landmark_visibility")
    visible = np.ones(len(points), bool) if probability is None else np.asarray(probability).reshape(-1) >= 0.5
    for slot, (x, y) in enumerate(points):
        ax.scatter([x], [y], s=34, marker="D", facecolors=PREDICTION_COLOR if visible[slot] else "none",
                   edgecolors=PREDICTION_COLOR if not visible[slot] else "black", linewidths=1.0, zorder=4)
        if slot < len(names):
            ax.annotate(str(slot), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6, color="white",
                        bbox=dict(boxstyle="round,pad=0.1", fc="black", alpha=0.5, lw=0), zorder=5)


def pair_line_style() -> dict:
    """White with a dark edge: readable on light and dark images and on the white legend."""
    return dict(color="white", linewidth=0.8, path_effects=[patheffects.withStroke(linewidth=1.8, foreground="black")])


def short_label(label: str, width: int = 40) -> str:
    """`label` as is when it fits in `width` characters, else its end after an ellipsis."""
    return label if len(label) <= width else "…" + label[-(width - 1):]


# ---------------------------------------------------------------------------- legend

def landmark_legend_handles(prediction_keys: Sequence[str] = (), ground_truth: bool = False) -> list:
    """Legend entries for what the landmark panel shows, given the prediction's keys and whether truth is drawn."""
    with_visibility = "landmark_visibility" in prediction_keys
    handles = [Line2D([], [], linestyle="", marker="D", color=PREDICTION_COLOR, markeredgecolor="black",
                      label="predicted, visible (p≥0.5)" if with_visibility else "predicted")]
    if with_visibility:
        handles.append(Line2D([], [], linestyle="", marker="D", markerfacecolor="none",
                              markeredgecolor=PREDICTION_COLOR, label="predicted, not visible (p<0.5)"))
    if "pool_boxes" in prediction_keys:
        handles.append(Line2D([], [], color=POOL_BOX_COLOR, label="landmark pooling window"))
    if ground_truth:
        handles += [Line2D([], [], linestyle="", marker=s["marker"], color=s["color"], markeredgecolor="black",
                           label="true, " + s["label"]) for s in VISIBILITY_STYLE.values()]
        handles.append(Line2D([], [], label="prediction ↔ truth", **pair_line_style()))
    return handles


def add_landmark_legend(figure, prediction_keys: Sequence[str], ground_truth: bool) -> None:
    """The landmark panel's legend below the figure's axes, at most 4 entries a row."""
    handles = landmark_legend_handles(prediction_keys, ground_truth)
    figure.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4), frameon=False, fontsize=7)
