"""Consistency checks beyond the file format: coordinates inside the image, category type against clothes_type,
FashionAI duplicates and split overlap, and the images checked before training (datasets.check_images, the CLI).

Each error names the annotation file, the 1-based line and the field, cell or image at fault.
"""
from __future__ import annotations

import pytest

from annotation_fixtures import (
    append_line,
    assert_names,
    read_line,
    replace_csv_field,
    replace_field,
    replace_line,
    write_deepfashion_c,
    write_fashionai,
    write_fld,
)
from fashion_core.cli import train
from fashion_core.data import splits
from fashion_core.data.datasets import CategoryAttributeDataset, FashionAIDataset, LandmarkDataset, check_images
from fashion_core.data.deepfashion import COORDINATE_TOLERANCE_PX, read_category_attribute, read_fld
from fashion_core.data.errors import AnnotationError
from fashion_core.data.fashionai import read_fashionai, read_fashionai_splits

PARTITION = "Eval/list_eval_partition.txt"
CATEGORY = "Anno/list_category_img.txt"
CATEGORY_VOCAB = "Anno/list_category_cloth.txt"
LANDMARKS = "Anno/list_landmarks.txt"
SIZE = 32


@pytest.fixture
def tree(tmp_path):
    return write_deepfashion_c(tmp_path)


@pytest.fixture
def fashionai(tmp_path):
    return write_fashionai(tmp_path)


def raised(function, *args, **kwargs) -> AnnotationError:
    with pytest.raises(AnnotationError) as caught:
        function(*args, **kwargs)
    return caught.value


# ---------------------------------------------------------------------------------------------
# DeepFashion-C and FLD landmarks inside the image


def test_tolerance_is_a_few_pixels():
    assert COORDINATE_TOLERANCE_PX == 4


def test_visible_landmark_left_of_the_image_is_rejected_while_reading(tree):
    # Image 0 is upper-body: its first triple (fields 3-5) is the visible left collar.
    line = tree.line_of(LANDMARKS, 0)
    replace_field(tree.path(LANDMARKS), line, 4, "-5000")
    replace_field(tree.path(LANDMARKS), line, 5, "9000")
    assert_names(raised(read_category_attribute, tree.root, check_images=False), tree.path(LANDMARKS), line,
                 "expected visible landmark left collar (landmark_location_x_1 and landmark_location_y_1, "
                 "fields 4 and 5) at x >= -4 and y >= -4", "COORDINATE_TOLERANCE_PX = 4", "got x=-5000 y=9000")


def test_negative_landmarks_within_the_tolerance_and_invisible_ones_are_kept(tree):
    line = tree.line_of(LANDMARKS, 0)
    replace_field(tree.path(LANDMARKS), line, 4, "-4")          # visible, at the tolerance
    replace_field(tree.path(LANDMARKS), line, 7, "-5000")       # occluded right collar: no NE, no check
    replace_field(tree.path(LANDMARKS), line, 13, "-5000")      # truncated right sleeve: cut off by the frame
    annotations = read_category_attribute(tree.root, verify_images=True)
    assert annotations.landmarks[0, 0, 0] == -4 and annotations.landmarks[0, 1, 0] == -5000


@pytest.mark.parametrize("x, accepted", [(48 + COORDINATE_TOLERANCE_PX, True), (48 + COORDINATE_TOLERANCE_PX + 1, False)])
def test_visible_landmark_past_the_right_edge_needs_the_image_size(tree, x, accepted):
    # Image 0 is 48 px wide; its fifth upper-body triple (fields 15-17) is slot 6, the left hem.
    line = tree.line_of(LANDMARKS, 0)
    replace_field(tree.path(LANDMARKS), line, 16, str(x))
    assert len(read_category_attribute(tree.root)) == 6  # the size is not known without opening the image
    if accepted:
        assert len(read_category_attribute(tree.root, verify_images=True)) == 6
        return
    assert_names(raised(read_category_attribute, tree.root, verify_images=True), tree.path(LANDMARKS), line,
                 "expected visible landmark left hem (landmark_location_x_5 and landmark_location_y_5, fields 16 "
                 f"and 17) inside the 48x64 image {tree.image_path(0)}", "-4 <= x <= 52 and -4 <= y <= 68",
                 f"got x={x} y=50")


