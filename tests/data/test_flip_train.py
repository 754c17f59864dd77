"""train_flips reaches the FLD and FashionAI training splits, their fingerprint, the notebooks and the training CLI."""
from __future__ import annotations

import argparse

import pytest

from fashion_core.cli.train import _cli_data
from fashion_core.data import fashionai, splits
from fashion_core.data.fingerprint import data_fingerprint
from fashion_core.data.synthfashion import generate
from fashion_core.params import resolved_parameters
from fashion_core.paths import notebooks_dir

LOADERS = {"fld": splits.load_fld, "fashionai": splits.load_fashionai}


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthfashion")
    generate(root, n_train=40, n_val=20, n_test=20, size=64, seed=3, formats=("fld", "fashionai"), workers=1,
             progress=False)
    return root


def flipped_items(dataset, epochs=range(3), seeds=(0, 1)) -> int:
    """How many (seed, epoch, item) samples the dataset mirrors, read from the samples themselves."""
    count = 0
    for seed in seeds:
        dataset.seed = seed
        for epoch in epochs:
            dataset.set_epoch(epoch)
            count += sum(bool(sample["flipped"]) for sample in dataset.__getitems__(list(range(len(dataset)))))
    return count


@pytest.mark.parametrize("name", list(LOADERS))
def test_flip_train_false_gives_a_training_split_that_never_flips(synth_root, name):
    flipping = LOADERS[name](synth_root / name, 32, cache_images=False)
    fixed = LOADERS[name](synth_root / name, 32, cache_images=False, flip_train=False)
    assert (flipping.train.flip, flipping.val.flip, flipping.test.flip) == (True, False, False)
    assert (fixed.train.flip, fixed.val.flip, fixed.test.flip) == (False, False, False)
    assert flipped_items(flipping.train) > 0
    assert flipped_items(fixed.train) == 0


@pytest.mark.parametrize("name", list(LOADERS))
def test_the_fingerprint_tells_a_flipping_training_split_from_a_fixed_one(synth_root, name):
    flipping = LOADERS[name](synth_root / name, 32, cache_images=False)
    fixed = LOADERS[name](synth_root / name, 32, cache_images=False, flip_train=False)
    assert data_fingerprint(flipping) != data_fingerprint(fixed)
    assert data_fingerprint(fixed) == data_fingerprint(LOADERS[name](synth_root / name, 32, flip_train=False))


def test_keeping_fashionai_categories_keeps_the_training_split_fixed(synth_root):
    fixed = splits.load_fashionai(synth_root / "fashionai", 32, cache_images=False, flip_train=False)
    # Hu et al.'s three categories: every split of this tree has some (tests/metrics/test_fashionai_protocols.py).
    assert fashionai.keep_categories(fixed, ["blouse", "trousers", "dress"]).train.flip is False


@pytest.mark.parametrize("name", list(LOADERS))
def test_the_training_cli_passes_train_flips(synth_root, name):
    args = argparse.Namespace(data=str(synth_root))
    assert _cli_data(args, name, 32, False, train_flips=False).train.flip is False
    assert _cli_data(args, name, 32, False).train.flip is True


@pytest.mark.parametrize("notebook", ["dafe_train", "fpm_train"])
def test_dafe_and_fpm_notebooks_pass_train_flips_to_their_loaders(notebook):
    path = notebooks_dir() / f"{notebook}.ipynb"
    assert resolved_parameters("default", path)["train_flips"] is True
    # Neither paper describes any training augmentation: the paper profile trains on the crops as they are.
    assert resolved_parameters("paper", path)["train_flips"] is False
    assert "flip_train=train_flips" in path.read_text(encoding="utf-8")
