"""Datasets: crop/resize/flip geometry, determinism, heatmap targets, load-time errors."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from annotation_fixtures import (
    replace_field,
    truncate_jpeg,
    write_deepfashion_c,
    write_fashionai,
    write_fld,
    write_list_file,
)
from fashion_core.data.datasets import (
    DEEPFASHION_FLIP_PAIRS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    CategoryAttributeDataset,
    FashionAIDataset,
    HeatmapSpec,
    LandmarkDataset,
    denormalize,
    flip_decision,
    flip_permutation,
    render_heatmaps,
    transform_points,
)
from fashion_core.data.deepfashion import read_category_attribute, read_fld
from fashion_core.data.errors import AnnotationError
from fashion_core.data.vocab import FASHIONAI_FLIP_PAIRS
from fashion_core.data.fashionai import read_fashionai

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REAL_DRESSES = SHARED / "real" / "deepfashion_c_dresses"
SIZE = 32


@pytest.fixture
def tree(tmp_path):
    return write_deepfashion_c(tmp_path)


@pytest.fixture
def annotations(tree):
    return read_category_attribute(tree.root)


def first_flipped_item(dataset) -> int:
    return next(item for item in range(len(dataset)) if dataset.flips(item))


def test_sample_keys_types_and_shapes(annotations):
    dataset = CategoryAttributeDataset(annotations, "train", input_size=SIZE, heatmaps=HeatmapSpec(stride=4))
    sample = dataset[1]
    expected = {
        "image": ((3, SIZE, SIZE), torch.float32), "landmarks": ((8, 2), torch.float32),
        "visibility": ((8,), torch.int64), "visible": ((8,), torch.bool), "category": ((), torch.int64),
        "attributes": ((7,), torch.float32), "clothes_type": ((), torch.int64), "index": ((), torch.int64),
        "crop_size": ((2,), torch.float32), "heatmaps": ((8, SIZE // 4, SIZE // 4), torch.float32),
    }
    for key, (shape, dtype) in expected.items():
        assert tuple(sample[key].shape) == shape and sample[key].dtype == dtype, key
    assert sample["category"] == 2 and sample["clothes_type"] == 2 and sample["index"] == 1
    assert sample["visibility"].tolist() == [-1, -1, -1, -1, 0, 0, 1, 0]
    assert sample["visible"].tolist() == [False] * 4 + [True, True, False, True]
    np.testing.assert_array_equal(sample["crop_size"], [40, 47])


def test_crop_is_the_bbox_resized_without_keeping_aspect(tree, annotations):
    dataset = CategoryAttributeDataset(annotations, "train", input_size=SIZE)
    sample = dataset[0]
    x1, y1, x2, y2 = tree.images[0].bbox
    decoded = Image.open(tree.image_path(0)).convert("RGB")
    expected = np.asarray(decoded.resize((SIZE, SIZE), Image.Resampling.BILINEAR, box=(x1, y1, x2, y2)))
    assert np.abs(denormalize(sample["image"]).astype(int) - expected).max() <= 1
    points = annotations.landmarks[0]
    expected_points = (points - (x1, y1)) * (SIZE / (x2 - x1), SIZE / (y2 - y1))
    present = annotations.landmark_visibility[0] >= 0
    np.testing.assert_allclose(sample["landmarks"].numpy()[present], expected_points[present], rtol=1e-6)
    assert (sample["landmarks"].numpy()[~present] == 0).all()


def test_image_is_imagenet_normalised(annotations):
    sample = CategoryAttributeDataset(annotations, "test", input_size=SIZE)[0]
    pixels = torch.from_numpy(denormalize(sample["image"])).permute(2, 0, 1).float() / 255
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert torch.allclose((pixels - mean) / std, sample["image"], atol=0.5 / 255 / 0.224)


def test_flip_mirrors_pixels_and_swaps_left_and_right(annotations):
    plain = CategoryAttributeDataset(annotations, None, input_size=SIZE, heatmaps=HeatmapSpec())
    flipping = CategoryAttributeDataset(annotations, None, input_size=SIZE, flip=True, heatmaps=HeatmapSpec())
    item = first_flipped_item(flipping)
    original, mirrored = plain[item], flipping[item]
    assert mirrored["flipped"] and not original["flipped"]
    assert torch.equal(mirrored["image"], original["image"].flip(-1))
    perm = [1, 0, 3, 2, 5, 4, 7, 6]
    assert torch.equal(mirrored["visibility"], original["visibility"][perm])
    present = original["visibility"][perm] >= 0
    expected_x = SIZE - original["landmarks"][perm, 0]
    assert torch.allclose(mirrored["landmarks"][present, 0], expected_x[present])
    assert torch.allclose(mirrored["landmarks"][:, 1], original["landmarks"][perm, 1])
    assert torch.allclose(mirrored["heatmaps"], original["heatmaps"][perm].flip(-1), atol=1e-6)


def test_flip_twice_is_the_identity():
    points = np.array([[0.0, 1.0], [3.25, 7.5], [31.9, 0.0], [16.0, 16.0]], dtype=np.float32)
    box = np.array([0.0, 0.0, SIZE, SIZE])
    perm = flip_permutation(4, ((0, 1), (2, 3)))
    once = transform_points(points, box, SIZE, flip=True)[perm]
    twice = transform_points(once, box, SIZE, flip=True)[perm]
    np.testing.assert_allclose(twice, points, atol=1e-6)
    assert (perm[perm] == np.arange(4)).all()


def test_flipped_landmark_stays_on_the_same_pixel():
    # Pixel column c covers [c, c+1): its centre c + 0.5 must land in the mirrored column S - 1 - c.
    column = 5
    image = torch.zeros(3, SIZE, SIZE)
    image[:, :, column] = 1
    mirrored_column = int(torch.flip(image, dims=[-1])[0, 0].argmax())
    mirrored_x = transform_points(np.array([[column + 0.5, 3.0]]), np.array([0, 0, SIZE, SIZE]), SIZE, True)[0, 0]
    assert math.floor(mirrored_x) == mirrored_column == SIZE - 1 - column


def test_flip_is_a_pure_function_of_seed_epoch_and_row(annotations):
    decisions = [[flip_decision(0, epoch, row) for row in range(200)] for epoch in range(3)]
    assert decisions[0] == [flip_decision(0, 0, row) for row in range(200)]
    assert decisions[0] != decisions[1] != decisions[2]
    assert 60 < sum(decisions[0]) < 140
    assert [flip_decision(1, 0, row) for row in range(200)] != decisions[0]
    dataset = CategoryAttributeDataset(annotations, None, input_size=SIZE, flip=True, seed=0)
    seen = set()
    for epoch in range(8):
        dataset.set_epoch(epoch)
        flags = tuple(bool(dataset[item]["flipped"]) for item in range(len(dataset)))
        assert flags == tuple(flip_decision(0, epoch, row) for row in range(6))
        seen.add(flags)
    assert len(seen) > 1


def test_worker_processes_see_the_same_flips(annotations):
    dataset = CategoryAttributeDataset(annotations, None, input_size=SIZE, flip=True, seed=3)
    dataset.set_epoch(5)
    single = next(iter(DataLoader(dataset, batch_size=6)))
    workers = torch.cat([batch["flipped"] for batch in DataLoader(dataset, batch_size=2, num_workers=2)])
    assert torch.equal(single["flipped"], workers)


def test_test_time_is_deterministic(annotations):
    dataset = CategoryAttributeDataset(annotations, "test", input_size=SIZE, heatmaps=HeatmapSpec())
    first, second = dataset[1], dataset[1]
    for key in first:
        assert torch.equal(first[key], second[key]), key
    assert not first["flipped"]


def test_default_collate_batches_samples(annotations):
    dataset = CategoryAttributeDataset(annotations, None, input_size=SIZE, heatmaps=HeatmapSpec(stride=2))
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    assert batch["image"].shape == (4, 3, SIZE, SIZE)
    assert batch["heatmaps"].shape == (4, 8, SIZE // 2, SIZE // 2)
    assert batch["attributes"].shape == (4, 7)


@pytest.mark.parametrize("cache_images", [False, True])
def test_a_batch_equals_its_samples_one_by_one(annotations, cache_images):
    """The DataLoader's batched fetch (__getitems__) and item-by-item access give the same bits, flips included."""
    dataset = CategoryAttributeDataset(annotations, None, input_size=SIZE, flip=True, seed=3,
                                       heatmaps=HeatmapSpec(kernel="liu_lu", stride=2), cache_images=cache_images)
    items = list(range(len(dataset)))
    assert any(dataset.flips(item) for item in items) and not all(dataset.flips(item) for item in items)
    batched = dataset.__getitems__(items)
    for item, sample in zip(items, batched):
        single = dataset[item]
        assert single.keys() == sample.keys()
        for key in single:
            assert single[key].dtype == sample[key].dtype and torch.equal(single[key], sample[key]), (item, key)


