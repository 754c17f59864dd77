"""Does a paper's claim hold on the data at hand? One rule, stated once, applied everywhere.

VERDICT_RULE is printed at the top of every claims table. With a handful of seeds per row the
rule is deliberately conservative: a difference must exceed two pooled standard deviations of
the per-seed values to count either way; anything in between is inconclusive.

A claim may compare rows of two metrics files (M2Fashion against Liu & Lu or FashionNet). It is
scored like for like or not at all (:func:`scoring_problem`): both files must name the same
dataset and benchmark (every train notebook reads the profile's one data.yaml root, so the same
test split) and give the models the same share of labels as input; and only the seeds both rows
were trained with count (:func:`aligned_values`), the result's note saying so when that drops any.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from fashion_core.experiments import metrics_target
from fashion_core.io import write_json_atomic
from fashion_core.reporting.artifacts import format_mean_sd, save_table

VERDICT_RULE = (
    "A claim 'A is better than B' holds when the mean over seeds of A beats B in the claimed direction by more "
    "than 2 pooled standard deviations (pooled sd = sqrt((sd_A^2 + sd_B^2) / 2), per-seed sample sd); it does not "
    "hold when B beats A by that margin; otherwise it is inconclusive. Fewer than 2 seeds per row: inconclusive."
)
HOLDS, DOES_NOT_HOLD, INCONCLUSIVE = "holds", "does not hold", "inconclusive"


@dataclass(frozen=True)
class ClaimResult:
    claim: str
    metric: str
    better: str          # "lower" or "higher"
    row_a: str
    row_b: str
    mean_a: float
    std_a: float
    mean_b: float
    std_b: float
    seeds: int
    verdict: str
    note: str = ""       # e.g. which seeds were scored when the two rows' seeds differ

    def as_dict(self) -> dict:
        return asdict(self)


def compare(claim: str, metric: str, better: str, row_a: str, values_a, row_b: str, values_b,
            note: str = "") -> ClaimResult:
    """Apply VERDICT_RULE to per-seed values of one metric for rows A (claimed better) and B."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', got {better!r}")
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    seeds = int(min(len(a), len(b)))
    std_a = float(a.std(ddof=1)) if len(a) > 1 else float("nan")
    std_b = float(b.std(ddof=1)) if len(b) > 1 else float("nan")
    advantage = (b.mean() - a.mean()) if better == "lower" else (a.mean() - b.mean())
    if seeds < 2:
        verdict = INCONCLUSIVE
    else:
        margin = 2.0 * np.sqrt((std_a ** 2 + std_b ** 2) / 2.0)
        verdict = HOLDS if advantage > margin else DOES_NOT_HOLD if -advantage > margin else INCONCLUSIVE
    return ClaimResult(claim, metric, better, row_a, row_b, float(a.mean()), std_a, float(b.mean()), std_b, seeds, verdict,
                       note)


def aligned_values(row_a: dict, metric_a: str, row_b: dict, metric_b: str) -> tuple[list[float], list[float], str]:
    """(A's values, B's values, note) on the seeds both rows of a metrics file were trained with, in A's order.

    The note is empty when both rows have the same seeds, else it names the seeds scored. Rows
    that do not list their seeds are taken as they are.
    """
    values_a, values_b = list(row_a["per_seed"][metric_a]), list(row_b["per_seed"][metric_b])
    if "seeds" not in row_a or "seeds" not in row_b:
        return values_a, values_b, ""
    seeds_a, seeds_b = list(row_a["seeds"]), list(row_b["seeds"])
    if seeds_a == seeds_b:
        return values_a, values_b, ""
    by_seed_b = dict(zip(seeds_b, values_b))
    common = [seed for seed in seeds_a if seed in by_seed_b]
    note = f"scored on the seeds both rows have, {common} (A trained with {seeds_a}, B with {seeds_b})"
    return [value for seed, value in zip(seeds_a, values_a) if seed in by_seed_b], \
        [by_seed_b[seed] for seed in common], note


