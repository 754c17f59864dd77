"""Fashion Pose Machine: output contract, shared x', intermediate supervision, masking, overfitting, FashionAI scoring.

Also the FPM paper's baseline row (FashionNet with 24 regressed keypoints and no attributes).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from fashion_core import experiments
from fashion_core.metrics import functional
from fashion_core.data.datasets import FashionAIDataset
from fashion_core.data.fashionai import read_fashionai
from fashion_core.data.synthfashion.writer import generate
from fashion_core.metrics.evaluation import fashionai_score, Predictions
from fashion_core.models import build_model, loss_fn, MODEL_NAMES

TINY = {"backbone": "vgg_mini", "width": 0.0625, "input_size": 32}
DEFAULT = {"backbone": "vgg_mini", "width": 0.125, "input_size": 64}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def fashionai_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_fpm") / "synthfashion"
    generate(root, n_train=8, n_val=2, n_test=2, size=96, seed=3, formats=("fashionai",), workers=1, progress=False)
    return root / "fashionai"


@pytest.fixture(scope="module")
def synth_batch(fashionai_root):
    """8 SynthFashion FashionAI training images at 64 px, collated into one batch."""
    annotations = read_fashionai(fashionai_root, "train")
    dataset = FashionAIDataset(annotations, DEFAULT["input_size"])
    return default_collate([dataset[i] for i in range(8)])


def _fake_batch(n: int, size: int, keypoints: int = 24) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    visibility = torch.randint(-1, 2, (n, keypoints), generator=generator)
    return {
        "image": torch.randn(n, 3, size, size, generator=generator),
        "landmarks": torch.rand(n, keypoints, 2, generator=generator) * size,
        "visibility": visibility,
        "visible": visibility == 1,
        "category": torch.randint(0, 5, (n,), generator=generator),
        "attributes": torch.zeros(n, 0),
    }


def _fpm(stages: int = 3, size: dict = TINY, **kwargs):
    return build_model("fpm", num_categories=5, num_attributes=0, stages=stages, **size, **kwargs)


def _check_outputs(outputs, n: int, size: int, stages: int, keypoints: int = 24) -> None:
    side = size // 8
    assert outputs["beliefs"].shape == (n, stages, keypoints + 1, side, side)
    assert outputs["stage_landmarks"].shape == (n, stages, keypoints, 2)
    assert outputs["landmarks"].shape == (n, keypoints, 2)
    assert outputs["heatmaps"].shape == (n, keypoints, side, side)
    torch.testing.assert_close(outputs["landmarks"], outputs["stage_landmarks"][:, -1])
    for value in outputs.values():
        assert torch.isfinite(value).all()
    assert (outputs["landmarks"] >= 0).all() and (outputs["landmarks"] <= size).all()


def test_registered_and_builds_with_the_common_arguments():
    assert "fpm" in MODEL_NAMES
    model = _fpm(stages=2)
    assert model.num_stages == 2 and model.num_keypoints == 24 and model.heatmap_stride == 8


@pytest.mark.parametrize("stages", [1, 3])
def test_shapes_tiny_and_loss_reaches_every_parameter(stages):
    model = _fpm(stages)
    batch = _fake_batch(2, 32)
    outputs = model(batch["image"])
    _check_outputs(outputs, 2, 32, stages)
    losses = model.compute_loss(outputs, batch, epoch=0)
    assert set(losses) == {"loss", *(f"stage{t}" for t in range(1, stages + 1))}
    losses["loss"].backward()
    # The zero-initialised heads pass no gradient back at step 0, so only they and what feeds
    # stage 1's head directly are guaranteed one; after one step every parameter is reached.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.step()
    optimizer.zero_grad()
    model.compute_loss(model(batch["image"]), batch, epoch=0)["loss"].backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    if stages == 1:
        missing = [name for name in missing if not name.startswith("later_features")]  # unused with T = 1
    assert not missing


def test_shapes_default_size_and_eight_landmarks():
    model = _fpm(3, DEFAULT).eval()
    with torch.no_grad():
        _check_outputs(model(torch.randn(1, 3, 64, 64)), 1, 64, 3)
    deepfashion = build_model("fpm", num_categories=46, num_attributes=1000, num_keypoints=8, stages=2, **DEFAULT)
    batch = _fake_batch(2, 64, keypoints=8)
    outputs = deepfashion(batch["image"])
    _check_outputs(outputs, 2, 64, 2, keypoints=8)
    assert torch.isfinite(deepfashion.compute_loss(outputs, batch, 0)["loss"])


def test_shapes_paper_size():  # VGG16 to conv4_3 and six stages of 7x7 convs at 512 px: ~4 s on an idle 2-core CPU
    model = build_model("fpm", num_categories=5, num_attributes=0, backbone="vgg16", width=1.0, input_size=512,
                        pretrained=False, stages=6).eval()
    assert model.later_stages[0].body[0].kernel_size == (7, 7)
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, 512, 512))
    _check_outputs(outputs, 1, 512, 6)
    assert outputs["beliefs"].shape[-2:] == (64, 64)  # the paper's 64 x 64 heatmaps at 512


def test_wrong_input_size_and_bad_arguments_are_refused():
    model = _fpm(2)
    with pytest.raises(ValueError, match="input_size=32"):
        model(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match="multiple of 8"):
        _fpm(2, {"backbone": "vgg_mini", "width": 0.0625, "input_size": 36})
    with pytest.raises(ValueError, match="stages"):
        _fpm(0)


def test_later_stages_share_one_image_feature_network():
    """x' is computed once per forward and is the first input of every stage t >= 2; their own weights differ."""
    model = _fpm(4)
    calls, stage_inputs = [], []
    model.later_features.register_forward_hook(lambda module, args, output: calls.append(output))
    for stage in model.later_stages:
        stage.register_forward_pre_hook(lambda module, args: stage_inputs.append(args[0]))
    model(torch.randn(2, 3, 32, 32))
    assert len(calls) == 1 and len(stage_inputs) == 3
    shared = calls[0]
    for inputs in stage_inputs:
        torch.testing.assert_close(inputs[:, :shared.shape[1]], shared)
    # More stages add stage weights, never image-feature weights.
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(_fpm(2).later_features) == count(model.later_features)
    first, second = model.later_stages[0].body[0].weight, model.later_stages[1].body[0].weight
    assert first.data_ptr() != second.data_ptr()


