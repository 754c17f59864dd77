"""FPM viewer (headless), the tables notebook without metrics, and (slow) smoke execution + nbval of the 3 notebooks."""
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
from fashion_core.data.datasets import FashionAIDataset, denormalize  # noqa: E402
from fashion_core.data.vocab import FASHIONAI_KEYPOINTS  # noqa: E402
from fashion_core.data.fashionai import read_fashionai
from fashion_core.data.synthfashion.writer import generate  # noqa: E402
from fashion_core.models import build_model  # noqa: E402
from fashion_core.viewers.fpm import ALL_KEYPOINTS, pose_machine_grid, pose_machine_viewer, shown_keypoints
from fashion_core.viewers.base import image_source  # noqa: E402
from fashion_core.viewers.drawing import upsample  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
FPM_NOTEBOOKS = ("fpm_train", "fpm_tables", "fpm_attention")
SIZE = 32


class CountingModel(torch.nn.Module):
    """A tiny FPM that counts its forward calls."""

    def __init__(self, stages: int = 3):
        super().__init__()
        torch.manual_seed(0)
        self.inner = build_model("fpm", backbone="vgg_mini", width=0.0625, input_size=SIZE, stages=stages)
        self.calls = 0

    def forward(self, images):
        self.calls += 1
        return self.inner(images)


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_fpm_viewer") / "synthfashion"
    generate(root, n_train=1, n_val=1, n_test=5, size=64, seed=11, formats=("fashionai",), workers=1, progress=False)
    return FashionAIDataset(read_fashionai(root / "fashionai", "test"), SIZE)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _expected_belief(model, image, stage, keypoint):
    with torch.no_grad():
        beliefs = model.inner.eval()(image[None])["beliefs"][0, stage - 1].numpy()
    chosen = beliefs[:24].max(axis=0) if keypoint is None else beliefs[keypoint]
    return upsample(chosen, SIZE)


def test_viewer_follows_the_stage_slider_and_the_keypoint(test_set):
    model = CountingModel(stages=3)
    viewer = pose_machine_viewer(model, image_source(dataset=test_set), opacity=0.5)
    assert viewer.state["index"] == 0 and viewer.state["stage"] == 3 and model.calls == 1
    assert viewer.stage.min == 1 and viewer.stage.max == 3
    first_png = viewer.output.outputs[0]["data"]["image/png"]

    viewer.image.value = 2
    assert model.calls == 2 and viewer.state["label"] == test_set.annotations.image_ids[2]
    image = test_set[2]["image"]
    belief_ax, skeleton_ax = viewer.figure.axes[:2]
    np.testing.assert_array_equal(belief_ax.images[0].get_array(), denormalize(image))
    np.testing.assert_allclose(belief_ax.images[-1].get_array(), _expected_belief(model, image, 3, None), atol=1e-6)
    assert viewer.output.outputs[0]["data"]["image/png"] != first_png

    viewer.stage.value = 1
    viewer.keypoint.value = "armpit_left"
    assert model.calls == 2, "stages and keypoints come from the cached prediction"
    assert viewer.state["stage"] == 1 and viewer.state["keypoint"] == FASHIONAI_KEYPOINTS.index("armpit_left")
    belief_ax, skeleton_ax = viewer.figure.axes[:2]
    np.testing.assert_allclose(belief_ax.images[-1].get_array(), _expected_belief(model, image, 1, 5), atol=1e-6)
    assert "stage 1/3" in belief_ax.get_title() and "armpit_left" in belief_ax.get_title()
    assert "stage 1 skeleton vs truth" in skeleton_ax.get_title()
    # The skeleton shows stage 1's predicted points, only for keypoints the garment has.
    with torch.no_grad():
        stage1 = model.inner(image[None])["stage_landmarks"][0, 0].numpy()
    present = test_set[2]["visibility"].numpy() >= 0
    predicted = skeleton_ax.collections[-1].get_offsets()
    np.testing.assert_allclose(predicted, stage1[present], atol=1e-5)

    viewer.opacity.value = 0.25
    assert model.calls == 2 and viewer.figure.axes[0].images[-1].get_alpha() == 0.25
    viewer.keypoint.value = ALL_KEYPOINTS
    assert viewer.state["keypoint"] is None
    assert "PoseMachineViewer(image=2 of 5, stage=1 of 3" in repr(viewer)


def test_viewer_browses_an_image_folder_without_ground_truth(tmp_path):
    for index, colour in enumerate(("red", "blue")):
        Image.new("RGB", (50, 70), colour).save(tmp_path / f"photo_{index}.png")
    viewer = pose_machine_viewer(CountingModel(stages=2), image_source(folder=tmp_path, input_size=SIZE))
    viewer.image.value = 1
    assert viewer.state["label"] == "photo_1.png" and viewer.image.max == 1
    assert "vs truth" not in viewer.figure.axes[1].get_title()


def test_without_ground_truth_keypoints_are_shown_by_their_belief_peak():
    beliefs = np.zeros((2, 25, 4, 4), dtype=np.float32)
    beliefs[-1, 3, 1, 1] = 0.9
    beliefs[-1, 7, 2, 2] = 0.1
    prediction = {"beliefs": beliefs, "stage_landmarks": np.zeros((2, 24, 2)), "landmarks": np.zeros((24, 2))}
    assert np.flatnonzero(shown_keypoints(prediction, None, min_peak=0.3)).tolist() == [3]


