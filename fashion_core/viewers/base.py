"""Look at what a landmark / attention model predicts: an interactive viewer and static grids for reports.

A model here is any nn.Module that maps ImageNet-normalised images (N,3,S,S) to a dict with
`landmarks` (N,8,2) in input pixels and, when it has them, `heatmaps` (N,8,h,w),
`attention` (N,1,h,w) (the tanh attention map A), `landmark_visibility` (N,8) probabilities,
`pool_boxes` (N,8,4) x1,y1,x2,y2 in input pixels, `category_logits` (N,C), `attribute_logits` (N,K).

Three panels per image: (a) predicted landmarks against the ground truth, (b) a heatmap channel
(or the max over channels) and (c) the attention map, both upsampled bilinearly to S and laid
over the image. Pixel convention as in fashion_core.data.datasets: pixel i covers [i, i+1), so
images are drawn with extent (0, S, S, 0) and a landmark at x = i + 0.5 sits on pixel i's centre.

`attention_viewer` is for exploring in Jupyter (widgets do not survive in a static report);
`attention_grid` draws the same panels for chosen images as a figure for the executed reports.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from PIL import Image
from torch import nn

from fashion_core.data.datasets import IMAGENET_MEAN, IMAGENET_STD, denormalize
from fashion_core.data.vocab import LANDMARK_NAMES
from fashion_core.models.inference import evaluating, model_device
from fashion_core.viewers.plots import VISIBILITY_STYLE, draw_landmarks

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
ALL_CHANNELS = "all (max)"
PREDICTION_COLOR = "#e7298a"
POOL_BOX_COLOR = "#66c2a5"
HEATMAP_CMAP = "inferno"
ATTENTION_CMAP = "RdBu_r"  # A is a tanh output: blue negative, red positive, white 0


# ---------------------------------------------------------------------------- image sources

class ImageSource:
    """Images for the viewers: a torch dataset (with ground truth) or a folder of images (without).

    `item(index)` returns {"image": (3,S,S) normalised tensor, "label": str,
    "ground_truth": {"landmarks", "visibility"[, "category"]} or None}.
    Build one with `image_source(...)`.
    """

    def __init__(self, input_size: int, dataset=None, paths: Sequence[Path] = (), root: Path | None = None):
        self.input_size = int(input_size)
        self.dataset = dataset
        self.paths = list(paths)
        self.root = root

    @property
    def kind(self) -> str:
        return "dataset" if self.dataset is not None else "folder"

    def __len__(self) -> int:
        return len(self.dataset) if self.dataset is not None else len(self.paths)

    def label(self, index: int) -> str:
        if self.dataset is None:
            return self.paths[index].relative_to(self.root).as_posix()
        annotations, rows = getattr(self.dataset, "annotations", None), getattr(self.dataset, "rows", None)
        if annotations is not None and rows is not None and hasattr(annotations, "image_names"):
            return str(annotations.image_names[int(rows[index])])
        return f"#{index}"

    def item(self, index: int) -> dict:
        index = self._check_index(index)
        if self.dataset is None:
            return {"image": _load_normalised(self.paths[index], self.input_size), "label": self.label(index),
                    "ground_truth": None}
        sample = self.dataset[index]
        return {"image": sample["image"], "label": self.label(index), "ground_truth": _ground_truth(sample)}

    def _check_index(self, index: int) -> int:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"image index {index} outside 0..{len(self) - 1} of this {self.kind} source")
        return index


def image_source(dataset=None, folder: str | Path | None = None, input_size: int | None = None) -> ImageSource:
    """Images from a torch dataset (e.g. CategoryAttributeDataset(..., "test")) or from a folder.

    A folder is searched recursively for *.jpg, *.jpeg and *.png (sorted by relative path); each
    image is resized whole to S x S (aspect not kept) and ImageNet-normalised, like the datasets.
    input_size defaults to the dataset's, or 224 for a folder.
    """
    if (dataset is None) == (folder is None):
        raise ValueError("image_source needs exactly one of dataset=... or folder=...")
    if dataset is not None:
        size = getattr(dataset, "input_size", input_size)
        if size is None:
            raise ValueError("this dataset has no input_size attribute; pass input_size=...")
        if input_size is not None and int(input_size) != int(size):
            raise ValueError(f"input_size={input_size} but the dataset produces {size} x {size} images")
        return ImageSource(int(size), dataset=dataset)
    root = Path(folder).expanduser().absolute()
    if not root.is_dir():
        raise ValueError(f"image folder {root} does not exist or is not a directory")
    paths = sorted((path for path in root.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()),
                   key=lambda path: path.relative_to(root).as_posix())
    if not paths:
        raise ValueError(f"no images (*.jpg, *.jpeg, *.png) found in folder {root} or its subfolders")
    return ImageSource(224 if input_size is None else int(input_size), paths=paths, root=root)


def _load_normalised(path: Path, size: int) -> torch.Tensor:
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"cannot decode image {path}: {error}") from None
    resized = rgb.resize((size, size), Image.Resampling.BILINEAR, box=(0.0, 0.0, float(rgb.width), float(rgb.height)))
    pixels = TF.pil_to_tensor(resized).contiguous()
    return TF.normalize(TF.to_dtype(pixels, torch.float32, scale=True), IMAGENET_MEAN, IMAGENET_STD)


def _ground_truth(sample: dict) -> dict | None:
    if "landmarks" not in sample or "visibility" not in sample:
        return None
    truth = {"landmarks": sample["landmarks"].numpy(), "visibility": sample["visibility"].numpy()}
    if "category" in sample and int(sample["category"]) >= 0:
        truth["category"] = int(sample["category"])
    return truth


# ---------------------------------------------------------------------------- prediction

def predict_one(model: nn.Module, source: ImageSource, index: int) -> dict[str, np.ndarray]:
    """The model's outputs for one image, batch dimension dropped, as numpy (eval mode, no grad).

    The model's training flag is restored afterwards.
    """
    return predict_image(model, source.item(index)["image"])


def predict_image(model: nn.Module, image: torch.Tensor) -> dict[str, np.ndarray]:
    """predict_one for an already loaded (3,S,S) normalised image."""
    with evaluating(model):
        outputs = model(image.unsqueeze(0).to(model_device(model)))
    if not isinstance(outputs, dict) or "landmarks" not in outputs:
        raise TypeError(f"the model must return a dict with at least 'landmarks'; got {type(outputs).__name__}"
                        + (f" with keys {sorted(outputs)}" if isinstance(outputs, dict) else ""))
    return {key: value[0].detach().float().cpu().numpy() for key, value in outputs.items()
            if isinstance(value, torch.Tensor)}


def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """(C,h,w) or (h,w) maps -> (C,size,size) / (size,size), bilinear (align_corners=False: cell centres line up)."""
    maps = np.asarray(maps, dtype=np.float32)
    tensor = torch.from_numpy(maps.reshape((-1,) + maps.shape[-2:]))[None]
    resized = torch.nn.functional.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False)[0]
    return resized.numpy().reshape(maps.shape[:-2] + (size, size))


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
    return [(_category_name(int(c), category_names), float(probabilities[c])) for c in order]


def _category_name(category: int, category_names: Sequence[str] | None) -> str:
    return str(category_names[category]) if category_names is not None else f"#{category}"


# ---------------------------------------------------------------------------- drawing

def draw_prediction(axes_or_fig, image_uint8: np.ndarray, prediction: dict, ground_truth: dict | None = None,
                    channel: int | None = None, opacity: float = 0.5, names: Sequence[str] = LANDMARK_NAMES,
                    category_names: Sequence[str] | None = None, title: str | None = None) -> list:
    """Draw the three panels into a Figure (cleared, 1 x 3) or into three given axes; returns the axes.

    (a) predicted landmarks (filled when predicted visible, p >= 0.5, hollow otherwise) against the
    ground truth (styled by its visibility code, a line joining each pair) and FashionNet's pooling
    windows; (b) heatmap `channel` (max over channels when None) over the image; (c) the attention map.
    `title` (e.g. the image name) heads panel (a), above the top-3 categories.
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
        _show_image(ax, image)
    _draw_landmark_panel(axes[0], prediction, ground_truth, names)
    lines = [title] if title else []
    top = top_categories(prediction, 3, category_names)
    if top:
        lines.append("top-3: " + ", ".join(f"{name} {p:.2f}" for name, p in top))
    if ground_truth is not None and "category" in ground_truth:
        lines.append(f"true: {_category_name(ground_truth['category'], category_names)}")
    axes[0].set_title("\n".join(lines) if lines else "landmarks", fontsize=8)
    heatmap = heatmap_for_display(prediction, size, channel)
    if heatmap is None:
        _no_data(axes[1], "no heatmaps in this model")
    else:
        label = ALL_CHANNELS if channel is None else names[channel]
        _overlay(axes[1], heatmap, HEATMAP_CMAP, opacity, float(heatmap.min()), float(heatmap.max()), size)
        axes[1].set_title(f"heatmap: {label}\n[{heatmap.min():.2f}, {heatmap.max():.2f}]", fontsize=8)
    attention = prediction.get("attention")
    if attention is None:
        _no_data(axes[2], "no attention in this model")
    else:
        attention = upsample(np.asarray(attention).reshape(attention.shape[-2:]), size)
        _overlay(axes[2], attention, ATTENTION_CMAP, opacity, -1.0, 1.0, size)
        axes[2].set_title(f"attention A\n[{attention.min():.2f}, {attention.max():.2f}]", fontsize=8)
    return axes


