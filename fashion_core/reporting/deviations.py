"""Per-paper deviation tables: where the workbook's `paper` and `default` profiles part from the paper.

One row per remaining difference (or per choice the paper leaves open), with the columns
COLUMNS: the topic, what the paper says (or, where it is silent, ../shared/papers/NOTES.md or the
authors' code, and the cell says which), what the workbook does at the paper profile and at the
default profile, and why.

A workbook cell that restates a parameter is computed from that profile's resolved parameters of
the paper's train notebook (the notebook's parameters cell under params/<profile>/*.yaml,
fashion_core.params.resolved_parameters) and its data.yaml, and a cell that restates a builder
default reads it from the builder's signature, so neither can go stale; a cell that describes fixed
code is text.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fashion_core.data.fashionai import PAPER_CATEGORIES, PAPER_SPLIT_SIZES
from fashion_core.data.synthfashion.catalogue import ATTRIBUTE_NAMES, CATEGORY_NAMES
from fashion_core.data.vocab import ATTRIBUTE_TYPE_NAMES
from fashion_core.engine.trainer import TrainConfig
from fashion_core.experiments.variants import PRODUCERS, VARIANTS
from fashion_core.models.dafe import build_dafe
from fashion_core.models.fashionnet import DEFAULT_STAGE1_WEIGHTS, DEFAULT_STAGE2_WEIGHTS, build_fashionnet
from fashion_core.models.liu2018 import MIN_BRANCH_CHANNELS
from fashion_core.models.m2fashion import build_m2fashion
from fashion_core.models.pose_machine import MIN_STAGE_CHANNELS, build_fashion_pose_machine
from fashion_core.models.vgg import scaled
from fashion_core.params import load_data_config, resolved_parameters
from fashion_core.paths import notebooks_dir
from fashion_core.reporting.artifacts import save_table

COLUMNS = ("topic", "paper says", "workbook (paper profile)", "workbook (default profile)", "why")
SHOWN_PROFILES = ("paper", "default")
DATA = "_data"  # the key under which a profile's DataConfig joins its parameters

Cell = str | Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class Deviation:
    """One row. `workbook` gives both profiles' cells unless `default` gives the default profile's."""

    topic: str
    paper: str
    workbook: Cell
    why: str
    default: Cell | None = None


def builder_default(builder: Callable, name: str) -> Any:
    """A model builder's default for argument `name`, read from its signature."""
    return inspect.signature(builder).parameters[name].default


# ---------------------------------------------------------------------------- cells from parameters

def _trunk(prefix: str = "") -> Callable[[Mapping[str, Any]], str]:
    def cell(p: Mapping[str, Any]) -> str:
        width = p[f"{prefix}width"]
        scale = "" if width == 1.0 else f" at width {width:g}"
        weights = "ImageNet weights" if p[f"{prefix}pretrained"] else "from random weights"
        return f"{p[f'{prefix}backbone']}{scale}, {weights}"
    return cell


def _crop(what: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda p: f"{p['input_size']} x {p['input_size']} px: {what}"


def _schedule(p: Mapping[str, Any]) -> str:
    gamma = p["lr_gamma"]
    if gamma == 1.0:
        return "constant"
    if p.get("lr_schedule", "exponential") == "step":
        return f"x{gamma:g} every {p['lr_step_size']} epochs"
    return f"x{gamma:g} after every epoch"


def _optimiser(lr_key: str = "lr") -> Callable[[Mapping[str, Any]], str]:
    def cell(p: Mapping[str, Any]) -> str:
        name = {"adam": "Adam", "adamw": "AdamW", "sgd": f"SGD with momentum {TrainConfig.momentum:g}"}[p["optimizer"]]
        return f"{name}, lr {p[lr_key]:g}, {_schedule(p)}"
    return cell


def _budget(p: Mapping[str, Any]) -> str:
    return f"{p['epochs']} epochs, batch {p['batch_size']}"


def _seeds(p: Mapping[str, Any]) -> str:
    seeds = list(p["seeds"])
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))}): mean ± sd per row"


def _flips(p: Mapping[str, Any]) -> str:
    if p["train_flips"]:
        return "random left/right-aware horizontal flips of the training images (a coin per seed, epoch and image)"
    return "no flips: the training images as they are"


