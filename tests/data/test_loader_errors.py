"""Every kind of bad input raises AnnotationError naming the file, the 1-based line and the expectation."""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from annotation_fixtures import (
    assert_names,
    delete_line,
    read_line,
    replace_field,
    replace_line,
    truncate_jpeg,
    write_deepfashion_c,
    write_fashionai,
    write_fld,
)
from fashion_core.data.deepfashion import read_category_attribute, read_category_vocab, read_fld
from fashion_core.data.errors import AnnotationError
from fashion_core.data.fashionai import read_fashionai

PARTITION = "Eval/list_eval_partition.txt"
CATEGORY = "Anno/list_category_img.txt"
ATTRIBUTE = "Anno/list_attr_img.txt"
BBOX = "Anno/list_bbox.txt"
LANDMARKS = "Anno/list_landmarks.txt"


def read_error(root: Path, **options) -> AnnotationError:
    with pytest.raises(AnnotationError) as caught:
        read_category_attribute(root, **options)
    return caught.value


@pytest.fixture
def tree(tmp_path):
    return write_deepfashion_c(tmp_path)


def test_missing_file(tree):
    tree.path(BBOX).unlink()
    assert_names(read_error(tree.root), tree.path(BBOX), None, "expected an existing annotation file")


def test_too_many_fields(tree):
    line = tree.line_of(ATTRIBUTE, 2)
    replace_line(tree.path(ATTRIBUTE), line, read_line(tree.path(ATTRIBUTE), line) + "  1")
    assert_names(read_error(tree.root), tree.path(ATTRIBUTE), line, "expected 8 fields", "got 9")


def test_too_few_fields(tree):
    line = tree.line_of(BBOX, 3)
    replace_line(tree.path(BBOX), line, " ".join(read_line(tree.path(BBOX), line).split()[:-1]))
    assert_names(read_error(tree.root), tree.path(BBOX), line, "expected 5 fields", "got 4")


def test_header_count_that_does_not_match_the_rows(tree):
    delete_line(tree.path(CATEGORY), 8)
    tree.path(CATEGORY).write_text(tree.path(CATEGORY).read_text())
    error = read_error(tree.root)
    assert_names(error, tree.path(CATEGORY), 1, "a row count equal to the 5 rows below the header", "got 6")


def test_landmark_row_with_triples_of_another_clothes_type(tree):
    line = tree.line_of(LANDMARKS, 0)
    replace_field(tree.path(LANDMARKS), line, 2, "2")  # upper-body row (6 triples) relabelled lower-body (4)
    assert_names(read_error(tree.root), tree.path(LANDMARKS), line, "expected 14 fields for clothes_type 2", "got 20")


@pytest.mark.parametrize("label", ["0", "6"])
def test_category_index_out_of_range(tree, label):
    line = tree.line_of(CATEGORY, 4)
    replace_field(tree.path(CATEGORY), line, 2, label)
    assert_names(read_error(tree.root), tree.path(CATEGORY), line, "expected a category_label from 1 to 5",
                 f"got {label}")


def test_listed_image_absent(tree):
    tree.image_path(3).unlink()
    line = tree.line_of(PARTITION, 3)
    assert_names(read_error(tree.root), tree.path(PARTITION), line,
                 f"expected an existing image file {tree.image_path(3)}")


def test_listed_image_absent_is_not_checked_when_disabled(tree):
    tree.image_path(3).unlink()
    assert len(read_category_attribute(tree.root, check_images=False)) == 6


def test_corrupt_jpeg_found_by_verify_images(tree):
    truncate_jpeg(tree.image_path(1))
    assert len(read_category_attribute(tree.root)) == 6  # existence only by default
    line = tree.line_of(PARTITION, 1)
    assert_names(read_error(tree.root, verify_images=True), tree.path(PARTITION), line,
                 f"expected a decodable image at {tree.image_path(1)}")


def test_bbox_beyond_the_image_found_by_verify_images(tree):
    line = tree.line_of(BBOX, 0)
    replace_field(tree.path(BBOX), line, 4, "049")  # the image is 48 px wide
    assert len(read_category_attribute(tree.root)) == 6  # needs the image size
    assert_names(read_error(tree.root, verify_images=True), tree.path(BBOX), line,
                 "expected a bbox inside the 48x64 image", "x_2=49")


@pytest.mark.parametrize("field, value", [(2, "-1"), (4, "0")])
def test_bbox_negative_or_empty_found_at_read_time(tree, field, value):
    line = tree.line_of(BBOX, 5)
    replace_field(tree.path(BBOX), line, field, value)
    assert_names(read_error(tree.root), tree.path(BBOX), line, "expected a bbox with 0 <= x_1 < x_2 and 0 <= y_1 < y_2")