def test_landmark_outside_the_image_at_getitem_and_in_check_images(tree):
    line = tree.line_of(LANDMARKS, 0)
    replace_field(tree.path(LANDMARKS), line, 4, "5000")
    annotations = read_category_attribute(tree.root)
    for cache_images in (False, True):
        dataset = CategoryAttributeDataset(annotations, "train", input_size=SIZE, cache_images=cache_images)
        for check in (lambda: dataset[0], dataset.check_images):
            assert_names(raised(check), tree.path(LANDMARKS), line, "visible landmark left collar",
                         f"inside the 48x64 image {tree.image_path(0)}", "got x=5000 y=10")


def test_fld_landmark_fields_count_variation_type(tmp_path):
    tree = write_fld(tmp_path)
    line = tree.line_of(LANDMARKS, 1)  # lower-body, 50 px wide: field 3 is variation_type
    replace_field(tree.path(LANDMARKS), line, 5, "-50")
    assert_names(raised(read_fld, tmp_path), tree.path(LANDMARKS), line,
                 "visible landmark left waistline (landmark_location_x_1 and landmark_location_y_1, fields 5 and 6)",
                 "got x=-50 y=8")
    replace_field(tree.path(LANDMARKS), line, 5, "60")
    assert_names(raised(read_fld, tmp_path, verify_images=True), tree.path(LANDMARKS), line,
                 "visible landmark left waistline", f"inside the 50x56 image {tree.image_path(1)}", "got x=60 y=8")


# ---------------------------------------------------------------------------------------------
# DeepFashion-C category type against clothes_type


def full_body_row(name: str) -> str:
    return f"{name} 3 " + " ".join(f"0 {10 + 4 * k} {8 + 5 * k}" for k in range(8))


def test_lower_body_category_on_a_full_body_landmark_row(tree):
    # Image 4 is a Skirt (category_label 4, lower-body); its landmark row now says full-body, with 8 triples.
    line = tree.line_of(LANDMARKS, 4)
    replace_line(tree.path(LANDMARKS), line, full_body_row(tree.images[4].name))
    assert_names(raised(read_category_attribute, tree.root), tree.path(LANDMARKS), line,
                 "expected clothes_type 2 (lower-body) in field 2",
                 f"category_label 4 at {tree.path(CATEGORY)}:{tree.line_of(CATEGORY, 4)} is 'Skirt'",
                 f"category_type 2 at {tree.path(CATEGORY_VOCAB)}:6", "got 3 (full-body)")


def test_category_type_mismatch_is_skipped_with_skip_bad(tree):
    replace_line(tree.path(LANDMARKS), tree.line_of(LANDMARKS, 4), full_body_row(tree.images[4].name))
    with pytest.warns(UserWarning, match="1 clothes_type does not match category"):
        annotations = read_category_attribute(tree.root, skip_bad=True)
    assert annotations.image_names == [tree.images[i].name for i in (0, 1, 2, 3, 5)]
    assert (annotations.category_type == annotations.clothes_type).all()
    assert annotations.source_line(4, LANDMARKS)[1] == tree.line_of(LANDMARKS, 5)


# ---------------------------------------------------------------------------------------------
# FashionAI


def test_fashionai_keypoint_above_the_image_is_rejected_while_reading(fashionai):
    # Line 2 is the blouse; neckline_right (keypoint 2, column 4) is visible.
    replace_csv_field(fashionai.csv_path, 2, 4, "5000_-300_1")
    assert_names(raised(read_fashionai, fashionai.root), fashionai.csv_path, 2,
                 "expected neckline_right (column 4, v 1: visible) at x >= -4 and y >= -4", "got '5000_-300_1'")


