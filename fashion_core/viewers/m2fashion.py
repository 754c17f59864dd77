"""Look at M2Fashion's attribute-aware spatial attention (ASA) and how stated labels change it.

M2Fashion takes, besides the image, a state per attribute: known positive (+1), known negative
(-1) or unknown (0). The viewer lets a person set individual attributes' states and watch the ASA
map (the softmax over the feature grid, Eq. 4) and the predictions move. Three panels: (a) the
image with the ASA map upsampled bilinearly to the input size and laid over it, (b) the top
categories, (c) the most likely attributes among the unknown ones, known ones listed apart.

The trunk features of an image do not depend on the states, so they are computed once per image;
changing a state re-runs only the attention and the heads.

`m2fashion_viewer` is for exploring in Jupyter (widgets do not survive in a static report);
`condition_grid` draws the ASA map of chosen images under chosen conditions, for the reports.
"""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from fashion_core.data.datasets import denormalize
from fashion_core.data.vocab import ATTRIBUTE_TYPE_NAMES
from fashion_core.models.inference import evaluating, model_device
from fashion_core.viewers.base import ImageSource, ImageViewer
from fashion_core.viewers.drawing import no_data, overlay, report_grid, show_image, upsample

STATES = {"unknown": 0.0, "known positive": 1.0, "known negative": -1.0}
ASA_CMAP = "inferno"


