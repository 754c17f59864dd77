"""A trained model's embedding scored on In-shop query and gallery images (experiments.runs.inshop_scores)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fashion_core.data import splits
from fashion_core.data.synthfashion.inshop import generate_inshop
from fashion_core.data.synthfashion.writer import generate
from fashion_core.experiments.runs import inshop_scores
from fashion_core.metrics.inshop import INSHOP_TOPK
from fashion_core.reporting import tables


@pytest.fixture(scope="module")
def inshop(tmp_path_factory):
    root = tmp_path_factory.mktemp("inshop") / "tree"
    generate_inshop(root, 4, 40, (2, 4), size=48, seed=3, workers=1, progress=False)
    return splits.load_inshop(root, 32, cache_images=False, flip_train=False)


class ConstantEmbedding(nn.Module):
    """Every image gets the same embedding, so every gallery image ties and the lower index ranks first."""

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        count = image.shape[0]
        return {"landmarks": torch.zeros(count, 8, 2), "embedding": torch.ones(count, 4) / 2.0}


class NoEmbedding(nn.Module):
    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"landmarks": torch.zeros(image.shape[0], 8, 2)}


def test_tied_embeddings_rank_the_gallery_in_its_order(inshop):
    scores = inshop_scores(ConstantEmbedding(), inshop.query, inshop.gallery, batch_size=5)
    gallery_items = inshop.gallery.items
    for k in INSHOP_TOPK:
        top = set(gallery_items[:min(k, len(gallery_items))].tolist())
        expected = float(np.mean([item in top for item in inshop.query.items]))
        assert scores[f"inshop_top{k}"] == pytest.approx(expected), k
    # The first gallery image's item is never every query's: top-1 of a tie is not 1.
    assert scores["inshop_top1"] < 1.0


def test_a_model_without_an_embedding_is_refused(inshop):
    with pytest.raises(ValueError, match="returns no 'embedding'"):
        inshop_scores(NoEmbedding(), inshop.query, inshop.gallery)


def test_a_non_inshop_query_set_is_refused(inshop, tmp_path):
    generate(tmp_path / "s", n_train=4, n_val=2, n_test=2, size=48, seed=0, formats=("deepfashion_c",), workers=1,
             progress=False)
    data = splits.load_deepfashion_c(tmp_path / "s" / "deepfashion_c", 32, cache_images=False)
    with pytest.raises(ValueError, match="carry 'item'"):
        inshop_scores(ConstantEmbedding(), data.test, inshop.gallery)


def test_inshop_columns_need_the_recorded_scores():
    with pytest.raises(KeyError, match="no In-shop scores: run fashionnet_train again"):
        tables.inshop_entries({"rows": {}, "profile": "smoke"})
    columns = tables.inshop_entries({"rows": {}, "profile": "smoke", "dataset_label": "SynthFashion-smoke",
                                     "source": "synthfashion", "benchmark": "DeepFashion-C",
                                     "inshop_baselines": {"random": {"inshop_top1": 0.1},
                                                          "colour_histogram": {"inshop_top1": 0.5}}})
    assert [column["method"] for column in columns] == ["random embedding", "colour-histogram embedding"]
    assert columns[0]["dataset_label"] == "SynthFashion-smoke, In-shop format"
