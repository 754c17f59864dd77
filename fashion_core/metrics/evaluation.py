"""Score a landmark / category / attribute model on a dataset split, under one stated protocol.

Protocol (DeepFashion-C and FLD, as in the Liu & Lu code and the DAFE and FashionNet tables):
landmarks are predicted in the S x S input crop, which is the ground-truth bbox resized without
keeping the aspect ratio, so dividing by S normalises x by the crop width and y by its height.
NE is the Euclidean distance in those units, averaged per landmark over the images where that
landmark is visible (code 0); "avg" is the mean of the per-landmark values. Category: top-k
accuracy. Attributes: per-image top-k over all attributes ("all") or within a type, recall =
hits / positives summed over the whole split (micro).

FashionAI (fashionai_score): the challenge NE, in original-image pixels: sum(d / s) / count over
the keypoints with v == 1, s the true armpit (tops, dresses) or waistband (skirts, trousers)
distance; per keypoint, per Hu et al. 2018 Table 1 group, per category, and pooled ("ne_avg").
Beside it, from the same predictions, the normalised-coordinates NE ("ne_coord_*": x / width,
y / height, DeepFashion's). Images without a normaliser are skipped and counted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from fashion_core.data.vocab import ATTRIBUTE_TYPE_NAMES, LANDMARK_KEYS
from fashion_core.metrics import functional
from fashion_core.metrics.fashionai import fashionai_ne_metrics
from fashion_core.models.inference import evaluating, model_device

TOPK = (1, 3, 5)
RECALL_K = (3, 5)


@dataclass
class Predictions:
    """Everything the metrics need, in dataset order, as numpy arrays."""

    input_size: int
    index: np.ndarray             # annotation rows
    landmarks: np.ndarray         # (N,8,2) predicted, input pixels
    landmarks_true: np.ndarray    # (N,8,2)
    visible: np.ndarray           # (N,8) bool, code 0
    visibility: np.ndarray        # (N,8) raw codes
    clothes_type: np.ndarray      # (N,)
    category_scores: np.ndarray | None = None    # (N,C)
    category: np.ndarray | None = None           # (N,)
    attribute_scores: np.ndarray | None = None   # (N,K)
    attributes: np.ndarray | None = None         # (N,K) 0/1
    scale: np.ndarray | None = None              # (N,2) input px per original px (x, y), from the dataset
    stage_landmarks: np.ndarray | None = None    # (N,T,L,2) each stage's prediction (multi-stage models)
    embedding: np.ndarray | None = None          # (N,D) the retrieval embedding, for models that have one
    item: np.ndarray | None = None               # (N,) In-shop item of every image (In-shop datasets only)


def collect_predictions(model: torch.nn.Module, dataset, batch_size: int = 64, num_workers: int = 0) -> Predictions:
    """Run the model over a dataset once, in order, with no random transform."""
    return predictions_from_loader(model, DataLoader(dataset, batch_size=batch_size, shuffle=False,
                                                     num_workers=num_workers))


def predictions_from_loader(model: torch.nn.Module, loader: DataLoader) -> Predictions:
    """Run the model over every batch of a loader (the trainer's validation loader, or collect_predictions')."""
    dataset = loader.dataset
    if getattr(dataset, "flip", False):
        raise ValueError("evaluation datasets must not flip: build the dataset with flip=False")
    device = model_device(model)
    parts: dict[str, list[np.ndarray]] = {}

    def keep(name: str, value: Any) -> None:
        parts.setdefault(name, []).append(value.detach().float().cpu().numpy() if torch.is_tensor(value) else value)

    with evaluating(model):
        for batch in loader:
            outputs = model(batch["image"].to(device))
            keep("landmarks", outputs["landmarks"])
            if "stage_landmarks" in outputs:
                keep("stage_landmarks", outputs["stage_landmarks"])
            if "scale" in batch:
                keep("true_scale", batch["scale"].numpy())
            if "category_logits" in outputs:
                keep("category_scores", outputs["category_logits"])
            if "attribute_logits" in outputs:
                keep("attribute_scores", outputs["attribute_logits"])
            if "embedding" in outputs:
                keep("embedding", outputs["embedding"])
            if "item" in batch:
                keep("true_item", batch["item"].numpy())
            for name in ("index", "landmarks", "visible", "visibility", "clothes_type", "category", "attributes"):
                keep(f"true_{name}", batch[name].numpy())
    joined = {name: np.concatenate(values) for name, values in parts.items()}
    has_categories = "category_scores" in joined and (joined["true_category"] >= 0).all()
    has_attributes = "attribute_scores" in joined and joined["true_attributes"].shape[1] > 0
    return Predictions(
        input_size=int(dataset.input_size),
        index=joined["true_index"],
        landmarks=joined["landmarks"],
        landmarks_true=joined["true_landmarks"],
        visible=joined["true_visible"].astype(bool),
        visibility=joined["true_visibility"],
        clothes_type=joined["true_clothes_type"],
        category_scores=joined["category_scores"] if has_categories else None,
        category=joined["true_category"] if has_categories else None,
        attribute_scores=joined["attribute_scores"] if has_attributes else None,
        attributes=joined["true_attributes"] if has_attributes else None,
        scale=joined.get("true_scale"),
        stage_landmarks=joined.get("stage_landmarks"),
        embedding=joined.get("embedding"),
        item=joined.get("true_item"),
    )


def landmark_metrics(landmarks: np.ndarray, landmarks_true: np.ndarray, visible: np.ndarray, input_size: int) -> dict[str, float]:
    """ne_<slot> and ne_avg under the visible-only protocol; ne_avg_mmfashion for comparison."""
    error = functional.normalized_error(landmarks, landmarks_true, visible, input_size)
    result = {f"ne_{key}": float(value) for key, value in zip(LANDMARK_KEYS, error["per_landmark"])}
    result["ne_avg"] = float(error["mean"])
    result["ne_avg_mmfashion"] = float(functional.normalized_error(landmarks, landmarks_true, visible, input_size,
                                                                protocol="mmfashion")["mean"])
    return result


def category_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {f"category_top{k}": functional.topk_accuracy(scores, labels, k) for k in TOPK if k <= scores.shape[1]}


def attribute_metrics(scores: np.ndarray, targets: np.ndarray, attribute_types: np.ndarray) -> dict[str, float]:
    result = {}
    for k in RECALL_K:
        recall = functional.attribute_recall_at_k(scores, targets, k, attr_types=np.asarray(attribute_types))
        result[f"attr_all_top{k}"] = float(recall["all"])
        for code, name in ATTRIBUTE_TYPE_NAMES.items():
            if code in recall:
                result[f"attr_{name}_top{k}"] = float(recall[code])
    return result


def attribute_metrics_on_unknown(scores: np.ndarray, targets: np.ndarray, attribute_types: np.ndarray,
                                 known: np.ndarray) -> dict[str, float]:
    """attribute_metrics over the unknown labels only, for models given some labels as input (M2Fashion, C-Tran).

    known (N,K) bool: labels revealed to the model. They are neither ranked (score -inf, so never
    in a top k while an unknown label is left) nor counted as positives; with no label known this
    equals attribute_metrics. Fewer positives remain per image as more are revealed, so recall@k
    rises with the revealed fraction even for a model that ignores its input: compare with the same
    reveal scored on a model that was not told the labels.
    """
    known = np.asarray(known, dtype=bool)
    if known.shape != np.shape(scores):
        raise ValueError(f"known: expected shape {np.shape(scores)} like scores, got {known.shape}")
    return attribute_metrics(np.where(known, -np.inf, scores), np.where(known, 0, targets), attribute_types)


def score(predictions: Predictions, attribute_types: np.ndarray | None = None) -> dict[str, float]:
    """The full metric dict of a model's predictions (keys as in fashion_core.reporting.reference)."""
    result = landmark_metrics(predictions.landmarks, predictions.landmarks_true, predictions.visible,
                              predictions.input_size)
    if predictions.category_scores is not None:
        result.update(category_metrics(predictions.category_scores, predictions.category))
    if predictions.attribute_scores is not None and attribute_types is not None:
        result.update(attribute_metrics(predictions.attribute_scores, predictions.attributes, attribute_types))
    return result