def test_unknown_visibility_code(tree):
    line = tree.line_of(LANDMARKS, 2)
    replace_field(tree.path(LANDMARKS), line, 6, "3")  # second triple's visibility
    assert_names(read_error(tree.root), tree.path(LANDMARKS), line,
                 "expected landmark visibility 0 (visible), 1 (occluded) or 2 (truncated) in field 6", "got 3")


def test_non_numeric_field(tree):
    line = tree.line_of(BBOX, 2)
    replace_field(tree.path(BBOX), line, 3, "two")
    assert_names(read_error(tree.root), tree.path(BBOX), line, "expected a finite number in field 3", "got 'two'")


def test_non_numeric_attribute_label(tree):
    line = tree.line_of(ATTRIBUTE, 4)
    replace_field(tree.path(ATTRIBUTE), line, 5, "yes")
    assert_names(read_error(tree.root), tree.path(ATTRIBUTE), line, "expected an integer", "in field 5", "'yes'")


def test_unknown_attribute_label(tree):
    line = tree.line_of(ATTRIBUTE, 4)
    replace_field(tree.path(ATTRIBUTE), line, 5, "2")
    assert_names(read_error(tree.root), tree.path(ATTRIBUTE), line, "expected attribute label 1 or -1 in field 5")


def test_unknown_clothes_type(tree):
    line = tree.line_of(LANDMARKS, 5)
    replace_field(tree.path(LANDMARKS), line, 2, "4")
    assert_names(read_error(tree.root), tree.path(LANDMARKS), line,
                 "expected clothes_type 1 (upper-body), 2 (lower-body) or 3 (full-body)", "got '4'")


def test_unknown_evaluation_status(tree):
    line = tree.line_of(PARTITION, 3)
    replace_field(tree.path(PARTITION), line, 2, "validation")
    assert_names(read_error(tree.root), tree.path(PARTITION), line, "expected evaluation_status train, val or test",
                 "got 'validation'")


def test_unknown_category_type_in_vocabulary(tree):
    path = tree.path("Anno/list_category_cloth.txt")
    replace_field(path, 5, 2, "4")
    with pytest.raises(AnnotationError) as caught:
        read_category_vocab(path)
    assert_names(caught.value, path, 5, "expected category_type 1 (upper-body), 2 (lower-body) or 3 (full-body)")


def test_image_missing_from_one_file(tree):
    line = tree.line_of(ATTRIBUTE, 2)
    delete_line(tree.path(ATTRIBUTE), line)
    replace_line(tree.path(ATTRIBUTE), 1, "5")
    error = read_error(tree.root)
    assert_names(error, tree.path(ATTRIBUTE), None, f"a row for {tree.images[2].name}",
                 f"{tree.path(PARTITION)}:{tree.line_of(PARTITION, 2)}")


def test_image_not_in_partition(tree):
    line = tree.line_of(CATEGORY, 1)
    replace_field(tree.path(CATEGORY), line, 1, "img/Other/img_09999999.jpg")
    assert_names(read_error(tree.root), tree.path(CATEGORY), line, f"expected an image listed in {PARTITION}",
                 "img/Other/img_09999999.jpg")


def test_duplicate_image(tree):
    # list_bbox.txt is written in reverse order: line 7 holds image 1, line 8 image 0.
    assert (tree.line_of(BBOX, 1), tree.line_of(BBOX, 0)) == (7, 8)
    replace_field(tree.path(BBOX), 7, 1, tree.images[0].name)
    assert_names(read_error(tree.root), tree.path(BBOX), 8, "each image listed once (first listed at line 7)")


def test_blank_line_in_the_middle(tree):
    replace_line(tree.path(CATEGORY), 5, "   ")
    assert_names(read_error(tree.root), tree.path(CATEGORY), 5, "expected 2 fields", "got 0")


def test_fld_unknown_visibility(tmp_path):
    tree = write_fld(tmp_path)
    line = tree.line_of(LANDMARKS, 1)
    replace_field(tree.path(LANDMARKS), line, 4, "7")  # field 3 is variation_type
    with pytest.raises(AnnotationError) as caught:
        read_fld(tmp_path)
    assert_names(caught.value, tree.path(LANDMARKS), line, "in field 4", "got 7")


