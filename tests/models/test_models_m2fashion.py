"""M2Fashion and its retrieval baselines: output shapes, the switches, label masks, triplets, overfitting."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from fashion_core.experiments import m2fashion as m2
from fashion_core.experiments.variants import VARIANTS
from fashion_core.data.datasets import CategoryAttributeDataset
from fashion_core.data.deepfashion import read_category_attribute
from fashion_core.data.synthfashion.writer import generate
from fashion_core.metrics.retrieval import type_value_ids
from fashion_core.models import build_model, MODEL_NAMES
from fashion_core.models.m2fashion import (
    label_mask,
    label_mask_statistics,
    label_states,
    min_unknown,
    revealed_labels,
    sample_triplets,
    similarity,
    triplet_candidates,
    triplet_loss,
)

NUM_CATEGORIES, NUM_ATTRIBUTES = 7, 12
TINY = {"backbone": "resnet_mini", "width": 0.0625, "input_size": 32, "feature_stride": 16}
DEFAULT = {"backbone": "resnet_mini", "width": 0.125, "input_size": 64, "feature_stride": 16}
SWITCHES = [{}, {"asa": False}, {"aca": False}, {"asa": False, "aca": False}, {"pooling": "gap"},
            {"tasks": "category"}, {"tasks": "attribute"}, {"similarity": "printed"},
            {"triplet_rule": "same_value"}, {"all_unknown_share": 0.5}]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _m2fashion(size: dict, **switches):
    return build_model("m2fashion", num_categories=NUM_CATEGORIES, num_attributes=NUM_ATTRIBUTES, **size, **switches)


def _baseline(size: dict, condition: str):
    return build_model("retrieval_baseline", num_categories=NUM_CATEGORIES, num_attributes=NUM_ATTRIBUTES, **size,
                       condition=condition, num_conditions=3)


def _states(n: int) -> torch.Tensor:
    return torch.randint(-1, 2, (n, NUM_ATTRIBUTES), generator=torch.Generator().manual_seed(3)).float()


def _check_m2fashion_outputs(model, size: dict, n: int = 2):
    side = size["input_size"] // size["feature_stride"]
    dim = max(16, round(512 * size["width"]))
    image = torch.randn(n, 3, size["input_size"], size["input_size"])
    index = torch.tensor([0, n - 1, n - 1])
    outputs = model(image, _states(n), condition_index=index, condition_types=torch.zeros(3, dtype=torch.long),
                    condition_states=_states(3))
    assert outputs["category_logits"].shape == (n, NUM_CATEGORIES)
    assert outputs["attribute_logits"].shape == (n, NUM_ATTRIBUTES)
    assert outputs["embedding"].shape == (n, dim)
    assert outputs["condition_embedding"].shape == (3, dim)
    if model.asa:
        assert outputs["attention"].shape == (n, 1, side, side)
        torch.testing.assert_close(outputs["attention"].sum(dim=(1, 2, 3)), torch.ones(n))
    else:
        assert "attention" not in outputs
    assert all(torch.isfinite(value).all() for value in outputs.values())


def test_registered():
    assert {"m2fashion", "retrieval_baseline"} <= set(MODEL_NAMES)


@pytest.mark.parametrize("switches", SWITCHES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "full")
def test_tiny_shapes_for_every_switch(switches):
    _check_m2fashion_outputs(_m2fashion(TINY, **switches), TINY)


def test_default_shapes():
    _check_m2fashion_outputs(_m2fashion(DEFAULT), DEFAULT, n=3)


@pytest.mark.slow
def test_paper_shapes_resnet50_at_224():
    size = {"backbone": "resnet50", "width": 1.0, "input_size": 224, "feature_stride": 32}
    model = _m2fashion(size).eval()
    with torch.no_grad():
        _check_m2fashion_outputs(model, size, n=1)
    assert model.trunk.reduce.out_channels == 512


@pytest.mark.parametrize("condition", ["none", "type"])
@pytest.mark.parametrize("size", [TINY, DEFAULT], ids=["tiny", "default"])
def test_retrieval_baseline_shapes(condition, size):
    model = _baseline(size, condition)
    image = torch.randn(2, 3, size["input_size"], size["input_size"])
    outputs = model(image, condition_index=torch.tensor([0, 1, 0]), condition_types=torch.tensor([0, 2, 1]))
    dim = max(16, round(512 * size["width"]))
    assert outputs["condition_embedding"].shape == (3, dim)
    assert ("embedding" in outputs) == (condition == "none")
    assert ("attention" in outputs) == (condition == "type")
    assert model.conditions_on == ("nothing" if condition == "none" else "type")


def test_states_reach_the_output_only_through_the_attention_modules():
    image = torch.randn(2, 3, 32, 32)
    zeros, states = torch.zeros(2, NUM_ATTRIBUTES), _states(2)
    for switches, changes in (({}, True), ({"asa": False}, True), ({"aca": False}, True),
                              ({"asa": False, "aca": False}, False)):
        model = _m2fashion(TINY, **switches).eval()
        with torch.no_grad():
            moved = not torch.allclose(model(image, zeros)["attribute_logits"], model(image, states)["attribute_logits"])
        assert moved == changes, switches


def test_gap_is_the_attention_weighted_sum_and_gmp_the_scaled_max():
    model = _m2fashion(TINY, pooling="gap").eval()
    features = torch.randn(2, model.trunk.reduce.out_channels, 2, 2)
    condition = torch.randn(2, features.shape[1])
    pooled, alpha = model.spatial_attention(features, condition)
    torch.testing.assert_close(pooled, (alpha * features).sum(dim=(2, 3)))
    model.spatial_attention.pooling = "gmp"
    pooled, alpha = model.spatial_attention(features, condition)
    torch.testing.assert_close(pooled, 4 * (alpha * features).amax(dim=(2, 3)))


def test_bad_switches_are_refused():
    with pytest.raises(ValueError, match="pooling"):
        _m2fashion(TINY, pooling="sum")
    with pytest.raises(ValueError, match="tasks"):
        _m2fashion(TINY, tasks="both")
    with pytest.raises(ValueError, match="gallery_condition"):
        _m2fashion(TINY, gallery_condition="gallery")
    with pytest.raises(ValueError, match="feature_stride"):
        _m2fashion({**TINY, "feature_stride": 8})
    with pytest.raises(ValueError, match="input_size"):
        build_model("m2fashion", num_categories=3, num_attributes=4, backbone="resnet_mini", width=0.0625,
                    input_size=48, feature_stride=32)


# ----------------------------------------------------------------------------- label masks
@pytest.mark.parametrize("num_labels", [1, 4, 67, 1000])
def test_unknown_count_always_lies_between_a_quarter_and_all_labels(num_labels):
    counts = [label_mask(seed, epoch, row, num_labels).sum() for seed in range(3) for epoch in range(3)
              for row in range(40)]
    assert min(counts) >= min_unknown(num_labels) == math.ceil(0.25 * num_labels)
    assert max(counts) <= num_labels
    if num_labels >= 67:  # the draw is uniform over the range, so it covers it
        assert min(counts) < 0.4 * num_labels and max(counts) > 0.9 * num_labels


def test_same_seed_same_mask_and_epochs_differ():
    first = label_mask(5, 2, 17, 67)
    np.testing.assert_array_equal(first, label_mask(5, 2, 17, 67))
    others = [label_mask(5, epoch, 17, 67) for epoch in (0, 1, 3)] + [label_mask(6, 2, 17, 67)]
    assert any(not np.array_equal(first, other) for other in others)


def test_all_unknown_share_hides_every_label_of_that_share_of_samples_and_keeps_the_paper_draw_otherwise():
    num_labels, rows = 67, range(3000)
    paper = [label_mask(0, 1, row, num_labels) for row in rows]
    for share in (0.25, 0.6):
        masks = [label_mask(0, 1, row, num_labels, share) for row in rows]
        hidden = np.array([mask.all() for mask in masks])
        # The paper's rule alone leaves every label unknown with probability 1/51 here (|Y_u| = 67 of 17..67).
        expected = label_mask_statistics(num_labels, share)
        assert expected["none_revealed"] == pytest.approx(share + (1 - share) / 51)
        assert hidden.mean() == pytest.approx(expected["none_revealed"], abs=0.03)
        revealed = np.mean([1 - mask.mean() for mask in masks])
        assert revealed == pytest.approx(expected["mean_revealed"], abs=0.01)
        # The other samples get exactly the paper's draw.
        for mask, original in zip(masks, paper):
            if not mask.all():
                np.testing.assert_array_equal(mask, original)
    # Nested: a sample hidden at 0.25 is hidden at 0.6 too; share 0 is the paper's rule, share 1 hides all.
    low = {row for row in rows if label_mask(0, 1, row, num_labels, 0.25).all()}
    high = {row for row in rows if label_mask(0, 1, row, num_labels, 0.6).all()}
    assert low <= high and len(high) > len(low)
    for row in range(50):
        np.testing.assert_array_equal(label_mask(0, 1, row, num_labels, 0.0), paper[row])
        assert label_mask(0, 1, row, num_labels, 1.0).all()
    with pytest.raises(ValueError, match="all_unknown_share"):
        label_mask(0, 0, 0, num_labels, 1.5)


def test_the_paper_rule_reveals_about_three_eighths_of_the_labels_and_almost_never_none():
    statistics = label_mask_statistics(1000)
    assert statistics["mean_revealed"] == pytest.approx(0.375)         # |Y_u| uniform on 250..1000
    assert statistics["none_revealed"] == pytest.approx(1 / 751)
    empirical = np.mean([1 - label_mask(3, 0, row, 1000).mean() for row in range(400)])
    assert empirical == pytest.approx(0.375, abs=0.03)


def test_the_label_states_are_recorded_and_captioned_from_the_run_s_own_settings():
    options = m2.Options(all_unknown_share=0.5, known_fraction=0.25)
    summary = m2.label_state_summary(1000, options)
    assert summary == {"num_labels": 1000, "all_unknown_share": 0.5, "train_mean_revealed": pytest.approx(0.1875),
                       "train_none_revealed": pytest.approx(0.5 + 0.5 / 751), "test_revealed": 0.25}
    caption = m2.label_state_caption({"label_states": summary})
    assert "in training (K = 1000) 18.8% of a sample's labels on average, none for 50.1% of the samples" in caption
    assert "(all_unknown_share 0.5); at test time 25% of an image's labels" in caption
    with pytest.raises(KeyError, match="run the m2fashion_train notebook again"):
        m2.label_state_caption({})


def test_all_unknown_share_reaches_m2fashion_s_kwargs_but_not_the_baselines():
    options = m2.Options(all_unknown_share=0.4)
    assert m2.model_variant(VARIANTS["m2fashion"]["full"], options, 3).model_kwargs["all_unknown_share"] == 0.4
    assert _m2fashion(TINY, all_unknown_share=0.4).all_unknown_share == 0.4
    for row in ("triplet", "csn", "asen"):  # they take no attribute states
        assert "all_unknown_share" not in m2.model_variant(VARIANTS["m2fashion"][row], options, 3).model_kwargs
    with pytest.raises(ValueError, match="all_unknown_share"):
        _m2fashion(TINY, all_unknown_share=-0.1)


def test_reveal_is_deterministic_nested_and_sized():
    for row in range(20):
        previous = np.zeros(67, bool)
        for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
            known = revealed_labels(0, row, 67, fraction)
            assert known.sum() == round(fraction * 67)
            assert not (previous & ~known).any()  # what was revealed at a lower fraction stays revealed
            np.testing.assert_array_equal(known, revealed_labels(0, row, 67, fraction))
            previous = known
    with pytest.raises(ValueError, match="fraction"):
        revealed_labels(0, 0, 67, 1.5)


def test_states_encode_known_labels_only():
    attributes = np.array([1, 0, 1, 0], dtype=np.int8)
    known = np.array([True, True, False, False])
    np.testing.assert_array_equal(label_states(attributes, known), [1.0, -1.0, 0.0, 0.0])


def test_no_attribute_loss_on_known_labels():
    model = _m2fashion(TINY)
    n = 4
    logits = torch.randn(n, NUM_ATTRIBUTES, requires_grad=True)
    unknown = torch.from_numpy(np.stack([label_mask(0, 0, row, NUM_ATTRIBUTES) for row in range(n)]))
    targets = (torch.rand(n, NUM_ATTRIBUTES) < 0.3).float()
    outputs = {"category_logits": torch.randn(n, NUM_CATEGORIES), "attribute_logits": logits,
               "embedding": torch.randn(n, 8)}
    batch = {"category": torch.zeros(n, dtype=torch.long), "attributes": targets, "unknown": unknown}
    loss = model.compute_loss(outputs, batch, 0)["attribute"]
    loss.backward()
    assert (logits.grad[~unknown] == 0).all() and (logits.grad[unknown] != 0).all()
    flipped = dict(batch, attributes=torch.where(unknown, targets, 1 - targets))  # change only known targets
    torch.testing.assert_close(model.compute_loss(outputs, flipped, 0)["attribute"], loss.detach())


def test_tasks_switch_drops_the_other_classification_loss():
    outputs = {"category_logits": torch.randn(2, NUM_CATEGORIES), "attribute_logits": torch.randn(2, NUM_ATTRIBUTES),
               "embedding": torch.randn(2, 8)}
    batch = {"category": torch.tensor([0, 1]), "attributes": torch.ones(2, NUM_ATTRIBUTES),
             "unknown": torch.ones(2, NUM_ATTRIBUTES, dtype=torch.bool)}
    category_only = _m2fashion(TINY, tasks="category").compute_loss(outputs, batch, 0)
    attribute_only = _m2fashion(TINY, tasks="attribute").compute_loss(outputs, batch, 0)
    joint = _m2fashion(TINY).compute_loss(outputs, batch, 0)
    assert category_only["attribute"] == 0 and attribute_only["category"] == 0
    torch.testing.assert_close(joint["loss"], joint["category"] + 1.0 * joint["attribute"] + 0.5 * joint["triplet"])


# ----------------------------------------------------------------------------- triplets
def test_similarities_as_printed_and_cosine():
    a, b = torch.tensor([[3.0, 4.0]]), torch.tensor([[6.0, 8.0]])
    torch.testing.assert_close(similarity(a, b, "printed"), torch.tensor([50.0 / 15.0]))
    torch.testing.assert_close(similarity(a, b, "cosine"), torch.tensor([1.0]))


def test_cosine_is_scale_invariant_and_the_printed_similarity_is_not():
    a, b = torch.tensor([[1.0, 2.0, -0.5]]), torch.tensor([[0.5, 1.0, 1.0]])
    torch.testing.assert_close(similarity(a, 10.0 * b, "cosine"), similarity(a, b, "cosine"))
    torch.testing.assert_close(similarity(3.0 * a, b, "cosine"), similarity(a, b, "cosine"))
    assert not torch.allclose(similarity(a, 10.0 * b, "printed"), similarity(a, b, "printed"))
    # The printed formula grows with the norms, so scaling alone can meet the margin.
    assert similarity(10.0 * a, 10.0 * b, "printed") == pytest.approx(10.0 * float(similarity(a, b, "printed")))


def test_cosine_is_the_default_similarity():
    assert _m2fashion(TINY).similarity == "cosine" and _baseline(TINY, "type").similarity == "cosine"
    assert m2.Options().similarity == "cosine"
    a, b = torch.tensor([[3.0, 4.0]]), torch.tensor([[6.0, 8.0]])
    torch.testing.assert_close(similarity(a, b), torch.tensor([1.0]))


def test_triplet_hinge_rewards_the_positive_being_closer():
    anchor = torch.tensor([[1.0, 0.0]])
    near, far = torch.tensor([[1.0, 0.1]]), torch.tensor([[-1.0, 0.0]])
    for kind in ("printed", "cosine"):
        assert triplet_loss(anchor, near, far, 0.2, kind) == 0  # satisfied by more than the margin
        assert triplet_loss(anchor, far, near, 0.2, kind) > 0.2


def test_sampled_triplets_follow_the_value_rule():
    values = torch.tensor([[0, 1], [0, -1], [1, 1], [0, 2], [2, -1], [-1, -1]])
    triplets = sample_triplets(values, torch.Generator().manual_seed(0), rule="same_value")
    assert len(triplets) > 0
    for anchor, positive, negative, kind in triplets.tolist():
        assert anchor != positive and values[anchor, kind] >= 0
        assert values[positive, kind] == values[anchor, kind] and values[negative, kind] != values[anchor, kind]
    assert 5 not in triplets[:, 0].tolist()  # no value of any type: never an anchor
    np.testing.assert_array_equal(triplets, sample_triplets(values, torch.Generator().manual_seed(0), rule="same_value"))


# Four images, K = 5 attributes of two types (0, 0, 1, 1, 1). Image 0 has {0, 2}; 1 has {0, 3}
# (type 0 the same as 0's, shares attribute 0); 2 has {1, 2} (type 0 differs, shares attribute 2);
# 3 has {1, 4} (shares nothing with 0).
RULE_ATTRIBUTES = torch.tensor([[1, 0, 1, 0, 0], [1, 0, 0, 1, 0], [0, 1, 1, 0, 0], [0, 1, 0, 0, 1]])
RULE_TYPES = np.array([0, 0, 1, 1, 1])


def test_the_paper_triplet_rule_positive_shares_an_attribute_negative_none():
    values = torch.from_numpy(type_value_ids(RULE_ATTRIBUTES.numpy(), RULE_TYPES))
    positives, negatives = triplet_candidates(values, RULE_ATTRIBUTES, "shared_attribute")
    # Anchor 0, under either type: positives 1 and 2 (an attribute in common), the only negative 3.
    for kind in (0, 1):
        assert positives[0, :, kind].tolist() == [False, True, True, False]
        assert negatives[0, :, kind].tolist() == [False, False, False, True]
    # The value rule under type 0: positive 1 (same type-0 value {0}), negatives 2 and 3 ({1}).
    positives, negatives = triplet_candidates(values, RULE_ATTRIBUTES, "same_value")
    assert positives[0, :, 0].tolist() == [False, True, False, False]
    assert negatives[0, :, 0].tolist() == [False, False, True, True]
    triplets = sample_triplets(values, torch.Generator().manual_seed(0), RULE_ATTRIBUTES, "shared_attribute")
    shared = (RULE_ATTRIBUTES @ RULE_ATTRIBUTES.T) > 0
    assert len(triplets) > 0
    for anchor, positive, negative, _ in triplets.tolist():
        assert anchor != positive and shared[anchor, positive] and not shared[anchor, negative]
    with pytest.raises(ValueError, match="needs the batch's attributes"):
        sample_triplets(values, rule="shared_attribute")
    with pytest.raises(ValueError, match="triplet rule"):
        sample_triplets(values, attributes=RULE_ATTRIBUTES, rule="any")


def test_the_paper_triplet_rule_is_the_default_everywhere():
    assert m2.Options().triplet_rule == "shared_attribute"
    assert _m2fashion(TINY).triplet_rule == "shared_attribute"
    assert all(_baseline(TINY, condition).triplet_rule == "shared_attribute" for condition in ("none", "mask", "type"))
    values = torch.from_numpy(type_value_ids(RULE_ATTRIBUTES.numpy(), RULE_TYPES))
    for default, paper in zip(triplet_candidates(values, RULE_ATTRIBUTES),
                              triplet_candidates(values, RULE_ATTRIBUTES, "shared_attribute")):
        torch.testing.assert_close(default, paper)
    with pytest.raises(ValueError, match="needs the batch's attributes"):
        sample_triplets(values)  # the default rule needs them


def test_the_triplet_rule_reaches_the_model_and_is_refused_when_unknown():
    variant = m2.model_variant(VARIANTS["m2fashion"]["full"], m2.Options(triplet_rule="same_value"), 3)
    assert variant.model_kwargs["triplet_rule"] == "same_value"
    assert _m2fashion(TINY, triplet_rule="same_value").triplet_rule == "same_value"
    with pytest.raises(ValueError, match="triplet_rule"):
        _m2fashion(TINY, triplet_rule="any")


def test_the_asen_style_embedding_has_unit_norm():
    model = _baseline(TINY, "type").eval()
    image = torch.randn(3, 3, TINY["input_size"], TINY["input_size"]) * 5
    with torch.no_grad():
        embedding = model(image, condition_index=torch.tensor([0, 1, 2]),
                          condition_types=torch.tensor([0, 1, 2]))["condition_embedding"]
        features = model.features(image)
        direct = model.condition_embedding(features, torch.tensor([2, 2, 2]))
    torch.testing.assert_close(embedding.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(direct.norm(dim=1), torch.ones(3))


# ----------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def synth_annotations(tmp_path_factory):
    """A SynthFashion tree with 8 training images (DeepFashion-C format), read."""
    root = tmp_path_factory.mktemp("synth_m2fashion") / "synthfashion"
    generate(root, n_train=8, n_val=2, n_test=2, size=64, seed=5, formats=("deepfashion_c",), workers=1,
             progress=False)
    return read_category_attribute(root / "deepfashion_c")


@pytest.fixture(scope="module")
def synth_batch(synth_annotations):
    """The 8 SynthFashion training images at 32 px with their label masks, collated into one batch."""
    annotations = synth_annotations
    dataset = m2.LabelMaskDataset(CategoryAttributeDataset(annotations, "train", 32), seed=0)
    batch = default_collate([dataset[i] for i in range(len(dataset))])
    return batch, len(annotations.category_names), annotations.attributes.shape[1]


def test_label_mask_dataset_draws_with_its_all_unknown_share(synth_annotations, synth_batch):
    batch, _, _ = synth_batch
    assert (batch["states"] != 0).any()  # share 0 (the paper's rule): some labels are given
    hidden = m2.LabelMaskDataset(CategoryAttributeDataset(synth_annotations, "train", 32), seed=0, all_unknown_share=1.0)
    for item in range(len(hidden)):
        sample = hidden[item]
        assert sample["unknown"].all() and (sample["states"] == 0).all()


def test_overfits_eight_images(synth_batch):
    batch, num_categories, num_attributes = synth_batch
    torch.manual_seed(0)
    model = build_model("m2fashion", num_categories=num_categories, num_attributes=num_attributes, **TINY)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for step in range(80):
        torch.manual_seed(step)
        losses = m2.training_loss(model, batch, 0)
        first = first if first is not None else float(losses["loss"].detach())
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        outputs = model(batch["image"], batch["states"])
    assert float(losses["loss"].detach()) < 0.1 * first
    assert (outputs["category_logits"].argmax(1) == batch["category"]).all()
    unknown_positive = (batch["attributes"] > 0) & batch["unknown"]
    assert (outputs["attribute_logits"][unknown_positive] > 0).float().mean() > 0.9


@pytest.mark.parametrize("condition", ["none", "mask", "type"])
def test_training_loss_trains_the_retrieval_baselines(synth_batch, condition):
    batch, num_categories, num_attributes = synth_batch
    model = build_model("retrieval_baseline", num_categories=num_categories, num_attributes=num_attributes, **TINY,
                        condition=condition)
    losses = m2.training_loss(model, batch, 0)
    penalties = {"embedding_norm", "mask_norm"} if condition == "mask" else set()
    assert set(losses) == {"loss", "triplet"} | penalties and losses["loss"].requires_grad
    model.triplet_rule = "same_value"
    assert torch.isfinite(m2.training_loss(model, batch, 0)["loss"])
    with pytest.raises(ValueError, match="triplets only"):
        model.compute_loss(model(batch["image"]), batch, 0)


@pytest.mark.parametrize("gallery_condition", ["query", "unknown"])
def test_triplet_positive_and_negative_get_the_states_retrieval_gives_the_gallery(synth_batch, gallery_condition):
    batch, num_categories, num_attributes = synth_batch
    model = build_model("m2fashion", num_categories=num_categories, num_attributes=num_attributes, **TINY,
                        gallery_condition=gallery_condition)
    seen = {}
    model.condition_embedding = lambda features, types, states, precomputed=None: seen.setdefault("states", states) \
        .new_zeros(len(states), 4).requires_grad_()
    m2.training_loss(model, batch, 0)
    anchor, positive, negative = seen["states"].chunk(3)
    assert (anchor != 0).any(dim=1).all()  # every anchor states its value of the chosen type
    for other in (positive, negative):
        torch.testing.assert_close(other, anchor if gallery_condition == "query" else torch.zeros_like(anchor))
