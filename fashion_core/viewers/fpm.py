"""Look inside a Fashion Pose Machine: belief maps per stage and keypoint, the predicted skeleton against the truth.

A model here maps ImageNet-normalised images (N,3,S,S) to a dict with ``beliefs`` (N,T,L+1,h,w)
(channel L is the background), ``stage_landmarks`` (N,T,L,2) and ``landmarks`` (N,L,2) in input
pixels: fashion_core.models.pose_machine.FashionPoseMachine.

Two panels per (image, stage t, keypoint): (a) the belief map c_t of the chosen keypoint (or
the max over the L keypoint maps, background excluded) upsampled bilinearly to S and laid over
the image, with stage t's predicted keypoints; (b) stage t's predicted skeleton against the
ground-truth skeleton, each predicted keypoint joined to its true position. Which keypoints are
drawn: those the ground truth marks present (code 0 or 1, i.e. the garment category's
keypoints); for a folder image without ground truth, those whose last-stage belief peak is at
least ``min_peak``. Pixel convention as in fashion_core.viewers.drawing (extent (0, S, S, 0)).

`pose_machine_viewer` is the ipywidgets explorer (image, stage slider, keypoint, opacity);
`pose_machine_grid` draws every stage of chosen images as one figure for the executed reports.
"""
from __future__ import annotations

from typing import Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import nn

from fashion_core.data.datasets import denormalize
from fashion_core.data.vocab import FASHIONAI_KEYPOINTS
from fashion_core.viewers.base import ImageSource, ImageViewer, predict_image
from fashion_core.viewers.drawing import PREDICTION_COLOR, overlay, report_grid, show_image, upsample
from fashion_core.viewers.plots import FASHIONAI_VISIBILITY_STYLE, draw_landmarks

ALL_KEYPOINTS = "all (max)"
BELIEF_CMAP = "inferno"
TRUTH_COLOR = "#1a9850"
MIN_PEAK = 0.3
# Edges between FashionAI keypoints (FASHIONAI_KEYPOINTS indices); an edge is drawn when both ends are.
FASHIONAI_SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1), (0, 2), (1, 2), (0, 3), (1, 4),                # neckline, centre front, shoulders
    (3, 10), (10, 9), (9, 5), (4, 12), (12, 11), (11, 6),  # sleeves: shoulder, cuff out, cuff in, armpit
    (5, 13), (6, 14), (13, 14),                            # blouse / outwear body to the top hem
    (5, 7), (6, 8), (7, 17), (8, 18), (17, 18),            # dress / outwear: armpit, waistline, hemline
    (15, 16), (15, 17), (16, 18),                          # skirt: waistband to hemline
    (15, 21), (21, 20), (20, 19), (19, 22), (22, 23), (23, 16),  # trousers: legs and crotch
)


def source_label(source: ImageSource, index: int) -> str:
    """The image's name: the FashionAI image_id for a FashionAIDataset, else what the source calls it."""
    dataset = source.dataset
    annotations, rows = getattr(dataset, "annotations", None), getattr(dataset, "rows", None)
    if annotations is not None and rows is not None and hasattr(annotations, "image_ids"):
        return str(annotations.image_ids[int(rows[index])])
    return source.label(index)


def check_prediction(prediction: dict) -> int:
    """The number of stages T of a pose-machine prediction (batch dimension dropped); TypeError if it is not one."""
    missing = [key for key in ("beliefs", "stage_landmarks", "landmarks") if key not in prediction]
    if missing:
        raise TypeError(f"a pose-machine viewer needs model outputs beliefs, stage_landmarks and landmarks; "
                        f"missing {missing} (got {sorted(prediction)})")
    return int(prediction["beliefs"].shape[0])


def shown_keypoints(prediction: dict, ground_truth: dict | None, min_peak: float = MIN_PEAK) -> np.ndarray:
    """(L,) bool: keypoints the truth marks present, or (no truth) those with a last-stage belief peak >= min_peak."""
    num_keypoints = prediction["landmarks"].shape[0]
    if ground_truth is not None:
        return np.asarray(ground_truth["visibility"]).reshape(-1)[:num_keypoints] >= 0
    peaks = prediction["beliefs"][-1, :num_keypoints].reshape(num_keypoints, -1).max(axis=1)
    return peaks >= min_peak


def belief_for_display(prediction: dict, stage: int, size: int, keypoint: int | None = None) -> np.ndarray:
    """(size,size) belief map of stage `stage` (1-based): keypoint `keypoint`, or the max over the keypoint maps."""
    stages = check_prediction(prediction)
    if not 1 <= stage <= stages:
        raise ValueError(f"stage {stage} outside 1..{stages}")
    num_keypoints = prediction["landmarks"].shape[0]
    if keypoint is not None and not 0 <= keypoint < num_keypoints:
        raise ValueError(f"keypoint {keypoint} outside 0..{num_keypoints - 1}")
    maps = prediction["beliefs"][stage - 1]
    chosen = maps[:num_keypoints].max(axis=0) if keypoint is None else maps[keypoint]
    return upsample(chosen, size)