def _data(benchmark: str, real_split: str, synthfashion_content: str) -> Callable[[Mapping[str, Any]], str]:
    """The data a profile reads: the real tree, or SynthFashion as its data.yaml generates it."""
    def cell(p: Mapping[str, Any]) -> str:
        data = p[DATA]
        where = f"params/{data.path.parent.name}/{data.path.name}"
        if data.source == "real":
            return f"the real {benchmark} tree named in {where}, {real_split}"
        synth = data.synthfashion
        return (f"SynthFashion ({where}: {synth.n_train} / {synth.n_val} / {synth.n_test} train / val / test images "
                f"generated at {synth.size} px, seed {synth.seed}) read in the {benchmark} format: "
                f"{synthfashion_content}")
    return cell


SYNTH_DEEPFASHION_C = f"{len(CATEGORY_NAMES)} categories, {len(ATTRIBUTE_NAMES)} attributes, 8 landmarks"


def _row_names(paper: str, model: str | None = None) -> Callable[[Mapping[str, Any]], str]:
    """The printed names of the rows the profile trains (its `variants`), optionally only those of one model."""
    def cell(p: Mapping[str, Any]) -> str:
        known = VARIANTS[paper]
        names = [known[key].name if key in known else key for key in p["variants"]
                 if model is None or (key in known and known[key].model == model)]
        return "; ".join(names) if names else "none"
    return cell


def _floor(minimum: int, channels: tuple[int, ...]) -> Callable[[Mapping[str, Any]], str]:
    def cell(p: Mapping[str, Any]) -> str:
        raised = [c for c in channels if scaled(c, p["width"]) < minimum]
        if not raised:
            return f"He-initialised convs, last conv at zero; the {minimum}-channel floor changes nothing at this width"
        return (f"He-initialised convs, last conv at zero; width-scaled channels at least {minimum}: the "
                f"{', '.join(map(str, raised))} channels of width 1 would be "
                f"{', '.join(str(scaled(c, p['width'])) for c in raised)} here")
    return cell


SEEDS_PAPER = "one number per method; how many runs or seeds is not stated"
SEEDS_WHY = "a claim is judged against the spread over seeds (fashion_core.reporting.claims), which one run cannot give"
DATA_WHY = ("the real data may not be redistributed and needs a GPU; SynthFashion is written in the real formats, so "
            "the same readers and protocol run on it, and its numbers are never the benchmark's")
CPU_WHY = "the default profile runs the whole workbook on 2 CPU cores in about an hour"
DEEPFASHION_C = ("DeepFashion-C: 289,222 images, 46 of the 50 categories in use, 1,000 attributes, split "
                 "209,222 / 40,000 / 40,000 (NOTES.md)")
DEEPFASHION_C_SPLIT = "its own partition (Eval/list_eval_partition.txt)"

# ---------------------------------------------------------------------------- the five papers