# --------------------------------------------------------------------------- FashionAI
def fashionai_landmark_metrics(landmarks: np.ndarray, keypoints_true: np.ndarray, visibility: np.ndarray,
                               categories: np.ndarray, image_size: np.ndarray | None = None) -> dict[str, float]:
    """FashionAI NE of (N,24,2) predictions in ORIGINAL image pixels, under both normalisers.

    Keys (fashion_core.metrics.fashionai.fashionai_ne_metrics): the challenge NE as ne_<keypoint>
    (24, FASHIONAI_KEYPOINTS names), ne_<group> (the 13 keypoint groups of Hu et al. 2018 Table 1,
    pooled over their keypoints), ne_avg (pooled over every counted keypoint: the challenge score)
    and ne_category_<name>; normaliser the true armpit distance (blouse, outwear, dress) or
    waistband distance (skirt, trousers); only v == 1 keypoints count. With image_size ((N,2)
    original width, height), the normalised-coordinates NE as ne_coord_<group>, ne_coord_avg and
    ne_coord_category_<name>. fashionai_skipped_images: images without a normaliser, left out.
    """
    return fashionai_ne_metrics(landmarks, keypoints_true, visibility, categories, image_size)


def fashionai_score(predictions: Predictions, annotations) -> dict[str, float]:
    """The metric dict of predictions on a FashionAIDataset split whose annotations are `annotations`.

    The model predicts in the S x S input (the whole image resized, aspect not kept), so each
    prediction is mapped back to original pixels with the dataset's per-image scale before the
    FashionAI NE, whose normaliser is a distance in the original image; the truth is the
    annotation itself. The normalised-coordinates NE divides by the original image size, which
    the scale gives (input_size / scale). Multi-stage models (stage_landmarks) also get
    ne_stage<t>, the overall challenge NE of stage t's prediction (t = 1..T); the last one equals
    ne_avg.
    """
    if predictions.scale is None:
        raise ValueError("FashionAI scoring needs the dataset's per-image 'scale' (FashionAIDataset provides it)")
    rows = np.asarray(predictions.index, dtype=np.int64)
    to_original = 1.0 / predictions.scale.astype(np.float64)[:, None, :]
    truth, codes = annotations.keypoints[rows], annotations.visibility[rows]
    categories = annotations.category[rows]
    image_size = predictions.input_size * to_original[:, 0, :]
    result = fashionai_landmark_metrics(predictions.landmarks * to_original, truth, codes, categories, image_size)
    if predictions.stage_landmarks is not None:
        for stage in range(predictions.stage_landmarks.shape[1]):
            result[f"ne_stage{stage + 1}"] = functional.fashionai_normalized_error(
                predictions.stage_landmarks[:, stage] * to_original, truth, codes, categories)
    return result


