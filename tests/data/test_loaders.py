"""Valid DeepFashion-C, FLD and FashionAI trees read back exactly; the real vocabulary files parse."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from annotation_fixtures import (
    ATTRIBUTES,
    CATEGORIES,
    FASHIONAI_KEYPOINTS as FIXTURE_KEYPOINT_ORDER,
    replace_field,
    write_deepfashion_c,
    write_fashionai,
    write_fld,
    write_list_file,
)
from fashion_core.data.vocab import LANDMARK_SLOTS
from fashion_core.data.deepfashion import (
    read_attribute_vocab,
    read_category_attribute,
    read_category_vocab,
    read_fld,
)
from fashion_core.data.vocab import FASHIONAI_CATEGORIES, FASHIONAI_FLIP_PAIRS, FASHIONAI_KEYPOINTS
from fashion_core.data.fashionai import read_fashionai

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REAL_VOCAB = SHARED / "real" / "deepfashion_c_vocab" / "Anno"


def test_deepfashion_c_reads_every_field(tmp_path):
    tree = write_deepfashion_c(tmp_path)
    annotations = read_category_attribute(tmp_path)

    assert annotations.image_names == [image.name for image in tree.images]
    assert annotations.split.tolist() == [image.split for image in tree.images]
    assert annotations.category.tolist() == [image.category - 1 for image in tree.images]
    assert annotations.category.dtype == np.int64
    assert annotations.category_type.tolist() == [CATEGORIES[image.category - 1][1] for image in tree.images]
    # list_bbox.txt is written in reverse order: rows must be joined by image name.
    np.testing.assert_array_equal(annotations.bbox, [image.bbox for image in tree.images])
    expected_landmarks, expected_visibility = tree.expected_landmarks()
    np.testing.assert_array_equal(annotations.landmarks, expected_landmarks)
    np.testing.assert_array_equal(annotations.landmark_visibility, expected_visibility)
    assert annotations.landmarks.dtype == np.float32 and annotations.landmark_visibility.dtype == np.int8
    np.testing.assert_array_equal(annotations.attributes,
                                  [[int(value == 1) for value in image.attributes] for image in tree.images])
    assert annotations.attributes.dtype == np.int8
    assert annotations.clothes_type.tolist() == [image.clothes_type for image in tree.images]
    assert annotations.variation_type is None


def test_vocabulary_sizes_come_from_the_files(tmp_path):
    write_deepfashion_c(tmp_path)
    annotations = read_category_attribute(tmp_path)
    assert annotations.attributes.shape == (6, len(ATTRIBUTES))
    assert annotations.attribute_names == [name for name, _ in ATTRIBUTES]
    assert "abstract chevron print" in annotations.attribute_names
    assert annotations.attribute_types.tolist() == [kind for _, kind in ATTRIBUTES]
    assert annotations.category_names == [name for name, _ in CATEGORIES]
    assert annotations.category_types.tolist() == [kind for _, kind in CATEGORIES]


def test_source_lines_follow_each_file(tmp_path):
    tree = write_deepfashion_c(tmp_path)
    annotations = read_category_attribute(tmp_path)
    for role in ("Eval/list_eval_partition.txt", "Anno/list_bbox.txt", "Anno/list_attr_img.txt"):
        for row in range(len(tree.images)):
            assert annotations.source_line(row, role) == (tree.path(role), tree.line_of(role, row))
    assert annotations.source_line(1, "list_bbox.txt") == (tree.path("Anno/list_bbox.txt"), 7)


def test_slots_follow_clothes_type(tmp_path):
    write_deepfashion_c(tmp_path)
    annotations = read_category_attribute(tmp_path)
    for row, clothes_type in enumerate(annotations.clothes_type):
        has_slot = annotations.landmark_visibility[row] >= 0
        assert np.flatnonzero(has_slot).tolist() == list(LANDMARK_SLOTS[int(clothes_type)])


def test_subset_and_indices_keep_line_numbers(tmp_path):
    tree = write_deepfashion_c(tmp_path)
    annotations = read_category_attribute(tmp_path)
    assert annotations.indices("test").tolist() == [4, 5]
    test = annotations.subset("test")
    assert test.image_names == [tree.images[4].name, tree.images[5].name]
    assert test.source_line(0, "list_bbox.txt")[1] == tree.line_of("Anno/list_bbox.txt", 4)
    np.testing.assert_array_equal(test.attributes, annotations.attributes[4:])
    assert len(annotations.subset("val")) == 1


def test_img_directory_under_Img_is_found(tmp_path):
    tree = write_deepfashion_c(tmp_path, image_dir="Img")
    annotations = read_category_attribute(tmp_path)
    assert annotations.image_root == tmp_path / "Img"
    assert annotations.image_path(0) == tree.image_path(0)


def test_image_root_override(tmp_path):
    write_deepfashion_c(tmp_path / "data", image_dir="elsewhere")
    annotations = read_category_attribute(tmp_path / "data", image_root=tmp_path / "data" / "elsewhere")
    assert annotations.image_path(2).is_file()


def test_crlf_line_endings_byte_order_mark_and_tabs_read_the_same(tmp_path):
    write_deepfashion_c(tmp_path)
    plain = read_category_attribute(tmp_path)
    for path in (tmp_path / "Anno").glob("*.txt"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    bbox = tmp_path / "Anno/list_bbox.txt"
    bbox.write_text(bbox.read_text().replace("  ", "\t"))
    crlf = read_category_attribute(tmp_path)
    assert crlf.attribute_names == plain.attribute_names
    np.testing.assert_array_equal(crlf.bbox, plain.bbox)
    np.testing.assert_array_equal(crlf.landmarks, plain.landmarks)


def test_attribute_label_zero_counts_as_not_positive(tmp_path):
    tree = write_deepfashion_c(tmp_path)
    replace_field(tmp_path / "Anno/list_attr_img.txt", tree.line_of("Anno/list_attr_img.txt", 0), 3, "0")
    annotations = read_category_attribute(tmp_path)
    assert annotations.attributes[0, 1] == 0


def test_fld_reads_variation_type_and_bbox(tmp_path):
    tree = write_fld(tmp_path)
    annotations = read_fld(tmp_path)
    assert annotations.variation_type.tolist() == [image.variation_type for image in tree.images]
    np.testing.assert_array_equal(annotations.bbox, [image.bbox for image in tree.images])
    expected_landmarks, expected_visibility = tree.expected_landmarks()
    np.testing.assert_array_equal(annotations.landmarks, expected_landmarks)
    np.testing.assert_array_equal(annotations.landmark_visibility, expected_visibility)


def test_fld_without_bbox_file_has_no_bbox(tmp_path):
    write_fld(tmp_path, with_bbox=False)
    annotations = read_fld(tmp_path)
    assert annotations.bbox is None
    assert "Anno/list_bbox.txt" not in annotations.files


def test_fashionai_reads_fixture(tmp_path):
    tree = write_fashionai(tmp_path)
    annotations = read_fashionai(tmp_path)
    assert annotations.image_ids == tree.image_ids
    assert annotations.category.tolist() == tree.categories
    assert annotations.category_index.tolist() == [FASHIONAI_CATEGORIES.index(c) for c in tree.categories]
    np.testing.assert_array_equal(annotations.keypoints, tree.keypoints)
    np.testing.assert_array_equal(annotations.visibility, tree.visibility)
    assert annotations.source_line(3) == (tree.csv_path, 5)


def test_fashionai_constants():
    assert list(FASHIONAI_KEYPOINTS) == FIXTURE_KEYPOINT_ORDER
    assert FASHIONAI_CATEGORIES == ("blouse", "outwear", "dress", "skirt", "trousers")
    assert len(FASHIONAI_FLIP_PAIRS) == 11
    for left, right in FASHIONAI_FLIP_PAIRS:
        assert FASHIONAI_KEYPOINTS[left].replace("left", "right") == FASHIONAI_KEYPOINTS[right]
    unpaired = set(range(24)) - {index for pair in FASHIONAI_FLIP_PAIRS for index in pair}
    assert {FASHIONAI_KEYPOINTS[index] for index in unpaired} == {"center_front", "crotch"}


def test_big_attribute_file_is_parsed_in_blocks(tmp_path):
    n_rows, n_attributes = 3000, 1000
    rng = np.random.default_rng(0)
    labels = np.where(rng.random((n_rows, n_attributes)) < 0.02, " 1", "-1")
    names = [f"img/Item_{row // 10:04d}/img_{row:08d}.jpg" for row in range(n_rows)]
    attr_path = tmp_path / "Anno/list_attr_img.txt"
    write_list_file(attr_path, "image_name  attribute_labels",
                    [name.ljust(50) + " ".join(row) for name, row in zip(names, labels)])
    write_list_file(tmp_path / "Anno/list_attr_cloth.txt", "attribute_name  attribute_type",
                    [f"attribute {k}  {1 + k % 5}" for k in range(n_attributes)])
    write_list_file(tmp_path / "Anno/list_category_cloth.txt", "category_name  category_type", ["Skirt  2"])
    write_list_file(tmp_path / "Eval/list_eval_partition.txt", "image_name  evaluation_status",
                    [f"{name} train" for name in names])
    write_list_file(tmp_path / "Anno/list_category_img.txt", "image_name  category_label",
                    [f"{name} 1" for name in names])
    write_list_file(tmp_path / "Anno/list_bbox.txt", "image_name  x_1  y_1  x_2  y_2",
                    [f"{name} 1 2 30 40" for name in names])
    write_list_file(tmp_path / "Anno/list_landmarks.txt", "image_name  clothes_type",
                    [f"{name} 2 0 1 1 0 2 2 1 3 3 0 4 4" for name in names])
    start = time.perf_counter()
    annotations = read_category_attribute(tmp_path, check_images=False)
    elapsed = time.perf_counter() - start
    np.testing.assert_array_equal(annotations.attributes, (labels == " 1").astype(np.int8))
    # About 0.1 s here; a per-token Python loop takes several seconds.
    assert elapsed < 3.0


@pytest.mark.skipif(not REAL_VOCAB.is_dir(), reason=f"real DeepFashion-C vocabulary not found at {REAL_VOCAB}")
def test_real_attribute_vocabulary():
    vocab = read_attribute_vocab(REAL_VOCAB / "list_attr_cloth.txt")
    assert len(vocab) == 1000
    assert sum(" " in name for name in vocab.names) == 322
    counts = {code: int((vocab.types == code).sum()) for code in range(1, 6)}
    assert counts == {1: 156, 2: 218, 3: 180, 4: 216, 5: 230}
    assert vocab.names[0] == "a-line" and vocab.names[2] == "abstract chevron"


@pytest.mark.skipif(not REAL_VOCAB.is_dir(), reason=f"real DeepFashion-C vocabulary not found at {REAL_VOCAB}")
def test_real_category_vocabulary():
    vocab = read_category_vocab(REAL_VOCAB / "list_category_cloth.txt")
    assert len(vocab) == 50
    assert {code: int((vocab.types == code).sum()) for code in (1, 2, 3)} == {1: 20, 2: 16, 3: 14}
    assert vocab.names[0] == "Anorak" and vocab.names[-1] == "Sundress"