def test_intermediate_supervision_sums_every_stage_with_equal_weight():
    model = _fpm(3)
    batch = _fake_batch(2, 32)
    beliefs = (torch.rand(2, 3, 25, 4, 4) * 0.5).requires_grad_()
    losses = model.compute_loss({"beliefs": beliefs}, batch, epoch=0)
    torch.testing.assert_close(losses["loss"], losses["stage1"] + losses["stage2"] + losses["stage3"])
    losses["loss"].backward()
    targets, mask = model.belief_targets(batch)
    for t in range(3):
        # d loss / d c_t is stage t's own squared-error gradient: every stage is supervised directly.
        expected = 2.0 * (beliefs[:, t].detach() - targets) * mask / 2
        torch.testing.assert_close(beliefs.grad[:, t], expected)
        assert beliefs.grad[:, t].abs().sum() > 0
        manual = ((beliefs[:, t].detach() - targets) * mask).square().sum() / 2
        torch.testing.assert_close(losses[f"stage{t + 1}"].detach(), manual)


def test_absent_keypoints_contribute_no_loss():
    model = _fpm(2)
    batch = _fake_batch(3, 32)
    batch["visibility"][:, 4] = -1
    batch["visibility"][:, 7] = 1
    beliefs = torch.rand(3, 2, 25, 4, 4)
    reference = model.compute_loss({"beliefs": beliefs}, batch, 0)["loss"]
    changed = beliefs.clone()
    changed[:, :, 4] += 5.0  # the absent keypoint's maps
    moved = dict(batch, landmarks=batch["landmarks"].clone())
    moved["landmarks"][:, 4] = torch.tensor([3.0, 29.0])  # and its (meaningless) position
    torch.testing.assert_close(model.compute_loss({"beliefs": changed}, moved, 0)["loss"], reference)
    present = beliefs.clone()
    present[:, :, 7] += 5.0
    assert model.compute_loss({"beliefs": present}, batch, 0)["loss"] > reference + 1.0
    targets, mask = model.belief_targets(batch)
    assert (mask[:, 4] == 0).all() and (mask[:, 7] == 1).all() and (mask[:, -1] == 1).all()
    assert targets[:, 4].abs().max() == 0  # and it is left out of the background target


def test_targets_peak_at_the_keypoints_and_background_is_the_complement(synth_batch):
    model = _fpm(2, DEFAULT)
    targets, mask = model.belief_targets(synth_batch)
    present = (synth_batch["visibility"] >= 0)
    keypoint_maps = targets[:, :24]
    torch.testing.assert_close(targets[:, 24], 1.0 - keypoint_maps.amax(dim=1))
    from fashion_core.models import decode_heatmaps

    decoded = decode_heatmaps(keypoint_maps, stride=8)
    error = (decoded - synth_batch["landmarks"]).abs()[present]
    assert error.max() <= 4.0 + 1e-4  # half a cell at stride 8
    assert torch.equal(mask[:, :24, 0, 0].bool(), present)


@pytest.mark.parametrize("name,kwargs", [("fpm", {"stages": 3}),
                                         ("fashionnet", experiments.VARIANTS["fpm"]["regression"].model_kwargs)],
                         ids=["fpm", "fashionnet-regression"])