FASHIONNET = (
    Deviation("trunk", "VGG-16 with its last convolutional layer replaced by the pose, local and global branches "
              "(Liu et al. 2016, as the summary describes it)", _trunk(),
              "the paper profile takes VGG16; " + CPU_WHY + " with a narrow trunk from scratch"),
    Deviation("input", "not stated in the summary", _crop("the bbox crop resized, aspect not kept"),
              "224 is VGG16's ImageNet size and Liu & Lu's input, so the rows of Liu & Lu's tables compare; "
              + CPU_WHY),
    Deviation("optimiser and learning rate", "not stated", _optimiser(),
              "the paper profile trains FashionNet as Liu & Lu train (NOTES.md), so the two rows compare; " + CPU_WHY),
    Deviation("epochs and batch", "not stated", _budget, "as for the optimiser"),
    Deviation("two-step schedule",
              "step 1: landmark and visibility losses weighted high, the others low; step 2: category, attributes "
              "and pairs; the two steps are iterated until convergence",
              lambda p: (f"alternating cycles of {p['step1_epochs']} step-1 epochs (landmark "
                         f"{DEFAULT_STAGE1_WEIGHTS['landmark']:g}, visibility {DEFAULT_STAGE1_WEIGHTS['visibility']:g}, "
                         f"others {DEFAULT_STAGE1_WEIGHTS['category']:g}) and {p['step2_epochs']} step-2 epochs "
                         f"(landmark {DEFAULT_STAGE2_WEIGHTS['landmark']:g}, visibility "
                         f"{DEFAULT_STAGE2_WEIGHTS['visibility']:g}, others {DEFAULT_STAGE2_WEIGHTS['category']:g}) "
                         f"over {p['epochs']} epochs"),
              "the paper gives neither the step lengths nor the weights; the weights make the landmark and "
              "visibility terms 39-149 x the others in step 1 and the others 10-16 x them in step 2, measured on "
              "the default profile's loss magnitudes (fashion_core.models.fashionnet)"),
    Deviation("attribute loss", "weighted cross-entropy over the 1,000 attributes (weights not stated)",
              lambda p: {"weighted": "sigmoid BCE with positives weighted by the training split's "
                                     "negatives-to-positives ratio, negatives 1",
                         "weighted_per_attribute": "sigmoid BCE with each attribute's positives weighted by its "
                                                   "own negatives-to-positives ratio",
                         "bce": "plain sigmoid BCE (every label weight 1)"}[p["attribute_loss"]],
              "the paper does not give its weights; one ratio over all attributes is Liu & Lu's scheme in "
              "proportion, while per-attribute ratios overweight rare attributes (texture recall@3 0.365 against "
              "0.736 on the default profile, fashion_core.models.fashionnet)"),
    Deviation("pair (triplet) loss", "triplet loss on clothes pairs: the same item in consumer and shop photos",
              lambda p: (f"batch-hard triplets mined in each batch by category, margin "
                         f"{builder_default(build_fashionnet, 'triplet_margin'):g} on DeepFashion-C; the embedding "
                         "is then scored on In-shop query and gallery images (top-k accuracy), not trained on "
                         "In-shop item pairs"),
              "DeepFashion-C (and its SynthFashion format) has no item identities to form pairs from; training "
              "on In-shop's items (the loss already groups by item when a batch carries one) is not run yet"),
    Deviation("landmark pooling window", "conv4 features pooled at the landmark positions, gated by visibility "
              "(window size not stated)",
              lambda p: (f"a {builder_default(build_fashionnet, 'pool_window')} x "
                         f"{builder_default(build_fashionnet, 'pool_window')} conv4 window at each predicted "
                         "landmark, max-pooled, times the predicted visibility; ground truth never enters forward()"),
              "the paper leaves the window open; pooling at predicted landmarks keeps annotated ones out of testing"),
    Deviation("training flips", "not stated", _flips,
              "the paper profile trains as Liu & Lu's code does (no flips), so the two rows compare; the default "
              "profile flips its small training set"),
    Deviation("seeds", SEEDS_PAPER, _seeds, SEEDS_WHY),
    Deviation("data", DEEPFASHION_C, _data("DeepFashion-C", DEEPFASHION_C_SPLIT, SYNTH_DEEPFASHION_C), DATA_WHY),
)

LIU2018 = (
    Deviation("trunk", "VGG16, ImageNet-pretrained (the authors' code, NOTES.md)", _trunk(),
              CPU_WHY + " with a narrow VGG from scratch"),
    Deviation("input", "the ground-truth bbox crop resized to 224 x 224, aspect not kept (NOTES.md)",
              _crop("the bbox crop resized, aspect not kept"), CPU_WHY),
    Deviation("optimiser and learning rate", "Adam, lr 1e-4, x0.8 per epoch (NOTES.md)", _optimiser(), CPU_WHY),
    Deviation("epochs and batch", "20 epochs, batch 16 (NOTES.md)", _budget, CPU_WHY),
    Deviation("loss weights", "landmarks 10, category 1, attributes 20 (NOTES.md)",
              lambda p: f"landmarks {p['landmark_loss_weight']:g}, category 1, attributes 20",
              "the heatmap loss is a mean over every cell of eight mostly empty maps: at weight 10 a narrow trunk "
              "from scratch learns little about landmarks (liu2018_train's note)"),
    Deviation("training flips", "not in the paper text or NOTES.md; params/paper/liu2018_train.yaml records that "
              "the authors' code trains without flips (its random flip switched off)", _flips,
              "the paper profile follows the authors' code; the default profile flips its small training set"),
    Deviation("landmark decoding", "not stated",
              "argmax of each full-resolution map plus a quarter-cell shift toward the larger neighbour",
              "the workbook's one decoder for every heatmap model (fashion_core.models.heatmaps.decode_heatmaps)"),
    Deviation("landmark-branch initialisation", "not stated", _floor(MIN_BRANCH_CHANNELS, (64, 32, 16)),
              "with PyTorch's default init and the plain width-scaled channels the default-profile model's "
              "validation NE after 4 epochs was 0.76, with both 0.14 (the run in fashion_core.models.liu2018)"),
    Deviation("attribute recall protocol", "top-k recall as DeepFashion defines it; public issues on the authors' "
              "code fail to reproduce style, part and 'all', likely another protocol (NOTES.md)",
              "DeepFashion micro recall: hits / positives over the test split, 'all' ranks every attribute; "
              "mmfashion's per-attribute recall beside it in the reproduction report",
              "the one protocol stated exactly; the report shows how far the other moves the numbers"),
    Deviation("seeds", SEEDS_PAPER, _seeds, SEEDS_WHY),
    Deviation("data", DEEPFASHION_C, _data("DeepFashion-C", DEEPFASHION_C_SPLIT, SYNTH_DEEPFASHION_C), DATA_WHY),
)

