"""FashionNet and Liu & Lu 2018: output contract, overfitting, no ground truth in forward, heatmap decoding, weights,
the landmark-loss mask (visible landmarks only), Liu & Lu's branch layout and the paper profile's training flips."""
from __future__ import annotations

import urllib.error

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from fashion_core.data import splits
from fashion_core.data.datasets import CategoryAttributeDataset, HeatmapSpec, render_heatmaps
from fashion_core.data.deepfashion import read_category_attribute
from fashion_core.data.synthfashion.writer import generate
from fashion_core.models import build_model, decode_heatmaps, heatmap_targets, loss_fn, MODEL_NAMES
from fashion_core.models.inference import unwrap
from fashion_core.models.vgg import VGG16_WEIGHTS_FILE, vgg16_trunk
from fashion_core.params import resolved_parameters
from fashion_core.paths import notebooks_dir

TINY = {"backbone": "vgg_mini", "width": 0.0625, "input_size": 32}
DEFAULT = {"backbone": "vgg_mini", "width": 0.125, "input_size": 64}
LIU_VARIANTS = [
    {"upsample": upsample, "attention": attention}
    for upsample in (True, False) for attention in ("landmark", "none", "conv_only")
]
VARIANT_IDS = [f"upsample={v['upsample']}-attention={v['attention']}" for v in LIU_VARIANTS]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    """A SynthFashion DeepFashion-C tree: 8 training images (96 px), 2 validation, 2 test."""
    root = tmp_path_factory.mktemp("synth_models") / "synthfashion"
    generate(root, n_train=8, n_val=2, n_test=2, size=96, seed=5, formats=("deepfashion_c",), workers=1,
             progress=False)
    return root / "deepfashion_c"


@pytest.fixture(scope="module")
def synth_batch(synth_root):
    """The 8 SynthFashion training images at 64 px, collated into one batch."""
    annotations = read_category_attribute(synth_root)
    dataset = CategoryAttributeDataset(annotations, "train", DEFAULT["input_size"])
    batch = default_collate([dataset[i] for i in range(len(dataset))])
    return batch, len(annotations.category_names), annotations.attributes.shape[1]


def _fake_batch(n: int, size: int, num_categories: int, num_attributes: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {
        "image": torch.randn(n, 3, size, size, generator=generator),
        "landmarks": torch.rand(n, 8, 2, generator=generator) * size,
        "visibility": torch.randint(-1, 3, (n, 8), generator=generator),
        "category": torch.randint(0, num_categories, (n,), generator=generator),
        "attributes": (torch.rand(n, num_attributes, generator=generator) < 0.2).float(),
    }


def _check_outputs(model, outputs, n, size, num_categories, num_attributes):
    assert outputs["landmarks"].shape == (n, 8, 2)
    assert outputs["category_logits"].shape == (n, num_categories)
    assert outputs["attribute_logits"].shape == (n, num_attributes)
    for value in outputs.values():
        assert torch.isfinite(value).all()
    if "heatmaps" in outputs:  # Liu & Lu
        side = size if model.upsample else size // 8
        assert outputs["heatmaps"].shape == (n, 8, side, side)
        if model.attention_mode == "none":
            assert "attention" not in outputs
        else:
            assert outputs["attention"].shape == (n, 1, size // 8, size // 8)
            assert outputs["attention"].abs().max() <= 1.0
    else:  # FashionNet
        assert outputs["landmark_visibility"].shape == (n, 8)
        assert outputs["pool_boxes"].shape == (n, 8, 4)
        embedding = outputs["embedding"]
        assert embedding.shape[0] == n
        torch.testing.assert_close(embedding.norm(dim=1), torch.ones(n))
    landmarks = outputs["landmarks"]
    assert (landmarks >= 0).all() and (landmarks <= size).all()


def _check_loss(model, outputs, batch):
    losses = model.compute_loss(outputs, batch, epoch=0)
    assert "loss" in losses and all(value.dim() == 0 and torch.isfinite(value) for value in losses.values())
    losses["loss"].backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_registry():
    assert set(MODEL_NAMES) >= {"fashionnet", "liu2018"}
    with pytest.raises(ValueError, match="unknown model"):
        build_model("no_such_model", num_categories=3, num_attributes=4)


def test_fashionnet_shapes_tiny():
    model = build_model("fashionnet", num_categories=5, num_attributes=7, embedding_dim=16, **TINY)
    batch = _fake_batch(2, 32, 5, 7)
    model.set_training_attributes(batch["attributes"])
    outputs = model(batch["image"])
    _check_outputs(model, outputs, 2, 32, 5, 7)
    assert outputs["embedding"].shape == (2, 16)
    _check_loss(model, outputs, batch)


@pytest.mark.parametrize("variant", LIU_VARIANTS, ids=VARIANT_IDS)
def test_liu2018_shapes_tiny(variant):
    model = build_model("liu2018", num_categories=5, num_attributes=7, **TINY, **variant)
    batch = _fake_batch(2, 32, 5, 7)
    outputs = model(batch["image"])
    _check_outputs(model, outputs, 2, 32, 5, 7)
    _check_loss(model, outputs, batch)


@pytest.mark.parametrize("name,variant", [("fashionnet", {})] + [("liu2018", v) for v in LIU_VARIANTS],
                         ids=["fashionnet"] + [f"liu2018-{i}" for i in VARIANT_IDS])
def test_shapes_default_size(name, variant):
    model = build_model(name, num_categories=18, num_attributes=67, **DEFAULT, **variant).eval()
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, 64, 64))
    _check_outputs(model, outputs, 1, 64, 18, 67)


