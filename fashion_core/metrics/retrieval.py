"""Attribute-specific retrieval (M2Fashion Table 3, after ASEN) on a DeepFashion-C-format dataset.

The protocol, stated once:

- **Condition**: an attribute type t, one of the dataset's types (on SynthFashion and DeepFashion-C:
  texture, fabric, shape, part, style).
- **Value of an image for type t**: the *set* of its positive attributes of type t. SynthFashion
  draws one texture per garment, one fabric (plus "distressed" on some denim), and zero or more
  shape, part and style attributes (e.g. part = sleeve length + neckline + closures + pockets ...),
  so for texture the set is a single attribute and for part it is a combination (about 250
  distinct sets on the default profile). An image with no positive attribute of type t has no
  value for t.
- **Relevant**: a gallery item is relevant to a query under condition t when its value for t
  equals the query's (the same set). Images without a value for t are not queries for t, and are
  never relevant as gallery items.
- **Queries and gallery**: the test split, in dataset order; every `query_every`-th image
  (positions 0, q, 2q, ...) is a query, all the others form the gallery, so no image is ranked
  against itself.
- **Embeddings**: a model gives ``features(image)`` once per image and
  ``condition_embedding(features, types, states)`` per condition; its ``conditions_on`` says what
  the condition is.
  - "values" (M2Fashion): the query is embedded with the states of its value v for type t, +1 on
    the attributes in v, -1 on the other attributes of type t, 0 (unknown) elsewhere: the "image
    plus the labels I look for" of the paper's Sec. 4.5. The gallery is embedded under the same
    states (the model's ``gallery_condition == "query"``, the default: a condition-specific
    embedding on both sides, as ASEN does with its type), or with every label unknown
    ("unknown"). Either way no gallery image's own label is ever an input.
  - "type" (ASEN-style): queries and gallery are embedded under the type t alone.
  - "nothing" (the unconditioned triplet network): one embedding per image.
- **Ranking and mAP**: cosine similarity, ties to the lower gallery index
  (fashion_core.metrics.retrieval_average_precisions, the function behind retrieval_map). mAP of
  condition t = mean AP over its queries; ``map_all`` = mean of the per-condition mAPs (as
  ../shared/papers/NOTES.md states for Table 3).

Chance level: :func:`random_embedding_map` ranks by random embeddings (the mAP of a model that
learned nothing), next to :func:`protocol_table`'s query counts and relevance rates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from fashion_core.data.vocab import ATTRIBUTE_TYPE_NAMES
from fashion_core.metrics import functional
from fashion_core.models.inference import evaluating, model_device

__all__ = ["type_codes", "type_value_ids", "condition_states", "condition_state_table", "RetrievalSplit",
           "retrieval_split", "extract_features", "retrieval_metrics", "random_embedding_map", "protocol_table"]


def type_codes(attribute_types: np.ndarray) -> list[int]:
    """The attribute type codes present, in order: the retrieval conditions."""
    return sorted(int(code) for code in np.unique(attribute_types))


def condition_name(code: int) -> str:
    return ATTRIBUTE_TYPE_NAMES.get(int(code), f"type{int(code)}")


def type_value_ids(attributes: np.ndarray, attribute_types: np.ndarray) -> np.ndarray:
    """(N, T) int64: per image and type (in type_codes order) an id of its value set, -1 for no value.

    Equal ids within one call mean equal sets, so the ids are only comparable within the array they
    were computed for (compute them once for the whole dataset).
    """
    attributes = np.asarray(attributes) > 0
    ids = np.full((attributes.shape[0], len(type_codes(attribute_types))), -1, dtype=np.int64)
    for column, code in enumerate(type_codes(attribute_types)):
        values = attributes[:, np.asarray(attribute_types) == code]
        _, inverse = np.unique(values, axis=0, return_inverse=True)
        ids[:, column] = np.where(values.any(axis=1), inverse.reshape(-1), -1)
    return ids


def condition_states(attributes: np.ndarray, attribute_types: np.ndarray, code: int) -> np.ndarray:
    """(K,) or (N,K) float32 states of a value for type `code`: +1 in the value, -1 other type attributes, 0 else."""
    attributes = np.asarray(attributes) > 0
    of_type = np.asarray(attribute_types) == code
    return np.where(of_type, np.where(attributes, 1.0, -1.0), 0.0).astype(np.float32)


def condition_state_table(attributes: np.ndarray, attribute_types: np.ndarray) -> np.ndarray:
    """(N, T, K) float32: condition_states of every image for every type (type_codes order)."""
    return np.stack([condition_states(attributes, attribute_types, code) for code in type_codes(attribute_types)],
                    axis=1)


@dataclass(frozen=True)
class RetrievalSplit:
    queries: np.ndarray   # positions in the evaluated dataset
    gallery: np.ndarray


def retrieval_split(size: int, query_every: int = 4) -> RetrievalSplit:
    """Every query_every-th position is a query, the rest the gallery."""
    if query_every < 2:
        raise ValueError(f"query_every must be >= 2 (1 would leave no gallery), got {query_every}")
    positions = np.arange(size)
    is_query = positions % query_every == 0
    return RetrievalSplit(positions[is_query], positions[~is_query])


def extract_features(model: torch.nn.Module, dataset, batch_size: int = 128) -> torch.Tensor:
    """model.features over a dataset in order (eval mode, no grad) -> (N, d, h, w) on the CPU."""
    if getattr(dataset, "flip", False):
        raise ValueError("evaluation datasets must not flip: build the dataset with flip=False")
    parts = []
    with evaluating(model):
        for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            parts.append(model.features(batch["image"].to(model_device(model))).float().cpu())
    return torch.cat(parts)


def _embed(model, features: torch.Tensor, precomputed: torch.Tensor | None, code_index: int,
           states: np.ndarray) -> np.ndarray:
    device = model_device(model)
    with torch.inference_mode():
        types = torch.full((len(features),), code_index, dtype=torch.long, device=device)
        batch_states = torch.from_numpy(np.broadcast_to(states, (len(features), len(states))).copy()).to(device)
        return model.condition_embedding(features, types, batch_states, precomputed).float().cpu().numpy()


def _prepared(model, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The features on the model's device and what the model can reuse across conditions."""
    features = features.to(model_device(model))
    with torch.inference_mode():
        return features, model.precompute(features)