def test_grid_has_every_stage_and_a_skeleton_per_image(test_set):
    figure = pose_machine_grid(CountingModel(stages=3), image_source(dataset=test_set), [0, 4])
    titled = [ax for ax in figure.axes if ax.get_title()]
    assert len(titled) == 2 * (3 + 1)
    assert sum("stage 2/3 belief" in ax.get_title() for ax in titled) == 2
    assert sum("stage 3 skeleton vs truth" in ax.get_title() for ax in titled) == 2
    with pytest.raises(ValueError, match="at least one image"):
        pose_machine_grid(CountingModel(), image_source(dataset=test_set), [])


def test_viewer_refuses_a_model_without_beliefs(test_set):
    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, images):
            return {"landmarks": torch.zeros(images.shape[0], 24, 2)}

    with pytest.raises(TypeError, match="beliefs"):
        pose_machine_viewer(Plain(), image_source(dataset=test_set))


def test_reference_has_both_rows_of_fpm_table1():
    from fashion_core.reporting.reference import reference_rows
    from fashion_core.reporting.tables import FASHIONAI_GROUP_ROW_NAMES, FASHIONAI_NE_METRICS

    rows = reference_rows(dataset="FashionAI")
    assert [row.method for row in rows] == ["FashionNet", "FPM"]
    assert len(FASHIONAI_NE_METRICS) == len(FASHIONAI_GROUP_ROW_NAMES) == 14
    for row in rows:
        assert set(row.metrics) == set(FASHIONAI_NE_METRICS) and "Hu et al. 2018" in row.source
    fashionnet, fpm = (row.metrics for row in rows)
    assert (fashionnet["ne_avg"], fpm["ne_avg"]) == (0.1636, 0.1226)
    assert all(fpm[key] < fashionnet[key] for key in FASHIONAI_NE_METRICS)  # as printed, FPM wins every column
    # "Ave" is not the mean of the 13 groups (0.1139 and 0.1537): it pools keypoints, as the reproduced ne_avg does.
    for metrics_row, group_mean in ((fpm, 0.1139), (fashionnet, 0.1537)):
        assert np.mean([metrics_row[key] for key in FASHIONAI_NE_METRICS[:-1]]) == pytest.approx(group_mean, abs=1e-4)


def test_stage_claim_compares_two_metrics_of_one_row():
    from fashion_core.reporting.claims import CLAIMS, evaluate_claims
    from fashion_core.reporting.claims import HOLDS

    row = {"name": "FPM", "per_seed": {"ne_avg": [0.20, 0.21, 0.20], "ne_stage1": [0.30, 0.31, 0.29]}}
    other = {"name": "regression", "per_seed": {"ne_avg": [0.205, 0.20, 0.21]}}
    results = evaluate_claims(CLAIMS["fpm"], {"fpm": {"rows": {"fpm": row, "fpm_regression": other}}})
    beats_regression, refines = results
    assert beats_regression.verdict == "inconclusive" and beats_regression.mean_b == pytest.approx(0.205)
    assert refines.verdict == HOLDS and refines.mean_b == pytest.approx(0.30) and refines.metric == "ne_avg vs ne_stage1"
    assert refines.row_a == "FPM ne_avg" and refines.row_b == "FPM ne_stage1"


def test_tables_notebook_fails_clearly_without_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))  # an empty workbook: no metrics files
    with pytest.raises(experiments.MissingMetricsError, match=r"fpm\.json is missing: run the fpm_train notebook"):
        experiments.load_metrics("smoke", "fpm")
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(str(NOTEBOOKS / "fpm_tables.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={"profile": "smoke"}, kernel_name="python3", progress_bar=False,
                                   cwd=str(tmp_path))
    assert failure.value.ename == "MissingMetricsError"
    assert "run the fpm_train notebook for profile 'smoke'" in failure.value.evalue


@pytest.mark.slow
def test_smoke_profile_runs_and_passes_nbval(tmp_path):
    """The three notebooks execute on the smoke profile in a scratch workbook and re-execute identically (nbval)."""
    for name in ("fashion_core", "tests"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / "notebooks").mkdir()
    for notebook in FPM_NOTEBOOKS:
        shutil.copy(NOTEBOOKS / f"{notebook}.ipynb", tmp_path / "notebooks")
    for profile_dir in (REPO / "params").iterdir():  # only the params of the notebooks copied here
        if profile_dir.is_dir():
            (tmp_path / "params" / profile_dir.name).mkdir(parents=True)
            for path in [profile_dir / "data.yaml", *profile_dir.glob("fpm_*.yaml")]:
                if path.exists():
                    shutil.copy(path, tmp_path / "params" / profile_dir.name)
    (tmp_path / "data" / "synthfashion").mkdir(parents=True)
    (tmp_path / "data" / "synthfashion" / "smoke").symlink_to(REPO / "data" / "synthfashion" / "smoke")
    environment = {**os.environ, "FASHION_WORKBOOK_ROOT": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "fashion_core.run", "--profile", "smoke", "--only", *FPM_NOTEBOOKS],
                         env=environment, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    reports = [str(tmp_path / "reports" / "smoke" / f"{notebook}.ipynb") for notebook in FPM_NOTEBOOKS]
    nbval = subprocess.run([sys.executable, "-m", "pytest", "-q", "--nbval", "--nbval-current-env",
                            "--nbval-sanitize-with", str(REPO / "tests" / "nbval_sanitize.cfg"),
                            "-p", "no:cacheprovider", *reports],
                           env=environment, capture_output=True, text=True, cwd=tmp_path)
    assert nbval.returncode == 0, nbval.stdout[-3000:]
