"""DAFE viewer (headless), the tables notebook without metrics, and (slow) smoke execution + nbval of the three notebooks."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import papermill  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from fashion_core import experiments  # noqa: E402
from fashion_core.viewers.dafe import dafe_attention_grid, dafe_attention_viewer, MODULE_LABELS  # noqa: E402
from fashion_core.data.datasets import LandmarkDataset, denormalize  # noqa: E402
from fashion_core.data.deepfashion import read_fld  # noqa: E402
from fashion_core.data.synthfashion.writer import generate  # noqa: E402
from fashion_core.models import build_model  # noqa: E402
from fashion_core.viewers.base import image_source  # noqa: E402
from fashion_core.viewers.drawing import upsample  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
DAFE_NOTEBOOKS = ("dafe_train", "dafe_tables", "dafe_attention")


class CountingModel(torch.nn.Module):
    """A DAFE model that counts its forward calls."""

    def __init__(self, **switches):
        super().__init__()
        torch.manual_seed(0)
        self.inner = build_model("dafe", backbone="resnet_mini", width=0.0625, input_size=32, **switches)
        self.calls = 0

    def forward(self, images):
        self.calls += 1
        return self.inner(images)


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_dafe_viewer") / "synthfashion"
    generate(root, n_train=1, n_val=1, n_test=4, size=64, seed=7, formats=("fld",), workers=1, progress=False)
    return LandmarkDataset(read_fld(root / "fld"), "test", 32)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_viewer_rerenders_on_each_control(test_set):
    model = CountingModel()
    viewer = dafe_attention_viewer(model, image_source(dataset=test_set), opacity=0.5)
    assert viewer.state["index"] == 0 and viewer.state["module"] == 2 and model.calls == 1
    first_png = viewer.output.outputs[0]["data"]["image/png"]

    viewer.image.value = 3
    assert model.calls == 2 and viewer.state["index"] == 3
    assert viewer.output.outputs[0]["data"]["image/png"] != first_png
    image = test_set[3]["image"]
    landmark_ax, sau_ax, cas_ax = viewer.figure.axes[:3]
    np.testing.assert_array_equal(landmark_ax.images[0].get_array(), denormalize(image))
    with torch.no_grad():
        expected = model.inner.eval()(image[None])
    np.testing.assert_allclose(sau_ax.images[-1].get_array(), upsample(expected["sau_maps"][0, 2].numpy(), 32), atol=1e-6)
    heights = [bar.get_height() for bar in cas_ax.patches]
    np.testing.assert_allclose(heights, expected["cas_weights"][0, 2].numpy(), atol=1e-6)
    assert MODULE_LABELS[2] in sau_ax.get_title() and MODULE_LABELS[2] in cas_ax.get_title()

    viewer.module.value = MODULE_LABELS[0]
    assert model.calls == 2, "another module must reuse the cached prediction"
    assert viewer.state["module"] == 0 and MODULE_LABELS[0] in viewer.figure.axes[1].get_title()
    np.testing.assert_allclose(viewer.figure.axes[1].images[-1].get_array(),
                               upsample(expected["sau_maps"][0, 0].numpy(), 32), atol=1e-6)
    np.testing.assert_allclose([bar.get_height() for bar in viewer.figure.axes[2].patches],
                               expected["cas_weights"][0, 0].numpy(), atol=1e-6)

    viewer.opacity.value = 0.25
    assert model.calls == 2 and viewer.figure.axes[1].images[-1].get_alpha() == 0.25
    assert "DAFEAttentionViewer(image=3" in repr(viewer)


def test_viewer_of_an_ablation_says_what_is_missing(test_set):
    viewer = dafe_attention_viewer(CountingModel(sau=False, cas=False), image_source(dataset=test_set))
    _, sau_ax, cas_ax = viewer.figure.axes[:3]
    assert "no SAU" in sau_ax.get_title() and "no CAS" in cas_ax.get_title()
    assert not cas_ax.patches


def test_viewer_browses_an_image_folder_without_ground_truth(tmp_path):
    for index, colour in enumerate(("red", "blue")):
        Image.new("RGB", (50, 70), colour).save(tmp_path / f"photo_{index}.png")
    viewer = dafe_attention_viewer(CountingModel(), image_source(folder=tmp_path, input_size=32))
    viewer.image.value = 1
    assert viewer.state["label"] == "photo_1.png" and viewer.image.max == 1


def test_grid_has_one_row_per_image_and_every_module(test_set):
    figure = dafe_attention_grid(CountingModel(), image_source(dataset=test_set), [0, 2])
    panels = [ax for ax in figure.axes if ax.get_title()]
    assert len(panels) == 2 * (1 + 3 + 1)
    assert sum(MODULE_LABELS[1] in ax.get_title() for ax in panels) == 2
    with pytest.raises(ValueError, match="at least one image"):
        dafe_attention_grid(CountingModel(), image_source(dataset=test_set), [])


def test_reference_has_every_row_the_dafe_tables_print():
    """Tables 1 and 2 each print FashionNet, DFA, DLAN, AFGN and Ours; DFA has no waistline values on FLD."""
    from fashion_core.reporting.reference import DAFE_T1, DAFE_T2, reference_rows

    for source, dataset, averages in ((DAFE_T1, "DeepFashion-C", (.0872, .0660, .0643, .0484, .0342)),
                                      (DAFE_T2, "FLD", (.0859, .068, .0672, .0583, .0482))):
        rows = [row for row in reference_rows(dataset=dataset) if row.source == source]
        assert [row.method for row in rows] == ["FashionNet", "DFA", "DLAN", "AFGN", "DAFE"]
        assert [row.metrics["ne_avg"] for row in rows] == list(averages)
        for row in rows:
            missing = {"ne_l_waist", "ne_r_waist"} if (row.method, dataset) == ("DFA", "FLD") else set()
            assert len(row.metrics) == 9 - len(missing) and not missing & set(row.metrics)


def test_tables_notebook_fails_clearly_without_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))  # an empty workbook: no metrics files
    with pytest.raises(experiments.MissingMetricsError, match=r"dafe\.json is missing: run the dafe_train notebook"):
        experiments.load_metrics("smoke", "dafe")
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(str(NOTEBOOKS / "dafe_tables.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"profile": "smoke"}, kernel_name="python3", progress_bar=False,
                                   cwd=str(tmp_path))
    assert failure.value.ename == "MissingMetricsError"
    assert "run the dafe_train notebook for profile 'smoke'" in failure.value.evalue


@pytest.mark.slow
def test_smoke_profile_runs_and_passes_nbval(tmp_path):
    """The three notebooks execute on the smoke profile in a scratch workbook and re-execute identically (nbval)."""
    for name in ("fashion_core", "tests"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / "notebooks").mkdir()
    for notebook in DAFE_NOTEBOOKS:
        shutil.copy(NOTEBOOKS / f"{notebook}.ipynb", tmp_path / "notebooks")
    for params in (REPO / "params").glob("*/*"):  # data.yaml and README of each profile, and the DAFE overrides only
        if params.name in ("data.yaml", "README.md") or params.name.startswith("dafe_"):
            (tmp_path / "params" / params.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(params, tmp_path / "params" / params.parent.name)
    (tmp_path / "data" / "synthfashion").mkdir(parents=True)
    (tmp_path / "data" / "synthfashion" / "smoke").symlink_to(REPO / "data" / "synthfashion" / "smoke")
    environment = {**os.environ, "FASHION_WORKBOOK_ROOT": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "fashion_core.run", "--profile", "smoke", "--only", *DAFE_NOTEBOOKS],
                         env=environment, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    reports = [str(tmp_path / "reports" / "smoke" / f"{notebook}.ipynb") for notebook in DAFE_NOTEBOOKS]
    nbval = subprocess.run([sys.executable, "-m", "pytest", "-q", "--nbval", "--nbval-current-env",
                            "--nbval-sanitize-with", str(REPO / "tests" / "nbval_sanitize.cfg"), "-p", "no:cacheprovider",
                            *reports], env=environment, capture_output=True, text=True, cwd=tmp_path)
    assert nbval.returncode == 0, nbval.stdout[-3000:]