def test_a_filled_cache_travels_with_the_pickled_dataset(annotations, tree):
    import pickle
    import shutil

    dataset = CategoryAttributeDataset(annotations, None, input_size=SIZE, cache_images=True)
    expected = [dataset[item]["image"] for item in range(len(dataset))]
    dataset.fill_cache()
    copy = pickle.loads(pickle.dumps(dataset))
    shutil.rmtree(tree.root / "img")  # the copy must not need the files any more
    assert all(isinstance(pixels, np.ndarray) for pixels, _ in copy._pixel_cache.values())
    for item, image in enumerate(expected):
        assert torch.equal(copy[item]["image"], image)


def test_fld_dataset_has_no_category_or_attributes(tmp_path):
    tree = write_fld(tmp_path)
    sample = LandmarkDataset(read_fld(tmp_path), "train", input_size=SIZE)[2]
    assert sample["category"] == -1 and sample["attributes"].shape == (0,)
    np.testing.assert_array_equal(sample["crop_box"], tree.images[2].bbox)


def test_fld_without_bbox_uses_the_whole_image(tmp_path):
    tree = write_fld(tmp_path, with_bbox=False)
    sample = LandmarkDataset(read_fld(tmp_path), "test", input_size=SIZE)[0]
    np.testing.assert_array_equal(sample["crop_box"], [0, 0, *tree.images[4].size])