def scoring_problem(claim: Claim, metrics_files: dict[str, dict]) -> str | None:
    """Why the claim's rows cannot be compared like for like (module docstring), or None when they can.

    Assumes both files are present and hold the rows and metrics.
    """
    (file_a, key_a), (file_b, key_b) = claim.row_a, claim.row_b
    payload_a, payload_b = metrics_files[file_a], metrics_files[file_b]
    if file_a != file_b:
        for field in ("dataset_label", "benchmark"):
            if payload_a.get(field) != payload_b.get(field):
                return (f"metrics/{file_a}.json and metrics/{file_b}.json are scored on different data: {field} "
                        f"{payload_a.get(field)!r} against {payload_b.get(field)!r}")
        known = [float((payload.get("options") or {}).get("known_fraction", 0.0)) for payload in (payload_a, payload_b)]
        if known[0] != known[1]:
            return (f"the rows are given different shares of each test image's labels as input ({known[0]:.0%} in "
                    f"metrics/{file_a}.json, {known[1]:.0%} in metrics/{file_b}.json), so they score different labels")
    row_a, row_b = payload_a["rows"][key_a], payload_b["rows"][key_b]
    values_a, _, _ = aligned_values(row_a, claim.metric, row_b, claim.metric_b or claim.metric)
    if not values_a:
        return f"rows {key_a!r} (seeds {row_a.get('seeds')}) and {key_b!r} (seeds {row_b.get('seeds')}) share no seed"
    return None


@dataclass(frozen=True)
class Claim:
    """A paper's claim that the workbook can test: row A beats row B on one metric."""

    paper: str
    text: str
    source: str
    metric: str
    better: str
    row_a: tuple[str, str]   # (metrics file, row key) of the row claimed better
    row_b: tuple[str, str]
    metric_b: str | None = None  # row B's metric when it differs from A's (e.g. stage 1 vs stage T of one model)
    # The rows of fashion_core.reporting.reference that print the paper's numbers for A and B, as (method, dataset);
    # None when the paper prints no number for that row (an ablation it only describes, say).
    paper_a: tuple[str, str] | None = None
    paper_b: tuple[str, str] | None = None


def _fashionnet_claims() -> list[Claim]:
    """Liu et al. 2016: landmark pooling (local features at the predicted landmarks) helps classification."""
    source = ("Liu et al. 2016 (FashionNet), experiments, the category and attribute table (summary text: "
              "'+Joints and +Poselets replace the landmark predictions in Stage 1 ... a great improvement in "
              "classification, whether it is attribute number or Stage1 landmark regression'); tested here by "
              "removing the landmark-pooled local branch. The ablation's numbers are not in the text available here")
    full, paper_row = ("fashionnet", "fashionnet"), ("FashionNet", "DeepFashion-C")
    return [Claim("Liu et al. 2016 (FashionNet)", f"Landmark pooling raises {what} over the global branch alone",
                  source, metric, "higher", full, ("fashionnet", "fashionnet_no_landmark_pooling"), paper_a=paper_row)
            for metric, what in (("category_top3", "category top-3"), ("attr_all_top5", "attribute recall@5 'all'"))]


def _liu2018_claims() -> list[Claim]:
    source_upsample = "Liu & Lu 2018, abstract and Sec. 1 (upsampled heatmaps 'boost the accuracy of landmark localization')"
    source_attention = "Liu & Lu 2018, abstract (landmark-driven attention 'helps improve the precision' of category and attributes)"
    source_sota = "Liu & Lu 2018, abstract ('outperforms the state-of-the-arts'); numbers: NOTES.md README and M2Fashion Table 1"
    liu = ("liu2018", "liu2018")
    liu_paper, fashionnet_paper = ("Liu & Lu 2018", "DeepFashion-C"), ("FashionNet", "DeepFashion-C")
    claims = [Claim("Liu & Lu 2018", "Upsampled heatmaps give lower landmark NE than 1/8-resolution heatmaps",
                    source_upsample, "ne_avg", "lower", liu, ("liu2018", "liu2018_no_upsample"), paper_a=liu_paper)]
    for other, label in (("liu2018_no_attention", "no attention"), ("liu2018_conv_only", "conv-only attention")):
        for metric, what in (("category_top3", "category top-3"), ("attr_all_top5", "attribute recall@5 'all'")):
            claims.append(Claim("Liu & Lu 2018", f"Landmark-driven attention raises {what} over {label}",
                                source_attention, metric, "higher", liu, ("liu2018", other), paper_a=liu_paper))
    for metric, what, better in (("ne_avg", "landmark NE", "lower"), ("category_top3", "category top-3", "higher"),
                                 ("attr_all_top5", "attribute recall@5 'all'", "higher")):
        claims.append(Claim("Liu & Lu 2018", f"Liu & Lu beats FashionNet on {what}", source_sota, metric, better,
                            liu, ("fashionnet", "fashionnet"), paper_a=liu_paper, paper_b=fashionnet_paper))
    return claims


