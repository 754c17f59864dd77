"""The rows of every paper's tables (VARIANTS) and the settings a train notebook fixes for all of them."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from fashion_core.data.fingerprint import data_fingerprint
from fashion_core.engine.trainer import TrainConfig

# Which notebook writes each metrics file, so a missing one can be named precisely.
PRODUCERS = {
    "fashionnet": "fashionnet_train",
    "liu2018": "liu2018_train",
    "dafe": "dafe_train",
    "fpm": "fpm_train",
    "m2fashion": "m2fashion_train",
}


@dataclass(frozen=True)
class Variant:
    """One row of a table: a model with fixed switches, trained once per seed."""

    key: str        # file-safe, e.g. "liu2018_no_upsample"
    name: str       # as printed, e.g. "Liu & Lu: no upsampling (1/8 heatmaps)"
    model: str      # fashion_core.models registry name
    model_kwargs: dict = field(default_factory=dict)


# In the names of DAFE's rows that Chen et al.'s Tables 1-2 do not print (its ablations and extra comparisons).
WORKBOOK_OWN_ROW = "workbook's own row, not in the paper"

VARIANTS: dict[str, dict[str, Variant]] = {
    "fashionnet": {
        "full": Variant("fashionnet", "FashionNet", "fashionnet"),
        # The paper's landmark-pooling claim: the same model with the local branch removed.
        "no_landmark_pooling": Variant("fashionnet_no_landmark_pooling", "FashionNet without landmark pooling",
                                       "fashionnet", {"landmark_pooling": False}),
    },
    "liu2018": {
        "full": Variant("liu2018", "Liu & Lu", "liu2018", {"upsample": True, "attention": "landmark"}),
        "no_upsample": Variant("liu2018_no_upsample", "Liu & Lu: 1/8-resolution heatmaps", "liu2018",
                               {"upsample": False, "attention": "landmark"}),
        "no_attention": Variant("liu2018_no_attention", "Liu & Lu: no attention", "liu2018",
                                {"upsample": True, "attention": "none"}),
        "conv_only": Variant("liu2018_conv_only", "Liu & Lu: conv-only attention", "liu2018",
                             {"upsample": True, "attention": "conv_only"}),
    },
    # DAFE's rows are trained on DeepFashion-C and on FLD (see for_benchmark). The FashionNet and
    # Liu & Lu rows are their landmark parts, trained on the landmark loss alone like DAFE.
    # Chen et al.'s Tables 1-2 print DAFE ("Ours") and FashionNet (beside DFA, DLAN, AFGN, which the
    # workbook does not train) and no ablation; the names of the other rows say WORKBOOK_OWN_ROW.
    "dafe": {
        "full": Variant("dafe", "DAFE", "dafe", {"sau": True, "cas": True}),
        "no_sau": Variant("dafe_no_sau", f"DAFE without SAU ({WORKBOOK_OWN_ROW})", "dafe",
                          {"sau": False, "cas": True}),
        "no_cas": Variant("dafe_no_cas", f"DAFE without CAS ({WORKBOOK_OWN_ROW})", "dafe",
                          {"sau": True, "cas": False}),
        "fpn": Variant("dafe_fpn", f"plain FPN decoder ({WORKBOOK_OWN_ROW})", "dafe",
                       {"sau": False, "cas": False}),
        "fashionnet": Variant("dafe_fashionnet", "FashionNet (pose branch)", "fashionnet", {"landmarks_only": True}),
        "liu2018": Variant("dafe_liu2018", f"Liu & Lu (landmark branch; {WORKBOOK_OWN_ROW})",
                           "liu2018", {"landmarks_only": True, "attention": "none", "upsample": True}),
        # Hu et al.'s pose machine with 8 belief maps (+ background) instead of FashionAI's 24, so the
        # report's leaderboard ranks all four landmark models on the same crops and protocol.
        "fpm": Variant("dafe_fpm", f"FPM (8 landmarks; {WORKBOOK_OWN_ROW})", "fpm",
                       {"num_keypoints": 8}),
    },
    "m2fashion": {
        "full": Variant("m2fashion", "M2Fashion", "m2fashion"),
        "no_asa": Variant("m2fashion_no_asa", "M2Fashion w/o ASA", "m2fashion", {"asa": False}),
        "no_aca": Variant("m2fashion_no_aca", "M2Fashion w/o ACA", "m2fashion", {"aca": False}),
        "category_only": Variant("m2fashion_category_only", "M2Fashion: category only", "m2fashion",
                                 {"tasks": "category"}),
        "attribute_only": Variant("m2fashion_attribute_only", "M2Fashion: attribute only", "m2fashion",
                                  {"tasks": "attribute"}),
        "gap": Variant("m2fashion_gap", "M2Fashion: GAP", "m2fashion", {"pooling": "gap"}),
        # Table 3's retrieval baselines, on the same trunk and triplets (fashion_core.models.retrieval_baselines).
        "triplet": Variant("m2fashion_triplet", "Triplet network (unconditioned)", "retrieval_baseline",
                           {"condition": "none"}),
        "csn": Variant("m2fashion_csn", "CSN (conditional similarity network)", "retrieval_baseline",
                       {"condition": "mask"}),
        "asen": Variant("m2fashion_asen", "ASEN-style (attribute type only)", "retrieval_baseline",
                        {"condition": "type"}),
    },
    "fpm": {
        "full": Variant("fpm", "FPM", "fpm", {"num_keypoints": 24}),
        # Hu et al.'s baseline row: FashionNet's direct coordinate regression of the same 24
        # keypoints, i.e. its pose branch (landmarks + visibility) on the same trunk.
        "regression": Variant("fpm_regression", "FashionNet-style regression", "fashionnet",
                              {"num_landmarks": 24, "landmarks_only": True}),
    },
}


def variants(paper: str, names: list[str]) -> list[Variant]:
    known = VARIANTS[paper]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown {paper} variants {unknown}; expected some of {list(known)}")
    return [known[name] for name in names]


# Key suffixes of rows trained on more than one benchmark (DAFE: DeepFashion-C and FLD).
BENCHMARK_SUFFIXES = {"DeepFashion-C": "deepfashion_c", "FLD": "fld"}


def for_benchmark(rows: list[Variant], benchmark: str) -> list[Variant]:
    """The same rows trained on `benchmark`: the key, and so the checkpoint file, gets the benchmark's suffix."""
    if benchmark not in BENCHMARK_SUFFIXES:
        raise ValueError(f"unknown benchmark {benchmark!r}; expected one of {list(BENCHMARK_SUFFIXES)}")
    return [dataclasses.replace(row, key=f"{row.key}_{BENCHMARK_SUFFIXES[benchmark]}") for row in rows]