def test_category_dataset_rejects_fld_annotations(tmp_path):
    write_fld(tmp_path)
    with pytest.raises(TypeError):
        CategoryAttributeDataset(read_fld(tmp_path), "train")


def test_fashionai_dataset_resizes_the_whole_image_and_flips_pairs(tmp_path):
    tree = write_fashionai(tmp_path)
    annotations = read_fashionai(tmp_path)
    plain = FashionAIDataset(annotations, input_size=SIZE)
    flipping = FashionAIDataset(annotations, input_size=SIZE, flip=True, seed=1)
    item = first_flipped_item(flipping)
    original, mirrored = plain[item], flipping[item]
    width, height = tree.sizes[item]
    np.testing.assert_allclose(original["scale"], [SIZE / width, SIZE / height])
    present = torch.from_numpy(tree.visibility[item] >= 0)
    expected = torch.from_numpy(tree.keypoints[item]) * torch.tensor([SIZE / width, SIZE / height])
    assert torch.allclose(original["landmarks"][present], expected[present])
    assert original["visible"].tolist() == (tree.visibility[item] == 1).tolist()
    perm = torch.from_numpy(flip_permutation(24, FASHIONAI_FLIP_PAIRS))
    assert torch.equal(mirrored["visibility"], original["visibility"][perm])
    present = mirrored["visibility"] >= 0
    assert torch.allclose(mirrored["landmarks"][present, 0], SIZE - original["landmarks"][perm][present, 0])
    assert torch.equal(mirrored["image"], original["image"].flip(-1))
    assert original["category"] == item and original["attributes"].shape == (0,)


