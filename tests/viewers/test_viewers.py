"""Attention viewers, headless: the widget renders the chosen image and channel, grids are one row per image."""
from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

from fashion_core.data.datasets import CategoryAttributeDataset, denormalize  # noqa: E402
from fashion_core.data.vocab import LANDMARK_NAMES  # noqa: E402
from fashion_core.data.deepfashion import read_category_attribute
from fashion_core.data.synthfashion.writer import generate  # noqa: E402
from fashion_core.viewers.base import image_source, predict_one  # noqa: E402
from fashion_core.viewers.landmarks import (  # noqa: E402
    ALL_CHANNELS,
    attention_grid,
    attention_viewer,
    draw_prediction,
)

INPUT_SIZE = 64
FLD_DEMO = Path(__file__).resolve().parents[2].parent / "shared" / "real" / "fld_demo"


class FakeModel(nn.Module):
    """Outputs that depend on the input; counts its calls and records whether it ran in eval mode."""

    def __init__(self, n_categories: int = 5, attention: bool = True, fashionnet: bool = False, stride: int = 8):
        super().__init__()
        self.n_categories, self.attention, self.fashionnet, self.stride = n_categories, attention, fashionnet, stride
        self.calls = 0
        self.ran_in_training_mode: list[bool] = []

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        self.ran_in_training_mode.append(self.training)
        n, _, size, _ = images.shape
        brightness = images.mean(dim=(1, 2, 3))
        angles = torch.arange(8, dtype=torch.float32) * (2 * np.pi / 8)
        base = torch.stack([0.5 + 0.3 * torch.cos(angles), 0.5 + 0.3 * torch.sin(angles)], dim=-1) * size
        landmarks = base[None] + 3.0 * brightness[:, None, None]
        side = size // self.stride
        centres = (torch.arange(side, dtype=torch.float32) + 0.5) * self.stride
        dy = (centres[None, None, :, None] - landmarks[..., 1, None, None]) ** 2
        dx = (centres[None, None, None, :] - landmarks[..., 0, None, None]) ** 2
        heatmaps = torch.exp(-(dx + dy) / (2 * (size / 8) ** 2)) * torch.arange(1.0, 9.0)[None, :, None, None]
        colour = images.mean(dim=(2, 3))
        weights = torch.linspace(-1.0, 1.0, 3 * self.n_categories).view(3, self.n_categories)
        outputs = {
            "landmarks": landmarks,
            "heatmaps": heatmaps,
            "category_logits": colour @ weights + torch.arange(float(self.n_categories)) * 0.1,
            "attribute_logits": colour @ weights[:, :4],
        }
        if self.attention:
            pooled = nn.functional.adaptive_avg_pool2d(images, INPUT_SIZE // 8)
            outputs["attention"] = torch.tanh(pooled.mean(dim=1, keepdim=True))
        if self.fashionnet:
            outputs["landmark_visibility"] = torch.sigmoid(brightness[:, None] + torch.arange(8.0) - 3.5)
            half = size / 8
            outputs["pool_boxes"] = torch.cat([landmarks - half, landmarks + half], dim=-1)
        return outputs


@pytest.fixture(scope="module")
def annotations(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "synthfashion"
    generate(root, n_train=1, n_val=1, n_test=4, size=64, seed=5, formats=("deepfashion_c",), workers=1,
             progress=False)
    return read_category_attribute(root / "deepfashion_c")


@pytest.fixture(scope="module")
def test_set(annotations):
    return CategoryAttributeDataset(annotations, "test", INPUT_SIZE)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _expected_heatmap(model, image, channel):
    maps = model(image[None])["heatmaps"]
    maps = nn.functional.interpolate(maps, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)[0]
    return (maps.max(dim=0).values if channel is None else maps[channel]).numpy()


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50, metadata={"Software": None})
    return buffer.getvalue()


def test_viewer_renders_the_chosen_image_and_channel(annotations, test_set):
    model = FakeModel(len(annotations.category_names), fashionnet=True)
    source = image_source(dataset=test_set)
    viewer = attention_viewer(model, source, category_names=annotations.category_names)
    assert viewer.state["index"] == 0 and viewer.state["channel"] is None and model.calls == 1

    viewer.image.value = 2
    viewer.channel.value = "left sleeve"
    assert model.calls == 2, "a new channel must reuse the cached prediction"
    assert viewer.state["index"] == 2 and viewer.state["channel"] == 2
    label = annotations.image_names[int(test_set.rows[2])]
    assert viewer.state["label"] == label

    image = test_set[2]["image"]
    landmark_ax, heatmap_ax, attention_ax = viewer.figure.axes[:3]
    np.testing.assert_array_equal(landmark_ax.images[0].get_array(), denormalize(image))
    np.testing.assert_allclose(heatmap_ax.images[-1].get_array(), _expected_heatmap(model, image, 2), atol=1e-6)
    heading = landmark_ax.get_title().splitlines()[0]
    assert heading.startswith("2: ") and heading.endswith(label[-30:]) and "left sleeve" in heatmap_ax.get_title()
    assert viewer.caption.value.endswith(label)
    assert "top-3:" in landmark_ax.get_title() and "attention" in attention_ax.get_title()
    assert len(landmark_ax.patches) == 8, "FashionNet's pooling windows"
    outputs = viewer.output.outputs
    assert len(outputs) == 1 and outputs[0]["data"]["image/png"]

    calls = model.calls
    viewer.opacity.value = 0.25
    assert model.calls == calls, "opacity must not re-run the model"
    assert heatmap_ax is not viewer.figure.axes[1]
    assert viewer.figure.axes[1].images[-1].get_alpha() == 0.25
    assert viewer.figure.axes[2].images[-1].get_alpha() == 0.25

    viewer.channel.value = ALL_CHANNELS
    viewer.image.value = 0
    assert model.calls == calls and viewer.state == {
        "index": 0, "channel": None, "channel_name": ALL_CHANNELS, "opacity": 0.25,
        "label": annotations.image_names[int(test_set.rows[0])]}
    np.testing.assert_allclose(viewer.figure.axes[1].images[-1].get_array(),
                               _expected_heatmap(model, test_set[0]["image"], None), atol=1e-6)


def test_predict_one_is_deterministic_in_eval_mode(test_set):
    model = FakeModel()
    model.train()
    source = image_source(dataset=test_set)
    first, second = predict_one(model, source, 1), predict_one(model, source, 1)
    assert model.ran_in_training_mode == [False, False] and model.training, "eval while predicting, mode restored"
    assert first.keys() == second.keys() and all(np.array_equal(first[k], second[k]) for k in first)
    assert first["landmarks"].shape == (8, 2) and first["heatmaps"].shape == (8, 8, 8)


def test_grid_has_one_row_per_index_and_three_panels(annotations, test_set):
    source = image_source(dataset=test_set)
    model = FakeModel(len(annotations.category_names))
    figure = attention_grid(model, source, [3, 0, 1], channel=4, category_names=annotations.category_names)
    axes = figure.axes
    assert len(axes) == 9
    assert [(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start) for ax in axes] == \
        [(row, column) for row in range(3) for column in range(3)]
    assert str(3) in axes[0].get_title() and LANDMARK_NAMES[4] in axes[1].get_title()
    again = attention_grid(model, source, [3, 0, 1], channel=4, category_names=annotations.category_names)
    assert _png(figure) == _png(again), "same inputs, same figure"

    without = attention_grid(FakeModel(len(annotations.category_names), attention=False), source, [1, 2])
    assert len(without.axes) == 6
    for ax in without.axes[2::3]:
        assert [text.get_text() for text in ax.texts] == ["no attention in this model"]
        assert len(ax.images) == 1, "only the image, no overlay"


def test_draw_prediction_full_resolution_heatmaps_and_no_ground_truth(test_set):
    model = FakeModel(stride=1)
    source = image_source(dataset=test_set)
    prediction = predict_one(model, source, 0)
    figure = plt.figure()
    axes = draw_prediction(figure, denormalize(test_set[0]["image"]), prediction, channel=7, opacity=0.8)
    np.testing.assert_allclose(axes[1].images[-1].get_array(), prediction["heatmaps"][7], atol=1e-6)
    assert axes[0].get_title().startswith("top-3: #")


def _write_images(folder: Path) -> None:
    (folder / "b").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, shape in (("z.png", (30, 50, 3)), ("a.png", (64, 64, 3)), ("b/c.PNG", (40, 20, 3))):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / name)
    (folder / "notes.txt").write_text("not an image")


