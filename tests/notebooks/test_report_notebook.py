"""The reproduction report: saved predictions, fashion_core.report on hand-computed values, the gallery on
real photos (when ../shared/real is present) and (slow) the smoke-profile execution + nbval of the notebook."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fashion_core import experiments  # noqa: E402
from fashion_core.experiments import runs, store
from fashion_core.reporting import reproduction
from fashion_core.viewers import gallery  # noqa: E402
from fashion_core.metrics.evaluation import Predictions, score  # noqa: E402
from fashion_core.models import build_model  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
REAL = REPO.parent / "shared" / "real"  # the machine's sample photos, beside the checkout
REAL_FOLDERS = (REAL / "deepfashion_c_dresses" / "img", REAL / "fld_demo")
TRAIN_NOTEBOOKS = ("fashionnet_train", "liu2018_train", "dafe_train", "fpm_train", "m2fashion_train")
REPORT = "90_reproduction_report"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def workbook(tmp_path, monkeypatch):
    """An empty scratch workbook: reports/<profile>/ of every call goes under tmp_path."""
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    return tmp_path


def landmark_predictions(offsets: np.ndarray, visible: np.ndarray, input_size: int = 100, **extra) -> Predictions:
    """Predictions whose error is `offsets` (N,L,2) input px away from a fixed truth."""
    count, slots = visible.shape
    truth = np.full((count, slots, 2), 50.0, np.float32)
    return Predictions(input_size=input_size, index=np.arange(count), landmarks=(truth + offsets).astype(np.float32),
                       landmarks_true=truth, visible=visible.astype(bool), visibility=np.where(visible, 0, 1),
                       clothes_type=np.ones(count, np.int64), **extra)


# Two images, two landmarks, crop 100 px: errors 0.1 and 0.2 (landmark 0), 0.3 (landmark 1 of image 1);
# landmark 1 of image 0 is invisible and 0.5 away, which only a protocol that counts it would see.
OFFSETS = np.array([[[10, 0], [0, 50]], [[0, 20], [30, 0]]], np.float32)
VISIBLE = np.array([[True, False], [True, True]])


# ---------------------------------------------------------------------------- saved predictions

def test_predictions_round_trip_and_rescore_identically(workbook):
    rng = np.random.default_rng(0)
    original = landmark_predictions(rng.normal(0, 5, (6, 8, 2)).astype(np.float32), rng.random((6, 8)) > 0.3,
                                    input_size=64, category_scores=rng.normal(size=(6, 4)).astype(np.float32),
                                    category=np.array([0, 1, 2, 3, 0, 1]),
                                    attribute_scores=rng.normal(size=(6, 10)).astype(np.float32),
                                    attributes=(rng.random((6, 10)) > 0.6).astype(np.int64))
    path = store.save_predictions(store.predictions_path("smoke", "liu2018", "liu2018", 2), original)
    assert path == workbook / "reports" / "smoke" / "predictions" / "liu2018" / "liu2018-seed2.npz"
    loaded = store.load_predictions("smoke", "liu2018", "liu2018", 2)
    np.testing.assert_array_equal(loaded.landmarks, original.landmarks)  # coordinates are stored losslessly
    np.testing.assert_array_equal(loaded.visible, original.visible)
    np.testing.assert_array_equal(loaded.attributes, original.attributes)
    assert loaded.input_size == 64 and loaded.scale is None and loaded.stage_landmarks is None
    np.testing.assert_allclose(loaded.attribute_scores, original.attribute_scores, rtol=1e-3, atol=1e-3)  # float16
    types = np.array([1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    rescored, recorded = score(loaded, types), score(original, types)
    assert rescored["ne_avg"] == recorded["ne_avg"] and rescored["ne_avg_mmfashion"] == recorded["ne_avg_mmfashion"]
    assert rescored["category_top1"] == recorded["category_top1"]


def test_write_metrics_saves_every_runs_predictions_and_drops_stale_ones(workbook):
    settings = experiments.Settings(profile="smoke", dataset_label="SynthFashion-smoke", backbone="vgg_mini",
                                    width=0.0625, input_size=100, pretrained=False, weights_path="", epochs=1,
                                    batch_size=2, optimizer="adam", lr=1e-3, lr_gamma=1.0, seeds=(0, 1))
    variant = experiments.Variant("dafe_fpm_deepfashion_c", "FPM (8 landmarks)", "fpm", {"num_keypoints": 8})
    stale = store.predictions_path("smoke", "dafe", "dafe_removed_row", 0)
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"not a prediction")
    runs = [experiments.RunResult(variant, seed, score(landmark_predictions(OFFSETS * (seed + 1), VISIBLE)),
                                  pd.DataFrame(), 0.0, landmark_predictions(OFFSETS * (seed + 1), VISIBLE))
            for seed in (0, 1)]
    store.write_metrics("dafe", settings, "DeepFashion-C", experiments.ExperimentResults(runs))
    assert sorted(path.name for path in stale.parent.iterdir()) == ["dafe_fpm_deepfashion_c-seed0.npz",
                                                                    "dafe_fpm_deepfashion_c-seed1.npz"]
    recorded = store.load_metrics("smoke", "dafe")["rows"]["dafe_fpm_deepfashion_c"]
    for seed, ne in zip((0, 1), recorded["per_seed"]["ne_avg"]):
        assert score(store.load_predictions("smoke", "dafe", "dafe_fpm_deepfashion_c", seed))["ne_avg"] == ne
    assert recorded["per_seed"]["ne_avg"][1] == pytest.approx(2 * recorded["per_seed"]["ne_avg"][0])


def test_missing_predictions_name_the_notebook_to_run(workbook):
    with pytest.raises(store.MissingPredictionsError,
                       match=r"dafe_fpm_deepfashion_c-seed3\.npz is missing: run the dafe_train notebook for profile "
                             r"'smoke'.*saved for dafe: nothing"):
        store.load_predictions("smoke", "dafe", "dafe_fpm_deepfashion_c", 3)
    assert issubclass(store.MissingPredictionsError, store.MissingMetricsError)


def test_fpm_row_trains_on_deepfashion_batches():
    """The leaderboard's FPM row: 8 belief maps + background on DeepFashion-format crops, trunk from the comparison kwargs."""
    from fashion_core.models import loss_fn

    row = experiments.with_model_kwargs(experiments.variants("dafe", ["fpm"]), "fpm", backbone="vgg_mini", width=0.0625,
                                        stages=2)[0]
    settings = experiments.Settings(profile="smoke", dataset_label="x", backbone="resnet_mini", width=0.0625,
                                    input_size=32, pretrained=False, weights_path="", epochs=1, batch_size=2,
                                    optimizer="adam", lr=1e-3, lr_gamma=1.0, seeds=(0,))
    model = experiments.build_variant(row, settings, 0, 0, seed=0)
    batch = {"image": torch.randn(2, 3, 32, 32), "landmarks": torch.tensor([[[8.0, 8.0]] * 8, [[20.0, 24.0]] * 8]),
             "visibility": torch.tensor([[0, 1, 2, 0, 0, 0, 0, 0], [0] * 8])}
    outputs = model(batch["image"])
    assert outputs["landmarks"].shape == (2, 8, 2) and outputs["beliefs"].shape[1:3] == (2, 9)
    losses = loss_fn(model, batch, 0)
    assert set(losses) == {"loss", "stage1", "stage2"} and losses["loss"].item() > 0
    losses["loss"].backward()