def _skeleton(ax, points: np.ndarray, shown: np.ndarray, edges, **style) -> None:
    for a, b in edges:
        if a < len(points) and b < len(points) and shown[a] and shown[b]:
            ax.plot([points[a, 0], points[b, 0]], [points[a, 1], points[b, 1]], **style)


def _edges(num_keypoints: int) -> tuple[tuple[int, int], ...]:
    return FASHIONAI_SKELETON if num_keypoints == len(FASHIONAI_KEYPOINTS) else ()


def draw_belief(ax, image_uint8: np.ndarray, prediction: dict, ground_truth: dict | None, stage: int,
                keypoint: int | None = None, opacity: float = 0.5, names: Sequence[str] = FASHIONAI_KEYPOINTS,
                min_peak: float = MIN_PEAK, title: str | None = None) -> None:
    """Panel (a): stage `stage`'s (1-based) belief map over the image, with that stage's predicted keypoints."""
    image = np.asarray(image_uint8)
    size = image.shape[0]
    stages = check_prediction(prediction)
    belief = belief_for_display(prediction, stage, size, keypoint)
    points = np.asarray(prediction["stage_landmarks"][stage - 1], dtype=np.float64)
    shown = shown_keypoints(prediction, ground_truth, min_peak)
    if keypoint is not None:
        shown = shown & (np.arange(len(shown)) == keypoint)
    show_image(ax, image)
    low = float(belief.min())
    overlay(ax, belief, BELIEF_CMAP, opacity, low, max(float(belief.max()), low + 1e-6), size)
    ax.scatter(points[shown, 0], points[shown, 1], s=22, marker="D", color=PREDICTION_COLOR, edgecolors="black",
               linewidths=0.6, zorder=4)
    label = ALL_KEYPOINTS if keypoint is None else names[keypoint]
    heading = f"{title}\n" if title else ""
    ax.set_title(f"{heading}stage {stage}/{stages} belief: {label}\n[{belief.min():.2f}, {belief.max():.2f}]",
                 fontsize=8)


def draw_skeleton(ax, image_uint8: np.ndarray, prediction: dict, ground_truth: dict | None, stage: int,
                  min_peak: float = MIN_PEAK) -> None:
    """Panel (b): stage `stage`'s predicted skeleton against the true one, each keypoint joined to its truth."""
    check_prediction(prediction)
    show_image(ax, np.asarray(image_uint8))
    points = np.asarray(prediction["stage_landmarks"][stage - 1], dtype=np.float64)
    shown = shown_keypoints(prediction, ground_truth, min_peak)
    edges = _edges(len(points))
    if ground_truth is not None:
        truth = np.asarray(ground_truth["landmarks"], dtype=np.float64)
        _skeleton(ax, truth, shown, edges, color=TRUTH_COLOR, linewidth=1.2, linestyle="--", zorder=2)
        draw_landmarks(ax, truth, np.asarray(ground_truth["visibility"]), visibility_style=FASHIONAI_VISIBILITY_STYLE,
                       label_points=False)
        for slot in np.flatnonzero(shown):
            ax.plot([points[slot, 0], truth[slot, 0]], [points[slot, 1], truth[slot, 1]], color="white",
                    linewidth=0.7, zorder=2, path_effects=[patheffects.withStroke(linewidth=1.6, foreground="black")])
    _skeleton(ax, points, shown, edges, color=PREDICTION_COLOR, linewidth=1.4, zorder=3)
    ax.scatter(points[shown, 0], points[shown, 1], s=18, marker="D", color=PREDICTION_COLOR, edgecolors="black",
               linewidths=0.5, zorder=4)
    ax.set_title(f"stage {stage} skeleton" + (" vs truth" if ground_truth is not None else ""), fontsize=8)


def legend_handles(ground_truth: bool) -> list:
    """Legend entries for the skeleton panel: the prediction, and the truth's visibility codes and skeleton."""
    handles = [Line2D([], [], color=PREDICTION_COLOR, marker="D", markeredgecolor="black", label="predicted")]
    if ground_truth:
        handles += [Line2D([], [], linestyle="", marker=s["marker"], color=s["color"], markeredgecolor="black",
                           label="true, " + s["label"]) for s in FASHIONAI_VISIBILITY_STYLE.values()]
        handles.append(Line2D([], [], color=TRUTH_COLOR, linestyle="--", label="true skeleton"))
    return handles


