"""`torchrun -m fashion_core.train` on CPU (gloo): a 2-process run against a 1-process run of the same global batch.

What must hold, and why only within a tolerance:
- the 2 ranks' batches of 4 are exactly the 1-process batch of 8 (DistributedSampler deals one
  seeded permutation round-robin) and DDP averages the gradients, so without BatchNorm the two
  runs would agree to float rounding (tests/test_train.py checks that on a BatchNorm-free model).
  Every workbook trunk has BatchNorm, and on CPU each rank normalises its own 4 images
  (SyncBatchNorm needs GPUs), so the runs drift apart a little: the training loss is compared
  to 2% and the landmark NE to 0.05 (measured: ~0.01 and ~0.02; the untrained NE is ~0.6);
- the test metrics of the 2-process run are computed from both ranks' predictions gathered
  before scoring, so they equal, to float precision, one process scoring the same weights.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fashion_core.engine import checkpoints, sharded
from fashion_core.cli import train
from fashion_core.data.synthfashion.writer import generate

LOSS_RELATIVE_TOLERANCE = 0.02
NE_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp") / "synthfashion"
    generate(root, n_train=32, n_val=13, n_test=15, size=64, seed=4, formats=("deepfashion_c",), workers=1,
             progress=False)
    return root


def cli_arguments(root: Path, out: Path, batch_size: int) -> list[str]:
    return ["--model", "dafe", "--data", str(root), "--profile", "smoke", "--epochs", "1", "--batch-size",
            str(batch_size), "--seed", "3", "--num-workers", "0", "--out", str(out), "--no-progress"]


def test_two_process_run_matches_one_process_run_of_the_same_global_batch(synth_root, tmp_path):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    environment["OMP_NUM_THREADS"] = "1"
    two = tmp_path / "two"
    completed = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
         "fashion_core.train", *cli_arguments(synth_root, two, 4)],
        env=environment, capture_output=True, text=True, timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    # Rank 0 alone reports and writes: one header line, one checkpoint.
    assert completed.stdout.count("2 process(es) x batch 4 (global 8)") == 1, completed.stdout
    [checkpoint] = two.glob("dafe-seed3-*-e1.pt")
    assert sorted(path.name for path in two.iterdir()) == [checkpoint.name, "history.csv", "metrics.json"]
    distributed = json.loads((two / "metrics.json").read_text())
    assert distributed["world_size"] == 2 and distributed["global_batch_size"] == 8

    one = tmp_path / "one"
    assert train.main(cli_arguments(synth_root, one, 8)) == 0
    single = json.loads((one / "metrics.json").read_text())
    assert single["world_size"] == 1 and single["global_batch_size"] == 8

    assert distributed["history"]["loss"][0] == pytest.approx(single["history"]["loss"][0],
                                                              rel=LOSS_RELATIVE_TOLERANCE)
    assert distributed["history"]["val_ne_avg"][0] == pytest.approx(single["history"]["val_ne_avg"][0],
                                                                    abs=NE_TOLERANCE)
    assert distributed["test"]["ne_avg"] == pytest.approx(single["test"]["ne_avg"], abs=NE_TOLERANCE)
    assert pd.read_csv(two / "history.csv")["epoch"].tolist() == [0]

    # The gathered test metrics are those of one process scoring the 2-process run's weights on
    # all 15 test images (an odd count: the ranks' shards differ in size, none is padded).
    parser_arguments = train.build_parser().parse_args(cli_arguments(synth_root, two, 4))
    run = train._cli_setup(parser_arguments)
    model = checkpoints.load_trained(run["model"], checkpoint)
    rescored = sharded.evaluate_dataset(model, run["test"], run["data"].test, batch_size=8)
    assert distributed["test_images"] == len(run["data"].test) == 15
    assert set(rescored) == set(distributed["test"])
    for name, value in rescored.items():
        assert distributed["test"][name] == pytest.approx(value, rel=1e-6, abs=1e-9, nan_ok=True), name


def test_merge_shards_restores_dataset_order_and_keeps_shared_fields():
    # 5 items over 2 ranks: rank 0 had items 0, 2, 4 and rank 1 items 1, 3.
    parts = [{"score": np.array([0.0, 2.0, 4.0]), "label": torch.tensor([10, 12, 14]), "input_size": 64},
             {"score": np.array([1.0, 3.0]), "label": torch.tensor([11, 13]), "input_size": 64}]
    merged = sharded._merge_shards(parts, [[0, 2, 4], [1, 3]])
    np.testing.assert_array_equal(merged["score"], [0, 1, 2, 3, 4])
    assert merged["label"].tolist() == [10, 11, 12, 13, 14]
    assert merged["input_size"] == 64
    with pytest.raises(TypeError, match="dataclass or a dict"):
        sharded._merge_shards([[1, 2]], [[0, 1]])


def test_single_process_sharded_evaluation_equals_plain_scoring():
    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, item):
            return {"x": torch.tensor([float(item)])}

    model = torch.nn.Linear(1, 1)
    evaluation = sharded.ShardedEvaluation(
        predict=lambda model, loader: {"y": torch.cat([model(batch["x"]) for batch in loader]).numpy()[:, 0]},
        score=lambda predictions: {"sum": float(predictions["y"].sum()), "n": len(predictions["y"])},
    )
    metrics = sharded.evaluate_dataset(model, evaluation, Items(), batch_size=3)
    with torch.no_grad():
        expected = float(model(torch.arange(7.0).reshape(7, 1)).sum())
    assert metrics == {"sum": pytest.approx(expected), "n": 7.0}
    assert model.training  # restored after evaluation