DAFE = (
    Deviation("trunk", "ResNet-50 feature pyramid (Sec. 3.1); ImageNet pre-training is not stated", _trunk(),
              "the paper profile assumes ImageNet weights, the usual start of a ResNet-50 pyramid; " + CPU_WHY),
    Deviation("input and heatmaps", "the bbox crop resized to 320 x 320; n x 80 x 80 heatmaps (Sec. 4)",
              lambda p: (f"{p['input_size']} x {p['input_size']} px bbox crop, aspect not kept; heatmaps "
                         f"{p['input_size'] // 4} x {p['input_size'] // 4}"), CPU_WHY),
    Deviation("optimiser and learning rate", "Adam, lr 1e-3, x0.1 every 10 epochs (Sec. 4)", _optimiser(), CPU_WHY),
    Deviation("epochs and batch", "epochs not stated; batch 64 on 4 GPUs (Sec. 4)", _budget,
              "the paper profile's 30 epochs cover three learning-rate steps; under torchrun the batch is per "
              "process; " + CPU_WHY),
    Deviation("CAS gate", "U = C2 ReLU(C1 z), no sigmoid (Eq. 4)",
              lambda p: {"eq4": "Eq. 4: no gate", "sigmoid": "U = sigmoid(C2 ReLU(C1 z))"}[p["cas_activation"]],
              "from random weights an ungated U starts by scaling every decoder channel by a random number of either "
              "sign; the sigmoid (the SE block the paper cites) starts each near 0.5"),
    Deviation("landmark decoding", "the location with the highest value (Sec. 3.1, 4)",
              lambda p: {"argmax": "the centre of the highest cell",
                         "quarter_cell": "the highest cell plus a quarter-cell shift toward its larger neighbour"}[
                  p["heatmap_decoding"]],
              "at the default profile's 16 x 16 heatmaps the highest cell's centre alone can be up to 0.044 NE off "
              "the landmark; the shift halves that bound"),
    Deviation("SAU attention map", "M = Sigmoid(C X), C a 1x1 conv (Eq. 1); its output channels not stated",
              "C is a 1x1 conv to one channel: one spatial map broadcast over the decoder channels",
              "the GCNet context mask the paper cites for it ([2]) is one map"),
    Deviation("heatmap targets and loss", "not stated",
              lambda p: (f"Gaussian targets, sigma {builder_default(build_dafe, 'heatmap_sigma'):g} heatmap cells, "
                         "for visible and occluded landmarks; squared error over their maps; last conv at zero"),
              "the SimpleBaseline / HRNet choice at 80 x 80; the zero start is the all-background prediction"),
    Deviation("comparison rows", "FashionNet, DFA, DLAN and AFGN beside DAFE ('Ours') in Tables 1-2, how they "
              "were trained not stated; no ablation", _row_names("dafe"),
              "every row is trained on the same crops, input size, epochs, optimiser and seeds with the landmark "
              "loss alone; DFA, DLAN and AFGN are not trained; the names of rows the paper does not print say so"),
    Deviation("comparison trunks", "not stated for the comparison rows (FashionNet's own paper uses VGG-16)",
              lambda p: (f"FashionNet, Liu & Lu and FPM rows: {_trunk('comparison_')(p)}; FPM with "
                         f"{p['fpm_stages']} stages at lr {p['fpm_lr']:g}"),
              "each comparison model keeps its own paper's VGG trunk; the FPM row keeps its own notebook's learning "
              "rate: at DAFE's default 0.003 it did not learn (dafe_train's note)"),
    Deviation("FLD crops", "every input cropped by its labelled bounding box (Sec. 4)",
              "the bbox of Anno/list_bbox.txt when the tree has one, else the whole image",
              "FLD's images are already cropped around the garment (NOTES.md)"),
    Deviation("training flips", "Sec. 4 describes the training input as the bbox crop resized to 320 x 320 and "
              "names no flip or other augmentation", _flips,
              "the paper profile adds nothing the paper does not describe; the default profile flips its small "
              "training set"),
    Deviation("DeepFashion2", "landmark AP 54.9 on the DeepFashion2 validation set with half its training set "
              "(Sec. 4)", "not run", "the workbook reads DeepFashion-C and FLD; DeepFashion2 is not among its "
              "benchmarks"),
    Deviation("seeds", SEEDS_PAPER, _seeds, SEEDS_WHY),
    Deviation("data", "DeepFashion-C and FLD, the subset with large pose and scale variations (Sec. 4)",
              _data("DeepFashion-C and FLD", "each with its own partition",
                    "8 landmarks in both formats"), DATA_WHY),
)