def test_fashionai_occluded_keypoint_past_the_right_edge(fashionai):
    # neckline_left (column 3) of the 64x80 blouse is occluded (v 0): it has coordinates, so they must fit.
    replace_csv_field(fashionai.csv_path, 2, 3, "5000_30_0")
    annotations = read_fashionai(fashionai.root)
    expected = ("expected neckline_left (column 3, v 0: occluded) inside the 64x80 image "
                f"{fashionai.root / fashionai.image_ids[0]}", "-4 <= x <= 68", "got '5000_30_0'")
    assert_names(raised(read_fashionai, fashionai.root, verify_images=True), fashionai.csv_path, 2, *expected)
    dataset = FashionAIDataset(annotations, SIZE)
    assert_names(raised(lambda: dataset[0]), fashionai.csv_path, 2, *expected)
    assert_names(raised(dataset.check_images), fashionai.csv_path, 2, *expected)


def test_fashionai_absent_keypoints_and_edge_points_are_kept(fashionai):
    replace_csv_field(fashionai.csv_path, 2, 3, "68_84_1")  # the 64x80 blouse, at the tolerance
    assert read_fashionai(fashionai.root, verify_images=True).keypoints[0, 0].tolist() == [68, 84]


def test_fashionai_duplicate_row_names_both_lines(fashionai):
    line = append_line(fashionai.csv_path, read_line(fashionai.csv_path, 3))
    assert line == 7
    assert_names(raised(read_fashionai, fashionai.root), fashionai.csv_path, 7,
                 "expected each image listed once (first listed at line 3)", fashionai.image_ids[1])
    with pytest.warns(UserWarning, match="1 duplicate image"):
        assert read_fashionai(fashionai.root, skip_bad=True).line_numbers.tolist() == [2, 3, 4, 5, 6]


def test_fashionai_image_in_two_splits_names_both_files_and_lines(tmp_path):
    train, test = write_fashionai(tmp_path, "train"), write_fashionai(tmp_path, "test")  # the same five images
    assert_names(raised(read_fashionai_splits, tmp_path, ("train", "test")), test.csv_path, 2,
                 f"expected each image in one split (also listed at {train.csv_path}:2)", train.image_ids[0])
    val = write_fashionai(tmp_path, "val")
    assert_names(raised(splits.load_fashionai, tmp_path, SIZE), val.csv_path, 2,
                 f"also listed at {train.csv_path}:2")


# ---------------------------------------------------------------------------------------------
# Images checked before training


@pytest.mark.parametrize("cache_images", [False, True])
def test_check_images_names_a_zero_byte_image_and_its_line(tree, cache_images):
    tree.image_path(4).write_bytes(b"")
    data = splits.load_deepfashion_c(tree.root, SIZE, cache_images=cache_images)
    what = "a decodable image at" if cache_images else "a readable image at"
    assert_names(raised(data.check_images), tree.path(PARTITION), tree.line_of(PARTITION, 4),
                 f"{what} {tree.image_path(4)}")
    check_images(data.train, data.val)  # the other splits are fine


def test_check_images_of_fld_without_bbox(tmp_path):
    write_fld(tmp_path, with_bbox=False)
    check_images(*(LandmarkDataset(read_fld(tmp_path), split, SIZE) for split in ("train", "val", "test")))


def test_cli_reports_a_zero_byte_test_image_before_training(tree, tmp_path):
    tree.image_path(5).write_bytes(b"")  # a test image
    out = tmp_path / "out"
    error = raised(train.main, ["--model", "dafe", "--data", str(tree.root), "--profile", "smoke", "--epochs", "1",
                                "--num-workers", "0", "--out", str(out), "--no-progress"])
    assert_names(error, tree.path(PARTITION), tree.line_of(PARTITION, 5), str(tree.image_path(5)))
    assert not out.exists() or not any(out.iterdir())  # no checkpoint, history.csv or metrics.json