def _show_image(ax, image: np.ndarray) -> None:
    height, width = image.shape[:2]
    ax.imshow(image, extent=(0, width, height, 0), interpolation="nearest")
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_xticks([])
    ax.set_yticks([])


def _overlay(ax, values: np.ndarray, cmap: str, opacity: float, vmin: float, vmax: float, size: int) -> None:
    if vmax <= vmin:
        vmax = vmin + 1e-6
    ax.imshow(values, cmap=cmap, alpha=float(opacity), vmin=vmin, vmax=vmax, extent=(0, size, size, 0),
              interpolation="nearest")


def _no_data(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=9,
            bbox=dict(boxstyle="round", fc="white", alpha=0.85))
    ax.set_title(message.replace(" in this model", ""), fontsize=8)


def _draw_landmark_panel(ax, prediction: dict, ground_truth: dict | None, names: Sequence[str]) -> None:
    points = np.asarray(prediction["landmarks"], dtype=np.float64).reshape(-1, 2)
    for x1, y1, x2, y2 in np.asarray(prediction.get("pool_boxes", np.zeros((0, 4)))).reshape(-1, 4):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=POOL_BOX_COLOR, linewidth=0.8,
                               alpha=0.9, zorder=2))
    if ground_truth is not None:
        truth, codes = np.asarray(ground_truth["landmarks"]), np.asarray(ground_truth["visibility"])
        for slot in np.flatnonzero(codes >= 0):
            ax.plot([points[slot, 0], truth[slot, 0]], [points[slot, 1], truth[slot, 1]], zorder=2,
                    **_pair_line_style())
        draw_landmarks(ax, truth, codes, label_points=False)
    probability = prediction.get("landmark_visibility")
    visible = np.ones(len(points), bool) if probability is None else np.asarray(probability).reshape(-1) >= 0.5
    for slot, (x, y) in enumerate(points):
        ax.scatter([x], [y], s=34, marker="D", facecolors=PREDICTION_COLOR if visible[slot] else "none",
                   edgecolors=PREDICTION_COLOR if not visible[slot] else "black", linewidths=1.0, zorder=4)
        if slot < len(names):
            ax.annotate(str(slot), (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6, color="white",
                        bbox=dict(boxstyle="round,pad=0.1", fc="black", alpha=0.5, lw=0), zorder=5)


def _pair_line_style() -> dict:
    """White with a dark edge: readable on light and dark images and on the white legend."""
    return dict(color="white", linewidth=0.8, path_effects=[patheffects.withStroke(linewidth=1.8, foreground="black")])


def legend_handles(prediction_keys: Sequence[str] = (), ground_truth: bool = False) -> list:
    """Legend entries for what panel (a) shows, given the prediction's keys and whether truth is drawn."""
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
        handles.append(Line2D([], [], label="prediction ↔ truth", **_pair_line_style()))
    return handles


def _add_legend(fig, prediction_keys: Sequence[str], ground_truth: bool) -> None:
    handles = legend_handles(prediction_keys, ground_truth)
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4), frameon=False, fontsize=7)


