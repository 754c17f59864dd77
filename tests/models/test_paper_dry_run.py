"""The paper profile's configs are consistent: each model, at paper size, takes one training step on CPU.

Each model is set up exactly as `python -m fashion_core.train --profile paper` sets it up
(params/paper/<notebook>.yaml over the notebook defaults: VGG16 or ResNet-50 at 224, 320 or
512 px, random weights since pretrained is switched off), on a 4-image training split written
in the paper's file format (DeepFashion-C or FashionAI) by SynthFashion, and fit() takes one
step of batch 4. Slow: paper-size trunks on a CPU.
"""
from __future__ import annotations

import math

import pytest
import torch

from fashion_core.engine import trainer
from fashion_core.cli import train
from fashion_core.data.synthfashion.writer import generate
from fashion_core.params import resolved_parameters
from fashion_core.paths import notebooks_dir

pytestmark = pytest.mark.slow

# Each paper's backbone and input size, as its paper states them (params/paper/*_train.yaml must agree).
PAPER_SIZES = {
    "fashionnet": ("vgg16", 224),
    "liu2018": ("vgg16", 224),
    "dafe": ("resnet50", 320),
    "fpm": ("vgg16", 512),
    "m2fashion": ("resnet50", 224),
    "retrieval_baseline": ("resnet50", 224),
}


@pytest.fixture(scope="module")
def paper_format_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper") / "synthfashion"
    # 512 px, the largest paper input, so no model upsamples. Seed 6 puts no Jumpsuit/Romper (which
    # FashionAI lacks) among the 4 training images and one of FPM's three paper categories in every
    # FashionAI split, which the paper profile keeps.
    generate(root, n_train=4, n_val=2, n_test=2, size=512, seed=6, formats=("deepfashion_c", "fashionai"),
             workers=1, progress=False)
    return root


@pytest.mark.parametrize("model_name", list(PAPER_SIZES))
def test_one_training_step_at_paper_size(model_name, paper_format_root, tmp_path):
    notebook = train.CLI_MODELS[model_name][0]
    params = resolved_parameters("paper", notebooks_dir() / f"{notebook}.ipynb")
    assert (params["backbone"], params["width"], params["input_size"]) == (*PAPER_SIZES[model_name][:1], 1.0,
                                                                          PAPER_SIZES[model_name][1])
    arguments = train.build_parser().parse_args(
        ["--model", model_name, "--data", str(paper_format_root), "--profile", "paper", "--epochs", "1",
         "--batch-size", "4", "--num-workers", "0", "--no-pretrained", "--out", str(tmp_path), "--no-progress"])
    run = train._cli_setup(arguments)
    assert len(run["train_set"]) == 4
    model = run["model"]
    before = {name: value.detach().clone() for name, value in model.state_dict().items()}
    steps = []
    config = trainer.TrainConfig(epochs=1, batch_size=4, optimizer=params["optimizer"], lr=params["lr"],
                                      seed=0, progress=False)
    result = trainer.fit(model, run["loss"], run["train_set"], config,
                              on_step=lambda epoch, step: steps.append(step))
    assert steps == [0]
    assert math.isfinite(result.history["loss"].iloc[0])
    changed = [name for name, value in model.state_dict().items()
               if value.is_floating_point() and not torch.equal(value, before[name])]
    assert changed, "the optimizer step changed no weight"
    # The trained model runs at the paper's input size.
    sample = run["data"].test[0]["image"].unsqueeze(0)
    assert sample.shape[-1] == params["input_size"]
    model.eval()
    with torch.inference_mode():
        outputs = model.features(sample) if model_name == "retrieval_baseline" else model(sample)
    if model_name in ("fashionnet", "liu2018", "dafe", "fpm"):
        points = 24 if model_name == "fpm" else 8
        assert outputs["landmarks"].shape == (1, points, 2)