def test_run_variants_gives_one_model_its_own_settings(monkeypatch):
    seen = []
    monkeypatch.setattr(runs, "train_and_score",
                        lambda variant, settings, seed, *args, **kwargs: seen.append((variant.model, seed, settings.lr)))
    settings = experiments.Settings(profile="smoke", dataset_label="x", backbone="resnet_mini", width=0.0625,
                                    input_size=32, pretrained=False, weights_path="", epochs=1, batch_size=2,
                                    optimizer="adam", lr=3e-3, lr_gamma=1.0, seeds=(0, 1))
    experiments.run_variants(experiments.variants("dafe", ["full", "fpm"]), settings, None, None, (), 0,
                             settings_by_model={"fpm": {"lr": 1e-3}})
    assert seen == [("dafe", 0, 3e-3), ("dafe", 1, 3e-3), ("fpm", 0, 1e-3), ("fpm", 1, 1e-3)]


# ---------------------------------------------------------------------------- protocols on hand-computed values

def test_landmark_protocols_on_hand_computed_values():
    visible_ne, mmfashion_ne = reproduction.landmark_ne_protocols(landmark_predictions(OFFSETS, VISIBLE))
    assert visible_ne == pytest.approx(((0.1 + 0.2) / 2 + 0.3) / 2)  # per landmark over visible, then mean
    assert mmfashion_ne == pytest.approx(((0.1 + 0.2) / 2 + 0.3 / 2) / 2)  # invisible = 0 error, / N
    assert reproduction.crop_normalised_ne_pooled(landmark_predictions(OFFSETS, VISIBLE)) == pytest.approx(0.2)


