"""End to end on the real code path: SynthFashion files -> loader -> torch dataset -> trainer.

The same seed must give identical training metrics, whatever the number of DataLoader workers.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from fashion_core.data.datasets import CategoryAttributeDataset, HeatmapSpec
from fashion_core.data.deepfashion import read_category_attribute
from fashion_core.data.synthfashion.writer import generate
from fashion_core.metrics.functional import normalized_error
from fashion_core.engine.trainer import fit, TrainConfig

INPUT_SIZE = 64


@pytest.fixture(scope="module")
def synth_annotations(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "synthfashion"
    generate(root, n_train=24, n_val=8, n_test=8, size=80, seed=3, formats=("deepfashion_c",), workers=1, progress=False)
    return read_category_attribute(root / "deepfashion_c")


class TinyLandmarkNet(nn.Module):
    def __init__(self, n_categories: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
        )
        self.landmarks = nn.Linear(16 * 16, 16)
        self.category = nn.Linear(16 * 16, n_categories)

    def forward(self, image):
        features = self.features(image)
        return self.landmarks(features).view(-1, 8, 2) * INPUT_SIZE, self.category(features)


def _loss(model, batch, epoch):
    landmarks, category_logits = model(batch["image"])
    present = (batch["visibility"] >= 0).unsqueeze(-1)
    landmark_loss = (((landmarks - batch["landmarks"]) / INPUT_SIZE) ** 2 * present).mean()
    category_loss = nn.functional.cross_entropy(category_logits, batch["category"])
    return {"loss": landmark_loss + category_loss, "landmark": landmark_loss, "category": category_loss}


def _evaluate(model, loader):
    predictions, targets, visible = [], [], []
    for batch in loader:
        predictions.append(model(batch["image"])[0])
        targets.append(batch["landmarks"])
        visible.append(batch["visible"])
    error = normalized_error(torch.cat(predictions), torch.cat(targets), torch.cat(visible), INPUT_SIZE)
    return {"val_ne": error["mean"]}


def _train(annotations, seed: int, workers: int, tmp_path):
    torch.manual_seed(seed)
    model = TinyLandmarkNet(len(annotations.category_names))
    train_set = CategoryAttributeDataset(annotations, "train", INPUT_SIZE, flip=True,
                                         heatmaps=HeatmapSpec(kernel="liu_lu", radius=2.0, stride=4), seed=seed)
    val_set = CategoryAttributeDataset(annotations, "val", INPUT_SIZE)
    config = TrainConfig(epochs=2, batch_size=8, lr=3e-3, seed=seed, num_workers=workers, progress=False)
    result = fit(model, _loss, train_set, config, val_set=val_set, evaluate=_evaluate,
                 checkpoint_path=tmp_path / f"seed{seed}-workers{workers}.pt")
    return result.history.drop(columns=["seconds"]), model.state_dict()


def test_same_seed_same_metrics_regardless_of_workers(synth_annotations, tmp_path):
    history_a, weights_a = _train(synth_annotations, seed=1, workers=0, tmp_path=tmp_path)
    history_b, weights_b = _train(synth_annotations, seed=1, workers=2, tmp_path=tmp_path)
    assert history_a.equals(history_b), f"\n{history_a}\n{history_b}"
    assert all(torch.equal(weights_a[name], weights_b[name]) for name in weights_a)


def test_different_seed_different_metrics(synth_annotations, tmp_path):
    history_a, _ = _train(synth_annotations, seed=1, workers=0, tmp_path=tmp_path)
    history_c, _ = _train(synth_annotations, seed=2, workers=0, tmp_path=tmp_path)
    assert not history_a["loss"].equals(history_c["loss"])
