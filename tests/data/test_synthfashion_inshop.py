"""SynthFashion's In-shop tree: byte-identical for a seed, readable by the real reader, the benchmark's split rules.

The tiny tree's digest is pinned like the main formats' (test_synthfashion_bytes.py): a change to the
order of random draws, the scene or the rasteriser shows up here as another digest.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from fashion_core.data.inshop import read_inshop
from fashion_core.data.synthfashion import inshop as I
from fashion_core.data.synthfashion.writer import SynthKnobs

TINY = dict(n_train_items=3, n_test_items=3, images_per_item=(2, 5), size=64, seed=7,
            knobs=SynthKnobs(occlusion_rate=0.6, truncation_rate=0.5))
TINY_FILES = 25
TINY_DIGEST = "54ec1e53211c58b376fb8046e26503fd8dfb3a685fbcf3607ecca93f4966c258"


def tree_digest(root: Path) -> tuple[int, str]:
    """(number of files, sha256 over every file's relative path and sha256, in path order)."""
    lines = [f"{p.relative_to(root).as_posix()}\t{hashlib.sha256(p.read_bytes()).hexdigest()}\n"
             for p in sorted(root.rglob("*")) if p.is_file()]
    return len(lines), hashlib.sha256("".join(lines).encode()).hexdigest()


def generate(root: Path, workers: int = 1, **changes) -> dict:
    return I.generate_inshop(root, **{**TINY, **changes}, workers=workers, progress=False)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 12 + 12 item tree with the default knobs, read back by the real reader."""
    root = tmp_path_factory.mktemp("inshop") / "small"
    manifest = I.generate_inshop(root, 12, 12, (2, 5), size=64, seed=1, workers=2, progress=False)
    return root, manifest, read_inshop(root, verify_images=True)


def test_tiny_tree_bytes_are_pinned_and_do_not_depend_on_workers(tmp_path):
    generate(tmp_path / "one", workers=1)
    generate(tmp_path / "two", workers=2)
    assert tree_digest(tmp_path / "one") == tree_digest(tmp_path / "two")
    assert tree_digest(tmp_path / "one") == (TINY_FILES, TINY_DIGEST)


def test_another_seed_gives_other_bytes(tmp_path):
    generate(tmp_path / "a")
    generate(tmp_path / "b", seed=8)
    assert tree_digest(tmp_path / "a")[1] != tree_digest(tmp_path / "b")[1]


def test_the_real_reader_reads_it_and_the_manifest_counts_match(small):
    _, manifest, annotations = small
    counts = manifest["counts"]
    assert counts["images"] == {status: int((annotations.split == status).sum()) for status in I.STATUSES}
    assert counts["items"] == {"train": 12, "test": 12} and len(annotations.item_names) == 24
    assert counts["pose_type"] == {str(code): int((annotations.pose_type == code).sum())
                                   for code in sorted(set(annotations.pose_type.tolist()))}
    assert manifest["generator"] == "SynthFashion" and manifest["benchmark"] == "inshop"


def test_split_by_item_with_query_and_gallery_for_every_test_item(small):
    _, _, annotations = small
    statuses = defaultdict(list)
    for item, status in zip(annotations.item_id.tolist(), annotations.split.tolist()):
        statuses[item].append(status)
    for item, seen in statuses.items():
        assert 2 <= len(seen) <= 5, item
        if "train" in seen:
            assert set(seen) == {"train"}, item
        else:
            assert "query" in seen and "gallery" in seen, item


def test_names_follow_the_real_layout_and_pose_types_are_distinct_per_item(small):
    _, _, annotations = small
    views = {code: f"01_{k}_{view}.jpg" for code, (k, view) in I.VIEW_FILES.items()}
    poses = defaultdict(list)
    for name, item, pose in zip(annotations.image_names, annotations.item_id.tolist(),
                                annotations.pose_type.tolist()):
        img, gender, folder, folder_item, file_name = name.split("/")
        assert img == "img" and gender in ("WOMEN", "MEN") and folder_item == item
        assert folder in {f for pair in I.FOLDERS.values() for f in pair if f} | {"Graphic_Tees"}
        assert file_name == views[pose]
        poses[item].append(pose)
    for item, seen in poses.items():
        assert 1 in seen and len(set(seen)) == len(seen), (item, seen)


def test_the_photos_of_an_item_show_one_garment():
    photos = I.plan_inshop(5, 5, (2, 5), seed=3)
    by_item = defaultdict(list)
    for photo in photos:
        by_item[photo.item.name].append(photo)
    assert len(by_item) == 10
    for group in by_item.values():
        assert len({photo.item for photo in group}) == 1
        assert len({(photo.gender, photo.folder) for photo in group}) == 1
    assert len({group[0].item for group in by_item.values()}) == 10


def test_views_leave_their_marks_in_the_annotations(small):
    _, _, annotations = small
    codes = annotations.landmark_visibility
    stand_alone, zoom_in = annotations.pose_type == 6, annotations.pose_type == 5
    assert not (codes[stand_alone] == 1).any()          # no mannequin, so no hand, bag or hair over it
    assert set(annotations.variation_type[zoom_in].tolist()) <= {4, 5}
    assert (codes[zoom_in] == 2).any()                 # zoom-ins cut landmarks off
    assert (annotations.bbox[:, 2:] <= 64).all() and (annotations.bbox[:, :2] >= 0).all()


def test_ensure_regenerates_only_when_the_arguments_differ(tmp_path, monkeypatch):
    out = tmp_path / "inshop"
    first = I.ensure_synthfashion_inshop(out, 2, 2, (2, 3), size=48, seed=1, workers=1, progress=False)
    before = tree_digest(out)
    calls = []
    real = I.generate_inshop
    monkeypatch.setattr(I, "generate_inshop", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert I.ensure_synthfashion_inshop(out, 2, 2, (2, 3), size=48, seed=1, workers=2, progress=False) == first
    assert calls == [] and tree_digest(out) == before
    again = I.ensure_synthfashion_inshop(out, 2, 2, (2, 4), size=48, seed=1, workers=1, progress=False)
    assert calls == [1] and again["arguments"]["images_per_item"] == [2, 4]


def test_never_replaces_a_folder_that_is_not_a_synthfashion_in_shop_tree(tmp_path):
    real = tmp_path / "In-shop Clothes Retrieval Benchmark"
    (real / "Anno").mkdir(parents=True)
    (real / "Anno" / "list_bbox_inshop.txt").write_text("0\nimage_name\n")
    with pytest.raises(FileExistsError, match="refusing to replace it"):
        I.generate_inshop(real, 1, 1, progress=False)
    assert (real / "Anno" / "list_bbox_inshop.txt").exists()
    main_tree = tmp_path / "main"
    main_tree.mkdir()
    (main_tree / "synthfashion.json").write_text(json.dumps({"generator": "SynthFashion"}))
    with pytest.raises(FileExistsError):
        I.generate_inshop(main_tree, 1, 1, progress=False)


def test_an_interrupted_run_leaves_the_previous_tree(tmp_path, monkeypatch):
    out = tmp_path / "inshop"
    I.generate_inshop(out, 2, 2, (2, 3), size=48, seed=1, workers=1, progress=False)
    before = tree_digest(out)
    real, state = I.render_inshop_photo, {"n": 0}

    def flaky(*args, **kwargs):
        state["n"] += 1
        if state["n"] > 3:
            raise KeyboardInterrupt("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(I, "render_inshop_photo", flaky)
    with pytest.raises(KeyboardInterrupt):
        I.generate_inshop(out, 2, 2, (2, 3), size=48, seed=2, workers=1, progress=False)
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inshop"]


@pytest.mark.parametrize("images_per_item", [(1, 3), (2, 6), (4, 3)])
def test_images_per_item_must_give_query_and_gallery_and_distinct_views(tmp_path, images_per_item):
    with pytest.raises(ValueError, match="images_per_item"):
        I.generate_inshop(tmp_path / "x", 2, 2, images_per_item, progress=False)


def test_cli_subcommand_writes_the_tree(tmp_path):
    out = tmp_path / "cli"
    done = subprocess.run([sys.executable, "-m", "fashion_core.data.synthfashion", "inshop", "--out", str(out),
                           "--n-train-items", "2", "--n-test-items", "2", "--size", "48", "--no-progress"],
                          capture_output=True, text=True, check=True)
    assert "items: train 2, test 2" in done.stdout
    manifest = json.loads((out / I.MANIFEST).read_text())
    assert len(read_inshop(out)) == sum(manifest["counts"]["images"].values())
    bad = subprocess.run([sys.executable, "-m", "fashion_core.data.synthfashion", "inshop", "--out", str(out),
                          "--n-train-items", "2", "--n-test-items", "2", "--images-per-item", "1", "2"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "images_per_item" in bad.stderr


def test_default_cli_is_unchanged(tmp_path):
    out = tmp_path / "main"
    subprocess.run([sys.executable, "-m", "fashion_core.data.synthfashion", "--out", str(out), "--n-train", "4",
                    "--n-val", "0", "--n-test", "0", "--size", "48", "--no-progress", "--formats", "fld"],
                   capture_output=True, text=True, check=True)
    assert (out / "fld" / "Anno" / "list_landmarks.txt").is_file() and not (out / "Anno").exists()


def test_landmarks_are_the_garment_s_and_inside_or_marked_truncated(small):
    _, _, annotations = small
    visible = annotations.landmark_visibility == 0
    points = annotations.landmarks[visible]
    assert ((points >= 0) & (points < 64)).all()
    truncated = annotations.landmark_visibility == 2
    outside = annotations.landmarks[truncated]
    assert (np.any((outside < 0) | (outside >= 64), axis=-1)).all()