def test_attribute_protocols_on_hand_computed_values():
    scores = np.array([[0.9, 0.8, 0.1, 0.0], [0.1, 0.9, 0.8, 0.0], [0.9, 0.1, 0.0, 0.8]], np.float32)
    targets = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
    predictions = landmark_predictions(np.zeros((3, 1, 2), np.float32), np.ones((3, 1), bool),
                                       attribute_scores=scores, attributes=targets)
    micro, best = reproduction.attribute_recall_protocols(predictions, k=1, top_n=2)
    assert micro == pytest.approx(2 / 4)   # top-1 hits: image 0 (attr 0), image 1 (attr 1); 4 positives
    # per-attribute recall: a0 1/1, a1 1/1, a2 0/1, a3 0/1 -> best 2 averaged = 1.0; best 4 -> 0.5
    assert best == pytest.approx(1.0)
    assert reproduction.attribute_recall_protocols(predictions, k=1, top_n=4)[1] == pytest.approx(0.5)


def test_fashionai_normaliser_against_crop_normaliser():
    """One blouse, 200 x 100 px, armpits 40 px apart, input 50 x 50: only the normaliser differs."""
    keypoints = np.zeros((1, 24, 2))
    keypoints[0, 5], keypoints[0, 6], keypoints[0, 0] = (80, 50), (120, 50), (100, 20)
    codes = np.full((1, 24), -1)
    codes[0, [0, 5, 6]] = 1
    annotations = SimpleNamespace(keypoints=keypoints, visibility=codes, category=np.array(["blouse"]))
    scale = np.array([[0.25, 0.5]], np.float32)  # input px per original px
    truth = (keypoints * scale[:, None, :]).astype(np.float32)
    prediction = truth.copy()
    prediction[0, 0] += (2.5, 0)    # 10 original px right: 10 / 40 armpit, 2.5 / 50 of the input width
    prediction[0, 5] += (0, 5)      # 10 original px down: 10 / 40, 5 / 50 of the input height
    predictions = Predictions(input_size=50, index=np.array([0]), landmarks=prediction, landmarks_true=truth,
                              visible=codes == 1, visibility=codes, clothes_type=np.array([1]), scale=scale)
    crop, challenge = reproduction.fashionai_normaliser_protocols(predictions, annotations)
    assert challenge == pytest.approx((10 / 40 + 10 / 40 + 0) / 3)
    assert crop == pytest.approx((2.5 / 50 + 5 / 50 + 0) / 3)


