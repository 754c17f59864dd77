"""Checkpoint identity and choice: names cover everything deciding the weights, never a longer run for a
shorter request, extension equals an uninterrupted run, and a corrupt file names itself."""
from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset

from annotation_fixtures import replace_field, write_deepfashion_c, write_fashionai
from fashion_core.cli import train as train_cli
from fashion_core.data.deepfashion import read_category_attribute
from fashion_core.data.fashionai import read_fashionai
from fashion_core.data.fingerprint import annotation_files, data_fingerprint
from fashion_core.data.synthfashion.writer import generate
from fashion_core.engine import checkpoints
from fashion_core.engine.checkpoints import (
    CheckpointConfigMismatchError,
    CorruptCheckpointError,
    load_checkpoint,
    load_trained,
    save_checkpoint,
)
from fashion_core.engine.trainer import TrainConfig, checkpoint_spec, fit


# --------------------------------------------------------------------------- a tiny run
class RegressionSet(Dataset):
    """y = x @ w + noise as dict samples (48 samples: 6 steps per epoch at batch 8)."""

    def __init__(self, num_samples: int = 48, data_seed: int = 123):
        generator = torch.Generator().manual_seed(data_seed)
        self.x = torch.randn(num_samples, 4, generator=generator)
        self.y = self.x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(num_samples, 1,
                                                                                         generator=generator)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[index], "y": self.y[index]}


def make_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 1))


def regression_loss(model, batch, epoch):
    return {"loss": ((model(batch["x"]) - batch["y"]) ** 2).mean()}


def config(**changes) -> TrainConfig:
    # exponential decay, so a resumed or extended run must pick up the lr of its epoch index
    values = dict(epochs=2, batch_size=8, lr=1e-2, lr_gamma=0.5, progress=False)
    values.update(changes)
    return TrainConfig(**values)


def spec_for(directory: Path, train_config: TrainConfig, data: str = "data-v1", **kwargs):
    return checkpoint_spec(directory, "regression-seed0", train_config, make_model(), model_name="regression",
                           model_kwargs=kwargs or {"hidden": 16}, data_fingerprint=data, world_size=1)


def train(directory: Path, train_config: TrainConfig, **fit_kwargs):
    return fit(make_model(), regression_loss, RegressionSet(), train_config,
               checkpoint=spec_for(directory, train_config), **fit_kwargs)


def without_seconds(history: pd.DataFrame) -> pd.DataFrame:
    return history.drop(columns="seconds")


def assert_same_weights(first: torch.nn.Module, second: torch.nn.Module) -> None:
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name


class Interrupt(Exception):
    pass


# --------------------------------------------------------------------------- the choice
def test_fewer_epochs_than_a_checkpoint_holds_trains_afresh_and_leaves_it_alone(tmp_path, capsys):
    two = train(tmp_path, config(epochs=2))
    two_path = spec_for(tmp_path, config()).path(2)
    assert two.checkpoint_path == two_path and two_path.name.endswith("-e2.pt")
    assert two.started == f"fresh, writing {two_path.name}"
    before = (two_path.read_bytes(), two_path.stat().st_mtime_ns)

    one = train(tmp_path, config(epochs=1))
    one_path = spec_for(tmp_path, config()).path(1)
    assert one.started == f"fresh, writing {one_path.name}"
    assert one.history["epoch"].tolist() == [0] and one.resumed_from_epoch is None
    assert (two_path.read_bytes(), two_path.stat().st_mtime_ns) == before
    straight = fit(make_model(), regression_loss, RegressionSet(), config(epochs=1))
    assert_same_weights(one.model, straight.model)
    assert load_checkpoint(one_path)["epochs_completed"] == 1
    printed = capsys.readouterr().out
    assert printed.splitlines() == [f"checkpoint: fresh, writing {two_path.name}",
                                    f"checkpoint: fresh, writing {one_path.name}", "checkpoint: fresh, no checkpoint"]