def pose_machine_grid(model: nn.Module, source: ImageSource, indices: Sequence[int], keypoint: int | None = None,
                      opacity: float = 0.5, names: Sequence[str] = FASHIONAI_KEYPOINTS, min_peak: float = MIN_PEAK):
    """One row per image: the belief map of every stage t = 1..T, then the last stage's skeleton vs truth."""
    indices = [int(index) for index in indices]
    if not indices:
        raise ValueError("pose_machine_grid needs at least one image index")
    items = [source.item(index) for index in indices]
    predictions = [predict_image(model, item["image"]) for item in items]
    stages = check_prediction(predictions[0])
    fig, axes = report_grid(len(indices), stages + 1, (2.5 * (stages + 1), 2.9 * len(indices) + 0.4))
    for row, index, item, prediction in zip(axes, indices, items, predictions):
        image = denormalize(item["image"])
        for stage in range(1, stages + 1):
            draw_belief(row[stage - 1], image, prediction, item["ground_truth"], stage, keypoint, opacity, names,
                        min_peak, title=f"{index}: {source_label(source, index)[-28:]}" if stage == 1 else None)
        draw_skeleton(row[stages], image, prediction, item["ground_truth"], stages, min_peak)
    fig.legend(handles=legend_handles(any(item["ground_truth"] is not None for item in items)),
               loc="outside lower center", ncol=4, frameon=False, fontsize=7)
    return fig


class PoseMachineViewer(ImageViewer):
    """Controls (image, stage, keypoint, opacity) over an Output showing one stage's two panels.

    `figure` is the last rendered matplotlib Figure and `state` {"index", "stage", "keypoint",
    "keypoint_name", "opacity", "label"} what it shows; predictions are cached per image, so only a
    new image runs the model (all stages come from one forward pass).
    """

    viewer_name = "pose machine viewer"
    figure_size = (7.4, 4.2)

    def __init__(self, model: nn.Module, source: ImageSource, names: Sequence[str] = FASHIONAI_KEYPOINTS,
                 min_peak: float = MIN_PEAK, opacity: float = 0.5):
        self.names, self.min_peak = tuple(names), float(min_peak)
        self.state: dict = {}
        super().__init__(model, source, opacity)

    def add_controls(self, style: dict) -> list[widgets.Widget]:
        _, first = self.image_result(0)
        stages = check_prediction(first)
        self.stage = widgets.IntSlider(value=stages, min=1, max=stages, description="stage", style=style)
        self.keypoint = widgets.Dropdown(options=[ALL_KEYPOINTS, *self.names], value=ALL_KEYPOINTS,
                                         description="keypoint", style=style)
        return [self.stage, self.keypoint]

    def control_rows(self) -> list[widgets.Widget]:
        return [widgets.HBox([self.image, self.stage]), widgets.HBox([self.keypoint, self.opacity])]

    def caption_label(self, index: int, item: dict) -> str:
        return source_label(self.source, index)

    def view_label(self) -> str:
        return f"stage {self.stage.value}, {self.keypoint.value}"

    def draw(self, figure: Figure, index: int, item: dict, prediction: dict) -> None:
        """The chosen stage's belief map and skeleton; `state` records what they show."""
        stage, name = int(self.stage.value), self.keypoint.value
        keypoint = None if name == ALL_KEYPOINTS else self.names.index(name)
        label = source_label(self.source, index)
        belief_ax, skeleton_ax = figure.subplots(1, 2)
        image = denormalize(item["image"])
        draw_belief(belief_ax, image, prediction, item["ground_truth"], stage, keypoint, float(self.opacity.value),
                    self.names, self.min_peak, title=f"{index}: {label[-40:]}")
        draw_skeleton(skeleton_ax, image, prediction, item["ground_truth"], stage, self.min_peak)
        figure.legend(handles=legend_handles(item["ground_truth"] is not None), loc="outside lower center", ncol=4,
                      frameon=False, fontsize=7)
        self.state = {"index": index, "stage": stage, "keypoint": keypoint, "keypoint_name": name,
                      "opacity": float(self.opacity.value), "label": label}

    def __repr__(self) -> str:
        # What a static report shows instead of the widget: short and deterministic.
        return (f"PoseMachineViewer(image={self.image.value} of {len(self.source)}, stage={self.stage.value} of "
                f"{self.stage.max}, keypoint={self.keypoint.value!r}, opacity={self.opacity.value})")


def pose_machine_viewer(model: nn.Module, source: ImageSource, names: Sequence[str] = FASHIONAI_KEYPOINTS,
                        opacity: float = 0.5) -> PoseMachineViewer:
    """An ipywidgets viewer: pick an image, a stage (slider), a keypoint ("all (max)" or one) and the opacity."""
    return PoseMachineViewer(model, source, names, opacity=opacity)