def test_sensitivity_table_moves_and_largest_move():
    comparisons = [reproduction.Comparison("landmark NE", "A-model", "x", "visible", "mmfashion", (0.10, 0.12), (0.05, 0.09)),
                   reproduction.Comparison("landmark NE", "B-model", "x", "visible", "mmfashion", (0.20, 0.20), (0.19, 0.19)),
                   reproduction.Comparison("attribute recall@5", "A-model", "x", "micro", "best 50", (0.3,), (0.6,))]
    table = reproduction.protocol_sensitivity(comparisons, "SynthFashion-smoke", "smoke")
    where = "[SynthFashion-smoke · profile smoke]"
    assert table[f"A {where}"].tolist() == pytest.approx([0.11, 0.20, 0.3])
    assert table[f"B − A {where}"].tolist() == pytest.approx([-0.04, -0.01, 0.3])
    assert table[f"relative change B / A − 1 {where}"].tolist() == pytest.approx([(-0.5 - 0.25) / 2, -0.05, 1.0])
    assert table["seeds"].tolist() == [2, 2, 1]
    moves = reproduction.largest_moves(table)
    assert moves["model"].tolist() == ["A-model", "A-model"] and moves["metric"].tolist()[1] == "attribute recall@5"


# ---------------------------------------------------------------------------- leaderboard and detection rates

def fake_dafe(profile: str = "smoke") -> dict:
    rows = {}
    for position, key in enumerate(reproduction.leaderboard_keys().values()):
        per_seed = {f"ne_{slot}": [0.1 * (position + 1)] * 2 for slot in
                    ("l_collar", "r_collar", "l_sleeve", "r_sleeve", "l_waist", "r_waist", "l_hem", "r_hem", "avg")}
        rows[key] = {"name": key, "seeds": [0, 1], "per_seed": per_seed,
                     "mean": {name: values[0] for name, values in per_seed.items()},
                     "std": {name: 0.01 for name in per_seed}}
    return {"dataset_label": "SynthFashion-smoke", "profile": profile, "rows": rows}


def test_leaderboard_columns_name_model_dataset_and_profile():
    board = reproduction.leaderboard(fake_dafe())
    assert list(board.index)[-1] == "Avg" and len(board) == 9
    assert [column.split(" [")[0] for column in board.columns] == ["FashionNet", "Liu & Lu", "DAFE", "FPM"]
    assert all("SynthFashion-smoke, DeepFashion-C format · profile smoke · 2 seeds" in column for column in board.columns)
    assert board.iloc[-1].tolist() == ["0.1000 ± 0.0100", "0.2000 ± 0.0100", "0.3000 ± 0.0100", "0.4000 ± 0.0100"]
    incomplete = fake_dafe()
    del incomplete["rows"]["dafe_fpm_deepfashion_c"]
    with pytest.raises(store.MissingMetricsError, match="no rows \\['dafe_fpm_deepfashion_c'\\]"):
        reproduction.leaderboard(incomplete)


def test_detection_rates_curve_and_table(workbook):
    for seed, scale in ((0, 1.0), (1, 2.0)):
        store.save_predictions(store.predictions_path("smoke", "dafe", "good", seed),
                                     landmark_predictions(OFFSETS * scale, VISIBLE))
        store.save_predictions(store.predictions_path("smoke", "dafe", "bad", seed),
                                     landmark_predictions(OFFSETS * 3, VISIBLE))
    rates = reproduction.detection_rates("smoke", {"Good": "good", "Bad": "bad"}, [0, 1], thresholds=[0.1, 0.25, 1.0])
    good = rates[rates["method"] == "Good"].pivot(index="threshold", columns="seed", values="rate")
    # visible errors: seed 0 -> 0.1, 0.2, 0.3; seed 1 -> 0.2, 0.4, 0.6 (the invisible 0.5 never counts)
    assert good[0].tolist() == pytest.approx([1 / 3, 2 / 3, 1.0]) and good[1].tolist() == pytest.approx([0, 1 / 3, 1.0])
    table = reproduction.detection_rate_table(rates, "[S · profile smoke]", thresholds=(0.25, 1.0))
    assert list(table.index) == ["Good", "Bad"] and list(table.columns)[0] == "rate at d ≤ 0.25 [S · profile smoke]"
    assert table.loc["Good"].iloc[0] == f"{0.5:.4f} ± {np.std([2 / 3, 1 / 3], ddof=1):.4f}"
    with pytest.raises(ValueError, match="no detection rates at thresholds"):
        reproduction.detection_rate_table(rates, "", thresholds=(0.05,))
    figure = reproduction.plot_detection_rates(rates, "title", marks=(0.25,))
    assert [line.get_label() for line in figure.axes[0].get_lines() if not line.get_label().startswith("_")] == \
        ["Good", "Bad"]


