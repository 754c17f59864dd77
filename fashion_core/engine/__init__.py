"""The one trainer (fit, TrainConfig), its checkpoints, evaluation sharded over ranks, and runs side by side."""
