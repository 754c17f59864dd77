"""CSN, the Conditional Similarity Network baseline of M2Fashion Table 3: shapes, one mask per condition, the
masked embedding and CSN's penalties by hand, gradients into the masks, its row and its retrieval."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fashion_core.experiments import m2fashion as m2
from fashion_core.experiments.variants import VARIANTS
from fashion_core.metrics import retrieval
from fashion_core.models import build_model
from fashion_core.models.m2fashion import triplet_loss
from fashion_core.models.retrieval_baselines import CSN_MASK_INIT, csn_penalties

TINY = {"backbone": "resnet_mini", "width": 0.0625, "input_size": 32, "feature_stride": 16}
DEFAULT = {"backbone": "resnet_mini", "width": 0.125, "input_size": 64, "feature_stride": 16}
NUM_CONDITIONS = 3


def _csn(size: dict = TINY, **kwargs):
    torch.manual_seed(0)
    return build_model("retrieval_baseline", num_categories=4, num_attributes=6, **size, condition="mask",
                       num_conditions=NUM_CONDITIONS, **kwargs)


@pytest.mark.parametrize("size", [TINY, DEFAULT], ids=["tiny", "default"])
def test_forward_shapes(size):
    model = _csn(size)
    dim = max(16, round(512 * size["width"]))
    image = torch.randn(2, 3, size["input_size"], size["input_size"])
    outputs = model(image, condition_index=torch.tensor([0, 1, 0]), condition_types=torch.tensor([0, 2, 1]))
    assert set(outputs) == {"condition_embedding", "unmasked_embedding", "condition_mask"}
    for key in outputs:
        assert outputs[key].shape == (3, dim) and torch.isfinite(outputs[key]).all()
    assert (outputs["condition_mask"] >= 0).all()
    assert model.conditions_on == "type" and model.tasks == "retrieval"
    with pytest.raises(ValueError, match="CSN model needs condition_types"):
        model(image, condition_index=torch.tensor([0]))


def test_one_learned_mask_per_condition_starts_as_csn_s():
    model = _csn(DEFAULT)
    dim = max(16, round(512 * DEFAULT["width"]))
    assert model.masks.shape == (NUM_CONDITIONS, dim) and model.masks.requires_grad
    weights = model.masks.detach()
    assert float(weights.mean()) == pytest.approx(CSN_MASK_INIT[0], abs=0.15)
    assert float(weights.std()) == pytest.approx(CSN_MASK_INIT[1], abs=0.15)
    # The masks of the conditions differ, and every image under one condition gets that condition's mask.
    masks = model.condition_masks(torch.arange(NUM_CONDITIONS))
    assert not torch.allclose(masks[0], masks[1])
    image = torch.randn(3, 3, 64, 64)
    outputs = model(image, condition_index=torch.tensor([0, 1, 2]), condition_types=torch.tensor([1, 1, 1]))
    torch.testing.assert_close(outputs["condition_mask"], torch.relu(weights[1]).expand(3, -1))
    torch.testing.assert_close(outputs["condition_embedding"], outputs["unmasked_embedding"] * torch.relu(weights[1]))


def test_the_masked_embedding_by_hand():
    model = _csn()
    with torch.no_grad():
        model.masks.zero_()
        model.masks[0, :4] = torch.tensor([1.0, 0.0, -1.0, 2.0])   # the negative entry masks its dimension out
        model.masks[1, :4] = torch.tensor([0.0, 1.0, 1.0, 0.0])
    shared = torch.zeros(2, model.masks.shape[1])
    shared[:, :4] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    features = torch.zeros(2, model.project.in_features, 2, 2)  # unused: the shared embedding is given
    embedded = model.condition_embedding(features, torch.tensor([0, 1]), None, shared)
    torch.testing.assert_close(embedded[0, :4], torch.tensor([1.0, 0.0, 0.0, 8.0]))
    torch.testing.assert_close(embedded[1, :4], torch.tensor([0.0, 2.0, 3.0, 0.0]))
    assert (embedded[:, 4:] == 0).all()
    # Without the precomputed embedding it is computed from the features: the same as the triplet network's.
    features = torch.randn(2, model.project.in_features, 2, 2)
    direct = model.condition_embedding(features, torch.tensor([0, 1]))
    torch.testing.assert_close(direct, model.shared_embedding(features) * model.condition_masks(torch.tensor([0, 1])))
    torch.testing.assert_close(model.precompute(features), model.shared_embedding(features))


def test_csn_penalties_by_hand():
    # One triplet: the anchor's embedding has norm 5, the positive's 0, the negative's 10; masks of L1 norm 3.
    unmasked = torch.tensor([[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]])
    masks = torch.tensor([[1.0, 2.0]] * 3)
    embedding_norm, mask_norm = csn_penalties(unmasked, masks)
    assert float(embedding_norm) == pytest.approx(5.0) and float(mask_norm) == pytest.approx(3.0)
    # Two triplets: each role's Frobenius norm over the batch (anchors 5, positives sqrt 2, negatives 10),
    # divided by sqrt(M), as the CSN code computes it.
    unmasked = torch.tensor([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [6.0, 8.0], [0.0, 0.0]])
    masks = torch.tensor([[1.0, 0.0], [0.0, 3.0]] * 3)
    embedding_norm, mask_norm = csn_penalties(unmasked, masks)
    expected = (5.0 + math.sqrt(2) + 10.0) / 3 / math.sqrt(2)
    assert float(embedding_norm) == pytest.approx(expected) and float(mask_norm) == pytest.approx(2.0)
    empty = torch.zeros(0, 2, requires_grad=True)
    assert [float(term.detach()) for term in csn_penalties(empty, empty)] == [0.0, 0.0]


def test_the_loss_is_the_triplet_term_plus_csn_s_weighted_penalties():
    model = _csn()
    image = torch.randn(4, 3, 32, 32)
    outputs = model(image, condition_index=torch.tensor([0, 1, 2, 3, 2, 1]), condition_types=torch.tensor([0, 2] * 3))
    losses = model.compute_loss(outputs, {}, 0)
    anchor, positive, negative = outputs["condition_embedding"].chunk(3)
    torch.testing.assert_close(losses["triplet"], triplet_loss(anchor, positive, negative, 0.2, "cosine"))
    embedding_norm, mask_norm = csn_penalties(outputs["unmasked_embedding"], outputs["condition_mask"])
    torch.testing.assert_close(losses["loss"], losses["triplet"] + 5e-3 * embedding_norm + 5e-4 * mask_norm)
    assert (model.embedding_l2_weight, model.mask_l1_weight) == (5e-3, 5e-4)
    heavier = _csn(mask_l1_weight=1.0, embedding_l2_weight=0.0).compute_loss(outputs, {}, 0)
    torch.testing.assert_close(heavier["loss"], losses["triplet"] + mask_norm)
    with pytest.raises(ValueError, match="penalty weights"):
        _csn(mask_l1_weight=-1.0)


def test_gradient_reaches_the_masks_of_the_conditions_used_and_only_their_positive_entries():
    model = _csn()
    image = torch.randn(4, 3, 32, 32)
    outputs = model(image, condition_index=torch.tensor([0, 1, 2, 3, 2, 1]), condition_types=torch.tensor([0, 2] * 3))
    model.compute_loss(outputs, {}, 0)["loss"].backward()
    gradient, weights = model.masks.grad, model.masks.detach()
    for condition in (0, 2):
        active = weights[condition] > 0
        assert (gradient[condition][active] != 0).all()
        assert (gradient[condition][~active] == 0).all()   # ReLU: an entry at or below 0 gets no gradient
    assert (gradient[1] == 0).all()                        # condition 1 took no triplet
    assert model.project.weight.grad.abs().sum() > 0


def test_the_csn_row_trains_like_the_other_baselines():
    row = VARIANTS["m2fashion"]["csn"]
    assert (row.key, row.name, row.model) == ("m2fashion_csn", "CSN (conditional similarity network)",
                                              "retrieval_baseline")
    variant = m2.model_variant(row, m2.Options(), num_types=5)
    assert variant.model_kwargs == {"condition": "mask", "feature_stride": 16, "similarity": "cosine",
                                    "triplet_rule": "shared_attribute", "num_conditions": 5}
    triplet = m2.model_variant(VARIANTS["m2fashion"]["triplet"], m2.Options(), num_types=5).model_kwargs
    assert {key: value for key, value in variant.model_kwargs.items() if key != "condition"} == \
        {key: value for key, value in triplet.items() if key != "condition"}


def test_retrieval_ranks_csn_s_masked_embeddings_per_type():
    model = _csn().eval()
    rng = np.random.default_rng(0)
    attributes = (rng.random((12, 6)) < 0.4).astype(np.int8)
    types = np.array([1, 1, 2, 2, 3, 3])
    features = torch.randn(12, model.project.in_features, 2, 2)
    split = retrieval.retrieval_split(12, 3)
    result = retrieval.retrieval_metrics(model, features, attributes, types, split)
    assert {"map_texture", "map_fabric", "map_shape", "map_all"} <= set(result)
    assert all(0.0 <= value <= 1.0 for value in result.values() if not np.isnan(value))
    # Each condition is ranked under its own mask: another mask for texture leaves fabric's mAP as it was.
    seen = []
    embed = model.condition_embedding
    model.condition_embedding = lambda *args: seen.append(args[1][0].item()) or embed(*args)
    with torch.no_grad():
        model.masks[0] = torch.rand(model.masks.shape[1]) + 0.1
    changed = retrieval.retrieval_metrics(model, features, attributes, types, split)
    assert changed["map_fabric"] == result["map_fabric"] and changed["map_shape"] == result["map_shape"]
    assert set(seen) == {0, 1, 2}  # the type column of each condition reaches the model
