"""fashion_core.train.fit on a tiny regression problem: determinism, resume, NaN guard, checkpoints, DDP."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset

from fashion_core.engine import trainer as train_module
from fashion_core.engine.trainer import CheckpointConfigMismatchError, fit, NonFiniteLossError, TrainConfig
from fashion_core.engine.checkpoints import load_checkpoint, load_trained

NUM_SAMPLES = 48  # 6 steps per epoch at batch 8


class RegressionSet(Dataset):
    """y = x @ w + noise, as dict samples; optional per-sample numpy noise exercises worker seeding."""

    def __init__(self, num_samples: int = NUM_SAMPLES, data_seed: int = 123, augment: bool = False):
        generator = torch.Generator().manual_seed(data_seed)
        self.x = torch.randn(num_samples, 4, generator=generator)
        weights = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
        self.y = self.x @ weights + 0.1 * torch.randn(num_samples, 1, generator=generator)
        self.augment = augment
        self.epochs_seen: list[int] = []

    def set_epoch(self, epoch: int) -> None:
        self.epochs_seen.append(epoch)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        x = self.x[index]
        if self.augment:
            x = x + torch.from_numpy(np.random.normal(0, 0.1, size=4).astype(np.float32))
        return {"x": x, "y": self.y[index]}


def make_model(dropout: float = 0.2) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Dropout(dropout), torch.nn.Linear(16, 1)
    )


def regression_loss(model, batch, epoch):
    squared_error = (model(batch["x"]) - batch["y"]) ** 2
    return {"loss": squared_error.mean(), "max_error": squared_error.detach().max()}


def validation_mse(model, loader):
    total, count = 0.0, 0
    for batch in loader:
        total += float(((model(batch["x"]) - batch["y"]) ** 2).sum())
        count += len(batch["y"])
    return {"val_mse": total / count}


def small_config(**changes) -> TrainConfig:
    values = dict(epochs=3, batch_size=8, lr=1e-2, progress=False)
    values.update(changes)
    return TrainConfig(**values)


def run(config: TrainConfig, checkpoint_path=None, model=None, **kwargs):
    return fit(
        model if model is not None else make_model(),
        regression_loss,
        RegressionSet(),
        config,
        checkpoint_path=checkpoint_path,
        val_set=RegressionSet(num_samples=16, data_seed=7),
        evaluate=validation_mse,
        **kwargs,
    )


def without_seconds(history: pd.DataFrame) -> pd.DataFrame:
    return history.drop(columns="seconds")


def assert_same_weights(first: torch.nn.Module, second: torch.nn.Module) -> None:
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name


# --------------------------------------------------------------------------- determinism
def test_same_seed_same_run_different_seed_different_run():
    first = run(small_config())
    second = run(small_config())
    pd.testing.assert_frame_equal(without_seconds(first.history), without_seconds(second.history))
    assert_same_weights(first.model, second.model)
    assert list(first.history.columns) == ["epoch", "lr", "loss", "max_error", "val_mse", "seconds"]
    assert first.history["epoch"].tolist() == [0, 1, 2]
    assert first.resumed_from_epoch is None and first.checkpoint_path is None
    assert first.started == "fresh, no checkpoint"

    other_seed = run(small_config(seed=1))
    assert not np.allclose(other_seed.history["loss"], first.history["loss"])
    assert not torch.equal(other_seed.model[0].weight, first.model[0].weight)


def test_worker_seeds_and_set_epoch_are_deterministic():
    def run_with_workers():
        dataset = RegressionSet(augment=True)
        result = fit(make_model(), regression_loss, dataset, small_config(epochs=2, num_workers=2), on_step=None)
        return result, dataset.epochs_seen

    (first, epochs_seen), (second, _) = run_with_workers(), run_with_workers()
    assert epochs_seen == [0, 1]
    pd.testing.assert_frame_equal(without_seconds(first.history), without_seconds(second.history))
    assert_same_weights(first.model, second.model)


# --------------------------------------------------------------------------- resume
class Interrupt(Exception):
    pass


def test_resume_after_interruption_equals_uninterrupted_run(tmp_path):
    uninterrupted = run(small_config(), tmp_path / "full.pt")

    def interrupt_mid_epoch_1(epoch, step):
        if (epoch, step) == (1, 2):
            raise Interrupt

    interrupted_path = tmp_path / "interrupted.pt"
    with pytest.raises(Interrupt):
        run(small_config(), interrupted_path, on_step=interrupt_mid_epoch_1)
    assert load_checkpoint(interrupted_path)["epochs_completed"] == 1

    resumed = run(small_config(), interrupted_path)
    assert resumed.resumed_from_epoch == 1 and resumed.started == "resumed 1/3 from interrupted.pt"
    assert_same_weights(resumed.model, uninterrupted.model)
    pd.testing.assert_frame_equal(without_seconds(resumed.history), without_seconds(uninterrupted.history))


def test_config_mismatch_is_refused_and_extending_epochs_resumes(tmp_path):
    checkpoint = tmp_path / "run.pt"
    run(small_config(epochs=1), checkpoint)
    with pytest.raises(CheckpointConfigMismatchError, match=r"lr: checkpoint 0\.01 != now 0\.001"):
        run(small_config(epochs=2, lr=1e-3), checkpoint)

    extended = run(small_config(epochs=2, num_workers=0, progress=True), checkpoint)
    assert extended.resumed_from_epoch == 1 and extended.started == "resumed 1/2 from run.pt"
    straight = run(small_config(epochs=2))
    pd.testing.assert_frame_equal(without_seconds(extended.history), without_seconds(straight.history))
    assert_same_weights(extended.model, straight.model)


def test_finished_checkpoint_returns_immediately_with_its_history(tmp_path):
    checkpoint = tmp_path / "run.pt"
    finished = run(small_config(epochs=2), checkpoint)

    def must_not_train(epoch, step):
        raise AssertionError("training ran although the checkpoint covers every epoch")

    again = run(small_config(epochs=2), checkpoint, on_step=must_not_train)
    assert again.resumed_from_epoch == 2 and again.started == "complete run.pt"
    pd.testing.assert_frame_equal(again.history, finished.history)  # seconds too: nothing re-ran
    assert_same_weights(again.model, finished.model)


# --------------------------------------------------------------------------- NaN guard
def loss_with_nan_at(nan_epoch: int, nan_step: int):
    calls = {"step": -1, "epoch": -1}

    def loss_fn(model, batch, epoch):
        calls["step"] = calls["step"] + 1 if epoch == calls["epoch"] else 0
        calls["epoch"] = epoch
        components = dict(regression_loss(model, batch, epoch))
        components["aux"] = torch.tensor(math.nan if (epoch, calls["step"]) == (nan_epoch, nan_step) else 0.0)
        return components

    return loss_fn


def test_nan_guard_names_epoch_step_component_and_checkpoint(tmp_path):
    checkpoint = tmp_path / "run.pt"
    with pytest.raises(NonFiniteLossError) as caught:
        fit(make_model(), loss_with_nan_at(1, 3), RegressionSet(), small_config(), checkpoint_path=checkpoint)
    error = caught.value
    assert (error.epoch, error.step, error.components) == (1, 3, ["aux"])
    assert "epoch 1, step 3" in str(error) and "aux" in str(error)
    assert f"{checkpoint} (after epoch 0)" in str(error)
    assert load_checkpoint(checkpoint)["epochs_completed"] == 1


def test_nan_guard_with_sparse_checks_still_reports_the_first_bad_step():
    # Checks run at steps 0 and 4 only; the NaN at step 1 is caught at step 4 but reported as step 1.
    with pytest.raises(NonFiniteLossError, match="epoch 0, step 1") as caught:
        fit(make_model(), loss_with_nan_at(0, 1), RegressionSet(), small_config(nan_check_every=4))
    assert "checkpoint_path=None" in str(caught.value)


# --------------------------------------------------------------------------- checkpoints
def test_failed_checkpoint_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    checkpoint = tmp_path / "run.pt"
    run(small_config(epochs=1), checkpoint)
    before = checkpoint.read_bytes()

    def crash_mid_write(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(train_module.torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        run(small_config(epochs=2), checkpoint)
    monkeypatch.undo()

    assert checkpoint.read_bytes() == before
    assert load_checkpoint(checkpoint)["epochs_completed"] == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run.pt"]  # no temp file left behind


def test_checkpoint_contents_and_load_trained(tmp_path):
    checkpoint = tmp_path / "run.pt"
    result = run(small_config(epochs=2, lr_gamma=0.5), checkpoint)
    state = load_checkpoint(checkpoint)
    assert state["epochs_completed"] == state["target_epochs"] == 2
    assert state["identity"] is None  # a caller-named file: fit(checkpoint=CheckpointSpec) stores one
    assert state["config"]["lr_gamma"] == 0.5
    assert [row["epoch"] for row in state["history"]] == [0, 1]
    assert {"python", "numpy", "torch"} <= set(state["rng"])

    fresh = load_trained(make_model(), checkpoint)
    assert not fresh.training
    assert_same_weights(fresh, result.model)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_trained(make_model(), tmp_path / "missing.pt")


# --------------------------------------------------------------------------- lr schedules
@pytest.mark.parametrize(
    ("schedule", "changes", "expected"),
    [
        # lr * gamma**epoch: 0.1, 0.1*0.5, 0.1*0.25
        ("exponential", dict(epochs=3, lr=0.1, lr_gamma=0.5), [0.1, 0.05, 0.025]),
        # lr * gamma**(epoch // 2): epochs 0,1 -> 0.01; 2,3 -> 0.001; 4 -> 0.0001
        ("step", dict(epochs=5, lr=0.01, lr_gamma=0.1, lr_step_size=2), [1e-2, 1e-2, 1e-3, 1e-3, 1e-4]),
        ("constant", dict(epochs=2, lr=0.003, lr_gamma=0.1), [0.003, 0.003]),
    ],
)
def test_lr_schedule_in_history(schedule, changes, expected):
    config = small_config(optimizer="sgd", lr_schedule=schedule, **changes)
    result = fit(make_model(), regression_loss, RegressionSet(num_samples=8), config)
    assert result.history["lr"].tolist() == pytest.approx(expected, rel=1e-12)


def test_bad_config_and_arguments_are_refused():
    with pytest.raises(ValueError, match="adam, sgd, adamw"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="exponential, step, constant"):
        TrainConfig(lr_schedule="cosine")
    with pytest.raises(ValueError, match="pass both or neither"):
        fit(make_model(), regression_loss, RegressionSet(), small_config(), evaluate=validation_mse)


# --------------------------------------------------------------------------- DDP
DDP_SCRIPT = """
import os
import sys
import torch
sys.path.insert(0, {tests_dir!r})
import test_train as helpers
from fashion_core.engine.trainer import fit