FPM = (
    Deviation("trunk", "not named; FPM follows Convolutional Pose Machines (Sec. 1), whose features are a VGG "
              "up to conv4 (stride 8)", _trunk(), "CPM's trunk; " + CPU_WHY),
    Deviation("input and belief maps", "every image resized to 512 x 512; 64 x 64 heatmaps (Sec. 3.2)",
              lambda p: (f"{p['input_size']} x {p['input_size']} px: the whole image, aspect not kept; belief maps "
                         f"{p['input_size'] // 8} x {p['input_size'] // 8}"), CPU_WHY),
    Deviation("stages", "6 (Sec. 3.2)", lambda p: str(p["stages"]), CPU_WHY),
    Deviation("optimiser and learning rate", "Adam, lr 1e-4 (Sec. 3.2); Sec. 2.4 says standard stochastic "
              "gradient descent; no decay stated", _optimiser(),
              "the paper profile takes Sec. 3.2's implementation details; " + CPU_WHY),
    Deviation("epochs and batch", "6 epochs, mini-batch of 5 (Sec. 3.2)", _budget, CPU_WHY),
    Deviation("weight sharing", "'to make all subsequent stage obtain the image feature x', we share the weights "
              "of corresponding convolutional layers across stages t > 2' (Sec. 2.4)",
              "x' is computed once and fed to every stage t >= 2",
              "the sentence's aim, every later stage getting x', as in CPM; 't > 2' read literally would give stage 2 "
              "a copy of its own"),
    Deviation("loss and targets", "Eq. 4-5: squared error over the L + 1 maps and all locations, summed over "
              "stages; a Gaussian peak at each keypoint, sigma not stated",
              lambda p: (f"the same sums, averaged over the batch's images; sigma "
                         f"{builder_default(build_fashion_pose_machine, 'heatmap_sigma'):g} belief-map cells; "
                         "background target 1 - max of the keypoint maps; absent keypoints masked"),
              "the background map follows CPM; an absent keypoint (code -1) has no position to draw"),
    Deviation("keypoint decoding", "not stated", "argmax of each stage's keypoint maps plus a quarter-cell shift",
              "the workbook's one decoder for every heatmap model"),
    Deviation("stage initialisation", "not stated", _floor(MIN_STAGE_CHANNELS, (128,)),
              "chosen so the width-scaled stages learn from scratch at all, as for Liu & Lu's landmark branch "
              "(fashion_core.models.pose_machine)"),
    Deviation("categories and split",
              f"{', '.join(PAPER_CATEGORIES)}; {PAPER_SPLIT_SIZES['train']:,} / {PAPER_SPLIT_SIZES['val']:,} / "
              f"{PAPER_SPLIT_SIZES['test']:,} train / val / test images, drawn how is not stated (Sec. 3.2)",
              lambda p: f"categories {', '.join(p['categories'])}",
              "the paper profile reads the split that `python -m fashion_core.data.fashionai split ROOT "
              "--paper-split` draws (seed 0) from the released train.csv; SynthFashion draws every category"),
    Deviation("NE", "the l2 distance in the normalised coordinate space, citing DeepFashion (Sec. 3.2)",
              "both: the FashionAI challenge NE (/ armpit or waistband distance, the recorded ne_avg) and the "
              "normalised-coordinates NE; Table 1's paper columns stand under the challenge NE",
              "the printed numbers' size, data and averaging match the challenge NE (fpm_tables' note)"),
    Deviation("FashionNet baseline", "FashionNET's numbers on the same data (Table 1)",
              lambda p: (f"FashionNet's pose branch (24 keypoints + visibility) on the same trunk, data and schedule, "
                         f"landmark loss weight {p['regression_landmark_weight']:g}"),
              "the paper does not say how its FashionNET was trained; on the default profile weight 10 lets the "
              "visibility term dominate (fpm_train's note)"),
    Deviation("training flips", "Sec. 3.2 resizes every image to 512 x 512 and names no flip or other augmentation",
              _flips, "the paper profile adds nothing the paper does not describe; the default profile flips its "
              "small training set"),
    Deviation("seeds", SEEDS_PAPER, _seeds, SEEDS_WHY),
    Deviation("data", "FashionAI 2018 keypoint data: 24 keypoints (Sec. 3.1)",
              _data("FashionAI", "split as above", "the images whose category has a FashionAI counterpart, "
                    "24 keypoints"), DATA_WHY),
)

