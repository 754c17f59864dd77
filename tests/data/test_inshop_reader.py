"""The In-shop reader on hand-written real-format files: good rows, and every kind of bad row named by file and line.

Also the In-shop dataset (sample keys, item labels, flips), load_inshop and its data fingerprint.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from annotation_fixtures import (
    assert_names,
    delete_line,
    read_line,
    replace_field,
    replace_line,
    write_image,
    write_list_file,
)
from fashion_core.data.datasets import InShopDataset, LandmarkDataset
from fashion_core.data.deepfashion import read_fld
from fashion_core.data.errors import AnnotationError
from fashion_core.data.fingerprint import data_fingerprint
from fashion_core.data.inshop import InShopAnnotations, read_inshop
from fashion_core.data.splits import InShopSplits, load_inshop

PARTITION = "Eval/list_eval_partition.txt"
BBOX = "Anno/list_bbox_inshop.txt"
LANDMARKS = "Anno/list_landmarks_inshop.txt"
SLOTS = {1: (0, 1, 2, 3, 6, 7), 2: (4, 5, 6, 7), 3: tuple(range(8))}


@dataclass
class Photo:
    name: str
    item: str
    status: str
    clothes_type: int
    pose_type: int
    variation_type: int
    size: tuple[int, int]
    bbox: tuple[int, int, int, int]
    triples: list[tuple[int, int, int]]


UPPER = [(0, 14, 10), (1, 30, 11), (0, 8, 25), (2, 40, 24), (0, 15, 50), (0, 33, 52)]
LOWER = [(0, 12, 8), (0, 36, 9), (1, 10, 40), (0, 38, 41)]
FULL = [(0, 20, 6), (0, 44, 7), (0, 9, 20), (1, 55, 21), (0, 22, 28), (0, 42, 29), (2, 18, 44), (0, 46, 45)]
IMAGES = [
    Photo("img/WOMEN/Dresses/id_00000001/01_1_front.jpg", "id_00000001", "train", 3, 1, 1, (64, 64),
           (2, 2, 60, 62), FULL),
    Photo("img/WOMEN/Dresses/id_00000001/01_4_full.jpg", "id_00000001", "train", 3, 4, 2, (64, 64),
           (5, 3, 58, 60), FULL),
    Photo("img/MEN/Denim/id_00000002/01_1_front.jpg", "id_00000002", "query", 2, 1, 1, (56, 56),
           (4, 4, 50, 52), LOWER),
    Photo("img/MEN/Denim/id_00000002/01_2_side.jpg", "id_00000002", "gallery", 2, 2, 3, (56, 56),
           (3, 1, 52, 55), LOWER),
    Photo("img/WOMEN/Blouses_Shirts/id_00000003/01_1_front.jpg", "id_00000003", "query", 1, 1, 1, (48, 64),
           (3, 5, 47, 63), UPPER),
    Photo("img/WOMEN/Blouses_Shirts/id_00000003/01_7_additional.jpg", "id_00000003", "gallery", 1, 5, 5,
           (48, 64), (1, 2, 46, 60), UPPER),
]


@dataclass
class Tree:
    root: Path
    bbox_order: list[int]

    def path(self, role: str) -> Path:
        return self.root / role

    def line_of(self, role: str, image: int) -> int:
        return 3 + (self.bbox_order.index(image) if role == BBOX else image)


def _name(name: str) -> str:
    return name.ljust(64)


def _landmark_row(image: Photo) -> str:
    return (_name(image.name) + f"{image.clothes_type}  {image.variation_type}  "
            + "  ".join(f"{v} {x:03d} {y:03d}" for v, x, y in image.triples))


def write_inshop(root: Path) -> Tree:
    """The six images above in the real In-shop layout; list_bbox_inshop.txt lists them in reverse order."""
    for index, image in enumerate(IMAGES):
        write_image(root / image.name, *image.size, seed=index)
    write_list_file(root / PARTITION, "image_name  item_id  evaluation_status",
                    [_name(image.name) + image.item.ljust(16) + image.status for image in IMAGES])
    order = list(reversed(range(len(IMAGES))))
    write_list_file(root / BBOX, "image_name  clothes_type  pose_type  x_1  y_1  x_2  y_2",
                    [_name(IMAGES[i].name) + f"{IMAGES[i].clothes_type}  {IMAGES[i].pose_type}  "
                     + " ".join(f"{v:03d}" for v in IMAGES[i].bbox) for i in order])
    write_list_file(root / LANDMARKS, "image_name  clothes_type  variation_type  landmark_visibility_1  "
                    "landmark_location_x_1  landmark_location_y_1", [_landmark_row(image) for image in IMAGES])
    return Tree(root, order)


@pytest.fixture
def tree(tmp_path):
    return write_inshop(tmp_path / "inshop")


def read_error(root: Path, **options) -> AnnotationError:
    with pytest.raises(AnnotationError) as caught:
        read_inshop(root, **options)
    return caught.value


# ----------------------------------------------------------------------------- good rows
def test_reads_every_field_in_partition_order(tree):
    annotations = read_inshop(tree.root)
    assert isinstance(annotations, InShopAnnotations)
    assert annotations.image_names == [image.name for image in IMAGES]
    assert annotations.item_id.tolist() == [image.item for image in IMAGES]
    assert annotations.item_names == ["id_00000001", "id_00000002", "id_00000003"]
    assert annotations.item_index.tolist() == [0, 0, 1, 1, 2, 2]
    assert annotations.item_index.dtype == np.int64
    assert annotations.split.tolist() == [image.status for image in IMAGES]
    assert annotations.clothes_type.tolist() == [image.clothes_type for image in IMAGES]
    assert annotations.pose_type.tolist() == [image.pose_type for image in IMAGES]
    assert annotations.variation_type.tolist() == [image.variation_type for image in IMAGES]
    np.testing.assert_array_equal(annotations.bbox, np.array([image.bbox for image in IMAGES], np.float32))
    assert annotations.landmarks.shape == (6, 8, 2) and annotations.landmark_visibility.shape == (6, 8)
    for row, image in enumerate(IMAGES):
        expected_codes = np.full(8, -1)
        for slot, (code, x, y) in zip(SLOTS[image.clothes_type], image.triples):
            expected_codes[slot] = code
            assert annotations.landmarks[row, slot].tolist() == [x, y]
        assert annotations.landmark_visibility[row].tolist() == expected_codes.tolist()
    assert annotations.image_root == tree.root
    assert annotations.image_path(2) == tree.root / IMAGES[2].name
    assert annotations.source_line(0, BBOX) == (tree.path(BBOX), tree.line_of(BBOX, 0))
    assert annotations.indices("query").tolist() == [2, 4]
    assert annotations.indices("gallery").tolist() == [3, 5]
    with pytest.raises(ValueError, match="train', 'query', 'gallery'"):
        annotations.indices("test")


def test_subset_keeps_items_and_lines(tree):
    gallery = read_inshop(tree.root).subset("gallery")
    assert gallery.item_id.tolist() == ["id_00000002", "id_00000003"]
    assert gallery.item_index.tolist() == [1, 2]
    assert gallery.source_line(1, BBOX) == (tree.path(BBOX), tree.line_of(BBOX, 5))


def test_images_under_img_folder_and_explicit_image_root(tree, tmp_path):
    (tree.root / "Img").mkdir()
    shutil.move(tree.root / "img", tree.root / "Img" / "img")
    assert read_inshop(tree.root).image_root == tree.root / "Img"
    elsewhere = tmp_path / "pictures"
    shutil.move(tree.root / "Img", elsewhere)
    assert read_inshop(tree.root, elsewhere).image_root == elsewhere


def test_verify_images_accepts_the_good_tree(tree):
    assert len(read_inshop(tree.root, verify_images=True)) == 6


# ----------------------------------------------------------------------------- bad rows
@pytest.mark.parametrize("role", [PARTITION, BBOX, LANDMARKS])
def test_count_line_that_does_not_match_the_rows(tree, role):
    replace_line(tree.path(role), 1, "7")
    assert_names(read_error(tree.root), tree.path(role), 1, "a row count equal to the 6 rows", "got 7")


def test_partition_row_with_a_missing_field(tree):
    line = tree.line_of(PARTITION, 3)
    replace_line(tree.path(PARTITION), line, f"{IMAGES[3].name} gallery")
    assert_names(read_error(tree.root), tree.path(PARTITION), line,
                 "3 fields (image_name item_id evaluation_status)", "got 2")


def test_unknown_evaluation_status(tree):
    line = tree.line_of(PARTITION, 4)
    replace_field(tree.path(PARTITION), line, 3, "val")
    assert_names(read_error(tree.root), tree.path(PARTITION), line, "train, query or gallery in field 3", "'val'")


def test_bbox_row_with_a_missing_field(tree):
    line = tree.line_of(BBOX, 1)
    replace_line(tree.path(BBOX), line, " ".join(read_line(tree.path(BBOX), line).split()[:-1]))
    assert_names(read_error(tree.root), tree.path(BBOX), line, "expected 7 fields", "clothes_type pose_type",
                 "got 6")


def test_non_numeric_bbox_field(tree):
    line = tree.line_of(BBOX, 2)
    replace_field(tree.path(BBOX), line, 5, "ten")
    assert_names(read_error(tree.root), tree.path(BBOX), line, "a finite number in field 5", "'ten'")


def test_non_numeric_landmark_field(tree):
    line = tree.line_of(LANDMARKS, 4)
    replace_field(tree.path(LANDMARKS), line, 5, "x")
    assert_names(read_error(tree.root), tree.path(LANDMARKS), line, "in field 5", "'x'")


def test_landmark_row_with_the_triples_of_another_clothes_type(tree):
    line = tree.line_of(LANDMARKS, 2)   # lower-body: 4 triples; written as upper-body (6)
    replace_line(tree.path(LANDMARKS), line, _name(IMAGES[2].name) + "2  1  " + "  ".join(
        f"{v} {x} {y}" for v, x, y in UPPER))
    assert_names(read_error(tree.root), tree.path(LANDMARKS), line, "15 fields", "clothes_type 2", "got 21")


def test_unknown_landmark_visibility(tree):
    line = tree.line_of(LANDMARKS, 0)
    replace_field(tree.path(LANDMARKS), line, 4, "3")
    assert_names(read_error(tree.root), tree.path(LANDMARKS), line, "visibility 0 (visible), 1 (occluded) or 2",
                 "field 4", "got 3")


def test_unknown_pose_type(tree):
    line = tree.line_of(BBOX, 5)
    replace_field(tree.path(BBOX), line, 3, "7")
    assert_names(read_error(tree.root), tree.path(BBOX), line, "pose_type 1 (frontal)", "in field 3", "got 7")


def test_unknown_clothes_type_in_the_bbox_file(tree):
    line = tree.line_of(BBOX, 0)
    replace_field(tree.path(BBOX), line, 2, "4")
    assert_names(read_error(tree.root), tree.path(BBOX), line, "clothes_type 1 (upper-body)", "in field 2", "got 4")


def test_clothes_type_that_differs_between_the_files(tree):
    line = tree.line_of(BBOX, 4)
    replace_field(tree.path(BBOX), line, 2, "3")
    assert_names(read_error(tree.root), tree.path(LANDMARKS), tree.line_of(LANDMARKS, 4),
                 "clothes_type 3 (full-body) in field 2", f"{tree.path(BBOX)}:{line}", "got 1 (upper-body)")


@pytest.mark.parametrize("role", [PARTITION, BBOX])
def test_duplicate_image(tree, role):
    first = tree.line_of(role, 1)
    other = tree.line_of(role, 0)
    replace_line(tree.path(role), other, read_line(tree.path(role), first))
    assert_names(read_error(tree.root), tree.path(role), max(first, other), "each image listed once",
                 f"first listed at line {min(first, other)}", IMAGES[1].name)


@pytest.mark.parametrize("role", [BBOX, LANDMARKS])
def test_image_in_the_partition_missing_from_a_file(tree, role):
    delete_line(tree.path(role), tree.line_of(role, 3))
    replace_line(tree.path(role), 1, "5")
    assert_names(read_error(tree.root), tree.path(role), None, f"a row for {IMAGES[3].name}",
                 f"{tree.path(PARTITION)}:{tree.line_of(PARTITION, 3)}", "got none")


def test_image_not_in_the_partition(tree):
    delete_line(tree.path(PARTITION), tree.line_of(PARTITION, 5))
    replace_line(tree.path(PARTITION), 1, "5")
    assert_names(read_error(tree.root), tree.path(BBOX), tree.line_of(BBOX, 5),
                 "an image listed in Eval/list_eval_partition.txt", IMAGES[5].name)


def test_bbox_with_negative_or_inverted_sides(tree):
    line = tree.line_of(BBOX, 3)
    replace_field(tree.path(BBOX), line, 6, "2")   # x_2 = 2 < x_1 = 3
    assert_names(read_error(tree.root), tree.path(BBOX), line, "0 <= x_1 < x_2", "fields 4-7", "x_2=2")


def test_bbox_past_the_image_edge_needs_the_image(tree):
    line = tree.line_of(BBOX, 4)
    replace_field(tree.path(BBOX), line, 6, "49")   # image 4 is 48 wide
    annotations = read_inshop(tree.root)             # the size is only known once the image is opened
    assert_names(read_error(tree.root, verify_images=True), tree.path(BBOX), line, "inside the 48x64 image",
                 "x_2=49")
    query = InShopDataset(annotations, "query", 32, cache_images=False)
    with pytest.raises(AnnotationError) as caught:
        query.check_images()
    assert_names(caught.value, tree.path(BBOX), line, "inside the 48x64 image")


def test_missing_image_file(tree):
    (tree.root / IMAGES[5].name).unlink()
    assert_names(read_error(tree.root), tree.path(PARTITION), tree.line_of(PARTITION, 5),
                 f"an existing image file {tree.root / IMAGES[5].name}", "no such file")
    assert len(read_inshop(tree.root, check_images=False)) == 6


def test_item_in_train_and_in_query(tree):
    line = tree.line_of(PARTITION, 2)
    replace_field(tree.path(PARTITION), line, 2, "id_00000001")
    assert_names(read_error(tree.root), tree.path(PARTITION), line, "disjoint from the training items",
                 f"is train at line {tree.line_of(PARTITION, 0)}", "id_00000001 query")


def test_skip_bad_drops_the_image_and_says_why(tree):
    replace_field(tree.path(PARTITION), tree.line_of(PARTITION, 3), 3, "test")
    with pytest.warns(UserWarning, match="dropped 1 images"):
        annotations = read_inshop(tree.root, skip_bad=True)
    assert len(annotations) == 5 and IMAGES[3].name not in annotations.image_names
    assert annotations.skipped_reasons == {"unknown evaluation_status": 1}
    assert annotations.item_names == ["id_00000001", "id_00000002", "id_00000003"]


# ----------------------------------------------------------------------------- dataset and splits
def test_samples_carry_what_fashionnet_reads_plus_the_item(tree):
    annotations = read_inshop(tree.root)
    gallery = InShopDataset(annotations, "gallery", 32)
    fld_keys = set(LandmarkDataset(read_fld_like(tree), None, 32)[0])
    sample = gallery[1]
    assert set(sample) == fld_keys | {"item"}
    assert sample["image"].shape == (3, 32, 32) and sample["image"].dtype == torch.float32
    assert sample["landmarks"].shape == (8, 2) and sample["visibility"].shape == (8,)
    assert sample["visible"].dtype == torch.bool and sample["visible"].tolist() == (
        annotations.landmark_visibility[5] == 0).tolist()
    assert sample["category"].item() == -1 and sample["attributes"].shape == (0,)
    assert sample["item"].dtype == torch.int64 and sample["item"].item() == 2
    assert gallery.items.tolist() == [1, 2] and gallery.cache_images
    # the bbox crop, resized: left collar of image 5 at (14, 10) in the box (1, 2, 46, 60)
    assert sample["landmarks"][0].tolist() == pytest.approx([(14 - 1) * 32 / 45, (10 - 2) * 32 / 58], abs=1e-4)


def read_fld_like(tree: Tree):
    """An FLD tree of the same images: the reference for LandmarkDataset's sample keys."""
    root = tree.root.parent / "fld"
    write_list_file(root / PARTITION, "image_name  evaluation_status",
                    [_name(image.name) + "train" for image in IMAGES])
    write_list_file(root / "Anno/list_landmarks.txt", "image_name  clothes_type  variation_type",
                    [_landmark_row(image) for image in IMAGES])
    return read_fld(root, image_root=tree.root)