def test_protocol_comparisons_keep_what_exists_and_say_what_is_missing(workbook):
    with pytest.raises(store.MissingMetricsError, match="landmark NE rows left out: .*dafe.json is missing"):
        reproduction.protocol_comparisons("smoke", workbook / "no_fashionai")
    settings = experiments.Settings(profile="smoke", dataset_label="SynthFashion-smoke", backbone="resnet_mini",
                                    width=0.0625, input_size=100, pretrained=False, weights_path="", epochs=1,
                                    batch_size=2, optimizer="adam", lr=1e-3, lr_gamma=1.0, seeds=(0,))
    runs = []
    for scale, key in enumerate(reproduction.leaderboard_keys().values(), start=1):
        predictions = landmark_predictions(OFFSETS * scale / 4, VISIBLE)
        runs.append(experiments.RunResult(experiments.Variant(key, key, "dafe"), 0, score(predictions), pd.DataFrame(),
                                          0.0, predictions))
    store.write_metrics("dafe", settings, "DeepFashion-C and FLD", experiments.ExperimentResults(runs))
    comparisons, notes = reproduction.protocol_comparisons("smoke", workbook / "no_fashionai")
    assert [item.method for item in comparisons] == ["FashionNet", "Liu & Lu", "DAFE", "FPM"]
    fpm = comparisons[-1]  # offsets x 1: visible NE 0.225, mmfashion 0.15 (test_landmark_protocols_on_hand_computed_values)
    assert fpm.values_a == pytest.approx((0.225,)) and fpm.values_b == pytest.approx((0.15,))
    assert len(notes) == 2 and notes[0].startswith("attribute recall rows left out: ") and "fashionnet_train" in notes[0]
    assert notes[1].startswith("FashionAI normaliser rows left out: ") and "fpm_train" in notes[1]


def test_section_turns_missing_inputs_into_a_message(capsys):
    with reproduction.section("Leaderboard"):
        raise store.MissingMetricsError("dafe.json is missing: run the dafe_train notebook")
    assert "Leaderboard: not shown.** dafe.json is missing" in capsys.readouterr().out
    with pytest.raises(KeyError):
        with reproduction.section("Leaderboard"):
            raise KeyError("a bug must not be hidden")


def test_gallery_indices_spread_evenly():
    assert gallery.gallery_indices(3, 11) == [0, 5, 10]
    assert gallery.gallery_indices(6, 2) == [0, 1]
    with pytest.raises(ValueError, match="at least 1"):
        gallery.gallery_indices(0, 5)


# ---------------------------------------------------------------------------- gallery

@pytest.fixture(scope="module")
def tiny_models():
    """Untrained DAFE, Liu & Lu and M2Fashion at 32 px: the gallery's code path, not its accuracy."""
    torch.manual_seed(0)
    common = dict(width=0.0625, input_size=32, pretrained=False)
    return {"dafe": build_model("dafe", backbone="resnet_mini", **common).eval(),
            "liu2018": build_model("liu2018", num_categories=3, num_attributes=6, backbone="vgg_mini", **common).eval(),
            "m2fashion": build_model("m2fashion", num_categories=3, num_attributes=6, backbone="resnet_mini",
                                     feature_stride=16, **common).eval()}


