"""The rows of every table, trained over seeds and scored: what the train and tables notebooks call.

variants (VARIANTS, Settings) -> runs (train and score, checkpoints) -> store (metrics JSON,
predictions) and quality (the bars beside every table); m2fashion adds M2Fashion's own training
loss, known-label protocol and retrieval.
"""
from fashion_core.experiments.quality import quality_checks
from fashion_core.experiments.runs import (
    build_variant,
    checkpoint_path,
    fashionai_scorer,
    load_trained_variant,
    run_variant_seeds,
    run_variants,
    train_and_score,
)
from fashion_core.experiments.store import (
    ExperimentResults,
    MissingMetricsError,
    MissingPredictionsError,
    RunResult,
    load_metrics,
    load_predictions,
    metrics_path,
    metrics_target,
    predictions_path,
    recorded_input_size,
    write_metrics,
)
from fashion_core.experiments.variants import (
    BENCHMARK_SUFFIXES,
    PRODUCERS,
    VARIANTS,
    Settings,
    Variant,
    for_benchmark,
    variants,
    with_model_kwargs,
)

__all__ = [
    "BENCHMARK_SUFFIXES", "PRODUCERS", "VARIANTS", "ExperimentResults", "MissingMetricsError",
    "MissingPredictionsError", "RunResult", "Settings", "Variant", "build_variant", "checkpoint_path",
    "fashionai_scorer", "for_benchmark", "load_metrics", "load_predictions", "load_trained_variant",
    "metrics_path", "metrics_target", "predictions_path", "quality_checks", "recorded_input_size", "run_variant_seeds",
    "run_variants", "train_and_score", "variants", "with_model_kwargs", "write_metrics",
]