# --------------------------------------------------------------------------- validation during training
# One scorer per protocol, for the trainer's per-epoch validation (notebooks and the CLI alike):
# the test protocol above on the validation split, reduced to the numbers the curves show.
def landmark_validation_score(predictions: Predictions) -> dict[str, float]:
    """val_ne_avg, and val_category_top1 for a model with a category head."""
    result = {"val_ne_avg": landmark_metrics(predictions.landmarks, predictions.landmarks_true, predictions.visible,
                                             predictions.input_size)["ne_avg"]}
    if predictions.category_scores is not None:
        result["val_category_top1"] = category_metrics(predictions.category_scores, predictions.category)["category_top1"]
    return result


def validation_metrics(model: torch.nn.Module, loader: DataLoader) -> dict[str, float]:
    """Per-epoch validation NE and category top-1 on a DeepFashion-C or FLD loader."""
    return landmark_validation_score(predictions_from_loader(model, loader))


def fashionai_validation_score(predictions: Predictions, annotations) -> dict[str, float]:
    """val_ne_avg: the FashionAI NE of predictions on the split of `annotations`."""
    return {"val_ne_avg": fashionai_score(predictions, annotations)["ne_avg"]}


def fashionai_validation_metrics(model: torch.nn.Module, loader: DataLoader) -> dict[str, float]:
    """Per-epoch validation FashionAI NE on a FashionAIDataset loader."""
    return fashionai_validation_score(predictions_from_loader(model, loader), loader.dataset.annotations)


def classification_predictions(model: torch.nn.Module, loader: DataLoader) -> dict[str, np.ndarray]:
    """Category and attribute scores with no label given as input (M2Fashion), and the truth, in loader order."""
    device = model_device(model)
    parts: dict[str, list[np.ndarray]] = {"category_scores": [], "attribute_scores": [], "category": [],
                                          "attributes": []}
    with evaluating(model):
        for batch in loader:
            outputs = model(batch["image"].to(device))
            parts["category_scores"].append(outputs["category_logits"].float().cpu().numpy())
            parts["attribute_scores"].append(outputs["attribute_logits"].float().cpu().numpy())
            parts["category"].append(batch["category"].numpy())
            parts["attributes"].append(batch["attributes"].numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def classification_score(predictions: dict[str, np.ndarray], attribute_types: np.ndarray) -> dict[str, float]:
    """Every category and attribute metric of classification_predictions."""
    return {**category_metrics(predictions["category_scores"], predictions["category"]),
            **attribute_metrics(predictions["attribute_scores"], predictions["attributes"], attribute_types)}


def classification_validation_score(predictions: dict[str, np.ndarray], attribute_types: np.ndarray,
                                    tasks: str = "joint") -> dict[str, float]:
    """val_category_top1 and val_attr_all_top5 of the heads a model trains (tasks: joint, category or attribute)."""
    result = {}
    if tasks in ("joint", "category"):
        result["val_category_top1"] = category_metrics(predictions["category_scores"],
                                                       predictions["category"])["category_top1"]
    if tasks in ("joint", "attribute"):
        result["val_attr_all_top5"] = attribute_metrics(predictions["attribute_scores"], predictions["attributes"],
                                                        attribute_types)["attr_all_top5"]
    return result
