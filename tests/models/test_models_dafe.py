"""DAFE: output contract at three input sizes, the SAU / CAS equations, ablation switches, overfitting, evaluation.

Also the landmark-only options of FashionNet and Liu & Lu that DAFE's comparison rows use, and the
experiments helpers that train every row on both benchmarks.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import default_collate

from fashion_core import experiments
from fashion_core.experiments import runs
from fashion_core.reporting.claims import CLAIMS
from fashion_core.data.datasets import LandmarkDataset
from fashion_core.data.deepfashion import read_fld
from fashion_core.data.synthfashion.writer import generate
from fashion_core.metrics.evaluation import collect_predictions, score
from fashion_core.models import build_model, decode_heatmaps, loss_fn, MODEL_NAMES
from fashion_core.models.dafe import DAFEModule, argmax_decode
from fashion_core.params import resolved_parameters
from fashion_core.paths import notebooks_dir

TINY = {"backbone": "resnet_mini", "width": 0.0625, "input_size": 32}
DEFAULT = {"backbone": "resnet_mini", "width": 0.125, "input_size": 64}
SWITCHES = [{"sau": sau, "cas": cas} for sau in (True, False) for cas in (True, False)]
SWITCH_IDS = [f"sau={s['sau']}-cas={s['cas']}" for s in SWITCHES]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def fld(tmp_path_factory):
    """A SynthFashion FLD tree: 8 training images (the overfit set), 2 val, 4 test."""
    root = tmp_path_factory.mktemp("synth_dafe") / "synthfashion"
    generate(root, n_train=8, n_val=2, n_test=4, size=96, seed=3, formats=("fld",), workers=1, progress=False)
    return read_fld(root / "fld")


def _fake_batch(n: int, size: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {
        "image": torch.randn(n, 3, size, size, generator=generator),
        "landmarks": torch.rand(n, 8, 2, generator=generator) * size,
        "visibility": torch.randint(-1, 3, (n, 8), generator=generator),
        "visible": torch.zeros(n, 8, dtype=torch.bool),
        "category": torch.full((n,), -1),
        "attributes": torch.zeros(n, 0),
    }


def _check_outputs(model, outputs, n: int, size: int) -> None:
    side = size // 4
    assert outputs["landmarks"].shape == (n, 8, 2)
    assert outputs["heatmaps"].shape == (n, 8, side, side)
    assert ((outputs["landmarks"] >= 0) & (outputs["landmarks"] <= size)).all()
    assert "category_logits" not in outputs and "attribute_logits" not in outputs
    if model.sau:
        assert outputs["sau_maps"].shape == (n, 3, side, side)
        assert ((outputs["sau_maps"] >= 0) & (outputs["sau_maps"] <= 1)).all()
    else:
        assert "sau_maps" not in outputs
    if model.cas:
        assert outputs["cas_weights"].shape == (n, 3, model.decoder_channels)
        assert ((outputs["cas_weights"] >= 0) & (outputs["cas_weights"] <= 1)).all()
    else:
        assert "cas_weights" not in outputs
    for value in outputs.values():
        assert torch.isfinite(value).all()


def test_registry_and_landmark_only_contract():
    assert "dafe" in MODEL_NAMES
    with pytest.raises(ValueError, match="landmarks only"):
        build_model("dafe", num_categories=5, num_attributes=0, **TINY)
    with pytest.raises(ValueError, match="multiple of 32"):
        build_model("dafe", backbone="resnet_mini", width=0.125, input_size=48)


@pytest.mark.parametrize("switches", SWITCHES, ids=SWITCH_IDS)
def test_shapes_and_gradients_tiny(switches):
    model = build_model("dafe", **TINY, **switches)
    batch = _fake_batch(2, 32)
    outputs = model(batch["image"])
    _check_outputs(model, outputs, 2, 32)
    losses = model.compute_loss(outputs, batch, epoch=0)
    assert set(losses) == {"loss"} and losses["loss"].dim() == 0 and torch.isfinite(losses["loss"])
    losses["loss"].backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("switches", SWITCHES, ids=SWITCH_IDS)
def test_shapes_default_size(switches):
    model = build_model("dafe", **DEFAULT, **switches).eval()
    with torch.no_grad():
        _check_outputs(model, model(torch.randn(2, 3, 64, 64)), 2, 64)


def test_shapes_paper_size():
    """ResNet-50 at 320 x 320 gives 80 x 80 heatmaps and 256 decoder channels (~4 s on a CPU)."""
    model = build_model("dafe", backbone="resnet50", input_size=320).eval()
    assert model.decoder_channels == 256
    with torch.no_grad():
        _check_outputs(model, model(torch.randn(1, 3, 320, 320)), 1, 320)


def test_sau_and_cas_follow_the_paper_equations():
    """SAU: X~ = U_t(X) + U_b(sigmoid(C X)) * Y; CAS: X~ * sigmoid(C2 ReLU(C1 GAP(X~))); sau=False: U_t(X) + Y."""
    x, skip = torch.randn(2, 16, 4, 4), torch.randn(2, 8, 8, 8)
    module = DAFEModule(16, 8, sau=True, cas=True, cas_reduction=4).eval()
    with torch.no_grad():
        out, attention = module(x, skip)
        y, up = module.lateral(skip), module.upsample(x)
        mask = F.interpolate(torch.sigmoid(module.spatial(x)), size=(8, 8), mode="bilinear", align_corners=False)
        enhanced = up + mask * y
        c1, c2 = module.channel[1], module.channel[3]
        weights = torch.sigmoid(c2(F.relu(c1(enhanced.mean(dim=(2, 3), keepdim=True)))))
    assert mask.shape == (2, 1, 8, 8), "M is one spatial map, broadcast over the channels"
    torch.testing.assert_close(attention["sau_map"], mask)
    torch.testing.assert_close(attention["cas_weights"], weights.flatten(1))
    torch.testing.assert_close(out, enhanced * weights)

    plain = DAFEModule(16, 8, sau=False, cas=False).eval()
    with torch.no_grad():
        out, attention = plain(x, skip)
        torch.testing.assert_close(out, plain.upsample(x) + plain.lateral(skip))
    assert attention == {}


def test_eq4_cas_has_no_sigmoid():
    """cas_activation="eq4": X~ * C2 ReLU(C1 GAP(X~)) exactly as Eq. 4 prints it, weights of either sign and above 1."""
    x, skip = torch.randn(2, 16, 4, 4), torch.randn(2, 8, 8, 8)
    module = DAFEModule(16, 8, sau=True, cas=True, cas_reduction=4, cas_activation="eq4").eval()
    c1, c2 = module.channel[1], module.channel[3]
    with torch.no_grad():
        c1.weight.zero_(), c1.bias.fill_(1.0)  # every hidden unit 1, so U_c = 4 x C2's row c
        c2.weight.copy_(torch.linspace(-3.0, 3.0, 16).reshape(16, 1, 1, 1).expand_as(c2.weight)), c2.bias.zero_()
        out, attention = module(x, skip)
        mask = F.interpolate(torch.sigmoid(module.spatial(x)), size=(8, 8), mode="bilinear", align_corners=False)
        enhanced = module.upsample(x) + mask * module.lateral(skip)
        weights = c2(F.relu(c1(enhanced.mean(dim=(2, 3), keepdim=True))))
    assert not any(isinstance(layer, torch.nn.Sigmoid) for layer in module.modules())
    torch.testing.assert_close(attention["cas_weights"], weights.flatten(1))
    torch.testing.assert_close(out, enhanced * weights)
    assert attention["cas_weights"].max() > 1 and attention["cas_weights"].min() < 0, "no sigmoid squashes U"
    gated = DAFEModule(16, 8, cas_reduction=4, cas_activation="sigmoid")
    gated.load_state_dict(module.state_dict())
    with torch.no_grad():
        _, gated_attention = gated.eval()(x, skip)
    torch.testing.assert_close(gated_attention["cas_weights"], torch.sigmoid(weights.flatten(1)))
    with pytest.raises(ValueError, match="cas_activation"):
        build_model("dafe", **TINY, cas_activation="softmax")


def test_argmax_decoding_takes_the_highest_cell():
    """decoding="argmax" returns the centre of the highest cell; "quarter_cell" shifts it toward the larger neighbour."""
    maps = torch.zeros(1, 8, 5, 6)
    maps[0, :, 2, 3] = 1.0  # row 2, column 3: centre (3.5, 2.5) cells
    maps[0, :, 2, 4] = 0.9  # a large right neighbour pulls the refined decoder to the right
    maps[0, 1] = 0.0
    maps[0, 1, 4, 0] = 5.0  # a corner peak
    expected = torch.tensor([[3.5, 2.5]] * 8)
    expected[1] = torch.tensor([0.5, 4.5])
    torch.testing.assert_close(argmax_decode(maps, stride=4)[0], expected * 4)
    torch.testing.assert_close(decode_heatmaps(maps, stride=4)[0, 0], torch.tensor([3.75, 2.5]) * 4)
    model = build_model("dafe", **TINY, decoding="argmax").eval()
    assert model.decoding == "argmax"
    with torch.no_grad():
        outputs = model(torch.randn(2, 3, 32, 32))
    torch.testing.assert_close(outputs["landmarks"], argmax_decode(outputs["heatmaps"], model.heatmap_stride))
    with pytest.raises(ValueError, match="decoding"):
        build_model("dafe", **TINY, decoding="soft_argmax")


def test_profiles_choose_cas_and_decoding():
    """The paper profile resolves to Eq. 4 and argmax decoding; the default keeps the gated CAS and quarter-cell shift."""
    notebook = notebooks_dir() / "dafe_train.ipynb"
    paper, default = resolved_parameters("paper", notebook), resolved_parameters("default", notebook)
    assert (paper["cas_activation"], paper["heatmap_decoding"]) == ("eq4", "argmax")
    assert (default["cas_activation"], default["heatmap_decoding"]) == ("sigmoid", "quarter_cell")
    model = build_model("dafe", **TINY, cas_activation=paper["cas_activation"], decoding=paper["heatmap_decoding"])
    assert model.decoding == "argmax"
    assert all(module.cas_activation == "eq4" for module in model.modules_top_down)


def test_switches_change_the_architecture():
    models = {tuple(s.values()): build_model("dafe", **TINY, **s) for s in SWITCHES}
    fingerprints = {key: runs.architecture_fingerprint(model) for key, model in models.items()}
    assert len(set(fingerprints.values())) == 4, "every ablation must have its own checkpoint layout"
    for (sau, cas), model in models.items():
        names = [name for name, _ in model.named_parameters()]
        assert any(".spatial." in name for name in names) == sau
        assert any(".channel." in name for name in names) == cas
    full, fpn = models[(True, True)], models[(False, False)]
    assert sum(p.numel() for p in full.parameters()) > sum(p.numel() for p in fpn.parameters())


def test_heatmap_targets_decode_back_to_the_landmarks():
    model = build_model("dafe", **DEFAULT)
    points = torch.tensor([[[10.3, 20.7], [40.0, 33.2], [2.5, 61.0]] + [[30.0, 30.0]] * 5])
    batch = {"landmarks": points, "visibility": torch.zeros(1, 8, dtype=torch.long)}
    decoded = decode_heatmaps(model.heatmap_targets(batch), stride=4)
    assert (decoded - points).norm(dim=-1).max() <= 2.0 + 1e-5, "within half a cell of stride 4"


def test_overfits_eight_images(fld):
    """Loss on 8 SynthFashion FLD images falls well below its start within 20 Adam steps."""
    dataset = LandmarkDataset(fld, "train", 64)
    batch = default_collate([dataset[i] for i in range(len(dataset))])
    model = build_model("dafe", **DEFAULT)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        loss = loss_fn(model, batch, 0)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.3 * losses[0], losses[::4]


def test_collect_predictions_and_score_take_a_landmark_only_model(fld):
    model = build_model("dafe", **TINY)
    predictions = collect_predictions(model, LandmarkDataset(fld, "test", 32), batch_size=3)
    assert predictions.landmarks.shape == (4, 8, 2) and predictions.category_scores is None
    metrics = score(predictions, ())
    assert set(metrics) == {f"ne_{k}" for k in ("l_collar", "r_collar", "l_sleeve", "r_sleeve", "l_waist",
                                                 "r_waist", "l_hem", "r_hem", "avg", "avg_mmfashion")}
    assert 0 <= metrics["ne_avg"] < 2


@pytest.mark.parametrize("name,kwargs", [("fashionnet", {"landmarks_only": True}),
                                         ("liu2018", {"landmarks_only": True, "attention": "none"})])
def test_comparison_models_have_a_landmark_only_form(name, kwargs):
    tiny = {"backbone": "vgg_mini", "width": 0.0625, "input_size": 32}
    full = build_model(name, num_categories=5, num_attributes=7, **tiny)
    model = build_model(name, num_categories=0, num_attributes=0, **tiny, **kwargs)
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in full.parameters())
    batch = _fake_batch(3, 32)  # FLD-like: category -1, no attributes
    outputs = model(batch["image"])
    assert outputs["landmarks"].shape == (3, 8, 2)
    assert not {"category_logits", "attribute_logits", "embedding"} & set(outputs)
    losses = model.compute_loss(outputs, batch, epoch=5)
    assert not {"category", "attribute", "triplet"} & set(losses) and torch.isfinite(losses["loss"])
    losses["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())
    if name == "liu2018":
        with pytest.raises(ValueError, match="attention='none'"):
            build_model(name, num_categories=0, num_attributes=0, landmarks_only=True, **tiny)


def test_rows_are_trained_per_benchmark_with_their_own_trunk():
    rows = experiments.with_model_kwargs(experiments.variants("dafe", list(experiments.VARIANTS["dafe"])),
                                         "fashionnet", backbone="vgg_mini", width=0.25)
    keys = {benchmark: [row.key for row in experiments.for_benchmark(rows, benchmark)]
            for benchmark in experiments.BENCHMARK_SUFFIXES}
    assert keys["FLD"][0] == "dafe_fld" and keys["DeepFashion-C"][0] == "dafe_deepfashion_c"
    assert not set(keys["FLD"]) & set(keys["DeepFashion-C"]), "checkpoints of the two benchmarks must not collide"
    for claim in CLAIMS["dafe"]:
        for file, key in (claim.row_a, claim.row_b):
            assert file == "dafe" and any(key in benchmark_keys for benchmark_keys in keys.values()), key
    settings = experiments.Settings(profile="smoke", dataset_label="x", backbone="resnet_mini", width=0.0625,
                                    input_size=32, pretrained=False, weights_path="", epochs=1, batch_size=4,
                                    optimizer="adam", lr=1e-3, lr_gamma=1.0, seeds=(0,))
    by_model = {row.model: row for row in rows}
    fashionnet = runs.model_kwargs(by_model["fashionnet"], settings, 0, 0)
    assert fashionnet["backbone"] == "vgg_mini" and fashionnet["width"] == 0.25 and fashionnet["landmarks_only"]
    assert runs.model_kwargs(by_model["dafe"], settings, 0, 0)["backbone"] == "resnet_mini"
    with pytest.raises(ValueError, match="unknown benchmark"):
        experiments.for_benchmark(rows, "FashionAI")


def test_step_schedule_reaches_the_trainer():
    settings = experiments.Settings(profile="smoke", dataset_label="x", backbone="resnet50", width=1.0,
                                    input_size=320, pretrained=True, weights_path="", epochs=30, batch_size=64,
                                    optimizer="adam", lr=1e-3, lr_gamma=0.1, seeds=(0,), lr_schedule="step",
                                    lr_step_size=10)
    config = settings.train_config(0)
    assert (config.lr_schedule, config.lr_gamma, config.lr_step_size) == ("step", 0.1, 10)
    assert np.isclose(config.lr, 1e-3)
