"""Train and score M2Fashion, its ablations and the retrieval baselines (the m2fashion_* notebooks' core).

M2Fashion takes attribute states as an input and trains on in-batch triplets, so it has its own
training loss and evaluation; everything else is shared: fashion_core.engine.trainer.fit, the variants,
settings, checkpoints and metrics JSON of fashion_core.experiments, the metrics of
fashion_core.metrics / evaluation, the retrieval protocol of fashion_core.metrics.retrieval.

Protocol of the numbers this writes (test split, no random transform):
- category top-1/3/5 and attribute recall@3/@5 (DeepFashion micro recall, per type and "all")
  with a fraction `known_fraction` of each image's labels revealed as input (0 by default: every
  label unknown); revealed labels are neither ranked nor counted (evaluation.attribute_metrics_on_unknown).
  Training reveals labels by the label-mask rule of fashion_core.models.m2fashion (about 37.5% on
  average, almost never none) plus a share `all_unknown_share` of samples revealing none; the
  metrics JSON records both sides under "label_states" (:func:`label_state_summary`);
- the known-label sweep: the same at each fraction f of `known_fractions`, keys ``known<100f>_<metric>``,
  and, as the control, ``known<100f>_uninformed_<metric>``: the same labels left out of the scoring
  but NOT given to the model (every state unknown). The reveal is a pure function of
  (reveal_seed, image), the same for every model and training seed, nested across fractions;
- retrieval mAP per condition and two "All"s: ``map_all``, the mean of the conditions' mAPs
  (fashion_core.metrics.retrieval), and ``map_all_pooled``, the mAP over every scored query of
  every condition pooled (:func:`pooled_map_all`; conditions with more queries weigh more). The
  paper's printed "All" of Table 3 is neither: for its Triplet row it prints 40.14, where the mean
  of its nine conditions is 40.36, so tables show it "as printed" beside both.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from fashion_core.engine.trainer import fit
from fashion_core.experiments import runs, store
from fashion_core.experiments.store import ExperimentResults, RunResult
from fashion_core.experiments.variants import Settings, Variant
from fashion_core.metrics import retrieval
from fashion_core.metrics.baselines import baseline_metrics
from fashion_core.metrics.evaluation import (
    attribute_metrics_on_unknown,
    category_metrics,
    classification_predictions,
    classification_validation_score,
)
from fashion_core.models.inference import model_device, unwrap
from fashion_core.models.m2fashion import (
    label_mask,
    label_mask_statistics,
    label_states,
    revealed_labels,
    sample_triplets,
)

PAPER = "m2fashion"
BENCHMARK = "DeepFashion-C"


@dataclass(frozen=True)
class Options:
    """What the train notebook fixes beyond experiments.Settings."""

    feature_stride: int = 16
    similarity: str = "cosine"
    gallery_condition: str = "query"
    triplet_rule: str = "shared_attribute"
    # The workbook's choice, not the paper's (0: the paper's rule alone): a quarter of the training samples
    # reveal no label, the input the main test numbers are measured with.
    all_unknown_share: float = 0.25
    known_fraction: float = 0.0
    known_fractions: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)
    reveal_seed: int = 0
    query_every: int = 4
    validate: bool = True


def model_variant(variant: Variant, options: Options, num_types: int) -> Variant:
    """The variant with the notebook's trunk stride, similarity, triplet rule (and for M2Fashion its gallery
    condition and all-unknown share) in its kwargs.

    They are recorded in the metrics JSON and are part of each checkpoint's identity. The retrieval
    baselines take no attribute states, so the label masks (all_unknown_share) do not change them.
    """
    kwargs = {**variant.model_kwargs, "feature_stride": int(options.feature_stride), "similarity": options.similarity,
              "triplet_rule": options.triplet_rule}
    if variant.model == "m2fashion":
        kwargs["gallery_condition"] = options.gallery_condition
        kwargs["all_unknown_share"] = float(options.all_unknown_share)
    if variant.model == "retrieval_baseline":
        kwargs["num_conditions"] = int(num_types)
    return dataclasses.replace(variant, model_kwargs=kwargs)


def has_heads(model) -> bool:
    return getattr(unwrap(model), "tasks", "retrieval") != "retrieval"


# ----------------------------------------------------------------------------- data
class LabelMaskDataset(Dataset):
    """A CategoryAttributeDataset's samples plus what M2Fashion training needs.

    Added keys: states (K,) in {-1, 0, +1} from the label mask of (seed, epoch, row,
    all_unknown_share), what the classification heads are given; unknown (K,) bool, the labels
    L_attribute counts; type_values (T,) the value ids of fashion_core.metrics.retrieval (for the
    triplets); condition_states (T, K) the condition of each of the image's values, what the
    triplets are embedded under (training_loss).
    """

    def __init__(self, base, seed: int, all_unknown_share: float = 0.0):
        self.base = base
        self.seed = int(seed)
        self.all_unknown_share = float(all_unknown_share)
        self.epoch = 0
        base.seed = self.seed  # the flips differ per seed, like the initialisation
        annotations = base.annotations
        self.input_size = base.input_size
        self.flip = base.flip
        self.num_labels = annotations.attributes.shape[1]
        self.type_values = retrieval.type_value_ids(annotations.attributes, annotations.attribute_types)
        self.condition_states = retrieval.condition_state_table(annotations.attributes, annotations.attribute_types)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self.base.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([item])[0]

    def __getitems__(self, items: list[int]) -> list[dict[str, torch.Tensor]]:
        samples = self.base.__getitems__(items)
        for sample in samples:
            row = int(sample["index"])
            unknown = label_mask(self.seed, self.epoch, row, self.num_labels, self.all_unknown_share)
            sample["unknown"] = torch.from_numpy(unknown)
            sample["states"] = torch.from_numpy(label_states(sample["attributes"].numpy(), ~unknown))
            sample["type_values"] = torch.from_numpy(self.type_values[row])
            sample["condition_states"] = torch.from_numpy(self.condition_states[row])
        return samples


def training_loss(model, batch: dict[str, torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
    """fit's loss_fn for M2Fashion and the retrieval baselines: triplets from the batch, one forward, the loss.

    The triplets follow the model's ``triplet_rule`` (fashion_core.models.m2fashion.triplet_candidates).
    States: the classification heads get every image's own label mask (batch["states"]); the
    triplets' embeddings get condition states only (condition_states below), never an image's own
    labels: the anchor its value of the chosen type t, positive and negative what retrieval gives a
    gallery image, the anchor's states (M2Fashion's gallery_condition "query") or every label
    unknown ("unknown"). The retrieval baselines read the type t alone (condition_types).
    """
    triplets = sample_triplets(batch["type_values"], attributes=batch["attributes"], rule=unwrap(model).triplet_rule)
    anchors, types = triplets[:, 0], triplets[:, 3]
    index = triplets[:, :3].T.reshape(-1)                        # [anchors; positives; negatives]
    anchor_states = batch["condition_states"][anchors, types]
    other_states = anchor_states if getattr(unwrap(model), "gallery_condition", None) == "query" \
        else torch.zeros_like(anchor_states)
    condition = torch.cat([anchor_states, other_states, other_states])
    outputs = model(batch["image"], batch["states"], condition_index=index, condition_types=types.repeat(3),
                    condition_states=condition)
    return unwrap(model).compute_loss(outputs, batch, epoch)


def validation_metrics(model, loader) -> dict[str, float]:
    """Per-epoch validation of the tasks the model trains: category top-1, attribute recall@5 'all' (no label known)."""
    tasks = getattr(unwrap(model), "tasks", "retrieval")
    if tasks == "retrieval":
        return {}
    predictions = classification_predictions(model, loader)
    return classification_validation_score(predictions, loader.dataset.annotations.attribute_types, tasks)


def training_histories(results: ExperimentResults) -> pd.DataFrame:
    """results.histories() without validation numbers of heads a variant does not train (older checkpoints have them)."""
    histories = results.histories()
    for run in results.runs:
        tasks = run.variant.model_kwargs.get("tasks", "joint") if run.variant.model == "m2fashion" else "retrieval"
        rows = (histories["variant"] == run.variant.name) & (histories["seed"] == run.seed)
        for column, needs in (("val_category_top1", ("joint", "category")), ("val_attr_all_top5", ("joint", "attribute"))):
            if column in histories and tasks not in needs:
                histories.loc[rows, column] = np.nan
    return histories


# ----------------------------------------------------------------------------- evaluation
def revealed_table(rows: np.ndarray, num_labels: int, fraction: float, seed: int) -> np.ndarray:
    """(N, K) bool: the labels revealed for each image (annotation rows) at `fraction`."""
    return np.stack([revealed_labels(seed, int(row), num_labels, fraction) for row in rows]) if len(rows) \
        else np.zeros((0, num_labels), dtype=bool)


def _classification(model, features: torch.Tensor, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    device = model_device(model)
    categories, attributes = [], []
    with torch.inference_mode():
        for start in range(0, len(features), 512):
            outputs = model.head(features[start:start + 512].to(device),
                                 torch.from_numpy(states[start:start + 512]).to(device))
            categories.append(outputs["category_logits"].float().cpu().numpy())
            attributes.append(outputs["attribute_logits"].float().cpu().numpy())
    return np.concatenate(categories), np.concatenate(attributes)


def classification_metrics(model, features: torch.Tensor, rows: np.ndarray, annotations, fraction: float,
                           seed: int, informed: bool = True) -> dict[str, float]:
    """Category top-k and attribute recall@k on the unknown labels with `fraction` of the labels revealed.

    informed=False: the same labels are left out of the scoring, but the model is not told them.
    Only the tasks the model was trained on are scored.
    """
    attributes = annotations.attributes[rows]
    known = revealed_table(rows, attributes.shape[1], fraction, seed)
    states = label_states(attributes, known) if informed else np.zeros(attributes.shape, np.float32)
    category_scores, attribute_scores = _classification(model, features, states)
    result = {}
    if model.tasks in ("joint", "category"):
        result.update(category_metrics(category_scores, annotations.category[rows]))
    if model.tasks in ("joint", "attribute"):
        result.update(attribute_metrics_on_unknown(attribute_scores, attributes, annotations.attribute_types, known))
    return result


def fraction_key(fraction: float) -> str:
    return f"known{int(round(100 * fraction))}"


def evaluate_model(model, test_set, options: Options) -> dict[str, float]:
    """Every test number of one trained model (see the module docstring for the keys)."""
    model = unwrap(model).eval()
    annotations = test_set.annotations
    rows = np.asarray(test_set.rows)
    features = retrieval.extract_features(model, test_set)
    result: dict[str, float] = {}
    if has_heads(model):
        result.update(classification_metrics(model, features, rows, annotations, options.known_fraction,
                                             options.reveal_seed))
        for fraction in options.known_fractions:
            informed = classification_metrics(model, features, rows, annotations, fraction, options.reveal_seed)
            result.update({f"{fraction_key(fraction)}_{key}": value for key, value in informed.items()})
            if fraction > 0:
                control = classification_metrics(model, features, rows, annotations, fraction, options.reveal_seed,
                                                 informed=False)
                result.update({f"{fraction_key(fraction)}_uninformed_{key}": value for key, value in control.items()})
    split = retrieval.retrieval_split(len(rows), options.query_every)
    result.update(retrieval.retrieval_metrics(model, features, annotations.attributes[rows],
                                              annotations.attribute_types, split))
    result["map_all_pooled"] = pooled_map_all(result, scored_queries(annotations.attributes[rows],
                                                                     annotations.attribute_types, split))
    return result


def scored_queries(attributes: np.ndarray, attribute_types: np.ndarray,
                   split: retrieval.RetrievalSplit) -> dict[str, int]:
    """{map_<type>: the queries whose AP is defined}: a value for the type and a relevant gallery item.

    These are the queries fashion_core.metrics.retrieval averages into each condition's mAP (a query
    with no relevant gallery item has no AP).
    """
    values = retrieval.type_value_ids(attributes, attribute_types)
    counts = {}
    for column, code in enumerate(retrieval.type_codes(attribute_types)):
        query_values = values[split.queries, column]
        query_values = query_values[query_values >= 0]
        counts[f"map_{retrieval.condition_name(code)}"] = int(np.isin(query_values, values[split.gallery, column]).sum())
    return counts


def pooled_map_all(maps: dict[str, float], counts: dict[str, int]) -> float:
    """mAP over every scored query of every condition pooled: the conditions' mAPs weighted by their counts.

    The mean of the pooled per-query APs equals this weighted mean of the per-condition means, so
    the per-query APs need not be kept. NaN when no condition has a scored query.
    """
    weighted = [(maps[key], count) for key, count in counts.items()
                if count > 0 and key in maps and not np.isnan(maps[key])]
    total = sum(count for _, count in weighted)
    return float(sum(value * count for value, count in weighted) / total) if total else float("nan")


def frequency_prior_sweep(annotations, test_rows: np.ndarray, options: Options) -> dict[str, dict[str, float]]:
    """The frequency prior (training-split attribute frequencies) under the known-label protocol, per fraction."""
    prior = annotations.attributes[annotations.indices("train")].astype(np.float64).mean(axis=0)
    attributes = annotations.attributes[test_rows]
    scores = np.broadcast_to(prior, attributes.shape)
    return {fraction_key(fraction): attribute_metrics_on_unknown(
        scores, attributes, annotations.attribute_types,
        revealed_table(test_rows, attributes.shape[1], fraction, options.reveal_seed))
        for fraction in options.known_fractions}


# ----------------------------------------------------------------------------- running
def train_and_evaluate(variant: Variant, settings: Settings, seed: int, data, options: Options) -> RunResult:
    """Train (or resume) one model variant with one seed, then evaluate it on the test split."""
    annotations = data.annotations
    model = runs.build_variant(variant, settings, len(annotations.category_names),
                                      len(annotations.attribute_names), seed)
    validate = options.validate and has_heads(model)
    started = time.perf_counter()
    result = fit(model, training_loss, LabelMaskDataset(data.train, seed, options.all_unknown_share),
                 settings.train_config(seed),
                 checkpoint=runs.checkpoint_spec(settings, variant, seed, model, len(annotations.category_names),
                                                 len(annotations.attribute_names)), announce=False,
                 val_set=data.val if validate else None, evaluate=validation_metrics if validate else None)
    seconds = time.perf_counter() - started
    return RunResult(variant, seed, evaluate_model(result.model, data.test, options), result.history,
                     seconds, predictions=None)


def run(variants: list[Variant], settings: Settings, options: Options, data) -> ExperimentResults:
    """Train (or resume) every variant for every seed, then score it (settings.train_processes side by side)."""
    num_types = len(retrieval.type_codes(data.annotations.attribute_types))
    model_variants = [model_variant(variant, options, num_types) for variant in variants]
    return ExperimentResults(runs.run_variant_seeds(train_and_evaluate, model_variants, settings,
                                                           (data, options), {}))


def baselines(data, options: Options) -> dict[str, Any]:
    """Majority class, frequency prior (also per known fraction) and random-embedding retrieval on the test split."""
    annotations = data.annotations
    rows = np.asarray(data.test.rows)
    computed = baseline_metrics(annotations, data.test.input_size)
    split = retrieval.retrieval_split(len(rows), options.query_every)
    random = retrieval.random_embedding_map(annotations.attributes[rows], annotations.attribute_types, split)
    # Linear in the per-condition mAPs, so pooling their average over repeats is the average of the pooled ones.
    random["map_all_pooled"] = pooled_map_all(random, scored_queries(annotations.attributes[rows],
                                                                     annotations.attribute_types, split))
    return {"majority_class": computed["majority_class"], "frequency_prior": computed["frequency_prior"],
            "frequency_prior_known_fraction": frequency_prior_sweep(annotations, rows, options),
            "random_embedding": random}


def label_state_summary(num_labels: int, options: Options) -> dict[str, float]:
    """The label states of training (in expectation, models.m2fashion.label_mask_statistics) and of testing.

    train_mean_revealed: the mean share of a training sample's labels given as input;
    train_none_revealed: the share of training samples given no label; test_revealed: the share
    of a test image's labels given as input for the main numbers (known_fraction).
    """
    train = label_mask_statistics(num_labels, options.all_unknown_share)
    return {"num_labels": int(num_labels), "all_unknown_share": float(options.all_unknown_share),
            "train_mean_revealed": train["mean_revealed"], "train_none_revealed": train["none_revealed"],
            "test_revealed": float(options.known_fraction)}


def label_state_caption(metrics_file: dict) -> str:
    """One line for Table 1: what the recorded run revealed to the model in training and at test time."""
    if "label_states" not in metrics_file:
        raise KeyError("the m2fashion metrics file records no label_states: run the m2fashion_train notebook again")
    states = metrics_file["label_states"]
    return (f"Labels given as input: in training (K = {states['num_labels']}) {states['train_mean_revealed']:.1%} of a "
            f"sample's labels on average, none for {states['train_none_revealed']:.1%} of the samples "
            f"(all_unknown_share {states['all_unknown_share']:g}); at test time {states['test_revealed']:.0%} of an "
            "image's labels for these numbers.")


def write_metrics(settings: Settings, options: Options, results: ExperimentResults, computed_baselines: dict,
                  quality: pd.DataFrame, protocol: pd.DataFrame, num_labels: int):
    """reports/<profile>/metrics/m2fashion.json: the shared layout plus options, baselines, quality bars,
    the retrieval protocol and the label states (label_state_summary for the data's num_labels)."""
    return store.write_metrics(PAPER, settings, BENCHMARK, results, extra={
        "options": dataclasses.asdict(options), "label_states": label_state_summary(num_labels, options),
        "baselines": computed_baselines,
        "quality": quality.to_dict(orient="records"),
        "retrieval_protocol": {"definition": retrieval.__doc__.split("Chance level")[0].strip(),
                               "conditions": protocol.reset_index().to_dict(orient="records")}})


# ----------------------------------------------------------------------------- reading the results
def known_fraction_frame(metrics_file: dict, metric: str = "attr_all_top5") -> pd.DataFrame:
    """Long frame: variant, protocol (given to the model / not given / frequency prior), fraction, seed, value."""
    records = []
    for key, row in metrics_file["rows"].items():
        for fraction in metrics_file["options"]["known_fractions"]:
            for suffix, protocol in (("", "labels given to the model"), ("_uninformed", "labels not given (control)")):
                values = row["per_seed"].get(f"{fraction_key(fraction)}{suffix}_{metric}")
                if values is None and fraction == 0 and suffix:
                    values = row["per_seed"].get(f"{fraction_key(fraction)}_{metric}")
                for seed, value in zip(row["seeds"], values or []):
                    records.append({"variant": row["name"], "protocol": protocol, "fraction": fraction,
                                    "seed": seed, "value": value})
    prior = metrics_file["baselines"]["frequency_prior_known_fraction"]
    for fraction in metrics_file["options"]["known_fractions"]:
        if metric in prior[fraction_key(fraction)]:
            records.append({"variant": "frequency prior", "protocol": "baseline", "fraction": fraction, "seed": -1,
                            "value": prior[fraction_key(fraction)][metric]})
    return pd.DataFrame(records)


def plot_known_fraction(metrics_file: dict, metrics: tuple[str, ...] = ("attr_all_top3", "attr_all_top5")):
    """Recall on the unknown labels against the fraction revealed: mean ± sd over seeds per variant."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(6.2 * len(metrics), 4.2), squeeze=False)
    label = f"{metrics_file['dataset_label']} · profile {metrics_file['profile']}"
    for ax, metric in zip(axes[0], metrics):
        frame = known_fraction_frame(metrics_file, metric)
        for (variant, protocol), group in frame.groupby(["variant", "protocol"], sort=False):
            if protocol == "labels not given (control)" and variant != frame["variant"].iloc[0]:
                continue  # the control of the full model is enough to read the plot
            stats = group.groupby("fraction")["value"].agg(["mean", "std"]).reset_index()
            style = "--" if protocol != "labels given to the model" else "-"
            ax.errorbar(stats["fraction"], stats["mean"], yerr=stats["std"].fillna(0.0), linestyle=style, marker="o",
                        capsize=3, label=variant + ("" if protocol == "labels given to the model" else f" [{protocol}]"))
        ax.set_xlabel("fraction of labels revealed at test time")
        ax.set_ylabel(f"{metric} on the unknown labels")
        ax.set_title(f"{metric} [reproduced · {label}]", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