M2FASHION = (
    Deviation("trunk", "ResNet-50 pre-trained on ImageNet (Sec. 3.2, 4.1)", _trunk(), CPU_WHY),
    Deviation("input and attention grid", "224 x 224 images; the feature map before the removed FC layer (C5, "
              "7 x 7), a 1x1 conv to d = 512 (Sec. 4.1)",
              lambda p: (f"{p['input_size']} x {p['input_size']} px bbox crop; attention over C"
                         f"{5 if p['feature_stride'] == 32 else 4} ({p['input_size'] // p['feature_stride']} x "
                         f"{p['input_size'] // p['feature_stride']}); d = {max(16, round(512 * p['width']))}"),
              "at 64 px C5 would be a 2 x 2 grid, too coarse to attend over; C4 gives 4 x 4"),
    Deviation("optimiser and learning rate", "SGD, lr 1e-5, x0.95 per epoch (Sec. 4.1); momentum not stated",
              _optimiser(), "the momentum is the trainer's SGD default; " + CPU_WHY),
    Deviation("epochs and batch", "20 epochs; batch not stated (Sec. 4.1)", _budget,
              "the paper profile's batch 16 is Liu & Lu's; " + CPU_WHY),
    Deviation("triplet similarity", "cosine similarity (Sec. 3.4); Eq. 13 prints a.b / (|a| + |b|)",
              lambda p: {"cosine": "cosine", "printed": "Eq. 13 as printed"}[p["similarity"]],
              "Eq. 13 grows with the embeddings' norms, so the margin can be met by scaling them; retrieval ranks "
              "by cosine"),
    Deviation("triplet hinge", "Eq. 14: max{0, sim(a,p) - sim(a,n) + m}; m not given",
              lambda p: f"max(0, sim(a,n) - sim(a,p) + m), m = {builder_default(build_m2fashion, 'margin'):g}",
              "Eq. 14 rewards the negative for being closer, against the sentence before it; 0.2 is ASEN's margin"),
    Deviation("triplets", "the positive shares at least one attribute with the anchor, the negative none (Sec. 3.4)",
              lambda p: {"shared_attribute": "the paper's rule, in each batch",
                         "same_value": "same value of the condition's attribute type"}[p["triplet_rule"]],
              "the pairs come from each batch: the paper does not say how it samples them"),
    Deviation("label masks", "|Y_u| random between 0.25K and K labels set unknown per sample (Sec. 3.3)",
              "|Y_u| uniform on the integers [ceil(K/4), K], the labels uniform among the K, per seed, epoch and image",
              "the paper's rule, drawn reproducibly"),
    Deviation("known labels at test", "not stated for Tables 1-2",
              lambda p: ((f"a fraction {p['known_fraction']:g} of each test image's labels" if p["known_fraction"]
                          else "no label") + " given as input for the main numbers; the sweep over fractions "
                         f"{', '.join(f'{f:g}' for f in p['known_fractions'])} beside them"),
              "with none given, the main numbers compare with models that take no labels as input"),
    Deviation("retrieval data (Table 3)", "DARN: about 253,983 upper-clothing images, 9 attributes with 179 "
              "values, split 8:1:1 at random (Sec. 4.5)",
              lambda p: (f"the DeepFashion-C-format test split; conditions = its {len(ATTRIBUTE_TYPE_NAMES)} "
                         f"attribute types; every {p['query_every']}th image a query, the rest the gallery"),
              "the workbook has no DARN reader; the protocol is stated in fashion_core.metrics.retrieval"),
    Deviation("retrieval baselines", "Triplet, CSN and ASEN (Table 3)", _row_names("m2fashion", "retrieval_baseline"),
              "trained on M2Fashion's trunk and triplets (fashion_core.models.retrieval_baselines)"),
    Deviation("gallery embedding", "a query is an image and labels; how the gallery is embedded is not stated "
              "(Sec. 4.5)", lambda p: {"query": "under the query's stated values",
                                        "unknown": "with every label unknown"}[p["gallery_condition"]],
              "a condition-specific embedding on both sides, as ASEN embeds both under its condition"),
    Deviation("Table 3 'All'", "printed per model; for Triplet 40.14 where the mean of its nine columns is 40.36",
              "map_all, the mean of the conditions' mAPs, and map_all_pooled beside it",
              "neither reproduces the printed 'All', so the tables show it as printed beside both"),
    Deviation("training flips", "not stated",
              lambda p: _flips(p) if "train_flips" in p else
              "random left/right-aware flips of the training crops (m2fashion_train has no switch for them)",
              "the loader's default"),
    Deviation("seeds", SEEDS_PAPER, _seeds, SEEDS_WHY),
    Deviation("data (Tables 1-2)", DEEPFASHION_C, _data("DeepFashion-C", DEEPFASHION_C_SPLIT, SYNTH_DEEPFASHION_C),
              DATA_WHY),
)