def test_more_epochs_extend_a_copy_and_equal_an_uninterrupted_run(tmp_path):
    train(tmp_path, config(epochs=1))
    one_path = spec_for(tmp_path, config()).path(1)
    before = one_path.read_bytes()

    def first_epoch_must_not_rerun(epoch, step):
        assert epoch >= 1, "epoch 0 was trained again"

    extended = train(tmp_path, config(epochs=2), on_step=first_epoch_must_not_rerun)
    two_path = spec_for(tmp_path, config()).path(2)
    assert extended.started == f"extended from {one_path.name} after 1 epoch, writing {two_path.name}"
    assert extended.resumed_from_epoch == 1
    assert one_path.read_bytes() == before  # the source is copied, never modified

    uninterrupted = fit(make_model(), regression_loss, RegressionSet(), config(epochs=2))
    assert_same_weights(extended.model, uninterrupted.model)
    pd.testing.assert_frame_equal(without_seconds(extended.history), without_seconds(uninterrupted.history))
    state = load_checkpoint(two_path)
    assert (state["epochs_completed"], state["target_epochs"]) == (2, 2)
    assert state["identity"] == spec_for(tmp_path, config()).identity

    again = train(tmp_path, config(epochs=2), on_step=lambda *_: pytest.fail("a complete checkpoint trained again"))
    assert again.started == f"complete {two_path.name}"
    assert_same_weights(again.model, uninterrupted.model)


def test_a_partial_checkpoint_resumes_and_a_partial_longer_one_may_be_extended(tmp_path):
    def stop_in_epoch_1(epoch, step):
        if (epoch, step) == (1, 2):
            raise Interrupt

    with pytest.raises(Interrupt):
        train(tmp_path, config(epochs=3), on_step=stop_in_epoch_1)
    three_path = spec_for(tmp_path, config()).path(3)
    assert load_checkpoint(three_path)["epochs_completed"] == 1
    before = three_path.read_bytes()

    # A 3-epoch checkpoint after 1 epoch is the state of any run after 1 epoch: a 2-epoch request starts from it.
    two = train(tmp_path, config(epochs=2))
    assert two.started.startswith(f"extended from {three_path.name} after 1 epoch")
    assert three_path.read_bytes() == before
    assert_same_weights(two.model, fit(make_model(), regression_loss, RegressionSet(), config(epochs=2)).model)

    three = train(tmp_path, config(epochs=3))
    assert three.started == f"resumed 1/3 from {three_path.name}"
    assert_same_weights(three.model, fit(make_model(), regression_loss, RegressionSet(), config(epochs=3)).model)


def test_resume_false_starts_fresh_and_keeps_other_targets(tmp_path):
    train(tmp_path, config(epochs=1))
    fresh = train(tmp_path, config(epochs=2), resume=False)
    assert fresh.started == f"fresh (resume=False), writing {spec_for(tmp_path, config()).path(2).name}"
    assert fresh.resumed_from_epoch is None


def test_a_plain_checkpoint_path_is_never_used_for_fewer_epochs(tmp_path):
    path = tmp_path / "run.pt"
    fit(make_model(), regression_loss, RegressionSet(), config(epochs=2), checkpoint_path=path)
    with pytest.raises(CheckpointConfigMismatchError, match="holds 2 trained epochs, more than the 1 asked for"):
        fit(make_model(), regression_loss, RegressionSet(), config(epochs=1), checkpoint_path=path)
    with pytest.raises(ValueError, match="not both"):
        fit(make_model(), regression_loss, RegressionSet(), config(), checkpoint_path=path,
            checkpoint=spec_for(tmp_path, config()))


