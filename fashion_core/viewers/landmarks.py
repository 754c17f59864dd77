"""Look at what a FashionNet or Liu & Lu model predicts: landmarks, heatmaps and attention, as a widget and a grid.

The model's outputs read here, besides `landmarks` (N,8,2): `heatmaps` (N,8,h,w),
`attention` (N,1,h,w) (the tanh attention map A), `landmark_visibility` (N,8) probabilities,
`pool_boxes` (N,8,4) x1,y1,x2,y2 in input pixels, `category_logits` (N,C); each only when the
model has it.

Three panels per image: (a) predicted landmarks against the ground truth, (b) a heatmap channel
(or the max over channels) and (c) the attention map, both upsampled bilinearly to S and laid
over the image (pixel convention of fashion_core.viewers.drawing).

`attention_viewer` is for exploring in Jupyter; `attention_grid` draws the same panels for chosen
images as a figure for the executed reports.
"""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from torch import nn

from fashion_core.data.datasets import denormalize
from fashion_core.data.vocab import LANDMARK_NAMES
from fashion_core.viewers.base import ImageSource, ImageViewer, predict_image
from fashion_core.viewers.drawing import (
    add_landmark_legend,
    draw_landmark_panel,
    no_data,
    overlay,
    report_grid,
    short_label,
    show_image,
    upsample,
)

ALL_CHANNELS = "all (max)"
HEATMAP_CMAP = "inferno"
ATTENTION_CMAP = "RdBu_r"  # A is a tanh output: blue negative, red positive, white 0


def heatmap_for_display(prediction: dict, size: int, channel: int | None = None) -> np.ndarray | None:
    """The (size,size) map panel (b) shows: channel `channel` upsampled, or the max over channels; None without heatmaps."""
    heatmaps = prediction.get("heatmaps")
    if heatmaps is None:
        return None
    if channel is not None and not 0 <= channel < len(heatmaps):
        raise ValueError(f"channel {channel} outside 0..{len(heatmaps) - 1}")
    maps = upsample(heatmaps, size)
    return maps.max(axis=0) if channel is None else maps[channel]


def top_categories(prediction: dict, k: int = 3, category_names: Sequence[str] | None = None) -> list[tuple[str, float]]:
    """[(name, softmax probability)] of the k most likely categories ([] without category_logits)."""
    logits = prediction.get("category_logits")
    if logits is None:
        return []
    logits = np.asarray(logits, dtype=np.float64)
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(category_name(int(c), category_names), float(probabilities[c])) for c in order]


def category_name(category: int, category_names: Sequence[str] | None) -> str:
    """The category's name, or "#<index>" without names."""
    return str(category_names[category]) if category_names is not None else f"#{category}"


def draw_prediction(axes_or_fig, image_uint8: np.ndarray, prediction: dict, ground_truth: dict | None = None,
                    channel: int | None = None, opacity: float = 0.5, names: Sequence[str] = LANDMARK_NAMES,
                    category_names: Sequence[str] | None = None, title: str | None = None) -> list:
    """Draw the three panels into a Figure (cleared, 1 x 3) or into three given axes; returns the axes.

    (a) predicted landmarks against the ground truth and FashionNet's pooling windows
    (fashion_core.viewers.drawing.draw_landmark_panel); (b) heatmap `channel` (max over channels
    when None) over the image; (c) the attention map. `title` (e.g. the image name) heads panel (a),
    above the top-3 categories.
    """
    if isinstance(axes_or_fig, Figure):
        axes_or_fig.clear()
        axes = list(axes_or_fig.subplots(1, 3))
    else:
        axes = list(np.ravel(axes_or_fig))
    if len(axes) != 3:
        raise ValueError(f"draw_prediction needs a figure or exactly 3 axes, got {len(axes)}")
    image = np.asarray(image_uint8)
    size = image.shape[0]
    for ax in axes:
        show_image(ax, image)
    draw_landmark_panel(axes[0], prediction, ground_truth, names)
    lines = [title] if title else []
    top = top_categories(prediction, 3, category_names)
    if top:
        lines.append("top-3: " + ", ".join(f"{name} {p:.2f}" for name, p in top))
    if ground_truth is not None and "category" in ground_truth:
        lines.append(f"true: {category_name(ground_truth['category'], category_names)}")
    axes[0].set_title("\n".join(lines) if lines else "landmarks", fontsize=8)
    heatmap = heatmap_for_display(prediction, size, channel)
    if heatmap is None:
        no_data(axes[1], "no heatmaps in this model")
    else:
        label = ALL_CHANNELS if channel is None else names[channel]
        overlay(axes[1], heatmap, HEATMAP_CMAP, opacity, float(heatmap.min()), float(heatmap.max()), size)
        axes[1].set_title(f"heatmap: {label}\n[{heatmap.min():.2f}, {heatmap.max():.2f}]", fontsize=8)
    attention = prediction.get("attention")
    if attention is None:
        no_data(axes[2], "no attention in this model")
    else:
        attention = upsample(np.asarray(attention).reshape(attention.shape[-2:]), size)
        overlay(axes[2], attention, ATTENTION_CMAP, opacity, -1.0, 1.0, size)
        axes[2].set_title(f"attention A\n[{attention.min():.2f}, {attention.max():.2f}]", fontsize=8)
    return axes