def check_gallery(models, sources, indices, category_names=("a", "b", "c")):
    figure = gallery.gallery_figure(models, sources, indices, category_names=category_names)
    axes = np.array(figure.axes[:len(indices) * 6]).reshape(len(indices), 6)
    for row, index in zip(axes, indices):
        label = sources["dafe"].label(index)
        assert label[-20:] in row[0].get_title() and "DAFE" in row[0].get_title()
        assert "SAU" in row[1].get_title() and "Liu & Lu" in row[2].get_title()
        assert "attention A" in row[4].get_title() and "ASA, all attributes unknown" in row[5].get_title()
        # DAFE's predicted landmarks are the diamonds drawn in its first panel
        predicted = report_predicted_points(row[0])
        with torch.no_grad():
            expected = models["dafe"](sources["dafe"].item(index)["image"][None])["landmarks"][0].numpy()
        np.testing.assert_allclose(predicted, expected, atol=1e-4)
    return figure


def report_predicted_points(ax) -> np.ndarray:
    return np.concatenate([collection.get_offsets() for collection in ax.collections
                           if collection.get_paths() and len(collection.get_offsets()) == 1])[-8:]


@pytest.mark.parametrize("folder", REAL_FOLDERS, ids=lambda folder: folder.name)
def test_gallery_on_real_photos(folder, tiny_models):
    if not folder.is_dir():
        pytest.skip(f"{folder} is not on this machine")
    sources = gallery.gallery_sources(tiny_models, folder=folder)
    assert len({id(source) for source in sources.values()}) == 1  # one source per input size, shared
    source = sources["dafe"]
    assert source.kind == "folder" and len(source) > 10
    indices = gallery.gallery_indices(3, len(source))
    assert indices[0] == 0 and indices[-1] == len(source) - 1
    check_gallery(tiny_models, sources, indices)


def test_gallery_on_a_synthfashion_split_draws_ground_truth(tmp_path_factory, tiny_models):
    from fashion_core.data.deepfashion import read_category_attribute
    from fashion_core.data.synthfashion.writer import generate

    root = tmp_path_factory.mktemp("synth_report") / "synthfashion"
    generate(root, n_train=2, n_val=1, n_test=3, size=64, seed=3, formats=("deepfashion_c",), workers=1, progress=False)
    annotations = read_category_attribute(root / "deepfashion_c")
    sources = gallery.gallery_sources(tiny_models, annotations=annotations)
    assert sources["dafe"].kind == "dataset" and len(sources["dafe"]) == 3
    figure = check_gallery(tiny_models, sources, [0, 2], annotations.category_names)
    assert any("true, visible" in text.get_text() for text in figure.legends[0].get_texts())
    with pytest.raises(ValueError, match="exactly one of folder"):
        gallery.gallery_sources(tiny_models)
    with pytest.raises(ValueError, match="gallery models must be some of"):
        gallery.gallery_figure({"fashionnet": tiny_models["dafe"]}, sources, [0])


# ---------------------------------------------------------------------------- the notebook, smoke profile