def _dafe_claims() -> list[Claim]:
    """Chen et al. 2019: DAFE against its ablations, FashionNet and Liu & Lu, on each benchmark DAFE is trained on
    (row keys as experiments.for_benchmark makes them)."""
    sources = {
        "fpn": "Chen et al. 2019, Sec. 1 and 3.1 (DAFE modules added to an FPN-style decoder 'strengthen the extracted "
               "features'; the paper prints no ablation table)",
        "no_sau": "Chen et al. 2019, Sec. 3.2.1 (SAU 'compensate[s] for the loss of spatial detail')",
        "no_cas": "Chen et al. 2019, Sec. 3.2.2 (CAS 'emphasize[s] informative features and suppress[es] useless ones')",
        "fashionnet": "Chen et al. 2019, Tables 1-2 and Sec. 4 ('consistently outperforms other models')",
        "liu2018": "Issue 4, claim 3: Liu & Lu is not a row of the DAFE tables; its README NE on DeepFashion-C "
                   "(.0474, NOTES.md) is above DAFE's .0342 (Table 1)",
    }
    texts = {
        "fpn": "DAFE beats the plain FPN decoder (no SAU, no CAS)",
        "no_sau": "SAU helps: DAFE beats DAFE without SAU",
        "no_cas": "CAS helps: DAFE beats DAFE without CAS",
        "fashionnet": "DAFE beats FashionNet",
        "liu2018": "DAFE beats Liu & Lu",
    }
    # Rows B the papers print numbers for (DAFE Tables 1-2; Liu & Lu's README NE, DeepFashion-C only).
    printed_b = {"fashionnet": "FashionNet", "liu2018": "Liu & Lu 2018"}
    claims = []
    for benchmark, suffix in (("DeepFashion-C", "deepfashion_c"), ("FLD", "fld")):
        for other, text in texts.items():
            paper_b = (printed_b[other], benchmark) if other in printed_b else None
            claims.append(Claim("Chen et al. 2019 (DAFE)", f"{text} on {benchmark} landmark NE", sources[other], "ne_avg",
                                "lower", ("dafe", f"dafe_{suffix}"), ("dafe", f"dafe_{other}_{suffix}"),
                                paper_a=("DAFE", benchmark), paper_b=paper_b))
    return claims


def _fpm_claims() -> list[Claim]:
    """Hu et al. 2018: FPM against direct regression, and its last stage against its first (FashionAI-format data)."""
    fpm = ("fpm", "fpm")
    return [
        Claim("Hu et al. 2018 (FPM)", "FPM beats FashionNet-style direct regression on FashionAI NE",
              "Hu et al. 2018, Table 1 and Sec. 3.3 (FPM Ave .1226 vs FashionNET .1636, '25% better')", "ne_avg",
              "lower", fpm, ("fpm", "fpm_regression"), paper_a=("FPM", "FashionAI"), paper_b=("FashionNet", "FashionAI")),
        Claim("Hu et al. 2018 (FPM)", "Later stages refine: the NE of stage T (the output) is below the NE of stage 1",
              "Hu et al. 2018, Sec. 2.1 ('In each stage, the computed confidences provide an increasingly refined "
              "estimation'); the paper prints no per-stage numbers", "ne_avg", "lower", fpm, fpm, metric_b="ne_stage1",
              paper_a=("FPM", "FashionAI")),
    ]


# The abstract's three gains over Liu & Lu ('Upsampling'), as metric keys.
HEADLINE_METRICS = (("category_top3", "category top-3"), ("attr_part_top3", "part attribute recall@3"),
                    ("attr_shape_top3", "shape attribute recall@3"))