def test_flip_pairs_are_involutions():
    for pairs, n in ((DEEPFASHION_FLIP_PAIRS, 8), (FASHIONAI_FLIP_PAIRS, 24)):
        perm = flip_permutation(n, pairs)
        assert (perm[perm] == np.arange(n)).all() and (perm != np.arange(n)).sum() == 2 * len(pairs)


# ---------------------------------------------------------------------------------------------
# Heatmaps


def test_gaussian_heatmap_values():
    spec = HeatmapSpec("gaussian", radius=2.0)
    maps = render_heatmaps(np.array([[10.5, 20.5]]), np.array([True]), SIZE, spec)
    assert maps.shape == (1, SIZE, SIZE) and maps.dtype == torch.float32
    assert maps[0, 20, 10] == pytest.approx(1.0)
    assert maps[0, 20, 13] == pytest.approx(math.exp(-9 / 8))
    assert maps[0, 23, 14] == pytest.approx(math.exp(-25 / 8))
    assert int(maps[0].argmax()) == 20 * SIZE + 10


def test_liu_lu_heatmap_uses_plain_distance():
    spec = HeatmapSpec("liu_lu", radius=8.0)
    maps = render_heatmaps(np.array([[10.5, 20.5]]), np.array([True]), SIZE, spec)
    assert maps[0, 20, 13] == pytest.approx(math.exp(-0.5 * 3 / 8))
    assert maps[0, 24, 13] == pytest.approx(math.exp(-0.5 * 5 / 8))


def test_heatmap_stride_maps_to_cell_centres():
    spec = HeatmapSpec(stride=4, radius=1.0)
    maps = render_heatmaps(np.array([[10.0, 6.0]]), np.array([True]), SIZE, spec)
    assert maps.shape == (1, 8, 8)
    # Input x = 10 is heatmap x = 2.5, the centre of cell 2; y = 6 is 1.5, the centre of cell 1.
    assert maps[0, 1, 2] == pytest.approx(1.0)


def test_absent_or_outside_points_get_zero_maps():
    points = np.array([[5.0, 5.0], [5.0, 5.0], [-0.5, 5.0], [5.0, SIZE + 0.0], [SIZE - 0.01, 0.0]])
    present = np.array([True, False, True, True, True])
    maps = render_heatmaps(points, present, SIZE, HeatmapSpec())
    assert maps[0].max() > 0.9 and maps[4].max() > 0.5
    assert (maps[1:4] == 0).all()


def test_dataset_heatmaps_skip_truncated_and_absent(annotations):
    sample = CategoryAttributeDataset(annotations, None, input_size=SIZE, heatmaps=HeatmapSpec())[0]
    peaks = sample["heatmaps"].amax(dim=(1, 2))
    codes = sample["visibility"]
    assert (peaks[(codes == 0) | (codes == 1)] > 0.5).all()
    assert (peaks[(codes == 2) | (codes == -1)] == 0).all()


def test_denormalize_inverts_normalisation():
    pixels = torch.randint(0, 256, (3, 5, 7), dtype=torch.uint8)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    normalised = (pixels.float() / 255 - mean) / std
    assert np.array_equal(denormalize(normalised), pixels.permute(1, 2, 0).numpy())
    assert denormalize(normalised[None]).shape == (1, 5, 7, 3)


# ---------------------------------------------------------------------------------------------
# Errors found at load time


def test_corrupt_jpeg_at_getitem_names_image_file_and_line(tree, annotations):
    truncate_jpeg(tree.image_path(4))
    dataset = CategoryAttributeDataset(annotations, "test", input_size=SIZE)
    with pytest.raises(AnnotationError) as caught:
        dataset[0]
    message = str(caught.value)
    assert f"{tree.path('Eval/list_eval_partition.txt')}:{tree.line_of('Eval/list_eval_partition.txt', 4)}:" in message
    assert f"expected a decodable image at {tree.image_path(4)}" in message


