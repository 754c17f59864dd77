"""The reproduction report's gallery: the trained DAFE, Liu & Lu and M2Fashion models side by side on the same images.

Images come from a folder of photos (no ground truth) or the DeepFashion-C test split; each model
sees them at its own input size. Each model's columns are the panels of its own viewer
(fashion_core.viewers.dafe, landmarks, m2fashion), one row per image.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from torch import nn

from fashion_core import experiments
from fashion_core.data.datasets import CategoryAttributeDataset, denormalize
from fashion_core.data.vocab import LANDMARK_NAMES
from fashion_core.models.dafe import NUM_MODULES
from fashion_core.viewers.base import image_source, predict_image
from fashion_core.viewers.dafe import draw_sau
from fashion_core.viewers.drawing import (
    add_landmark_legend,
    draw_landmark_panel,
    report_grid,
    short_label,
    show_image,
)
from fashion_core.viewers.landmarks import draw_prediction
from fashion_core.viewers.m2fashion import draw_attention, image_features, predict_with_states

# The gallery's models: (metrics file, row key), as their own notebooks train them.
GALLERY_ROWS = {"dafe": ("dafe", "dafe_deepfashion_c"), "liu2018": ("liu2018", "liu2018"),
                "m2fashion": ("m2fashion", "m2fashion")}
GALLERY_TITLES = {"dafe": "DAFE", "liu2018": "Liu & Lu", "m2fashion": "M2Fashion"}
# Panels per model, in the gallery's column order.
GALLERY_COLUMNS = {"dafe": 2, "liu2018": 3, "m2fashion": 1}


def load_gallery_models(profile: str, annotations, seed: int = 0) -> dict[str, nn.Module]:
    """The trained DAFE (DeepFashion-C), Liu & Lu (landmark attention) and M2Fashion (ASA) models of one seed.

    annotations: the DeepFashion-C annotations the classification models were trained with (their
    category and attribute counts).
    """
    sizes = {"num_categories": len(annotations.category_names), "num_attributes": len(annotations.attribute_names)}
    return {name: experiments.load_trained_variant(profile, paper, key, seed,
                                                   **({"num_categories": 0, "num_attributes": 0}
                                                      if name == "dafe" else sizes))
            for name, (paper, key) in GALLERY_ROWS.items()}


def gallery_sources(models: Mapping[str, nn.Module], folder: str | Path | None = None, annotations=None) -> dict:
    """One fashion_core.viewers.ImageSource per model, at the model's own input size, over the same images.

    From `folder` (any photos, searched recursively, no ground truth), or else the test split of
    `annotations` (DeepFashion-C, with ground truth), exactly as the attention notebooks load them.
    """
    if (folder is None) == (annotations is None):
        raise ValueError("gallery_sources needs exactly one of folder=... or annotations=...")
    by_size: dict[int, Any] = {}
    for model in models.values():
        size = int(model.input_size)
        if size not in by_size:
            by_size[size] = (image_source(folder=folder, input_size=size) if folder is not None else
                             image_source(dataset=CategoryAttributeDataset(annotations, "test", size, cache_images=False)))
    return {name: by_size[int(model.input_size)] for name, model in models.items()}


def gallery_indices(count: int, total: int) -> list[int]:
    """`count` image positions spread evenly over 0..total-1 (all of them when there are fewer)."""
    if count < 1:
        raise ValueError(f"gallery count must be at least 1, got {count}")
    if total < 1:
        raise ValueError("the gallery has no images")
    return sorted(set(np.linspace(0, total - 1, min(count, total)).round().astype(int).tolist()))


def gallery_figure(models: Mapping[str, nn.Module], sources: Mapping[str, Any], indices: Sequence[int],
                   category_names: Sequence[str] | None = None, opacity: float = 0.55):
    """One row per image, the panels of each model's own viewer side by side.

    DAFE: landmarks and the SAU map of its last module (fashion_core.viewers.dafe); Liu & Lu:
    landmarks, heatmaps and attention (fashion_core.viewers.landmarks); M2Fashion: its ASA map with
    every attribute unknown (fashion_core.viewers.m2fashion). Models may be any subset of "dafe",
    "liu2018", "m2fashion".
    """
    unknown = sorted(set(models) - set(GALLERY_COLUMNS))
    if unknown or not models:
        raise ValueError(f"gallery models must be some of {list(GALLERY_COLUMNS)}, got {sorted(models)}")
    indices = [int(index) for index in indices]
    if not indices:
        raise ValueError("the gallery needs at least one image index")
    names = [name for name in GALLERY_COLUMNS if name in models]
    columns = sum(GALLERY_COLUMNS[name] for name in names)
    figure, axes = report_grid(len(indices), columns, (2.3 * columns, 2.6 * len(indices) + 0.6))
    keys, with_truth = set(), False
    for row, index in zip(axes, indices):
        column = 0
        for name in names:
            item = sources[name].item(index)
            image = denormalize(item["image"])
            panels = row[column:column + GALLERY_COLUMNS[name]]
            column += GALLERY_COLUMNS[name]
            label = f"{GALLERY_TITLES[name]} · {index}: {short_label(item['label'], 28)}"
            if name == "m2fashion":
                features = image_features(models[name], item["image"])
                prediction = predict_with_states(models[name], features,
                                                 np.zeros(models[name].num_attributes, np.float32))
                draw_attention(panels[0], image, prediction["attention"], opacity,
                               f"{label}\nASA, all attributes unknown")
                continue
            prediction = predict_image(models[name], item["image"])
            keys |= set(prediction)
            with_truth |= item["ground_truth"] is not None
            if name == "dafe":
                show_image(panels[0], image)
                draw_landmark_panel(panels[0], prediction, item["ground_truth"], LANDMARK_NAMES)
                panels[0].set_title(f"{label}\nlandmarks", fontsize=7)
                draw_sau(panels[1], image, prediction, NUM_MODULES - 1, opacity)
            else:
                draw_prediction(panels, image, prediction, item["ground_truth"], None, opacity,
                                category_names=category_names, title=label)
        for ax in row:
            ax.title.set_fontsize(7)
    add_landmark_legend(figure, sorted(keys), with_truth)
    return figure
