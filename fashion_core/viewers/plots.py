"""Figures a person would rather look at than read: samples with landmarks, label frequencies."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from PIL import Image

from fashion_core.data.vocab import ATTRIBUTE_TYPE_NAMES, CLOTHES_TYPE_NAMES, FASHIONAI_KEYPOINTS

# DeepFashion visibility codes, drawn so that a glance separates them.
VISIBILITY_STYLE = {
    0: dict(marker="o", color="#1a9850", label="visible (0)"),
    1: dict(marker="s", color="#fdae61", label="occluded (1)"),
    2: dict(marker="x", color="#d73027", label="truncated (2)"),
}
# FashionAI codes mean something else: 1 visible, 0 occluded, -1 absent.
FASHIONAI_VISIBILITY_STYLE = {
    1: dict(marker="o", color="#1a9850", label="visible (1)"),
    0: dict(marker="s", color="#fdae61", label="occluded (0)"),
}


def load_image(path: str | Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def draw_landmarks(ax, points: np.ndarray, visibility: np.ndarray, names: Sequence[str] | None = None,
                   visibility_style: dict | None = None, label_points: bool = True) -> None:
    """Scatter landmarks styled by visibility code; absent slots (code -1) are not drawn."""
    style = visibility_style or VISIBILITY_STYLE
    for slot, ((x, y), code) in enumerate(zip(points, visibility)):
        code = int(code)
        if code not in style:
            continue
        marker = style[code]
        ax.scatter([x], [y], s=28, marker=marker["marker"], color=marker["color"],
                   edgecolors="black" if marker["marker"] != "x" else None, linewidths=0.6, zorder=3)
        if label_points and names is not None:
            ax.annotate(str(slot), (x, y), xytext=(3, -3), textcoords="offset points", fontsize=6, color="white",
                        bbox=dict(boxstyle="round,pad=0.1", fc="black", alpha=0.5, lw=0))


def draw_bbox(ax, bbox: Sequence[float], color: str = "#2166ac") -> None:
    x1, y1, x2, y2 = (float(value) for value in bbox)
    ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color, linewidth=1.2, linestyle="--"))


def visibility_legend(fig, style: dict | None = None) -> None:
    style = style or VISIBILITY_STYLE
    handles = [plt.Line2D([], [], linestyle="", marker=s["marker"], color=s["color"], markeredgecolor="black",
                          label=s["label"]) for s in style.values()]
    handles.append(plt.Line2D([], [], color="#2166ac", linestyle="--", label="bbox"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)


def pick_per_category(categories: np.ndarray, per_category: int, seed: int, mask: np.ndarray | None = None) -> dict[int, np.ndarray]:
    """A seeded, reproducible choice of `per_category` rows for every category present."""
    rng = np.random.default_rng(seed)
    chosen = {}
    for category in np.unique(categories):
        rows = np.flatnonzero((categories == category) & (mask if mask is not None else True))
        if len(rows):
            chosen[int(category)] = np.sort(rng.choice(rows, size=min(per_category, len(rows)), replace=False))
    return chosen


def plot_category_samples(annotations, per_category: int = 2, seed: int = 0, split: str = "train", columns: int = 8):
    """A grid of samples for every category, with landmarks by visibility and the bbox drawn."""
    chosen = pick_per_category(annotations.category, per_category, seed, annotations.split == split)
    rows_to_show = [(category, row) for category, rows in chosen.items() for row in rows]
    n_rows = int(np.ceil(len(rows_to_show) / columns))
    fig, axes = plt.subplots(n_rows, columns, figsize=(columns * 1.6, n_rows * 1.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (category, row) in zip(axes.flat, rows_to_show):
        ax.imshow(load_image(Path(annotations.image_root) / annotations.image_names[row]))
        draw_bbox(ax, annotations.bbox[row])
        draw_landmarks(ax, annotations.landmarks[row], annotations.landmark_visibility[row])
        ax.set_title(annotations.category_names[category], fontsize=8)
    visibility_legend(fig)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def category_frequency_table(annotations) -> pd.DataFrame:
    """Images per category and split; only categories that occur (the real list has unused rows)."""
    frame = pd.DataFrame({
        "category": np.asarray(annotations.category_names)[annotations.category],
        "clothes type": [CLOTHES_TYPE_NAMES.get(int(t), str(t)) for t in annotations.category_type],
        "split": annotations.split,
    })
    table = frame.groupby(["category", "clothes type", "split"]).size().unstack("split", fill_value=0)
    table = table.reindex(columns=[s for s in ("train", "val", "test") if s in table.columns])
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False)


def attribute_frequency_table(annotations) -> pd.DataFrame:
    positives = np.asarray(annotations.attributes, dtype=np.int64).sum(axis=0)
    return pd.DataFrame({
        "attribute": annotations.attribute_names,
        "type": [ATTRIBUTE_TYPE_NAMES.get(int(t), str(t)) for t in annotations.attribute_types],
        "positives": positives,
        "share": positives / max(len(annotations.image_names), 1),
    }).sort_values(["type", "positives"], ascending=[True, False]).reset_index(drop=True)


def plot_label_frequencies(annotations):
    """Category counts and attribute positive rates, coloured by clothes and attribute type."""
    categories = category_frequency_table(annotations).reset_index()
    attributes = attribute_frequency_table(annotations)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, max(4, 0.16 * len(attributes))),
                                      gridspec_kw=dict(width_ratios=[1, 1.3]))
    sns.barplot(data=categories, y="category", x="total", hue="clothes type", dodge=False, ax=left)
    left.set_title("images per category")
    left.set_xlabel("images")
    sns.barplot(data=attributes, y="attribute", x="share", hue="type", dodge=False, ax=right)
    right.set_title("share of images with each attribute")
    right.set_xlabel("positive share")
    right.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


def visibility_table(landmarks_visibility: np.ndarray, slot_names: Sequence[str]) -> pd.DataFrame:
    """How often each landmark slot is visible, occluded, truncated or absent."""
    codes = {"visible": 0, "occluded": 1, "truncated": 2, "absent": -1}
    visibility = np.asarray(landmarks_visibility)
    return pd.DataFrame({name: (visibility == code).sum(axis=0) for name, code in codes.items()},
                        index=pd.Index(list(slot_names), name="landmark"))


def plot_format_samples(category_attribute, fld, fashionai, seed: int = 0):
    """One sample read back through each of the three format loaders, drawn from what the loader returned."""
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, 3, figsize=(11, 4.4))
    panels = [
        ("DeepFashion-C: read_category_attribute", category_attribute),
        ("FLD: read_fld", fld),
    ]
    for ax, (title, annotations) in zip(axes[:2], panels):
        row = int(rng.integers(len(annotations)))
        ax.imshow(load_image(annotations.image_path(row)))
        if annotations.bbox is not None:
            draw_bbox(ax, annotations.bbox[row])
        draw_landmarks(ax, annotations.landmarks[row], annotations.landmark_visibility[row])
        ax.set_title(f"{title}\n{annotations.image_names[row]}", fontsize=8)
    row = int(rng.integers(len(fashionai)))
    axes[2].imshow(load_image(fashionai.image_path(row)))
    draw_landmarks(axes[2], fashionai.keypoints[row], fashionai.visibility[row], FASHIONAI_KEYPOINTS,
                   visibility_style=FASHIONAI_VISIBILITY_STYLE)
    axes[2].set_title(f"FashionAI: read_fashionai ({fashionai.category[row]})\n{fashionai.image_ids[row]}", fontsize=8)
    for ax in axes:
        ax.axis("off")
    visibility_legend(fig)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def dataset_summary(category_attribute, fld, fashionai, dataset_label: str) -> str:
    """A few lines a reader checks first: sizes, splits, vocabulary, in each format."""
    splits = ", ".join(f"{split} {int((category_attribute.split == split).sum())}" for split in ("train", "val", "test"))
    types = np.asarray(category_attribute.attribute_types)
    type_counts = ", ".join(f"{name} {int((types == code).sum())}" for code, name in ATTRIBUTE_TYPE_NAMES.items())
    occurring = len(np.unique(category_attribute.category))
    categories = ", ".join(f"{name} {int((fashionai.category == name).sum())}" for name in np.unique(fashionai.category))
    return "\n".join([
        f"{dataset_label}, DeepFashion-C format: {len(category_attribute)} images ({splits}); "
        f"{occurring} of {len(category_attribute.category_names)} listed categories occur; "
        f"{len(category_attribute.attribute_names)} attributes ({type_counts}); "
        f"{float(category_attribute.attributes.sum(axis=1).mean()):.2f} positive attributes per image",
        f"{dataset_label}, FLD format: {len(fld)} images",
        f"{dataset_label}, FashionAI format ({fashionai.path.name}): {len(fashionai)} images ({categories})",
    ])


def plot_training_curves(histories: pd.DataFrame, metrics: Sequence[str] = ("loss", "val_ne_avg", "val_category_top1")):
    """One panel per metric against epoch, one line per variant (mean over seeds, band = sd)."""
    present = [metric for metric in metrics if metric in histories.columns]
    fig, axes = plt.subplots(1, len(present), figsize=(4.6 * len(present), 3.4), squeeze=False)
    frame = histories.assign(epoch=histories["epoch"] + 1)
    for ax, metric in zip(axes[0], present):
        sns.lineplot(data=frame, x="epoch", y=metric, hue="variant", errorbar="sd", marker="o", ax=ax)
        ax.set_title({"loss": "training loss", "val_ne_avg": "validation NE (lower is better)",
                      "val_category_top1": "validation category top-1"}.get(metric, metric))
        ax.legend(fontsize=7)
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def plot_stage_errors(stages: pd.DataFrame, title: str, ylabel: str = "FashionAI NE (lower is better)"):
    """Mean ± sd over seeds of an error per stage (a tables.per_stage_frame), each seed as a faint line."""
    fig, ax = plt.subplots(figsize=(4.6, 3.2))
    for column in [column for column in stages.columns if column.startswith("seed ")]:
        ax.plot(stages.index, stages[column], color="0.7", linewidth=0.8, marker=".", zorder=1)
    ax.errorbar(stages.index, stages["mean"], yerr=stages["sd"].fillna(0.0), marker="o", capsize=3, zorder=2,
                label="mean ± sd over seeds")
    ax.set_xlabel("stage t")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