def with_model_kwargs(rows: list[Variant], model: str, **kwargs) -> list[Variant]:
    """Rows of `model` get extra builder arguments, which win over Settings; other rows are unchanged.

    E.g. DAFE's FashionNet rows keep their own VGG trunk while Settings.backbone is DAFE's ResNet.
    """
    return [dataclasses.replace(row, model_kwargs={**row.model_kwargs, **kwargs}) if row.model == model else row
            for row in rows]


@dataclass(frozen=True)
class Settings:
    """What a train notebook's params fix for every variant it trains."""

    profile: str
    dataset_label: str
    backbone: str
    width: float
    input_size: int
    pretrained: bool
    weights_path: str
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    lr_gamma: float
    seeds: tuple[int, ...]
    num_workers: int = 0
    cache_images: bool = True
    eval_batch_size: int = 64
    progress_bars: bool = True
    # "exponential": lr * lr_gamma**epoch; "step": lr * lr_gamma**(epoch // lr_step_size) (DAFE: x0.1 every 10).
    lr_schedule: str = "exponential"
    lr_step_size: int = 10
    # Runs trained side by side, one thread each (fashion_core.engine.parallel); 1: in the notebook's kernel, all threads.
    train_processes: int = 1
    # sha256 of the training data's annotation files (fashion_core.data.fingerprint), part of every
    # checkpoint's identity and recorded in the metrics JSON, so load_trained_variant finds the
    # checkpoint the notebook trained. A train notebook sets it with for_data; "" = data not identified.
    data_fingerprint: str = ""

    def for_data(self, *datasets) -> Settings:
        """These settings with data_fingerprint of the datasets the rows train on (SplitDatasets or annotations).

        Several datasets (DAFE's DeepFashion-C and FLD) give one fingerprint covering all of them.
        """
        return dataclasses.replace(self, data_fingerprint=data_fingerprint(*datasets))

    def train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(epochs=self.epochs, batch_size=self.batch_size, optimizer=self.optimizer, lr=self.lr,
                           lr_schedule=self.lr_schedule, lr_gamma=self.lr_gamma, lr_step_size=self.lr_step_size,
                           seed=seed, num_workers=self.num_workers, progress=self.progress_bars)