DEVIATIONS: dict[str, tuple[Deviation, ...]] = {
    "fashionnet": FASHIONNET, "liu2018": LIU2018, "dafe": DAFE, "fpm": FPM, "m2fashion": M2FASHION,
}


def profile_values(paper: str, profile: str) -> dict[str, Any]:
    """The resolved parameters of the paper's train notebook under `profile`, with its DataConfig under DATA."""
    notebook = notebooks_dir() / f"{PRODUCERS[paper]}.ipynb"
    return {**resolved_parameters(profile, notebook), DATA: load_data_config(profile)}


def _cell(cell: Cell, values: Mapping[str, Any], paper: str, topic: str, profile: str) -> str:
    if isinstance(cell, str):
        return cell
    try:
        return cell(values)
    except KeyError as error:
        raise KeyError(f"the {paper} deviation row {topic!r} reads parameter {error.args[0]!r}, which "
                       f"{PRODUCERS[paper]}.ipynb does not declare under profile {profile!r}") from None


def deviation_table(paper: str, values: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """The paper's deviation rows (columns COLUMNS), the workbook cells computed from each profile's parameters.

    values: {profile: parameters} for SHOWN_PROFILES; by default profile_values of each.
    """
    if paper not in DEVIATIONS:
        raise KeyError(f"no deviation table for {paper!r}; expected one of {list(DEVIATIONS)}")
    values = values or {profile: profile_values(paper, profile) for profile in SHOWN_PROFILES}
    records = []
    for row in DEVIATIONS[paper]:
        default = row.workbook if row.default is None else row.default
        records.append({"topic": row.topic, "paper says": row.paper,
                        "workbook (paper profile)": _cell(row.workbook, values["paper"], paper, row.topic, "paper"),
                        "workbook (default profile)": _cell(default, values["default"], paper, row.topic, "default"),
                        "why": row.why})
    return pd.DataFrame(records, columns=list(COLUMNS))


def save_deviation_table(paper: str, profile: str) -> pd.DataFrame:
    """Write tables/<paper>_deviations.{csv,md} under reports/<profile>/ and return the table."""
    table = deviation_table(paper)
    save_table(table.set_index("topic"), f"{paper}_deviations", profile,
               caption=f"Where the workbook departs from the paper ({paper}): the paper and default profiles' "
                       "settings, from their parameters.")
    return table