def test_folder_source(tmp_path):
    _write_images(tmp_path / "images")
    source = image_source(folder=tmp_path / "images", input_size=INPUT_SIZE)
    assert len(source) == 3 and [source.label(i) for i in range(3)] == ["a.png", "b/c.PNG", "z.png"]
    item = source.item(1)
    assert item["ground_truth"] is None and item["image"].shape == (3, INPUT_SIZE, INPUT_SIZE)
    with Image.open(tmp_path / "images" / "b" / "c.PNG") as image:
        expected = np.asarray(image.resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR))
    assert np.abs(denormalize(item["image"]).astype(int) - expected).max() <= 1
    figure = attention_grid(FakeModel(), source, [0, 2])
    assert len(figure.axes) == 6
    viewer = attention_viewer(FakeModel(), source)
    viewer.image.value = 2
    assert viewer.state["label"] == "z.png"


def test_empty_or_missing_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"no images .* found in folder .*empty"):
        image_source(folder=tmp_path / "empty")
    with pytest.raises(ValueError, match="missing"):
        image_source(folder=tmp_path / "missing")
    with pytest.raises(ValueError, match="exactly one"):
        image_source()


def test_fld_demo_folder():
    if not FLD_DEMO.is_dir():
        pytest.skip(f"real FLD demo images not present at {FLD_DEMO}")
    source = image_source(folder=FLD_DEMO, input_size=INPUT_SIZE)
    assert len(source) > 0
    figure = attention_grid(FakeModel(), source, [0, len(source) - 1])
    assert len(figure.axes) == 6


def test_viewer_text_form_is_short_for_static_reports(test_set):
    viewer = attention_viewer(FakeModel(), image_source(dataset=test_set))
    text = viewer._repr_mimebundle_()["text/plain"]
    assert text == "AttentionViewer(image=0 of 4, landmark='all (max)', opacity=0.5)"