config = helpers.small_config(epochs=3, batch_size=4, seed=5)
result = fit(helpers.make_model(dropout=0.0), helpers.regression_loss, helpers.RegressionSet(), config,
             val_set=helpers.RegressionSet(num_samples=16, data_seed=7), evaluate=helpers.validation_mse)
if int(os.environ["RANK"]) == 0:
    torch.save({{"weights": result.model.state_dict(), "history": result.history.to_dict("list")}}, sys.argv[1])
"""


@pytest.mark.slow
def test_two_process_ddp_matches_one_process_with_the_same_global_batch(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT.format(tests_dir=str(Path(__file__).parent))))
    output = tmp_path / "ddp_result.pt"
    environment = {key: value for key, value in os.environ.items() if key not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    environment["OMP_NUM_THREADS"] = "1"
    torchrun = Path(sys.executable).with_name("torchrun")
    completed = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", str(script), str(output)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    ddp = torch.load(output, weights_only=False)

    # One process with batch 8 sees exactly the union of the two ranks' batches of 4
    # (DistributedSampler deals the same permutation round-robin), so only float summation
    # order differs: tolerance 1e-5.
    single = fit(
        make_model(dropout=0.0),
        regression_loss,
        RegressionSet(),
        small_config(epochs=3, batch_size=8, seed=5),
        val_set=RegressionSet(num_samples=16, data_seed=7),
        evaluate=validation_mse,
    )
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(ddp["weights"][name], value, rtol=1e-5, atol=1e-5)
    # (max_error is left out: a per-rank max over 4 samples, averaged, is not the max over 8.)
    for column in ("loss", "val_mse"):
        assert ddp["history"][column] == pytest.approx(single.history[column].tolist(), rel=1e-5), column
    assert ddp["history"]["lr"] == single.history["lr"].tolist()