def test_missing_image_at_getitem(tree, annotations):
    tree.image_path(3).unlink()
    with pytest.raises(AnnotationError) as caught:
        CategoryAttributeDataset(annotations, "val", input_size=SIZE)[0]
    assert caught.value.line == tree.line_of("Eval/list_eval_partition.txt", 3)
    assert f"expected an existing image file {tree.image_path(3)}" in str(caught.value)


def test_bbox_outside_image_at_getitem(tree):
    line = tree.line_of("Anno/list_bbox.txt", 2)
    replace_field(tree.path("Anno/list_bbox.txt"), line, 5, "049")  # the image is 48 px high
    dataset = CategoryAttributeDataset(read_category_attribute(tree.root), "train", input_size=SIZE)
    with pytest.raises(AnnotationError) as caught:
        dataset[2]
    message = str(caught.value)
    assert f"{tree.path('Anno/list_bbox.txt')}:{line}: expected a bbox inside the 64x48 image" in message
    assert str(tree.image_path(2)) in message


def test_empty_split(tree):
    replace_field(tree.path("Eval/list_eval_partition.txt"), tree.line_of("Eval/list_eval_partition.txt", 3), 2,
                  "train")
    annotations = read_category_attribute(tree.root)
    with pytest.raises(AnnotationError) as caught:
        CategoryAttributeDataset(annotations, "val")
    assert_text = str(caught.value)
    assert str(tree.path("Eval/list_eval_partition.txt")) in assert_text
    assert "expected at least one image with evaluation_status 'val'" in assert_text
    assert "train 4, val 0, test 2" in assert_text


# ---------------------------------------------------------------------------------------------
# Real photographs


@pytest.mark.skipif(not REAL_DRESSES.is_dir(), reason=f"real DeepFashion-C photos not found at {REAL_DRESSES}")
def test_real_jpegs_through_the_dataset(tmp_path):
    names = sorted(path.relative_to(REAL_DRESSES).as_posix() for path in REAL_DRESSES.glob("img/*/*.jpg"))[:4]
    write_list_file(tmp_path / "Anno/list_category_cloth.txt", "category_name  category_type", ["Dress  3"])
    write_list_file(tmp_path / "Anno/list_attr_cloth.txt", "attribute_name  attribute_type", ["maxi  3"])
    write_list_file(tmp_path / "Eval/list_eval_partition.txt", "image_name  evaluation_status",
                    [f"{name} test" for name in names])
    write_list_file(tmp_path / "Anno/list_category_img.txt", "image_name  category_label", [f"{n} 1" for n in names])
    write_list_file(tmp_path / "Anno/list_attr_img.txt", "image_name  attribute_labels", [f"{n} 1" for n in names])
    sizes = [Image.open(REAL_DRESSES / name).size for name in names]
    write_list_file(tmp_path / "Anno/list_bbox.txt", "image_name  x_1  y_1  x_2  y_2",
                    [f"{n} 10 10 {w - 10} {h - 10}" for n, (w, h) in zip(names, sizes)])
    write_list_file(tmp_path / "Anno/list_landmarks.txt", "image_name  clothes_type",
                    [f"{n} 3 " + " ".join(f"0 {20 + 15 * k} {20 + 18 * k}" for k in range(8)) for n in names])
    annotations = read_category_attribute(tmp_path, image_root=REAL_DRESSES, verify_images=True)
    sample = CategoryAttributeDataset(annotations, "test", input_size=64, heatmaps=HeatmapSpec("liu_lu", 2.0))[3]
    assert sample["image"].shape == (3, 64, 64) and torch.isfinite(sample["image"]).all()
    assert sample["image"].std() > 0.1  # a photo, not a blank
    assert sample["heatmaps"].amax(dim=(1, 2)).min() > 0.5