# --------------------------------------------------------------------------- the identity
def test_the_name_changes_with_everything_that_decides_the_weights(tmp_path):
    base = spec_for(tmp_path, config())
    assert re.fullmatch(r"regression-seed0-[0-9a-f]{10}-e2\.pt", base.path(2).name)
    assert base.path(1).name[:-5] == base.path(2).name[:-5]  # one identity, the target epochs apart
    changed = {
        "lr": spec_for(tmp_path, config(lr=2e-2)),
        "seed": spec_for(tmp_path, config(seed=1)),
        "lr_gamma": spec_for(tmp_path, config(lr_gamma=0.9)),
        "lr_schedule": spec_for(tmp_path, config(lr_schedule="step")),
        "batch_size": spec_for(tmp_path, config(batch_size=4)),
        "data": spec_for(tmp_path, config(), data="data-v2"),
        "model_kwargs": spec_for(tmp_path, config(), loss_schedule_switch_epoch=3),
        "world_size": checkpoint_spec(tmp_path, "regression-seed0", config(), make_model(), model_name="regression",
                                      model_kwargs={"hidden": 16}, data_fingerprint="data-v1", world_size=2),
    }
    names = {field: spec.path(2).name for field, spec in changed.items()}
    assert base.path(2).name not in names.values() and len(set(names.values())) == len(names), names
    for neutral in (dict(num_workers=2), dict(progress=True), dict(device="cpu"), dict(nan_check_every=5)):
        assert spec_for(tmp_path, config(**neutral)).path(2) == base.path(2), neutral
    assert set(base.identity) == {"train", "world_size", "model", "model_kwargs", "architecture", "model_code", "data"}
    assert "epochs" not in base.identity["train"] and base.identity["train"]["seed"] == 0


def test_a_renamed_checkpoint_is_refused_by_its_stored_identity(tmp_path):
    train(tmp_path, config(epochs=1))
    other = spec_for(tmp_path, config(), data="data-v2")
    shutil.copy(spec_for(tmp_path, config()).path(1), other.path(1))
    with pytest.raises(CheckpointConfigMismatchError, match=r"data: checkpoint 'data-v1' != now 'data-v2'"):
        fit(make_model(), regression_loss, RegressionSet(), config(epochs=1), checkpoint=other)


def test_data_fingerprint_covers_the_annotation_files_not_where_the_tree_lies(tmp_path):
    tree = write_deepfashion_c(tmp_path / "a")
    annotations = read_category_attribute(tree.root)
    names = [name for name, _ in annotation_files(annotations)]
    assert names == sorted(annotations.files) and "Eval/list_eval_partition.txt" in names
    first = data_fingerprint(annotations)
    assert re.fullmatch(r"[0-9a-f]{64}", first)

    moved = shutil.copytree(tree.root, tmp_path / "b")
    assert data_fingerprint(read_category_attribute(moved)) == first
    # one box corner one pixel off (field 2 is x_1), the line re-joined with single spaces
    replace_field(moved / "Anno" / "list_bbox.txt", tree.line_of("Anno/list_bbox.txt", 0), 2, "5")
    changed = data_fingerprint(read_category_attribute(moved))
    assert changed != first
    spec_a = spec_for(tmp_path, config(), data=first)
    spec_b = spec_for(tmp_path, config(), data=changed)
    assert spec_a.path(2) != spec_b.path(2)

    fashionai = read_fashionai(write_fashionai(tmp_path / "fai").root, "train")
    assert [name for name, _ in annotation_files({"train": fashionai})] == ["Annotations/train.csv"]
    assert data_fingerprint(annotations, fashionai) != data_fingerprint(fashionai, annotations)
    with pytest.raises(TypeError, match="annotation files"):
        data_fingerprint(object())


def test_model_code_fingerprint_follows_the_model_modules_and_ignores_docstrings():
    dafe, fpm = checkpoints.model_code_fingerprint("dafe"), checkpoints.model_code_fingerprint("fpm")
    assert re.fullmatch(r"[0-9a-f]{64}", dafe) and dafe != fpm
    assert checkpoints.model_code_fingerprint("regression", make_model()) == ""
    documented = ast.parse('"""Module."""\ndef f(x):\n    """Twice x."""\n    # doubled\n    return 2 * x\n')
    bare = ast.parse("def f(x):\n    return 2 * x\n")
    assert ast.dump(checkpoints._without_docstrings(documented)) == ast.dump(checkpoints._without_docstrings(bare))


