"""Look inside DAFE: each module's SAU spatial attention over the image and its CAS channel weights.

Works with any model of fashion_core.models.dafe (ablations included: a variant without SAU
or CAS shows a note in that panel). Images come from fashion_core.viewers.image_source (a
dataset split with ground truth, or any folder of photos).

Three panels for one image and one DAFE module: (a) predicted landmarks against the ground
truth, (b) the module's SAU map M = sigmoid(1x1 conv of the coarser features), bilinearly
upsampled to the image and laid over it (0 = the low-level skip feature is dropped there,
1 = it passes whole), (c) the module's CAS weights U, one bar per decoder channel (0..1).
Modules are numbered top-down: module 1 merges C5 into C4 (output 1/16 of the input),
module 2 into C3 (1/8), module 3 into C2 (1/4, the heatmap resolution).

`dafe_attention_viewer` is the ipywidgets version (image, module, opacity); `dafe_attention_grid`
draws every module for chosen images as one figure for the executed reports.
"""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from torch import nn

from fashion_core.data.datasets import denormalize
from fashion_core.data.vocab import LANDMARK_NAMES
from fashion_core.models.dafe import NUM_MODULES
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

MODULE_LABELS = ("module 1: C5→C4 (1/16)", "module 2: C4→C3 (1/8)", "module 3: C3→C2 (1/4)")
SAU_CMAP = "viridis"
MODULE_COLORS = ("#1b9e77", "#d95f02", "#7570b3")


def module_index(label_or_index: str | int) -> int:
    """0-based module index from a MODULE_LABELS entry or an index."""
    if isinstance(label_or_index, str):
        if label_or_index not in MODULE_LABELS:
            raise ValueError(f"unknown module {label_or_index!r}; expected one of {MODULE_LABELS}")
        return MODULE_LABELS.index(label_or_index)
    index = int(label_or_index)
    if not 0 <= index < NUM_MODULES:
        raise ValueError(f"module index {index} outside 0..{NUM_MODULES - 1}")
    return index


def sau_map(prediction: dict, module: int, size: int) -> np.ndarray | None:
    """Module `module`'s SAU map upsampled to (size, size); None for a variant without SAU."""
    maps = prediction.get("sau_maps")
    return None if maps is None else upsample(np.asarray(maps)[module], size)


def cas_weights(prediction: dict, module: int) -> np.ndarray | None:
    """Module `module`'s CAS channel weights (D,); None for a variant without CAS."""
    weights = prediction.get("cas_weights")
    return None if weights is None else np.asarray(weights)[module]


def draw_sau(ax, image: np.ndarray, prediction: dict, module: int, opacity: float) -> None:
    """The image with module `module`'s SAU map (0..1) laid over it, or a note for a variant without SAU."""
    size = image.shape[0]
    show_image(ax, image)
    values = sau_map(prediction, module, size)
    if values is None:
        no_data(ax, "no SAU in this variant")
        return
    overlay(ax, values, SAU_CMAP, opacity, 0.0, 1.0, size)
    ax.set_title(f"SAU, {MODULE_LABELS[module]}\n[{values.min():.2f}, {values.max():.2f}]", fontsize=8)


def draw_cas(ax, prediction: dict, modules: Sequence[int]) -> None:
    """Bars of the CAS weights of the given modules (side by side per channel when several)."""
    series = [(module, cas_weights(prediction, module)) for module in modules]
    if series[0][1] is None:
        ax.set_xticks([])
        ax.set_yticks([])
        no_data(ax, "no CAS in this variant")
        return
    width = 0.8 / len(series)
    for position, (module, weights) in enumerate(series):
        channels = np.arange(len(weights)) + (position - (len(series) - 1) / 2) * width
        ax.bar(channels, weights, width=width, color=MODULE_COLORS[module], label=MODULE_LABELS[module])
    # Sigmoid weights lie in (0, 1); Eq. 4's un-squashed ones may leave it, and must stay visible.
    values = np.concatenate([np.asarray(weights, dtype=float).ravel() for _, weights in series])
    ax.set_ylim(min(0.0, float(values.min()) * 1.05), max(1.0, float(values.max()) * 1.05))
    ax.set_xlabel("decoder channel", fontsize=7)
    ax.set_ylabel("CAS weight U", fontsize=7)
    ax.tick_params(labelsize=6)
    title = "CAS, " + (MODULE_LABELS[modules[0]] if len(modules) == 1 else "all modules")
    ax.set_title(title, fontsize=8)
    if len(modules) > 1:
        ax.legend(fontsize=5, loc="upper right")


