"""FashionNet's losses and schedule: the weighted attribute loss (shared with Liu & Lu) and its weights from the
training split, the alternating two-step schedule, triplets by item identity, and the checkpoint identity."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fashion_core.data import splits
from fashion_core.data.synthfashion.writer import generate
from fashion_core.experiments import runs
from fashion_core.experiments.variants import Settings, Variant
from fashion_core.models import build_model
from fashion_core.models.fashionnet import (DEFAULT_SCHEDULE_CYCLE, DEFAULT_STAGE1_WEIGHTS, DEFAULT_STAGE2_WEIGHTS,
                                           batch_hard_triplet_loss)
from fashion_core.models.losses import positive_class_weights, weighted_attribute_bce

TINY = {"backbone": "vgg_mini", "width": 0.0625, "input_size": 32}

# Two images, three attributes; the formula below is written out by hand.
LOGITS = torch.tensor([[2.0, -1.0, 0.5], [-0.5, 1.0, 0.0]])
TARGETS = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
POSITIVE_WEIGHTS = torch.tensor([3.0, 1.5, 9.0])


def _bce(z: float, y: float) -> float:
    probability = 1.0 / (1.0 + math.exp(-z))
    return -math.log(probability) if y else -math.log(1.0 - probability)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory):
    """A SynthFashion DeepFashion-C tree, 12 training, 4 validation, 6 test images, loaded at 32 px."""
    root = tmp_path_factory.mktemp("fashionnet_losses") / "synthfashion"
    generate(root, n_train=12, n_val=4, n_test=6, size=64, seed=3, formats=("deepfashion_c",), workers=1,
             progress=False)
    return splits.load_deepfashion_c(root / "deepfashion_c", 32, cache_images=False)


def _fake_batch(n: int, num_categories: int = 3, num_attributes: int = 4) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {
        "image": torch.randn(n, 3, 32, 32, generator=generator),
        "landmarks": torch.rand(n, 8, 2, generator=generator) * 32,
        "visibility": torch.randint(0, 3, (n, 8), generator=generator),
        "category": torch.arange(n) % num_categories,
        "attributes": (torch.rand(n, num_attributes, generator=generator) < 0.3).float(),
    }


# --------------------------------------------------------------------------- the weighted attribute loss
def test_weighted_attribute_loss_is_the_stated_formula_and_not_bce():
    loss = weighted_attribute_bce(LOGITS, TARGETS, POSITIVE_WEIGHTS, 1.0)
    numerator = denominator = 0.0
    for n in range(2):
        for k in range(3):
            y = float(TARGETS[n, k])
            w = float(POSITIVE_WEIGHTS[k]) if y else 1.0
            numerator += w * _bce(float(LOGITS[n, k]), y)
            denominator += w
    assert loss.item() == pytest.approx(numerator / denominator, rel=1e-6)
    bce = F.binary_cross_entropy_with_logits(LOGITS, TARGETS)
    assert abs(loss.item() - bce.item()) > 0.05
    # Unit weights are plain BCE; scaling every weight by one constant changes nothing (the normalisation).
    torch.testing.assert_close(weighted_attribute_bce(LOGITS, TARGETS, 1.0, 1.0), bce)
    torch.testing.assert_close(weighted_attribute_bce(LOGITS, TARGETS, 10 * POSITIVE_WEIGHTS, 10.0), loss)


def test_liu2018_uses_the_shared_loss_with_its_fixed_weights():
    model = build_model("liu2018", num_categories=3, num_attributes=3, **TINY)
    outputs = {"heatmaps": torch.zeros(2, 8, 32, 32), "category_logits": torch.zeros(2, 3), "attribute_logits": LOGITS}
    batch = {"landmarks": torch.full((2, 8, 2), 5.0), "visibility": torch.zeros(2, 8, dtype=torch.long),
             "category": torch.tensor([0, 1]), "attributes": TARGETS}
    expected = weighted_attribute_bce(LOGITS, TARGETS, 1.0, 0.1)
    torch.testing.assert_close(model.compute_loss(outputs, batch, 0)["attribute"], expected)
    assert abs(expected.item() - F.binary_cross_entropy_with_logits(LOGITS, TARGETS).item()) > 0.05


def test_attribute_loss_refuses_a_label_count_the_model_does_not_have():
    with pytest.raises(ValueError, match=r"do not match the logits \(2, 3\)"):
        weighted_attribute_bce(LOGITS, TARGETS[:, :2], 1.0, 1.0)
    assert weighted_attribute_bce(LOGITS, torch.zeros(2, 0), 1.0, 1.0).item() == 0.0  # no labels (FashionAI)


def test_positive_weights_are_the_negatives_to_positives_ratio_of_the_labels():
    labels = np.zeros((10, 4), dtype=np.int8)
    labels[:1, 0] = 1   # p = 0.1 -> 9
    labels[:5, 1] = 1   # p = 0.5 -> 1
    labels[:8, 2] = 1   # p = 0.8 -> 0.25
    labels[:, 3] = -1   # no positive: p clamped to 1 / 10 -> 9
    torch.testing.assert_close(positive_class_weights(labels, per_attribute=True), torch.tensor([9.0, 1.0, 0.25, 9.0]))
    # One ratio for all: 14 positives among 40 labels.
    torch.testing.assert_close(positive_class_weights(labels), torch.full((4,), 26.0 / 14.0))
    assert torch.isfinite(positive_class_weights(np.ones((3, 2)), per_attribute=True)).all()
    with pytest.raises(ValueError, match=r"\(N, K\) labels"):
        positive_class_weights(np.ones(3))


def test_fashionnet_attribute_loss_is_weighted_by_default_and_bce_on_request():
    batch = _fake_batch(4)
    weighted = build_model("fashionnet", num_categories=3, num_attributes=4, **TINY)
    plain = build_model("fashionnet", num_categories=3, num_attributes=4, attribute_loss="bce", **TINY)
    plain.load_state_dict({k: v for k, v in weighted.state_dict().items() if k != "attribute_positive_weight"})
    with pytest.raises(RuntimeError, match="set_training_attributes"):
        weighted.compute_loss(weighted(batch["image"]), batch, 0)
    training = torch.tensor([[1, 0, 0, 1], [0, 0, 1, 1], [0, 1, 0, 1], [0, 0, 0, 0]])
    weighted.set_training_attributes(training)  # 6 positives among 16 labels: positives weigh 10 / 6
    torch.testing.assert_close(weighted.attribute_positive_weight, torch.full((4,), 10.0 / 6.0))
    per_attribute = build_model("fashionnet", num_categories=3, num_attributes=4,
                                attribute_loss="weighted_per_attribute", **TINY)
    per_attribute.set_training_attributes(training)
    torch.testing.assert_close(per_attribute.attribute_positive_weight, torch.tensor([3.0, 3.0, 3.0, 1.0 / 3.0]))
    outputs = weighted(batch["image"])
    got = weighted.compute_loss(outputs, batch, 0)["attribute"]
    torch.testing.assert_close(got, weighted_attribute_bce(outputs["attribute_logits"], batch["attributes"],
                                                           torch.full((4,), 10.0 / 6.0), 1.0))
    assert per_attribute.compute_loss(outputs, batch, 0)["attribute"] != got
    bce = plain.compute_loss(outputs, batch, 0)["attribute"]
    torch.testing.assert_close(bce, F.binary_cross_entropy_with_logits(outputs["attribute_logits"], batch["attributes"]))
    assert abs(got.item() - bce.item()) > 1e-3
    with pytest.raises(ValueError, match="attribute_loss"):
        build_model("fashionnet", num_categories=3, num_attributes=4, attribute_loss="focal", **TINY)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        weighted.set_training_attributes(training[:, :3])
    with pytest.raises(RuntimeError, match="a weighted attribute_loss"):
        plain.set_training_attributes(training)


def test_the_weights_come_from_the_training_split_and_travel_in_the_checkpoint(synth_data):
    annotations = synth_data.annotations
    model = build_model("fashionnet", num_categories=len(annotations.category_names),
                        num_attributes=len(annotations.attribute_names), **TINY)
    runs.set_training_statistics(model, synth_data.train)
    train, test = (annotations.attributes[annotations.indices(split)] for split in ("train", "test"))
    expected = torch.full((train.shape[1],), float((train <= 0).sum() / (train > 0).sum()))
    torch.testing.assert_close(model.attribute_positive_weight, expected)
    assert not torch.allclose(positive_class_weights(test), expected)  # so the test would see the wrong split
    # A loaded checkpoint brings its weights: the rebuilt model trains without being told again.
    rebuilt = build_model("fashionnet", num_categories=len(annotations.category_names),
                          num_attributes=len(annotations.attribute_names), **TINY)
    rebuilt.load_state_dict(model.state_dict())
    batch = next(iter(torch.utils.data.DataLoader(synth_data.train, batch_size=4)))
    assert torch.isfinite(rebuilt.compute_loss(rebuilt(batch["image"]), batch, 0)["attribute"])
    # Models without a weighted attribute loss, or without attributes (FashionAI), need nothing.
    for kwargs in ({"attribute_loss": "bce"}, {"landmarks_only": True}):
        plain = build_model("fashionnet", num_categories=3, num_attributes=4, **TINY, **kwargs)
        runs.set_training_statistics(plain, synth_data.train)
        assert not hasattr(plain, "attribute_positive_weight")
    keypoints_only = build_model("fashionnet", num_categories=5, num_attributes=0, num_landmarks=24, **TINY)
    assert not keypoints_only.needs_training_attributes
    runs.set_training_statistics(keypoints_only, object())  # FashionAI annotations have no attributes


# --------------------------------------------------------------------------- the two-step schedule
def test_the_schedule_alternates_over_cycles():
    model = build_model("fashionnet", num_categories=3, num_attributes=4, schedule_cycle=(2, 1), **TINY)
    assert [model.loss_step(epoch) for epoch in range(8)] == [1, 1, 2, 1, 1, 2, 1, 1]
    assert model.loss_weights(3) == model.stage1_weights and model.loss_weights(5) == model.stage2_weights
    default = build_model("fashionnet", num_categories=3, num_attributes=4, **TINY)
    assert default.loss_schedule == "alternating" and default.schedule_cycle == DEFAULT_SCHEDULE_CYCLE
    switched = build_model("fashionnet", num_categories=3, num_attributes=4, loss_schedule="single_switch",
                           loss_schedule_switch_epoch=3, **TINY)
    assert [switched.loss_step(epoch) for epoch in range(6)] == [1, 1, 1, 2, 2, 2]
    pose_only = build_model("fashionnet", num_categories=0, num_attributes=0, landmarks_only=True,
                            schedule_cycle=(1, 1), **TINY)
    assert [pose_only.loss_step(epoch) for epoch in range(4)] == [1, 1, 1, 1]
    batch = _fake_batch(4)
    pose = pose_only.compute_loss(pose_only(batch["image"]), batch, 1)
    torch.testing.assert_close(pose["loss"], DEFAULT_STAGE1_WEIGHTS["landmark"] * pose["landmark"]
                               + DEFAULT_STAGE1_WEIGHTS["visibility"] * pose["visibility"])


def test_each_schedule_takes_only_its_own_argument():
    for kwargs, message in (({"loss_schedule_switch_epoch": 3}, "belongs to loss_schedule='single_switch'"),
                            ({"loss_schedule": "single_switch"}, "needs loss_schedule_switch_epoch"),
                            ({"loss_schedule": "single_switch", "loss_schedule_switch_epoch": 2,
                              "schedule_cycle": (1, 1)}, "belongs to loss_schedule='alternating'"),
                            ({"schedule_cycle": (2, 0)}, "two integers >= 1"),
                            ({"schedule_cycle": (3,)}, "two integers >= 1"),
                            ({"loss_schedule": "cosine"}, "loss_schedule must be one of")):
        with pytest.raises(ValueError, match=message):
            build_model("fashionnet", num_categories=3, num_attributes=4, **TINY, **kwargs)


def test_step_one_favours_the_pose_terms_and_step_two_the_others():
    pose, others = ("landmark", "visibility"), ("category", "attribute", "triplet")
    for name in pose:
        assert DEFAULT_STAGE1_WEIGHTS[name] > DEFAULT_STAGE2_WEIGHTS[name], name
    for name in others:
        assert DEFAULT_STAGE1_WEIGHTS[name] < DEFAULT_STAGE2_WEIGHTS[name], name


def test_the_loss_is_the_weighted_sum_of_its_step():
    model = build_model("fashionnet", num_categories=3, num_attributes=4, attribute_loss="bce",
                        schedule_cycle=(1, 2), **TINY)
    batch = _fake_batch(4)
    outputs = model(batch["image"])
    for epoch, weights in ((0, model.stage1_weights), (1, model.stage2_weights), (3, model.stage1_weights)):
        losses = model.compute_loss(outputs, batch, epoch)
        assert set(losses) == {"loss", "landmark", "visibility", "category", "attribute", "triplet"}
        torch.testing.assert_close(losses["loss"], sum(weights[name] * losses[name] for name in weights))


# --------------------------------------------------------------------------- triplets
def test_triplets_are_mined_by_item_when_the_batch_has_items():
    # Four unit embeddings on a circle; category pairs (0, 1) and (2, 3), item pairs (0, 2) and (1, 3).
    angles = torch.tensor([0.0, 0.3, 0.6, 2.0])
    embedding = torch.stack([angles.cos(), angles.sin()], dim=1)
    category, item = torch.tensor([0, 0, 1, 1]), torch.tensor([5, 7, 5, 7])
    by_item = batch_hard_triplet_loss(embedding, item, margin=0.2)
    by_category = batch_hard_triplet_loss(embedding, category, margin=0.2)
    distance = torch.cdist(embedding, embedding).tolist()
    # Anchor 0: hardest positive 2 (same item), hardest negative the nearest of another item, 1.
    hinge = [max(0.0, distance[a][p] - min(distance[a][n] for n in range(4) if item[n] != item[a]) + 0.2)
             for a, p in ((0, 2), (1, 3), (2, 0), (3, 1))]
    assert by_item.item() == pytest.approx(sum(hinge) / 4, rel=1e-5)
    assert abs(by_item.item() - by_category.item()) > 0.05

    model = build_model("fashionnet", num_categories=2, num_attributes=4, attribute_loss="bce", **TINY)
    batch = dict(_fake_batch(4, num_categories=2), category=category)
    outputs = dict(model(batch["image"]), embedding=embedding)
    with_items = model.compute_loss(outputs, dict(batch, item=item), 0)["triplet"]
    without = model.compute_loss(outputs, batch, 0)["triplet"]
    torch.testing.assert_close(with_items, by_item)
    torch.testing.assert_close(without, by_category)


# --------------------------------------------------------------------------- checkpoint identity
def test_the_new_switches_are_part_of_the_checkpoint_identity(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "reports_dir", lambda profile: tmp_path / profile)
    settings = Settings(profile="smoke", dataset_label="SynthFashion", backbone="vgg_mini", width=0.0625,
                        input_size=32, pretrained=False, weights_path="", epochs=2, batch_size=4, optimizer="adam",
                        lr=1e-3, lr_gamma=1.0, seeds=(0,))
    names = set()
    for kwargs in ({}, {"attribute_loss": "bce"}, {"schedule_cycle": (2, 1)}, {"schedule_cycle": (1, 2)},
                   {"loss_schedule": "single_switch", "loss_schedule_switch_epoch": 1}):
        variant = Variant("fashionnet", "FashionNet", "fashionnet", kwargs)
        model = runs.build_variant(variant, settings, 3, 4, 0)
        names.add(runs.checkpoint_path(settings, variant, 0, model, 3, 4).name)
    assert len(names) == 5, names