def image_features(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """The state-free trunk features of one (3,S,S) image, (1,d,h,w), eval mode, no grad."""
    with evaluating(model):
        return model.features(image.unsqueeze(0).to(model_device(model)))


def predict_with_states(model: nn.Module, features: torch.Tensor, states: np.ndarray) -> dict[str, np.ndarray]:
    """Category and attribute probabilities and the ASA map (h,w) (None without ASA) under `states` (K,)."""
    with evaluating(model):
        outputs = model.head(features, torch.as_tensor(np.asarray(states, np.float32))[None].to(features.device))
    attention = outputs.get("attention")
    return {"category": torch.softmax(outputs["category_logits"][0].float(), 0).cpu().numpy(),
            "attributes": torch.sigmoid(outputs["attribute_logits"][0].float()).cpu().numpy(),
            "attention": None if attention is None else attention[0, 0].float().cpu().numpy()}


def states_vector(assignments: dict[str, str], attribute_names: Sequence[str]) -> np.ndarray:
    """{attribute name: "known positive" | "known negative" | "unknown"} -> (K,) states in {-1, 0, +1}."""
    index = {name: position for position, name in enumerate(attribute_names)}
    states = np.zeros(len(attribute_names), dtype=np.float32)
    for name, state in assignments.items():
        if name not in index:
            raise KeyError(f"unknown attribute {name!r}; the model's attributes are e.g. {list(attribute_names)[:5]}")
        if state not in STATES:
            raise ValueError(f"state of {name!r} must be one of {list(STATES)}, got {state!r}")
        states[index[name]] = STATES[state]
    return states


def draw_attention(ax, image_uint8: np.ndarray, attention: np.ndarray | None, opacity: float = 0.55,
                   title: str = "") -> None:
    """The image with the ASA map (h,w) upsampled to the image size and overlaid.

    The colour scale runs from the map's min to its max (the title states them): a softmax over a
    small grid varies little in absolute terms, and where it points is what matters. A flat map
    (range below 1e-4) is drawn flat.
    """
    size = image_uint8.shape[0]
    show_image(ax, image_uint8)
    if attention is None:
        no_data(ax, "no ASA in this model", fontsize=8)
    else:
        low, high = float(attention.min()), float(attention.max())
        if high - low < 1e-4:
            low, high = high - 1e-4, high
        overlay(ax, upsample(attention, size), ASA_CMAP, opacity, low, high, size)
    ax.set_title(title, fontsize=7)


def _attention_range(attention: np.ndarray | None) -> str:
    return "" if attention is None else f"ASA [{attention.min():.2f}, {attention.max():.2f}] on {attention.shape[0]}x{attention.shape[1]}"


def draw_top_categories(ax, probabilities: np.ndarray, names: Sequence[str] | None, k: int, title: str,
                        truth: int | None = None) -> None:
    """Bars of the k most likely categories, the true one (when known) in green."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    labels = [str(names[i]) if names is not None else f"#{i}" for i in order]
    colors = ["#1b9e77" if truth is not None and i == truth else "#999999" for i in order]
    ax.barh(range(len(order))[::-1], probabilities[order], color=colors)
    ax.set_yticks(range(len(order))[::-1], labels, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_title(title + (" (green: true)" if truth is not None else ""), fontsize=8)


def draw_top_unknown_attributes(ax, probabilities: np.ndarray, states: np.ndarray, attribute_names: Sequence[str],
                                k: int, stated: int) -> None:
    """Bars of the k most likely attributes among those whose state is unknown (0)."""
    unknown = np.flatnonzero(states == 0)
    order = unknown[np.argsort(-probabilities[unknown], kind="stable")][:k]
    ax.barh(range(len(order))[::-1], probabilities[order], color="#7570b3")
    ax.set_yticks(range(len(order))[::-1], [attribute_names[i] for i in order], fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_title(f"top unknown attributes (sigmoid); {stated} stated", fontsize=8)


class M2FashionViewer(ImageViewer):
    """Controls (image, attribute, its state, reset, opacity) over an Output with the three panels.

    `assignments` holds the attributes currently set (name -> state); `set_attribute_state(name, state)`
    and `reset()` change them from code too. `figure` is the last rendered Figure and `prediction`
    what it shows. The state-free trunk features are what is cached per image (`features`); each
    render runs only the attention and the heads under the current states.
    """

    viewer_name = "m2fashion viewer"
    figure_size = (11.5, 3.9)

    def __init__(self, model: nn.Module, source: ImageSource, attribute_names: Sequence[str],
                 attribute_types: Sequence[int], category_names: Sequence[str] | None = None, top_k: int = 8):
        self.top_k = int(top_k)
        self.attribute_names = list(attribute_names)
        self.attribute_types = np.asarray(attribute_types)
        self.category_names = list(category_names) if category_names is not None else None
        self.assignments: dict[str, str] = {}
        self.prediction: dict = {}
        super().__init__(model, source, opacity=0.55)

    def add_controls(self, style: dict) -> list[widgets.Widget]:
        options = [(f"{ATTRIBUTE_TYPE_NAMES.get(int(code), code)}: {name}", name)
                   for code, name in sorted(zip(self.attribute_types, self.attribute_names))]
        self.attribute = widgets.Dropdown(options=options, description="attribute", style=style)
        self.state = widgets.ToggleButtons(options=list(STATES), value="unknown", description="state", style=style)
        self.clear = widgets.Button(description="all unknown")
        self._syncing = False
        self.attribute.observe(self._on_attribute, names="value")
        self.state.observe(self._on_state, names="value")
        self.clear.on_click(lambda button: self.reset())
        return []  # a changed state redraws through set_attribute_state; showing an attribute's state redraws nothing

    def control_rows(self) -> list[widgets.Widget]:
        return [widgets.HBox([self.image, self.opacity]), widgets.HBox([self.attribute, self.clear]), self.state]

    # ------------------------------------------------------------------ state
    def _on_attribute(self, change) -> None:
        self._syncing = True  # showing an attribute's state is not setting it
        self.state.value = self.assignments.get(change["new"], "unknown")
        self._syncing = False

    def _on_state(self, change) -> None:
        if not self._syncing:
            self.set_attribute_state(self.attribute.value, change["new"])

    def set_attribute_state(self, name: str, state: str) -> None:
        """Set one attribute to "known positive", "known negative" or "unknown" and redraw."""
        states_vector({name: state}, self.attribute_names)  # validates both
        if state == "unknown":
            self.assignments.pop(name, None)
        else:
            self.assignments[name] = state
        if self.attribute.value == name and self.state.value != state:
            self._syncing = True
            self.state.value = state
            self._syncing = False
        self.render()

    def reset(self) -> None:
        """Every attribute unknown."""
        self.assignments.clear()
        self._syncing = True
        self.state.value = "unknown"
        self._syncing = False
        self.render()

    @property
    def states(self) -> np.ndarray:
        return states_vector(self.assignments, self.attribute_names)

    @property
    def features(self) -> dict[int, torch.Tensor]:
        """The trunk features computed so far, by image index."""
        return {index: features for index, (_, features) in self.cache.items()}

    # ------------------------------------------------------------------ drawing
    def run_model(self, item: dict) -> torch.Tensor:
        return image_features(self.model, item["image"])

    def caption_label(self, index: int, item: dict) -> str:
        known = ", ".join(f"{name} {'+' if state == 'known positive' else '-'}"
                          for name, state in sorted(self.assignments.items())) or "none"
        return f"{item['label']} | known: {known}"

    def view_label(self) -> str:
        return f"{len(self.assignments)} known labels"

    def draw(self, figure: Figure, index: int, item: dict, features: torch.Tensor) -> None:
        """Run the heads under the current states into `prediction` and draw its three panels."""
        states = self.states
        self.prediction = prediction = predict_with_states(self.model, features, states)
        axes = figure.subplots(1, 3, width_ratios=[1.0, 1.1, 1.4])
        draw_attention(axes[0], denormalize(item["image"]), prediction["attention"], float(self.opacity.value),
                       f"{index}: {item['label'][-40:]}\n{_attention_range(prediction['attention'])}")
        draw_top_categories(axes[1], prediction["category"], self.category_names, 5, "top categories (softmax)",
                            truth=(item.get("ground_truth") or {}).get("category"))
        draw_top_unknown_attributes(axes[2], prediction["attributes"], states, self.attribute_names, self.top_k,
                                    len(self.assignments))

    def __repr__(self) -> str:
        return f"M2FashionViewer(image={self.image.value} of {len(self.source)}, known labels={len(self.assignments)})"


def m2fashion_viewer(model: nn.Module, source: ImageSource, attribute_names: Sequence[str],
                     attribute_types: Sequence[int], category_names: Sequence[str] | None = None) -> M2FashionViewer:
    """An ipywidgets viewer: pick an image, set attributes' states, watch the ASA map and predictions."""
    return M2FashionViewer(model, source, attribute_names, attribute_types, category_names)


def condition_grid(model: nn.Module, source: ImageSource, indices: Sequence[int], conditions: Sequence[str],
                   attribute_names: Sequence[str], category_names: Sequence[str] | None = None,
                   opacity: float = 0.55):
    """One row per image: the ASA map with every label unknown, then with each attribute of `conditions` known positive.

    Each panel's title gives the condition, the top category and the map's range.
    """
    indices = [int(index) for index in indices]
    if not indices:
        raise ValueError("condition_grid needs at least one image index")
    columns = [("all unknown", {})] + [(f"{name} = +1", {name: "known positive"}) for name in conditions]
    fig, axes = report_grid(len(indices), len(columns), (2.3 * len(columns), 2.6 * len(indices)))
    for row, index in zip(axes, indices):
        item = source.item(index)
        features = image_features(model, item["image"])
        image = denormalize(item["image"])
        for ax, (label, assignment) in zip(row, columns):
            prediction = predict_with_states(model, features, states_vector(assignment, attribute_names))
            top = int(np.argmax(prediction["category"]))
            name = category_names[top] if category_names is not None else f"#{top}"
            draw_attention(ax, image, prediction["attention"], opacity,
                           f"{index}: {label}\ntop: {name} {prediction['category'][top]:.2f}\n"
                           f"{_attention_range(prediction['attention'])}")
    return fig