def draw_dafe_attention(axes: Sequence, image_uint8: np.ndarray, prediction: dict, ground_truth: dict | None,
                        module: int, opacity: float = 0.6, title: str | None = None,
                        names: Sequence[str] = LANDMARK_NAMES) -> None:
    """The three panels (landmarks, SAU map of `module`, CAS weights of `module`) into three axes."""
    axes = list(np.ravel(axes))
    if len(axes) != 3:
        raise ValueError(f"draw_dafe_attention needs exactly 3 axes, got {len(axes)}")
    image = np.asarray(image_uint8)
    show_image(axes[0], image)
    draw_landmark_panel(axes[0], prediction, ground_truth, names)
    axes[0].set_title(title or "landmarks", fontsize=8)
    draw_sau(axes[1], image, prediction, module, opacity)
    draw_cas(axes[2], prediction, [module])


# ---------------------------------------------------------------------------- static grid

def dafe_attention_grid(model: nn.Module, source: ImageSource, indices: Sequence[int], opacity: float = 0.6):
    """One row per image: landmarks, the SAU map of each module, and every module's CAS weights."""
    indices = [int(index) for index in indices]
    if not indices:
        raise ValueError("dafe_attention_grid needs at least one image index")
    columns = 2 + NUM_MODULES
    fig, axes = report_grid(len(indices), columns, (3.0 * columns + 1.0, 3.2 * len(indices) + 0.5),
                            gridspec_kw=dict(width_ratios=[1] * (1 + NUM_MODULES) + [1.6]))
    with_truth, keys = False, set()
    for row, index in zip(axes, indices):
        item = source.item(index)
        prediction = predict_image(model, item["image"])
        with_truth |= item["ground_truth"] is not None
        keys |= set(prediction)
        image = denormalize(item["image"])
        show_image(row[0], image)
        draw_landmark_panel(row[0], prediction, item["ground_truth"], LANDMARK_NAMES)
        row[0].set_title(f"{index}: {short_label(item['label'], 30)}", fontsize=8)
        for module in range(NUM_MODULES):
            draw_sau(row[1 + module], image, prediction, module, opacity)
        draw_cas(row[-1], prediction, list(range(NUM_MODULES)))
    add_landmark_legend(fig, sorted(keys), with_truth)
    return fig


# ---------------------------------------------------------------------------- interactive viewer

class DAFEAttentionViewer(ImageViewer):
    """Controls (image, module, opacity) over an Output showing the three panels.

    `figure` is the last rendered matplotlib Figure and `state` {"index", "module", "module_name",
    "opacity", "label"} what it shows; predictions are cached per image, so only a new image runs the model.
    """

    viewer_name = "DAFE viewer"
    figure_size = (10.5, 4.0)
    description_width = "60px"

    def __init__(self, model: nn.Module, source: ImageSource, opacity: float = 0.6):
        self.state: dict = {}
        super().__init__(model, source, opacity)

    def add_controls(self, style: dict) -> list[widgets.Widget]:
        self.module = widgets.Dropdown(options=list(MODULE_LABELS), value=MODULE_LABELS[-1], description="module",
                                       style=style)
        return [self.module]

    def control_rows(self) -> list[widgets.Widget]:
        return [widgets.HBox([self.image, self.module, self.opacity])]

    def view_label(self) -> str:
        return self.module.value

    def draw(self, figure: Figure, index: int, item: dict, prediction: dict) -> None:
        """The three panels of the chosen module; `state` records what they show."""
        module = module_index(self.module.value)
        axes = figure.subplots(1, 3, gridspec_kw=dict(width_ratios=[1, 1, 1.4]))
        draw_dafe_attention(axes, denormalize(item["image"]), prediction, item["ground_truth"], module,
                            float(self.opacity.value), title=f"{index}: {short_label(item['label'])}")
        add_landmark_legend(figure, sorted(prediction), item["ground_truth"] is not None)
        self.state = {"index": index, "module": module, "module_name": self.module.value,
                      "opacity": float(self.opacity.value), "label": item["label"]}

    def __repr__(self) -> str:
        # What a static report shows instead of the widget; short and deterministic (no pixels).
        return (f"DAFEAttentionViewer(image={self.image.value} of {len(self.source)}, module={self.module.value!r}, "
                f"opacity={self.opacity.value})")


def dafe_attention_viewer(model: nn.Module, source: ImageSource, opacity: float = 0.6) -> DAFEAttentionViewer:
    """An ipywidgets viewer: pick an image, a DAFE module and the overlay opacity."""
    return DAFEAttentionViewer(model, source, opacity)