def _short(label: str, width: int = 40) -> str:
    return label if len(label) <= width else "…" + label[-(width - 1):]


# ---------------------------------------------------------------------------- static grid

def attention_grid(model: nn.Module, source: ImageSource, indices: Sequence[int], channel: int | None = None,
                   opacity: float = 0.5, category_names: Sequence[str] | None = None):
    """One row per image index, three panels per row (landmarks, heatmap, attention): for reports."""
    indices = [int(index) for index in indices]
    if not indices:
        raise ValueError("attention_grid needs at least one image index")
    fig, axes = plt.subplots(len(indices), 3, figsize=(9.6, 3.7 * len(indices) + 0.5), squeeze=False,
                             layout="constrained")
    with_truth, keys = False, set()
    for row, index in zip(axes, indices):
        item = source.item(index)
        prediction = predict_image(model, item["image"])
        with_truth |= item["ground_truth"] is not None
        keys |= set(prediction)
        draw_prediction(row, denormalize(item["image"]), prediction, item["ground_truth"], channel, opacity,
                        category_names=category_names, title=f"{index}: {_short(item['label'])}")
    _add_legend(fig, sorted(keys), with_truth)
    return fig


# ---------------------------------------------------------------------------- interactive viewer

def show_png(output: widgets.Output, figure: Figure, text: str) -> None:
    """Show `figure` as a PNG in `output` (`text` as its text/plain), replacing what it showed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    # Replace the Output's content in one assignment: no flicker, and it works without a kernel too.
    output.outputs = ({"output_type": "display_data", "metadata": {},
                       "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                                "text/plain": text}},)


class CachedPredictionViewer(widgets.VBox):
    """What the image viewers share: one model prediction per image, and a re-render on any control change.

    A subclass sets `model`, `source` and `cache` (a dict) before it renders, and defines `render()`.
    """

    def _on_change(self, change) -> None:
        self.render()

    def prediction(self, index: int) -> tuple[dict, dict]:
        """(source item, model prediction) for an image, computed once."""
        if index not in self.cache:
            item = self.source.item(index)
            self.cache[index] = (item, predict_image(self.model, item["image"]))
        return self.cache[index]


class AttentionViewer(CachedPredictionViewer):
    """Controls (image, landmark channel, opacity) over an Output showing the three panels.

    `figure` is the last rendered matplotlib Figure, `state` {"index", "channel", "channel_name",
    "opacity", "label"} what it shows; predictions are cached per image index, so only a new
    image runs the model.
    """

    def __init__(self, model: nn.Module, source: ImageSource, category_names: Sequence[str] | None = None,
                 names: Sequence[str] = LANDMARK_NAMES):
        self.model, self.source, self.category_names, self.names = model, source, category_names, tuple(names)
        self.cache: dict[int, tuple[dict, dict]] = {}
        self.figure: Figure | None = None
        self.state: dict = {}
        style = {"description_width": "70px"}
        self.image = widgets.IntSlider(value=0, min=0, max=len(source) - 1, description="image",
                                       continuous_update=False, style=style)
        self.channel = widgets.Dropdown(options=[ALL_CHANNELS, *self.names], value=ALL_CHANNELS,
                                        description="landmark", style=style)
        self.opacity = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="opacity",
                                           continuous_update=False, style=style)
        self.caption = widgets.Label()
        self.output = widgets.Output()
        for control in (self.image, self.channel, self.opacity):
            control.observe(self._on_change, names="value")
        super().__init__([widgets.HBox([self.image, self.channel, self.opacity]), self.caption, self.output])
        self.render()

    def render(self) -> None:
        """Draw the current image / channel / opacity into `figure` and show it in `output`."""
        index, name = int(self.image.value), self.channel.value
        channel = None if name == ALL_CHANNELS else self.names.index(name)
        item, prediction = self.prediction(index)
        self.figure = self._draw(item, prediction, index, channel)
        self.state = {"index": index, "channel": channel, "channel_name": name,
                      "opacity": float(self.opacity.value), "label": item["label"]}
        self.caption.value = f"image {index} (of 0..{len(self.source) - 1}): {item['label']}"
        show_png(self.output, self.figure, f"<attention viewer: image {index}, {name}>")

    def _draw(self, item: dict, prediction: dict, index: int, channel: int | None) -> Figure:
        # Not pyplot: no global figure list to grow, and the inline backend does not show it a second time.
        figure = Figure(figsize=(10.5, 4.3), layout="constrained")
        FigureCanvasAgg(figure)
        draw_prediction(figure, denormalize(item["image"]), prediction, item["ground_truth"], channel,
                        float(self.opacity.value), self.names, self.category_names,
                        title=f"{index}: {_short(item['label'])}")
        _add_legend(figure, sorted(prediction), item["ground_truth"] is not None)
        return figure

    def __repr__(self) -> str:
        # What a static report shows instead of the widget; short and deterministic (no pixels).
        return (f"AttentionViewer(image={self.image.value} of {len(self.source)}, landmark={self.channel.value!r}, "
                f"opacity={self.opacity.value})")


def attention_viewer(model: nn.Module, source: ImageSource, category_names: Sequence[str] | None = None) -> AttentionViewer:
    """An ipywidgets viewer: pick an image, a landmark channel ("all (max)" or one) and the overlay opacity."""
    return AttentionViewer(model, source, category_names)