def first_flipped_item(dataset: InShopDataset) -> int:
    """Sets the first epoch in which some item flips and returns that item."""
    for epoch in range(50):
        dataset.set_epoch(epoch)
        for item in range(len(dataset)):
            if dataset.flips(item):
                return item
    raise AssertionError("no item flips in 50 epochs")


def test_flip_mirrors_pixels_and_swaps_left_and_right(tree):
    annotations = read_inshop(tree.root)
    plain = InShopDataset(annotations, "train", 32)
    flipped = InShopDataset(annotations, "train", 32, flip=True)
    item = first_flipped_item(flipped)
    a, b = plain[item], flipped[item]
    assert b["flipped"].item() and torch.equal(b["image"], a["image"].flip(-1))
    assert b["landmarks"][0, 0].item() == pytest.approx(32 - a["landmarks"][1, 0].item(), abs=1e-4)
    assert b["visibility"][3].item() == a["visibility"][2].item()
    assert b["item"].item() == a["item"].item() == 0


def test_dataset_rejects_other_annotations_and_unknown_or_empty_splits(tree):
    annotations = read_inshop(tree.root)
    with pytest.raises(TypeError, match="read_inshop"):
        InShopDataset(read_fld_like(tree), "train", 32)
    with pytest.raises(ValueError, match="train', 'query', 'gallery'"):
        InShopDataset(annotations, "test", 32)
    with pytest.raises(AnnotationError, match="none among 2 images"):
        InShopDataset(annotations.subset("query"), "gallery", 32)