@pytest.mark.parametrize("name,variant", [
    pytest.param("fashionnet", {}, id="fashionnet", marks=pytest.mark.slow),  # ~3.5 s: two 25088x1024 FCs
    pytest.param("liu2018", {}, id="liu2018"),  # ~2 s
    pytest.param("liu2018", {"upsample": False}, id="liu2018-lowres", marks=pytest.mark.slow),
])
def test_shapes_paper_size(name, variant):
    model = build_model(name, num_categories=46, num_attributes=1000, backbone="vgg16", width=1.0,
                        input_size=224, pretrained=False, **variant).eval()
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, 224, 224))
    _check_outputs(model, outputs, 1, 224, 46, 1000)
    if name == "liu2018":
        assert outputs["attention"].shape == (1, 1, 28, 28)


def test_wrong_input_size_is_refused():
    model = build_model("liu2018", num_categories=3, num_attributes=4, **TINY)
    with pytest.raises(ValueError, match="input_size=32"):
        model(torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize("name,variant", [("fashionnet", {}), ("liu2018", {}), ("liu2018", {"upsample": False})],
                         ids=["fashionnet", "liu2018", "liu2018-lowres"])
def test_overfits_eight_images(synth_batch, name, variant):
    batch, num_categories, num_attributes = synth_batch
    model = build_model(name, num_categories=num_categories, num_attributes=num_attributes, **DEFAULT, **variant)
    if name == "fashionnet":
        model.set_training_attributes(batch["attributes"])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    losses = []
    for _ in range(30):
        loss = loss_fn(model, batch, 0)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_fashionnet_pools_at_predicted_landmarks(synth_batch):
    batch, num_categories, num_attributes = synth_batch
    model = build_model("fashionnet", num_categories=num_categories, num_attributes=num_attributes,
                        **DEFAULT).eval()
    model.set_training_attributes(batch["attributes"])
    with torch.no_grad():
        outputs = model(batch["image"])
        # Ground truth changed arbitrarily: forward outputs cannot change, only the loss.
        moved = dict(batch, landmarks=torch.flip(batch["landmarks"], dims=[-1]) * 0.5 + 3.0)
        assert not torch.equal(moved["landmarks"], batch["landmarks"])
        again = model(moved["image"])
        for key in outputs:
            assert torch.equal(outputs[key], again[key]), key
        assert model.compute_loss(outputs, batch, 0)["landmark"] != model.compute_loss(outputs, moved, 0)["landmark"]
        # The windows are centred on the predictions ...
        boxes = outputs["pool_boxes"]
        torch.testing.assert_close((boxes[..., :2] + boxes[..., 2:]) / 2, outputs["landmarks"])
        torch.testing.assert_close(boxes[..., 2:] - boxes[..., :2], torch.full_like(boxes[..., :2], 3 * 8.0))
        # ... and moving the predictions changes the pooled (local) features and so the fused outputs.
        model.landmark_head.bias += 3.0
        shifted = model(batch["image"])
    assert not torch.allclose(shifted["landmarks"], outputs["landmarks"])
    assert not torch.allclose(shifted["category_logits"], outputs["category_logits"])


@pytest.mark.parametrize("kernel,radius", [("gaussian", 2.0), ("liu_lu", 8.0)])
def test_decoding_full_resolution_within_half_a_pixel(kernel, radius):
    rng = np.random.default_rng(0)
    size = 64
    points = rng.uniform(1.0, size - 1.0, size=(8, 2)).astype(np.float32)
    maps = render_heatmaps(points, np.ones(8, bool), size, HeatmapSpec(kernel, radius, stride=1))
    decoded = decode_heatmaps(maps.unsqueeze(0), stride=1)[0]
    assert (decoded - torch.from_numpy(points)).abs().max() <= 0.5


def test_decoding_low_resolution_is_in_input_pixels():
    rng = np.random.default_rng(1)
    size, stride = 64, 8
    # Inner cells: a quarter of a cell at most, 2 px at stride 8 (in heatmap cells the error would be
    # ~10x larger). Border cells have one neighbour only and are not shifted: half a cell at most.
    inner = rng.uniform(stride, size - stride, size=(16, 2)).astype(np.float32)
    border = np.array([[1.0, 30.0], [62.5, 7.0], [33.0, 0.5], [12.0, 63.9]], dtype=np.float32)
    for points, bound in ((inner, 0.25 * stride), (border, 0.5 * stride)):
        maps = render_heatmaps(points, np.ones(len(points), bool), size, HeatmapSpec("liu_lu", 1.0, stride=stride))
        assert maps.shape == (len(points), 8, 8)
        decoded = decode_heatmaps(maps.unsqueeze(0), stride=stride)[0]
        assert (decoded - torch.from_numpy(points)).abs().max() <= bound + 1e-4


@pytest.mark.parametrize("upsample", [True, False])
def test_liu2018_targets_match_render_heatmaps_and_decode_back(synth_batch, upsample):
    batch, num_categories, num_attributes = synth_batch
    model = build_model("liu2018", num_categories=num_categories, num_attributes=num_attributes, **DEFAULT,
                        upsample=upsample)
    targets = model.heatmap_targets(batch)
    stride = 1 if upsample else 8
    assert model.heatmap_stride == stride
    spec = HeatmapSpec("liu_lu", 8.0 * 64 / 224 / stride, stride)
    codes = batch["visibility"]
    for i in range(len(codes)):
        present = ((codes[i] == 0) | (codes[i] == 1)).numpy()
        expected = render_heatmaps(batch["landmarks"][i].numpy(), present, 64, spec)
        torch.testing.assert_close(targets[i], expected, atol=1e-5, rtol=1e-5)
    points = batch["landmarks"]
    present = (codes == 0) | (codes == 1)
    present &= ((points >= 0) & (points < 64)).all(dim=-1)  # outside the crop: an all-zero map
    decoded = decode_heatmaps(targets, model.heatmap_stride)
    error = (decoded - batch["landmarks"]).abs()[present]
    assert error.max() <= 0.5 * stride + 1e-4  # half a cell: full-resolution 0.5 px, 1/8 resolution 4 px


def test_heatmap_targets_zero_when_absent_or_outside():
    points = torch.tensor([[[10.5, 10.5], [10.5, 10.5], [-1.0, 5.0], [5.0, 64.0]]])
    present = torch.tensor([[True, False, True, True]])
    maps = heatmap_targets(points, present, 64, stride=1, radius=2.0)
    assert maps[0, 0].max() == 1.0 and maps[0, 0].argmax() == 10 * 64 + 10
    assert maps[0, 1:].abs().max() == 0


def test_missing_pretrained_weights_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    calls = []

    def no_network(url, dst, *args, **kwargs):
        calls.append((url, dst))
        raise urllib.error.URLError("no network in the test")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    expected = tmp_path / "torch_home" / "hub" / "checkpoints" / VGG16_WEIGHTS_FILE
    with pytest.raises(RuntimeError) as error:
        vgg16_trunk(pretrained=True)
    message = str(error.value)
    assert VGG16_WEIGHTS_FILE == "vgg16-397923af.pth"
    assert str(expected) in message and "weights_path" in message and "no network" in message
    assert len(calls) == 1 and calls[0][1] == str(expected)
    # Through a builder, and with an explicit path that does not exist.
    with pytest.raises(RuntimeError, match="vgg16-397923af.pth"):
        build_model("liu2018", num_categories=3, num_attributes=4, backbone="vgg16", pretrained=True)
    with pytest.raises(RuntimeError, match="missing.pth does not exist"):
        build_model("fashionnet", num_categories=3, num_attributes=4, backbone="vgg16", pretrained=True,
                    weights_path=tmp_path / "missing.pth")
    assert len(calls) == 2  # weights_path given: no download attempt


def test_backbone_arguments_are_checked():
    with pytest.raises(ValueError, match="vgg_mini"):
        build_model("liu2018", num_categories=3, num_attributes=4, backbone="vgg16", width=0.5)
    with pytest.raises(ValueError, match="from scratch"):
        build_model("liu2018", num_categories=3, num_attributes=4, backbone="vgg_mini", width=0.5, pretrained=True)
    with pytest.raises(ValueError, match="attention"):
        build_model("liu2018", num_categories=3, num_attributes=4, **TINY, attention="spatial")


def test_loss_fn_unwraps_ddp(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model = build_model("liu2018", num_categories=5, num_attributes=7, **TINY)
        wrapped = torch.nn.parallel.DistributedDataParallel(model)
        assert unwrap(wrapped) is model
        losses = loss_fn(wrapped, _fake_batch(2, 32, 5, 7), 0)
        losses["loss"].backward()
        assert set(losses) == {"loss", "landmark", "category", "attribute"}
    finally:
        dist.destroy_process_group()


def test_fashionnet_loss_schedule():
    model = build_model("fashionnet", num_categories=5, num_attributes=7, **TINY, loss_schedule="single_switch",
                        loss_schedule_switch_epoch=2, attribute_loss="bce")
    assert model.loss_weights(0) == model.loss_weights(1)
    first, second = model.loss_weights(1), model.loss_weights(2)
    assert first["landmark"] > second["landmark"] and first["category"] < second["category"]
    batch = _fake_batch(4, 32, 2, 7)
    losses = model.compute_loss(model(batch["image"]), batch, epoch=2)
    assert set(losses) == {"loss", "landmark", "visibility", "category", "attribute", "triplet"}
    expected = sum(second[name] * losses[name] for name in second)
    torch.testing.assert_close(losses["loss"], expected)


# Codes per slot for the mask tests: visible, occluded, truncated, absent, visible, occluded, visible, visible.
MASK_CODES = torch.tensor([[0, 1, 2, -1, 0, 1, 0, 0], [1, 0, 0, 1, 2, 0, 1, 0]])


def _mask_batch(size: int, visible_flag: bool) -> dict[str, torch.Tensor]:
    batch = _fake_batch(2, size, 5, 7)
    batch["landmarks"] = torch.rand(2, 8, 2, generator=torch.Generator().manual_seed(2)) * (size - 8) + 4
    batch["visibility"] = MASK_CODES.clone()
    if visible_flag:
        batch["visible"] = MASK_CODES == 0
    return batch


def _moved(batch: dict[str, torch.Tensor], image: int, slot: int, shift: float = 9.0) -> dict[str, torch.Tensor]:
    """The batch with one ground-truth landmark moved by `shift` px in x and y (inside the crop)."""
    landmarks = batch["landmarks"].clone()
    landmarks[image, slot] = (landmarks[image, slot] + shift) % (batch["image"].shape[-1] - 1)
    return dict(batch, landmarks=landmarks)


@pytest.mark.parametrize("visible_flag", [True, False], ids=["visible-flag", "codes-only"])
@pytest.mark.parametrize("name", ["fashionnet", "liu2018"])
def test_occluded_landmarks_do_not_enter_the_landmark_loss(name, visible_flag):
    """A wrong prediction for an occluded landmark (code 1) costs nothing; for a visible one (code 0) it does."""
    model = build_model(name, num_categories=5, num_attributes=7, **TINY).eval()
    batch = _mask_batch(32, visible_flag)
    if name == "fashionnet":
        model.set_training_attributes(batch["attributes"])
    with torch.no_grad():
        outputs = model(batch["image"])
        if name == "liu2018":  # the branch starts at all-zero maps: give every map some structure
            outputs["heatmaps"] = torch.rand_like(outputs["heatmaps"])
        base = model.compute_loss(outputs, batch, 0)["landmark"]
        for image, slot in ((0, 1), (0, 5), (1, 0), (1, 3), (0, 2)):  # occluded, occluded, occluded, ...
            assert MASK_CODES[image, slot] != 0
            assert model.compute_loss(outputs, _moved(batch, image, slot), 0)["landmark"] == base, (image, slot)
        for image, slot in ((0, 0), (1, 1)):  # visible
            assert model.compute_loss(outputs, _moved(batch, image, slot), 0)["landmark"] != base, (image, slot)
        # The same occluded landmark marked visible enters the loss.
        shown = dict(batch, visibility=torch.where(MASK_CODES == 1, 0, MASK_CODES))
        if visible_flag:
            shown["visible"] = shown["visibility"] == 0
        assert model.compute_loss(outputs, _moved(shown, 0, 1), 0)["landmark"] != \
            model.compute_loss(outputs, shown, 0)["landmark"]


def test_fashionnet_landmark_loss_follows_the_visible_flag_of_fashionai():
    """FashionAI codes 1 visible, 0 occluded: the `visible` flag, not the raw code, decides."""
    model = build_model("fashionnet", num_categories=5, num_attributes=0, num_landmarks=24, **TINY).eval()
    codes = torch.tensor([[1, 0, -1] * 8])
    batch = {"image": torch.randn(1, 3, 32, 32), "landmarks": torch.full((1, 24, 2), 16.0), "visibility": codes,
             "visible": codes == 1, "category": torch.tensor([0]), "attributes": torch.zeros(1, 0)}
    with torch.no_grad():
        outputs = model(batch["image"])
        base = model.compute_loss(outputs, batch, 0)["landmark"]
        assert model.compute_loss(outputs, _moved(batch, 0, 1), 0)["landmark"] == base  # FashionAI occluded
        assert model.compute_loss(outputs, _moved(batch, 0, 0), 0)["landmark"] != base  # FashionAI visible


def test_liu2018_mask_keeps_targets_of_occluded_and_drops_visible_outside_the_crop():
    model = build_model("liu2018", num_categories=5, num_attributes=7, **TINY)
    batch = _mask_batch(32, visible_flag=True)
    targets = model.heatmap_targets(batch)
    present = (MASK_CODES == 0) | (MASK_CODES == 1)
    assert (targets.amax(dim=(-2, -1)) > 0).equal(present)  # targets still drawn for occluded landmarks
    assert model.landmark_loss_mask(batch).equal(MASK_CODES == 0)
    outside = dict(batch, landmarks=batch["landmarks"].clone())
    outside["landmarks"][0, 0] = torch.tensor([-3.0, 10.0])
    outside["landmarks"][1, 1] = torch.tensor([10.0, 32.0])
    expected = MASK_CODES == 0
    expected[0, 0] = expected[1, 1] = False
    assert model.landmark_loss_mask(outside).equal(expected)


def _branch_layout(branch: torch.nn.Module) -> list[str]:
    """'T' per transposed conv, 'k1' / 'k3' per conv of that kernel size, in order."""
    layout = []
    for module in branch.body:
        if isinstance(module, torch.nn.ConvTranspose2d):
            layout.append("T")
        elif isinstance(module, torch.nn.Conv2d):
            layout.append(f"k{module.kernel_size[0]}")
    return layout


@pytest.mark.parametrize("size", [TINY, {"backbone": "vgg16", "width": 1.0, "input_size": 224}], ids=["tiny", "paper"])
def test_liu2018_branch_has_two_3x3_convs_after_the_first_two_transposed_convs(size):
    model = build_model("liu2018", num_categories=5, num_attributes=7, landmarks_only=True, attention="none", **size)
    assert _branch_layout(model.landmark_branch) == ["k1", "k3", "k3", "k3", "T", "k3", "k3", "T", "k3", "k3", "T",
                                                     "k3"]
    assert model.landmark_branch.head.kernel_size == (1, 1) and model.landmark_branch.head.out_channels == 8
    if size["input_size"] == 224:  # the authors' channels: 128 -> 64 (64, 64) -> 32 (32, 32) -> 16 (16) -> 8
        convs = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
        widths = [m.out_channels for m in model.landmark_branch.body if isinstance(m, convs)]
        assert widths == [64, 64, 64, 128, 64, 64, 64, 32, 32, 32, 16, 16]
    low = build_model("liu2018", num_categories=5, num_attributes=7, upsample=False, **TINY)
    assert _branch_layout(low.landmark_branch) == ["k1", "k3", "k3", "k3", "k3", "k3"]


def test_paper_profile_trains_without_flips(synth_root):
    for notebook in ("liu2018_train", "fashionnet_train"):
        path = notebooks_dir() / f"{notebook}.ipynb"
        assert resolved_parameters("paper", path)["train_flips"] is False, notebook
        assert resolved_parameters("default", path)["train_flips"] is True, notebook
        assert "flip_train=train_flips" in path.read_text(), notebook  # the parameter reaches the datasets
    flipping = splits.load_deepfashion_c(synth_root, 32, cache_images=False)
    fixed = splits.load_deepfashion_c(synth_root, 32, cache_images=False, flip_train=False)
    assert (flipping.train.flip, flipping.val.flip, flipping.test.flip) == (True, False, False)
    assert (fixed.train.flip, fixed.val.flip, fixed.test.flip) == (False, False, False)
    assert not any(fixed.train.flips(item) for item in range(len(fixed.train)))