# --------------------------------------------------------------------------- corrupt files
def corrupt_copies(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.pt"
    fit(make_model(), regression_loss, RegressionSet(), config(epochs=1), checkpoint_path=good)
    data = good.read_bytes()
    files = {"truncated": data[: len(data) // 2], "empty": b"", "not a zip": b"half a checkpoint"}
    paths = {}
    for kind, content in files.items():
        paths[kind] = tmp_path / f"{kind.replace(' ', '_')}.pt"
        paths[kind].write_bytes(content)
    paths["wrong tag"] = save_checkpoint(tmp_path / "wrong_tag.pt", {"format": "fashion_core.train/1", "model": {}})
    return paths


def assert_names_the_file_and_how_to_start_over(error: CorruptCheckpointError, path: Path) -> None:
    message = str(error)
    assert error.path == path and str(path) in message
    assert f"rm {path.resolve()}" in message and "--fresh" in message


def test_corrupt_checkpoints_raise_one_error_naming_the_file(tmp_path):
    for kind, path in corrupt_copies(tmp_path).items():
        with pytest.raises(CorruptCheckpointError) as caught:
            load_checkpoint(path)
        assert_names_the_file_and_how_to_start_over(caught.value, path)
        with pytest.raises(CorruptCheckpointError) as caught:
            load_trained(make_model(), path)
        assert_names_the_file_and_how_to_start_over(caught.value, path)
        if kind in ("truncated", "empty"):
            with pytest.raises(CorruptCheckpointError) as caught:
                fit(make_model(), regression_loss, RegressionSet(), config(epochs=1), checkpoint_path=path)
            assert_names_the_file_and_how_to_start_over(caught.value, path)
    with pytest.raises(CorruptCheckpointError, match="truncated or not written by torch.save"):
        load_checkpoint(tmp_path / "truncated.pt")
    with pytest.raises(CorruptCheckpointError, match="the file is empty"):
        load_checkpoint(tmp_path / "empty.pt")
    with pytest.raises(CorruptCheckpointError, match="format 'fashion_core.train/1', expected 'fashion_core.train/2'"):
        load_checkpoint(tmp_path / "wrong_tag.pt")


def test_a_corrupt_identity_checkpoint_stops_fit_and_resume_false_replaces_it(tmp_path):
    spec = spec_for(tmp_path, config())
    train(tmp_path, config(epochs=1))
    path = spec.path(1)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptCheckpointError) as caught:
        train(tmp_path, config(epochs=1))
    assert_names_the_file_and_how_to_start_over(caught.value, path)
    with pytest.raises(CorruptCheckpointError):  # a corrupt sibling is reported, not silently skipped
        train(tmp_path, config(epochs=2))
    again = train(tmp_path, config(epochs=1), resume=False)
    assert again.started == f"fresh (resume=False), overwriting {path.name}"
    assert load_checkpoint(path)["epochs_completed"] == 1


# --------------------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("identity") / "synthfashion"
    generate(root, n_train=16, n_val=4, n_test=4, size=48, seed=2, formats=("deepfashion_c",), workers=1,
             progress=False)
    return root


def cli(root: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    return ["--model", "dafe", "--data", str(root), "--profile", "smoke", "--epochs", str(epochs), "--batch-size",
            "8", "--seed", "0", "--num-workers", "0", "--out", str(out), "--no-progress", *extra]


def checkpoint_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("checkpoint: ")]


def test_cli_epochs_3_then_1_trains_one_epoch_afresh(synth_root, tmp_path, capsys):
    out = tmp_path / "out"
    assert train_cli.main(cli(synth_root, out, 3)) == 0
    [three] = sorted(out.glob("dafe-seed0-*-e3.pt"))
    assert checkpoint_lines(capsys.readouterr().out) == [f"checkpoint: fresh, writing {three.name}"]
    three_metrics = json.loads((out / "metrics.json").read_text())
    before = three.read_bytes()

    assert train_cli.main(cli(synth_root, out, 1)) == 0
    one = three.with_name(three.name.replace("-e3.pt", "-e1.pt"))
    assert checkpoint_lines(capsys.readouterr().out) == [f"checkpoint: fresh, writing {one.name}"]
    assert three.read_bytes() == before
    one_metrics = json.loads((out / "metrics.json").read_text())
    assert one_metrics["history"]["epoch"] == [0] and load_checkpoint(one)["epochs_completed"] == 1
    # The same seed and identity: its one epoch is the first epoch of the 3-epoch run.
    assert one_metrics["history"]["loss"] == three_metrics["history"]["loss"][:1]

    assert train_cli.main(cli(synth_root, out, 1)) == 0
    assert checkpoint_lines(capsys.readouterr().out) == [f"checkpoint: complete {one.name}"]
    assert train_cli.main(cli(synth_root, out, 1, "--fresh")) == 0
    assert checkpoint_lines(capsys.readouterr().out) == [f"checkpoint: fresh (resume=False), overwriting {one.name}"]
    assert sorted(path.name for path in out.glob("*.pt")) == sorted([one.name, three.name])


# --------------------------------------------------------------------------- the notebooks' path
def test_load_trained_variant_finds_the_checkpoint_the_train_path_wrote(tmp_path, monkeypatch):
    from fashion_core import experiments  # the experiments layer, above this engine test's imports
    from fashion_core.data import splits
    from fashion_core.experiments import store

    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path / "workbook"))
    data = splits.load_deepfashion_c(write_deepfashion_c(tmp_path / "tree").root, 32, cache_images=False)
    settings = experiments.Settings(profile="smoke", dataset_label="x", backbone="resnet_mini", width=0.0625,
                                    input_size=32, pretrained=False, weights_path="", epochs=1, batch_size=3,
                                    optimizer="adam", lr=3e-3, lr_gamma=1.0, seeds=(0,), progress_bars=False)
    settings = settings.for_data(data)
    assert settings.data_fingerprint == data_fingerprint(data.train) == data_fingerprint(data)
    rows = experiments.for_benchmark(experiments.variants("dafe", ["fpn"]), "DeepFashion-C")
    by_model = {"dafe": {"lr": 1e-3}}  # as DAFE's FPM rows: the row trains at its own lr
    results = experiments.run_variants(rows, settings, data.train, data.test, attribute_types=(), num_categories=0,
                                       settings_by_model=by_model)
    experiments.write_metrics("dafe", settings, "DeepFashion-C", results, extra={"settings_by_model": by_model})
    assert store.load_metrics("smoke", "dafe")["settings"]["data_fingerprint"] == settings.data_fingerprint

    [path] = (tmp_path / "workbook" / "reports" / "smoke" / "checkpoints").glob("*.pt")
    assert path.name.startswith(f"{rows[0].key}-seed0-") and path.name.endswith("-e1.pt")
    assert load_checkpoint(path)["identity"]["train"]["lr"] == 1e-3
    model = experiments.load_trained_variant("smoke", "dafe", rows[0].key, 0, num_categories=0, num_attributes=0)
    assert_same_weights(model, load_trained(experiments.build_variant(rows[0], settings, 0, 0, seed=0), path))

    path.rename(path.with_name(path.name.replace("-e1.pt", "-e9.pt")))
    with pytest.raises(experiments.MissingMetricsError) as caught:
        experiments.load_trained_variant("smoke", "dafe", rows[0].key, 0, num_categories=0, num_attributes=0)
    message = str(caught.value)
    assert path.name in message and "the dafe_train notebook writes it" in message
    assert "looked for identity" in message and settings.data_fingerprint in message
    assert path.name.replace("-e1.pt", "-e9.pt") in message  # what is there instead