def retrieval_metrics(model: torch.nn.Module, features: torch.Tensor, attributes: np.ndarray,
                      attribute_types: np.ndarray, split: RetrievalSplit) -> dict[str, float]:
    """{map_<type>: ..., map_all: ...} for one model; features and attributes in the evaluated dataset's order.

    Queries are embedded per distinct value (M2Fashion) or per type; the gallery per type, or per
    value under the query's states when the model's gallery_condition is "query".
    """
    attributes = np.asarray(attributes) > 0
    values = type_value_ids(attributes, attribute_types)
    conditions_on = model.conditions_on
    if conditions_on not in ("values", "type", "nothing"):
        raise ValueError(f"model.conditions_on must be 'values', 'type' or 'nothing', got {conditions_on!r}")
    gallery_per_value = conditions_on == "values" and getattr(model, "gallery_condition", "unknown") == "query"
    result: dict[str, float] = {}
    with evaluating(model):
        gallery_features = _prepared(model, features[split.gallery])
        for column, code in enumerate(type_codes(attribute_types)):
            query_values = values[split.queries, column]
            gallery_values = values[split.gallery, column]
            precisions = []
            unknown = np.zeros(attributes.shape[1], dtype=np.float32)
            gallery = None if gallery_per_value else _embed(model, *gallery_features, column, unknown)
            for value in np.unique(query_values[query_values >= 0]):
                queries = split.queries[query_values == value]
                states = condition_states(attributes[queries[0]], attribute_types, code) \
                    if conditions_on == "values" else unknown
                query = _embed(model, *_prepared(model, features[queries]), column, states)
                if gallery_per_value:
                    gallery = _embed(model, *gallery_features, column, states)
                relevant = np.broadcast_to(gallery_values == value, (len(queries), len(gallery_values)))
                precisions.append(functional.retrieval_average_precisions(query, gallery, relevant))
            result[f"map_{condition_name(code)}"] = float(np.nanmean(np.concatenate(precisions))) \
                if precisions else float("nan")
    per_condition = [value for value in result.values() if not np.isnan(value)]
    result["map_all"] = float(np.mean(per_condition)) if per_condition else float("nan")
    return result


def random_embedding_map(attributes: np.ndarray, attribute_types: np.ndarray, split: RetrievalSplit,
                         repeats: int = 5, dim: int = 64, seed: int = 0) -> dict[str, float]:
    """The retrieval metrics of random Gaussian embeddings (new ones per condition), averaged over repeats."""
    attributes = np.asarray(attributes) > 0
    values = type_value_ids(attributes, attribute_types)
    rng = np.random.default_rng(seed)
    totals: dict[str, list[float]] = {}
    for _ in range(repeats):
        maps = []
        for column, code in enumerate(type_codes(attribute_types)):
            query_values = values[split.queries, column]
            keep = query_values >= 0
            relevant = (query_values[keep, None] == values[split.gallery, column][None, :])
            embedding = rng.standard_normal((len(values), dim))
            value = functional.retrieval_map(embedding[split.queries[keep]], embedding[split.gallery], relevant)
            totals.setdefault(f"map_{condition_name(code)}", []).append(value)
            maps.append(value)
        totals.setdefault("map_all", []).append(float(np.nanmean(maps)))
    return {key: float(np.mean(value)) for key, value in totals.items()}


def protocol_table(attributes: np.ndarray, attribute_types: np.ndarray, split: RetrievalSplit,
                   attribute_names=None) -> pd.DataFrame:
    """Per condition: queries with a value, distinct query values, gallery size, mean share of relevant items."""
    attributes = np.asarray(attributes) > 0
    values = type_value_ids(attributes, attribute_types)
    records = []
    for column, code in enumerate(type_codes(attribute_types)):
        query_values = values[split.queries, column]
        gallery_values = values[split.gallery, column]
        keep = query_values[query_values >= 0]
        relevant_share = [(gallery_values == value).mean() for value in keep]
        records.append({"condition": condition_name(code),
                        "attributes of the type": int((np.asarray(attribute_types) == code).sum()),
                        "queries": int(len(keep)), "queries without a value": int((query_values < 0).sum()),
                        "distinct query values": int(len(np.unique(keep))), "gallery": int(len(gallery_values)),
                        "mean relevant share": float(np.mean(relevant_share)) if len(keep) else float("nan")})
    return pd.DataFrame(records).set_index("condition")