# ---------------------------------------------------------------------------- static grid

def attention_grid(model: nn.Module, source: ImageSource, indices: Sequence[int], channel: int | None = None,
                   opacity: float = 0.5, category_names: Sequence[str] | None = None):
    """One row per image index, three panels per row (landmarks, heatmap, attention): for reports."""
    indices = [int(index) for index in indices]
    if not indices:
        raise ValueError("attention_grid needs at least one image index")
    fig, axes = report_grid(len(indices), 3, (9.6, 3.7 * len(indices) + 0.5))
    with_truth, keys = False, set()
    for row, index in zip(axes, indices):
        item = source.item(index)
        prediction = predict_image(model, item["image"])
        with_truth |= item["ground_truth"] is not None
        keys |= set(prediction)
        draw_prediction(row, denormalize(item["image"]), prediction, item["ground_truth"], channel, opacity,
                        category_names=category_names, title=f"{index}: {short_label(item['label'])}")
    add_landmark_legend(fig, sorted(keys), with_truth)
    return fig


# ---------------------------------------------------------------------------- interactive viewer

class AttentionViewer(ImageViewer):
    """Controls (image, landmark channel, opacity) over an Output showing the three panels.

    `figure` is the last rendered matplotlib Figure, `state` {"index", "channel", "channel_name",
    "opacity", "label"} what it shows; predictions are cached per image index, so only a new
    image runs the model.
    """

    viewer_name = "attention viewer"
    figure_size = (10.5, 4.3)

    def __init__(self, model: nn.Module, source: ImageSource, category_names: Sequence[str] | None = None,
                 names: Sequence[str] = LANDMARK_NAMES):
        self.category_names, self.names = category_names, tuple(names)
        self.state: dict = {}
        super().__init__(model, source, opacity=0.5)

    def add_controls(self, style: dict) -> list[widgets.Widget]:
        self.channel = widgets.Dropdown(options=[ALL_CHANNELS, *self.names], value=ALL_CHANNELS,
                                        description="landmark", style=style)
        return [self.channel]

    def control_rows(self) -> list[widgets.Widget]:
        return [widgets.HBox([self.image, self.channel, self.opacity])]

    def view_label(self) -> str:
        return self.channel.value

    def draw(self, figure: Figure, index: int, item: dict, prediction: dict) -> None:
        """The three panels of the chosen channel; `state` records what they show."""
        name = self.channel.value
        channel = None if name == ALL_CHANNELS else self.names.index(name)
        draw_prediction(figure, denormalize(item["image"]), prediction, item["ground_truth"], channel,
                        float(self.opacity.value), self.names, self.category_names,
                        title=f"{index}: {short_label(item['label'])}")
        add_landmark_legend(figure, sorted(prediction), item["ground_truth"] is not None)
        self.state = {"index": index, "channel": channel, "channel_name": name,
                      "opacity": float(self.opacity.value), "label": item["label"]}

    def __repr__(self) -> str:
        # What a static report shows instead of the widget; short and deterministic (no pixels).
        return (f"AttentionViewer(image={self.image.value} of {len(self.source)}, landmark={self.channel.value!r}, "
                f"opacity={self.opacity.value})")


def attention_viewer(model: nn.Module, source: ImageSource, category_names: Sequence[str] | None = None) -> AttentionViewer:
    """An ipywidgets viewer: pick an image, a landmark channel ("all (max)" or one) and the overlay opacity."""
    return AttentionViewer(model, source, category_names)