def test_skip_bad_drops_bad_rows_and_says_why(tree):
    replace_field(tree.path(CATEGORY), tree.line_of(CATEGORY, 1), 2, "9")
    replace_field(tree.path(LANDMARKS), tree.line_of(LANDMARKS, 4), 2, "x")
    tree.image_path(5).unlink()
    with pytest.warns(UserWarning, match=r"dropped 3 images \(kept 3\)") as record:
        annotations = read_category_attribute(tree.root, skip_bad=True)
    assert "category index out of range" in str(record[0].message)
    assert annotations.image_names == [tree.images[i].name for i in (0, 2, 3)]
    assert annotations.skipped_reasons == {"category index out of range": 1, "unknown clothes_type": 1,
                                           "missing image": 1}
    lines = {(Path(row.path).name, row.line) for row in annotations.skipped}
    assert ("list_category_img.txt", tree.line_of(CATEGORY, 1)) in lines
    # The kept rows still point at their own lines.
    assert annotations.source_line(1, "list_landmarks.txt")[1] == tree.line_of(LANDMARKS, 2)


def test_clean_read_does_not_warn(tree):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        annotations = read_category_attribute(tree.root, skip_bad=True)
    assert annotations.skipped == []


def test_not_utf8(tree):
    path = tree.path(CATEGORY)
    path.write_bytes(path.read_bytes().replace(b"Denim_Jeans", b"Denim_\xffeans"))
    assert_names(read_error(tree.root), path, 4, "expected UTF-8 text")


# ---------------------------------------------------------------------------------------------
# FashionAI


@pytest.fixture
def fashionai(tmp_path):
    return write_fashionai(tmp_path)


def fashionai_error(root: Path) -> AnnotationError:
    with pytest.raises(AnnotationError) as caught:
        read_fashionai(root)
    return caught.value


@pytest.mark.parametrize("cell", ["12_34", "12_y_1", "12_34_5", "12_34_-1"])
def test_fashionai_malformed_cell(fashionai, cell):
    path = fashionai.csv_path
    lines = path.read_text().split("\n")
    fields = lines[2].split(",")  # second data row (outwear), line 3
    fields[5] = cell  # shoulder_left
    lines[2] = ",".join(fields)
    path.write_text("\n".join(lines))
    assert_names(fashionai_error(fashionai.root), path, 3, "shoulder_left as x_y_v", repr(cell))


def test_fashionai_unknown_category(fashionai):
    path = fashionai.csv_path
    path.write_text(path.read_text().replace(",skirt,", ",shoes,"))
    assert_names(fashionai_error(fashionai.root), path, 5,
                 "expected image_category one of blouse, outwear, dress, skirt, trousers", "got 'shoes'")


def test_fashionai_missing_column_in_header(fashionai):
    path = fashionai.csv_path
    path.write_text(path.read_text().replace("center_front,", "", 1))
    assert_names(fashionai_error(fashionai.root), path, 1, "expected column 5 of the header to be 'center_front'",
                 "got 'shoulder_left'")


def test_fashionai_misordered_header(fashionai):
    path = fashionai.csv_path
    text = path.read_text()
    path.write_text(re.sub("neckline_left,neckline_right", "neckline_right,neckline_left", text, count=1))
    assert_names(fashionai_error(fashionai.root), path, 1, "expected column 3 of the header to be 'neckline_left'")


def test_fashionai_wrong_field_count(fashionai):
    path = fashionai.csv_path
    lines = path.read_text().split("\n")
    lines[4] += ",1_1_1"
    path.write_text("\n".join(lines))
    assert_names(fashionai_error(fashionai.root), path, 5, "expected 26 comma-separated fields", "got 27")


def test_fashionai_missing_image(fashionai):
    (fashionai.root / fashionai.image_ids[2]).unlink()
    assert_names(fashionai_error(fashionai.root), fashionai.csv_path, 4, "expected an existing image file")


def test_fashionai_missing_csv(tmp_path):
    with pytest.raises(AnnotationError) as caught:
        read_fashionai(tmp_path, "test")
    assert_names(caught.value, tmp_path / "Annotations" / "test.csv", None, "expected an existing annotation file")


def test_fashionai_skip_bad(fashionai):
    path = fashionai.csv_path
    path.write_text(path.read_text().replace(",skirt,", ",shoes,"))
    with pytest.warns(UserWarning, match="1 unknown category"):
        annotations = read_fashionai(fashionai.root, skip_bad=True)
    assert annotations.category.tolist() == ["blouse", "outwear", "dress", "trousers"]
    assert annotations.line_numbers.tolist() == [2, 3, 4, 6]
