"""COCO keypoint import (the two real files), export in mmpose's FLD layout, and the round trip."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotation_fixtures import write_deepfashion_c, write_fld
from fashion_core.data.coco import (
    coco_to_deepfashion_visibility,
    deepfashion_landmarks_from_coco,
    deepfashion_to_coco_visibility,
    main,
    read_coco_keypoints,
    write_coco_keypoints,
)
from fashion_core.data.datasets import transform_points
from fashion_core.data.deepfashion import read_category_attribute, read_fld
from fashion_core.data.errors import AnnotationError
from fashion_core.data.vocab import LANDMARK_NAMES

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REAL_FLD = SHARED / "real" / "coco_keypoints" / "fld" / "test_fld.json"
REAL_DEEPFASHION2 = SHARED / "real" / "coco_keypoints" / "deepfashion2" / "deepfashion2.json"


@pytest.mark.skipif(not REAL_FLD.is_file(), reason=f"real mmpose FLD COCO file not found at {REAL_FLD}")
def test_read_real_mmpose_fld_file():
    coco = read_coco_keypoints(REAL_FLD)
    assert len(coco) == 2
    assert coco.keypoint_names == list(LANDMARK_NAMES)
    assert coco.file_names == ["img_00000128.jpg", "img_00000132.jpg"]
    assert coco.widths.tolist() == [200, 200] and coco.heights.tolist() == [250, 250]
    np.testing.assert_array_equal(coco.keypoints[0, 0], [108, 33])
    np.testing.assert_array_equal(coco.bbox[0], [88, 21, 48, 142])
    assert coco.visibility[1].tolist() == [2, 2, 2, 2, 2, 2, 0, 2]
    landmarks, visibility = deepfashion_landmarks_from_coco(coco)
    # No clothes_type in mmpose's files: an unlabelled landmark cannot be told truncated from absent.
    assert visibility[1].tolist() == [0, 0, 0, 0, 0, 0, -1, 0]
    assert visibility[0].tolist() == [1, 1, 0, 1, 0, 1, 0, 1]
    np.testing.assert_array_equal(landmarks[1, 7], [172, 235])


@pytest.mark.skipif(not REAL_DEEPFASHION2.is_file(), reason=f"real DeepFashion2 file not found at {REAL_DEEPFASHION2}")
def test_read_real_deepfashion2_file():
    coco = read_coco_keypoints(REAL_DEEPFASHION2)
    raw = json.loads(REAL_DEEPFASHION2.read_text())
    assert len(coco) == 2 and coco.keypoints.shape == (2, 294, 2)
    assert coco.category_ids.tolist() == [11, 11]
    assert coco.category_names[11] == "long_sleeved_dress"
    assert (coco.visibility > 0).sum(axis=1).tolist() == [a["num_keypoints"] for a in raw["annotations"]]
    assert coco.file_names == ["000264.jpg", "000265.jpg"]
    np.testing.assert_array_equal(coco.keypoints[0, 219], [417, 107])
    assert coco.visibility[0, 219] == 1
    assert (coco.clothes_type == 0).all()
    with pytest.raises(AnnotationError, match="expected the 8 DeepFashion keypoints"):
        deepfashion_landmarks_from_coco(coco)


def test_visibility_mapping_tables():
    assert deepfashion_to_coco_visibility(np.array([0, 1, 2, -1])).tolist() == [2, 1, 0, 0]
    upper = np.array([[2, 2, 1, 1, 0, 0, 0, 2]])
    assert coco_to_deepfashion_visibility(upper, np.array([1])).tolist() == [[0, 0, 1, 1, -1, -1, 2, 0]]
    assert coco_to_deepfashion_visibility(upper, np.array([3])).tolist() == [[0, 0, 1, 1, 2, 2, 2, 0]]
    assert coco_to_deepfashion_visibility(upper).tolist() == [[0, 0, 1, 1, -1, -1, -1, 0]]
    with pytest.raises(ValueError):
        deepfashion_to_coco_visibility(np.array([3]))


@pytest.mark.parametrize("kind", ["category_attribute", "fld"])
def test_round_trip_keeps_coordinates_and_representable_visibility(tmp_path, kind):
    if kind == "fld":
        write_fld(tmp_path / "tree")
        annotations = read_fld(tmp_path / "tree")
    else:
        write_deepfashion_c(tmp_path / "tree")
        annotations = read_category_attribute(tmp_path / "tree")
    out = write_coco_keypoints(tmp_path / "out" / "landmarks.json", annotations)
    coco = read_coco_keypoints(out)
    landmarks, visibility = deepfashion_landmarks_from_coco(coco)

    assert coco.file_names == annotations.image_names
    np.testing.assert_array_equal(visibility, annotations.landmark_visibility)
    labelled = np.isin(annotations.landmark_visibility, (0, 1))
    np.testing.assert_array_equal(landmarks[labelled], annotations.landmarks[labelled])
    # Truncated landmarks are "not labelled" in COCO, which stores no coordinates for them.
    assert (landmarks[annotations.landmark_visibility == 2] == 0).all()
    x1, y1, x2, y2 = annotations.bbox[0]
    np.testing.assert_array_equal(coco.bbox[0], [x1, y1, x2 - x1, y2 - y1])
    assert (int(coco.widths[0]), int(coco.heights[0])) == Image.open(annotations.image_path(0)).size


def test_export_matches_the_mmpose_layout(tmp_path):
    write_fld(tmp_path / "tree")
    annotations = read_fld(tmp_path / "tree")
    out = write_coco_keypoints(tmp_path / "fld.json", annotations, indices=[4, 5])
    payload = json.loads(out.read_text())
    assert payload["categories"][0]["keypoints"] == list(LANDMARK_NAMES)
    assert payload["categories"][0]["name"] == "fashion"
    assert [image["id"] for image in payload["images"]] == [5, 6]
    annotation = payload["annotations"][0]
    assert len(annotation["keypoints"]) == 24 and annotation["num_keypoints"] == 4
    assert annotation["clothes_type"] == 2 and annotation["variation_type"] == 4
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fld.json", "tree"]  # no temporary left behind
    if REAL_FLD.is_file():
        real = json.loads(REAL_FLD.read_text())
        assert payload["categories"][0]["keypoints"] == real["categories"][0]["keypoints"]
        assert set(real["annotations"][0]) <= set(annotation)


def test_export_without_bbox_uses_the_whole_image(tmp_path):
    tree = write_fld(tmp_path / "tree", with_bbox=False)
    coco = read_coco_keypoints(write_coco_keypoints(tmp_path / "fld.json", read_fld(tmp_path / "tree")))
    np.testing.assert_array_equal(coco.bbox[2], [0, 0, *tree.images[2].size])


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "images": [],\n  "annotations": [,]\n}\n')
    with pytest.raises(AnnotationError) as caught:
        read_coco_keypoints(path)
    assert caught.value.line == 3 and f"{path}:3: expected valid JSON" in str(caught.value)


def test_wrong_keypoint_count_names_the_annotation(tmp_path):
    path = tmp_path / "short.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
        "categories": [{"id": 1, "name": "fashion", "keypoints": list(LANDMARK_NAMES)}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "keypoints": [1, 2, 2]}],
    }))
    with pytest.raises(AnnotationError) as caught:
        read_coco_keypoints(path)
    assert "annotations[0] (id 7): 24 keypoint numbers" in str(caught.value) and "got 3" in str(caught.value)


def test_command_line_exports_one_split_and_a_runs_predictions_back_in_image_pixels(tmp_path, capsys):
    write_fld(tmp_path / "tree")
    annotations = read_fld(tmp_path / "tree")
    assert main(["export", str(tmp_path / "tree"), str(tmp_path / "gt.json"), "--format", "fld",
                 "--split", "test"]) == 0
    ground_truth = read_coco_keypoints(tmp_path / "gt.json")
    test_rows = annotations.indices("test")
    np.testing.assert_array_equal(ground_truth.image_ids, test_rows + 1)

    # A perfect model: the truth mapped into the S x S crop, as a dataset feeds it to the model.
    size = 64
    boxes = annotations.bbox[test_rows]
    crop_points = transform_points(annotations.landmarks[test_rows], boxes, size, False)
    np.savez(tmp_path / "run.npz", index=test_rows.astype(np.int32), landmarks=crop_points,
             input_size=np.asarray(size, dtype=np.int32))
    assert main(["predictions", str(tmp_path / "run.npz"), str(tmp_path / "tree"), str(tmp_path / "pred.json"),
                 "--format", "fld"]) == 0
    results = json.loads((tmp_path / "pred.json").read_text())
    assert [record["image_id"] for record in results] == (test_rows + 1).tolist()
    predicted = np.array([record["keypoints"] for record in results]).reshape(len(results), 8, 3)[..., :2]
    visible = annotations.landmark_visibility[test_rows] == 0
    np.testing.assert_allclose(predicted[visible], annotations.landmarks[test_rows][visible], atol=1e-3)
    assert "image ids as in `export" in capsys.readouterr().out


def test_command_line_names_a_predictions_file_without_the_arrays_it_needs(tmp_path):
    write_fld(tmp_path / "tree")
    np.savez(tmp_path / "bad.npz", landmarks=np.zeros((1, 8, 2)))
    with pytest.raises(AnnotationError, match="bad.npz.*index, landmarks, input_size"):
        main(["predictions", str(tmp_path / "bad.npz"), str(tmp_path / "tree"), str(tmp_path / "out.json"),
              "--format", "fld"])