def scratch_workbook(root: Path) -> dict:
    """A workbook in `root` sharing the code, notebooks' sources, params and smoke data of this checkout."""
    for name in ("fashion_core", "tests"):
        (root / name).symlink_to(REPO / name)
    (root / "notebooks").mkdir()
    for notebook in (*TRAIN_NOTEBOOKS, REPORT):
        shutil.copy(NOTEBOOKS / f"{notebook}.ipynb", root / "notebooks")
    for params in (REPO / "params").glob("*/*"):
        if params.name in ("data.yaml", "README.md") or params.stem in (*TRAIN_NOTEBOOKS, REPORT):
            (root / "params" / params.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(params, root / "params" / params.parent.name)
    (root / "data" / "synthfashion").mkdir(parents=True)
    (root / "data" / "synthfashion" / "smoke").symlink_to(REPO / "data" / "synthfashion" / "smoke")
    return {**os.environ, "FASHION_WORKBOOK_ROOT": str(root), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def output_text(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return "\n".join(str(output.get("text", "")) + json.dumps(output.get("data", {}))
                     for cell in cells for output in cell.get("outputs", []))


@pytest.mark.slow
def test_smoke_profile_runs_and_passes_nbval(tmp_path, monkeypatch):
    """Train the five papers on the smoke profile in a scratch workbook, run the report, re-execute it (nbval)."""
    environment = scratch_workbook(tmp_path)
    run = subprocess.run([sys.executable, "-m", "fashion_core.run", "--profile", "smoke", "--only", *TRAIN_NOTEBOOKS,
                          REPORT], env=environment, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    reports_dir = tmp_path / "reports" / "smoke"
    missing = re.findall(r"\*\*([\w &-]+): not shown", output_text(reports_dir / f"{REPORT}.ipynb"))
    if not (REPO / "fashion_core" / "ledger.py").exists():  # the ledger module is delivered separately
        missing = [name for name in missing if name != "Claims ledger"]
    assert not missing, f"report sections without their inputs: {missing}"
    assert "rows left out" not in output_text(reports_dir / f"{REPORT}.ipynb")
    for name in ("report_landmark_leaderboard", "report_detection_rates", "report_protocol_sensitivity"):
        assert (reports_dir / "tables" / f"{name}.csv").exists() and (reports_dir / "tables" / f"{name}.md").exists()
    for name in ("report_detection_rate_curves", "report_gallery"):
        assert (reports_dir / "figures" / f"{name}.png").stat().st_size > 10_000

    # The saved predictions rescore to exactly the recorded numbers.
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path))
    dafe = store.load_metrics("smoke", "dafe")
    for key in reproduction.leaderboard_keys().values():
        for seed, recorded in zip(dafe["rows"][key]["seeds"], dafe["rows"][key]["per_seed"]["ne_avg"]):
            assert score(store.load_predictions("smoke", "dafe", key, seed))["ne_avg"] == recorded
    sensitivity = pd.read_csv(reports_dir / "tables" / "report_protocol_sensitivity.csv", index_col=0)
    assert set(sensitivity["metric"]) == {"landmark NE", "attribute recall@3", "attribute recall@5",
                                         "keypoint NE (FashionAI keypoints)"}
    ne_rows = sensitivity[sensitivity["metric"] == "landmark NE"].set_index("model")
    a_column = next(column for column in sensitivity.columns if column.startswith("A ["))
    for method, key in reproduction.leaderboard_keys().items():
        assert ne_rows.loc[method, a_column] == pytest.approx(dafe["rows"][key]["mean"]["ne_avg"], rel=1e-5)  # CSV: 6 digits

    nbval = subprocess.run([sys.executable, "-m", "pytest", "-q", "--nbval", "--nbval-current-env",
                            "--nbval-sanitize-with", str(REPO / "tests" / "nbval_sanitize.cfg"), "-p", "no:cacheprovider",
                            str(reports_dir / f"{REPORT}.ipynb")], env=environment, capture_output=True, text=True,
                           cwd=tmp_path)
    assert nbval.returncode == 0, nbval.stdout[-3000:]

    # The same report on a folder of real photos, when the machine has them.
    folder = next((folder for folder in REAL_FOLDERS if folder.is_dir()), None)
    if folder is not None:
        import papermill

        from fashion_core.params import resolved_parameters

        source = tmp_path / "notebooks" / f"{REPORT}.ipynb"
        parameters = {**resolved_parameters("smoke", source, root=tmp_path), "gallery_folder": str(folder),
                      "gallery_count": 2}
        papermill.execute_notebook(str(source), str(tmp_path / "real.ipynb"), parameters=parameters,
                                   kernel_name="python3", progress_bar=False, cwd=str(reports_dir))
        assert "images in " + str(folder) in output_text(tmp_path / "real.ipynb")