def test_load_inshop_builds_three_splits_and_only_train_flips(tree):
    splits = load_inshop(tree.root, 32, cache_images=False)
    assert isinstance(splits, InShopSplits)
    assert (len(splits.train), len(splits.query), len(splits.gallery)) == (2, 2, 2)
    assert splits.train.flip and not splits.query.flip and not splits.gallery.flip
    assert not load_inshop(tree.root, 32, flip_train=False).train.flip
    splits.check_images()
    assert splits.query.items.tolist() == [1, 2]


def test_fingerprint_covers_the_in_shop_files_and_the_training_flip(tree, tmp_path):
    fingerprint = data_fingerprint(load_inshop(tree.root, 32, cache_images=False))
    assert fingerprint == data_fingerprint(read_inshop(tree.root))
    assert fingerprint != data_fingerprint(load_inshop(tree.root, 32, cache_images=False, flip_train=False))
    moved = tmp_path / "moved"
    shutil.copytree(tree.root, moved)
    assert data_fingerprint(read_inshop(moved)) == fingerprint
    for role in (PARTITION, BBOX, LANDMARKS):
        copy = tmp_path / f"edited-{Path(role).stem}"
        shutil.copytree(tree.root, copy)
        text = (copy / role).read_text()
        (copy / role).write_text(text.replace("gallery", "query") if role == PARTITION else text + "\n")
        assert data_fingerprint(read_inshop(copy)) != fingerprint, role