def _m2fashion_claims() -> list[Claim]:
    """Wan et al. 2022: modules, joint learning, pooling, known labels and retrieval, each on the rows and metrics
    the paper compares."""
    paper = "Wan et al. 2022 (M2Fashion)"
    full = ("m2fashion", "m2fashion")
    sources = {
        "modules": "Wan et al. 2022, Table 1 and Sec. 4.2 ('removing the ASA or ACA module reduces the performance "
                   "of the two subtasks')",
        "joint": "Wan et al. 2022, Table 2 (top) and Sec. 4.4 ('the joint learning of categories and attributes "
                 "improves the accuracy of the two tasks')",
        "gmp": "Wan et al. 2022, Table 2 (bottom) and Sec. 4.4 ('Global max pooling improves the recall rate of "
               "category classification and attribute prediction')",
        "known": "Wan et al. 2022, Sec. 1 and 3.3 (known labels given as input let the model predict the others "
                 "'with a high degree of confidence'); issue 5, claim 4. Recall counts only the unknown labels",
        "control": "Issue 5, claim 4, controlled: the same labels left out of the scoring but not given to the model "
                   "(fewer positives remain, which alone raises recall@k)",
        "retrieval": "Wan et al. 2022, Table 3 and Sec. 4.5 (M2Fashion 'outperforms other baselines', the triplet "
                     "network, CSN and ASEN, in attribute-specific retrieval, on DARN)",
        "headline": "Wan et al. 2022, abstract and Sec. 4.2 ('+1.3% top-3 accuracy rate improvement in the category "
                    "classification task and +5.6%/+3.7% top-3 recall rate improvement in the attribute prediction "
                    "of part/shape'); Table 1: the gains are relative to its 'Upsampling' row (Liu & Lu 2018), e.g. "
                    "category 92.33 / 91.16 = +1.3%, part 49.62 / 46.97 = +5.6%, shape 60.42 / 58.28 = +3.7%. "
                    "Reproduced: the m2fashion and liu2018 notebooks' test split, the same seeds, each model at its "
                    "own notebook's trunk and budget (as the paper sets its model beside published numbers)",
        "fashionnet": "Wan et al. 2022, Table 1 and Sec. 4.2 ('Our model outperforms all competitors'; FashionNet "
                      "category top-3 82.58, attribute 'all' top-3 45.52, against 92.33 and 54.85). Reproduced: "
                      "the m2fashion and fashionnet notebooks' test split, the same seeds, each model at its own "
                      "notebook's trunk and budget",
    }
    deepfashion = "DeepFashion-C"
    claims = []
    for other, label in (("m2fashion_no_asa", "w/o ASA"), ("m2fashion_no_aca", "w/o ACA")):
        for metric, what in (("category_top3", "category top-3"), ("attr_all_top5", "attribute recall@5 'all'")):
            claims.append(Claim(paper, f"The full model beats M2Fashion {label} on {what}", sources["modules"], metric,
                                "higher", full, ("m2fashion", other), paper_a=("M2Fashion", deepfashion),
                                paper_b=(f"M2Fashion {label}", deepfashion)))
    joint = ("M2Fashion category + attribute", deepfashion)
    claims.append(Claim(paper, "Joint learning beats category-only training on category top-3", sources["joint"],
                        "category_top3", "higher", full, ("m2fashion", "m2fashion_category_only"), paper_a=joint,
                        paper_b=("M2Fashion category only", deepfashion)))
    claims.append(Claim(paper, "Joint learning beats attribute-only training on attribute recall@5 'all'",
                        sources["joint"], "attr_all_top5", "higher", full, ("m2fashion", "m2fashion_attribute_only"),
                        paper_a=joint, paper_b=("M2Fashion attribute only", deepfashion)))
    for metric, what in (("category_top3", "category top-3"), ("attr_all_top5", "attribute recall@5 'all'")):
        claims.append(Claim(paper, f"GMP beats GAP on {what}", sources["gmp"], metric, "higher", full,
                            ("m2fashion", "m2fashion_gap"), paper_a=("M2Fashion GMP", deepfashion),
                            paper_b=("M2Fashion GAP", deepfashion)))
    for fraction in (25, 75):
        claims.append(Claim(paper, f"Attribute recall@5 'all' rises from 0% to {fraction}% of labels revealed",
                            sources["known"], f"known{fraction}_attr_all_top5", "higher", full, full,
                            metric_b="known0_attr_all_top5"))
        claims.append(Claim(paper, f"With {fraction}% of labels revealed, giving them to the model raises attribute "
                                   "recall@5 'all' over not giving them", sources["control"],
                            f"known{fraction}_attr_all_top5", "higher", full, full,
                            metric_b=f"known{fraction}_uninformed_attr_all_top5"))
    for other, label, printed in (("m2fashion_triplet", "the unconditioned triplet network", "Triplet"),
                                  ("m2fashion_csn", "the CSN (conditional similarity network) baseline", "CSN"),
                                  ("m2fashion_asen", "the ASEN-style (attribute type) baseline", "ASEN")):
        claims.append(Claim(paper, f"M2Fashion beats {label} in retrieval mAP (mean over conditions)",
                            sources["retrieval"], "map_all", "higher", full, ("m2fashion", other),
                            paper_a=("M2Fashion", "DARN"), paper_b=(printed, "DARN")))
    # The headline numbers: M2Fashion against other papers' models, trained by their own notebooks.
    for metric, what in HEADLINE_METRICS:
        claims.append(Claim(paper, f"M2Fashion beats Liu & Lu ('Upsampling') on {what}", sources["headline"], metric,
                            "higher", full, ("liu2018", "liu2018"), paper_a=("M2Fashion", deepfashion),
                            paper_b=("Liu & Lu 2018", deepfashion)))
    for metric, what in (("category_top3", "category top-3"), ("attr_all_top3", "attribute recall@3 'all'")):
        claims.append(Claim(paper, f"M2Fashion beats FashionNet on {what}", sources["fashionnet"], metric, "higher",
                            full, ("fashionnet", "fashionnet"), paper_a=("M2Fashion", deepfashion),
                            paper_b=("FashionNet", deepfashion)))
    return claims