def test_overfits_eight_images(synth_batch, name, kwargs):
    model = build_model(name, num_categories=5, num_attributes=0, **DEFAULT, **kwargs)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(40):
        loss = loss_fn(model, synth_batch, 0)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_fashionnet_regression_baseline_has_24_keypoints_and_no_attributes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "zero-element tensor" warning for the empty attribute head
        model = build_model("fashionnet", num_categories=5, num_attributes=0, num_landmarks=24, **TINY)
    batch = _fake_batch(4, 32)
    outputs = model(batch["image"])
    assert outputs["landmarks"].shape == (4, 24, 2) and outputs["attribute_logits"].shape == (4, 0)
    assert outputs["pool_boxes"].shape == (4, 24, 4) and outputs["landmark_visibility"].shape == (4, 24)
    losses = model.compute_loss(outputs, batch, 0)
    assert all(torch.isfinite(value) for value in losses.values())
    # The visibility target is the batch's own flag (FashionAI: code 1), not DeepFashion's code 0.
    inverted = dict(batch, visible=~batch["visible"])
    assert model.compute_loss(outputs, inverted, 0)["visibility"] != losses["visibility"]


# --------------------------------------------------------------------------- FashionAI scoring
def _scoring_case():
    """Two images: a dress 200 x 100 (armpits 80 px apart) and trousers 100 x 200 (waistband 40 px apart)."""
    keypoints = np.zeros((2, 24, 2), dtype=np.float32)
    visibility = -np.ones((2, 24), dtype=np.int8)
    keypoints[0, 5], keypoints[0, 6] = (60, 50), (140, 50)
    keypoints[0, 0], keypoints[0, 1] = (90, 20), (110, 20)
    visibility[0, [0, 1, 5, 6]] = 1
    keypoints[0, 17] = (50, 90)
    visibility[0, 17] = 0  # occluded: predicted far off, must not count
    keypoints[1, 15], keypoints[1, 16] = (30, 20), (70, 20)
    keypoints[1, 19] = (50, 100)
    visibility[1, [15, 16, 19]] = 1
    visibility[1, 16] = 0  # the normaliser may be occluded: it is annotated
    pred = keypoints.astype(np.float64).copy()
    pred[0, 0] += (0, 8)     # 8 / 80 = 0.1
    pred[0, 1] += (16, 0)    # 16 / 80 = 0.2
    pred[0, 17] += (50, 50)  # occluded: ignored
    pred[1, 19] += (12, 16)  # 20 / 40 = 0.5
    pred[1, 15] += (4, 0)    # 4 / 40 = 0.1
    return keypoints, visibility, np.array(["dress", "trousers"]), pred


class _Annotations:
    def __init__(self, keypoints, visibility, category):
        self.keypoints, self.visibility, self.category = keypoints, visibility, category


def test_fashionai_group_ne_by_hand():
    keypoints, visibility, category, pred = _scoring_case()
    groups, overall = functional.fashionai_normalized_error_per_group(pred, keypoints, visibility, category)
    # counted: neck 0.1, 0.2; armpits 0, 0 (image 0); waistband_left 0.1, crotch 0.5 (image 1)
    assert overall == pytest.approx((0.1 + 0.2 + 0 + 0 + 0.1 + 0.5) / 6)
    assert groups["neck"] == pytest.approx(0.15)
    assert groups["armpit"] == pytest.approx(0.0)
    assert groups["waistband"] == pytest.approx(0.1)  # only the visible left point counts
    assert groups["crotch"] == pytest.approx(0.5)
    assert np.isnan(groups["hemline"]) and np.isnan(groups["cuff_in"])  # occluded / absent only
    assert list(groups) == list(functional.FASHIONAI_KEYPOINT_GROUPS)


def test_fashionai_score_maps_predictions_back_to_original_pixels():
    """The model predicts in S x S (aspect not kept); NE is computed in the original image."""
    keypoints, visibility, category, pred = _scoring_case()
    size = 64
    scale = np.array([[size / 200, size / 100], [size / 100, size / 200]])
    predictions = Predictions(
        input_size=size, index=np.array([0, 1]), landmarks=pred * scale[:, None, :],
        landmarks_true=keypoints * scale[:, None, :], visible=visibility == 1, visibility=visibility.astype(np.int64),
        clothes_type=np.array([3, 2]), scale=scale,
        stage_landmarks=np.stack([keypoints * scale[:, None, :], pred * scale[:, None, :]], axis=1))
    result = fashionai_score(predictions, _Annotations(keypoints, visibility, category))
    assert result["ne_avg"] == pytest.approx(0.9 / 6)
    assert result["ne_neck"] == pytest.approx(0.15) and result["ne_crotch"] == pytest.approx(0.5)
    assert result["ne_neckline_right"] == pytest.approx(0.2) and np.isnan(result["ne_hemline_left"])
    assert result["ne_stage1"] == pytest.approx(0.0) and result["ne_stage2"] == pytest.approx(result["ne_avg"])
    # In input pixels the ratios would differ (x and y are scaled differently): the mapping matters.
    wrong, _ = functional.fashionai_normalized_error_per_keypoint(pred * scale[:, None, :], keypoints * scale[:, None, :],
                                                               visibility, category)
    assert wrong[0] == pytest.approx(0.2) and result["ne_neckline_left"] == pytest.approx(0.1)
