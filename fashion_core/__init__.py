"""fashion_core: the importable core of the workbook. Imports run down this list, never up it.

    paths.py io.py params.py   where the workbook lives, atomic writes and staged commits,
                               notebook parameters and their constraints
    data/         readers of DeepFashion-C, FLD, FashionAI and COCO keypoints, the one vocabulary
                  of names, torch datasets, the train/val/test splits, SynthFashion (synthfashion/)
    models/       one file and one builder per paper, shared trunks and heatmap layers, the
                  registry, inference helpers (unwrap, device, eval mode)
    metrics/      the functional metrics, the evaluation protocols (one validation scorer per
                  protocol), attribute-specific retrieval, the no-model baselines
    engine/       the one trainer (fit, TrainConfig), checkpoints, evaluation sharded over
                  torchrun ranks, runs side by side in worker processes
    experiments/  the rows of every table (VARIANTS, Settings), train-and-score over seeds, the
                  results store (metrics JSON, predictions), quality bars, M2Fashion's protocol
    reporting/    tables and figures, the papers' numbers, the claims and their ledger, the
                  report index and provenance, the reproduction report, the README results
    viewers/      the widget viewers (one base, one module per paper), the report's gallery,
                  the static plots
    cli/          the commands: ``python -m fashion_core.train`` (train.py), ``.run`` (run.py,
                  what ./run_all.sh calls) and ``.readme_results`` (readme_results.py)
"""

__version__ = "0.1.0"