CLAIMS: dict[str, list[Claim]] = {"fashionnet": _fashionnet_claims(), "liu2018": _liu2018_claims(), "dafe": _dafe_claims(), "fpm": _fpm_claims(),
                                 "m2fashion": _m2fashion_claims()}


def evaluate_claims(claims: list[Claim], metrics_files: dict[str, dict]) -> list[ClaimResult]:
    """Apply the verdict rule to each claim using the per-seed values in the metrics JSON files."""
    results = []
    for claim in claims:
        rows = []
        for file, key in (claim.row_a, claim.row_b):
            if file not in metrics_files:
                raise KeyError(f"claim {claim.text!r} needs the {file!r} metrics file")
            rows.append(metrics_files[file]["rows"][key])
        problem = scoring_problem(claim, metrics_files)
        if problem is not None:
            raise ValueError(f"claim {claim.text!r} cannot be scored: {problem}")
        metric_b = claim.metric_b or claim.metric
        values_a, values_b, note = aligned_values(rows[0], claim.metric, rows[1], metric_b)
        if claim.metric_b is None:
            results.append(compare(claim.text, claim.metric, claim.better, rows[0]["name"], values_a,
                                   rows[1]["name"], values_b, note))
        else:
            results.append(compare(claim.text, f"{claim.metric} vs {claim.metric_b}", claim.better,
                                   f"{rows[0]['name']} {claim.metric}", values_a,
                                   f"{rows[1]['name']} {claim.metric_b}", values_b, note))
    return results


def claims_frame(claims: list[Claim], results: list[ClaimResult], dataset_label: str,
                 profile: str) -> pd.DataFrame:
    """The claims table: claim, source, both rows' mean ± sd (sd 'nan' with one seed), seeds, dataset, profile,
    verdict, note (which seeds were scored, where the two rows' seeds differ)."""
    return pd.DataFrame([{
        "claim": claim.text, "source": claim.source, "metric": result.metric,
        "A (claimed better)": f"{result.row_a}: {format_mean_sd(result.mean_a, result.std_a, always_sd=True)}",
        "B": f"{result.row_b}: {format_mean_sd(result.mean_b, result.std_b, always_sd=True)}",
        "seeds": result.seeds, "dataset": dataset_label, "profile": profile, "verdict": result.verdict,
        "note": result.note,
    } for claim, result in zip(claims, results)])


def save_paper_claims(paper: str, metrics_files: dict[str, dict], profile: str) -> pd.DataFrame:
    """Evaluate CLAIMS[paper] on `metrics_files` and save the verdicts; returns the claims table.

    metrics_files: {metrics file: payload} holding every file the paper's claims read (Liu & Lu's
    also read fashionnet). Writes tables/<paper>_claims.{csv,md} (claims_frame, with VERDICT_RULE
    as the caption and the dataset of metrics_files[paper]) and metrics/<paper>_claims.json (one
    ClaimResult.as_dict per claim) under reports/<profile>/.
    """
    paper_claims = CLAIMS[paper]
    verdicts = evaluate_claims(paper_claims, metrics_files)
    table = claims_frame(paper_claims, verdicts, metrics_files[paper]["dataset_label"], profile)
    save_table(table, f"{paper}_claims", profile, caption=VERDICT_RULE)
    write_json_atomic(metrics_target(profile, f"{paper}_claims"), [verdict.as_dict() for verdict in verdicts])
    return table
