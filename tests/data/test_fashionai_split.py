"""`python -m fashion_core.data.fashionai split ROOT`: train / val / test CSVs from the released train.csv."""
from __future__ import annotations

import shlex
import subprocess
import sys
from collections import Counter

import pytest

from annotation_fixtures import FASHIONAI_KEYPOINTS, assert_names, write_fashionai
from fashion_core.data import splits
from fashion_core.data.errors import AnnotationError
from fashion_core.data.fashionai import (
    PAPER_CATEGORIES,
    PAPER_SPLIT_SIZES,
    RELEASED_TRAIN_FILE,
    main,
    read_fashionai,
    split_command_line,
    split_fashionai,
)

CATEGORIES = ("blouse", "outwear", "dress", "skirt", "trousers")
HEADER = ",".join(["image_id", "image_category", *FASHIONAI_KEYPOINTS])


def write_released(root, n_images: int = 50, repeated=(3, 17, 30)) -> list[str]:
    """A released-style train.csv (no images needed to split); images in `repeated` have a second row, later."""
    lines = []
    for index in range(n_images):
        category = CATEGORIES[index % len(CATEGORIES)]
        cells = ",".join(f"{index % 40}_{point}_1" if point < 3 else "-1_-1_-1" for point in range(24))
        lines.append(f"Images/{category}/{index:05d}.jpg,{category},{cells}")
    lines += [lines[index].replace("_1,", "_0,", 1) for index in repeated]
    path = root / "Annotations" / "train.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return lines


def split_rows(root) -> dict[str, list[str]]:
    rows = {}
    for split in ("train", "val", "test"):
        lines = (root / "Annotations" / f"{split}.csv").read_text().splitlines()
        assert lines[0] == HEADER
        rows[split] = lines[1:]
    return rows


def output_bytes(root) -> dict[str, bytes]:
    return {split: (root / "Annotations" / f"{split}.csv").read_bytes() for split in ("train", "val", "test")}


def test_split_by_image_keeps_every_row_and_the_released_file(tmp_path):
    released = write_released(tmp_path)
    original = (tmp_path / "Annotations" / "train.csv").read_bytes()
    result = split_fashionai(tmp_path, val=0.1, test=0.1, seed=0)
    assert result["images"] == {"train": 40, "val": 5, "test": 5} and result["left_out"] == 0
    assert (tmp_path / "Annotations" / RELEASED_TRAIN_FILE).read_bytes() == original
    rows = split_rows(tmp_path)
    assert Counter(row for split_lines in rows.values() for row in split_lines) == Counter(released)
    split_of = {}
    for split, lines in rows.items():
        for line in lines:
            image_id = line.split(",")[0]
            assert split_of.setdefault(image_id, split) == split, f"{image_id} in {split} and {split_of[image_id]}"
        # Rows keep the released order.
        assert lines == [line for line in released if line in set(lines)]
    assert sum(rows[split] != [] for split in rows) == 3


def test_same_seed_same_bytes_and_reruns_split_the_released_copy(tmp_path):
    for name in ("a", "b"):
        write_released(tmp_path / name)
        split_fashionai(tmp_path / name, seed=3)
    assert output_bytes(tmp_path / "a") == output_bytes(tmp_path / "b")
    first = output_bytes(tmp_path / "a")
    split_fashionai(tmp_path / "a", seed=3, force=True)  # splits train_released.csv, not the split train.csv
    assert output_bytes(tmp_path / "a") == first
    split_fashionai(tmp_path / "a", seed=4, force=True)
    assert output_bytes(tmp_path / "a")["test"] != first["test"]


def test_existing_val_and_test_are_not_overwritten_without_force(tmp_path, capsys):
    write_released(tmp_path)
    val = tmp_path / "Annotations" / "val.csv"
    val.write_text("mine\n")
    with pytest.raises(FileExistsError, match="val.csv already exist: pass --force"):
        split_fashionai(tmp_path)
    assert main(["split", str(tmp_path)]) == 1
    assert "pass --force" in capsys.readouterr().err
    assert val.read_text() == "mine\n" and not (tmp_path / "Annotations" / RELEASED_TRAIN_FILE).exists()
    assert main(["split", str(tmp_path), "--force"]) == 0
    assert val.read_text() != "mine\n"


def test_a_split_train_csv_is_not_overwritten_without_force(tmp_path):
    write_released(tmp_path)
    split_fashionai(tmp_path)
    for split in ("val", "test"):
        (tmp_path / "Annotations" / f"{split}.csv").unlink()
    (tmp_path / "Annotations" / "train.csv").write_text("edited\n")
    with pytest.raises(FileExistsError, match="train.csv already exist"):
        split_fashionai(tmp_path)


def test_counts_categories_and_left_out_images(tmp_path, capsys):
    write_released(tmp_path)
    assert main(["split", str(tmp_path), "--categories", "blouse,dress", "trousers", "--val", "4", "--test", "3",
                 "--train", "20"]) == 0
    assert "20 images of other categories and 3 beyond the sizes are in no split" in capsys.readouterr().out
    rows = split_rows(tmp_path)
    assert {line.split(",")[1] for lines in rows.values() for line in lines} == {"blouse", "dress", "trousers"}
    assert [len({line.split(",")[0] for line in rows[split]}) for split in ("train", "val", "test")] == [20, 4, 3]


def test_paper_split_is_hu_et_al_and_needs_enough_images(tmp_path, capsys):
    assert PAPER_CATEGORIES == ("blouse", "trousers", "dress")
    assert PAPER_SPLIT_SIZES == {"train": 18420, "val": 8107, "test": 5076}
    write_released(tmp_path)
    assert main(["split", str(tmp_path), "--paper-split"]) == 1
    assert "needs 31603 images of blouse, dress, trousers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["split", str(tmp_path), "--paper-split", "--val", "0.2"])
    assert "--paper-split sets the categories and sizes; drop --val" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "1.5", "-0.1", "x"])
def test_bad_sizes_are_refused(tmp_path, value, capsys):
    write_released(tmp_path)
    with pytest.raises(SystemExit):
        main(["split", str(tmp_path), "--val", value])
    assert "expected a fraction (0 < f < 1)" in capsys.readouterr().err


def test_a_bad_released_row_names_its_line(tmp_path):
    write_released(tmp_path)
    path = tmp_path / "Annotations" / "train.csv"
    lines = path.read_text().split("\n")
    lines[2] = lines[2].replace(",outwear,", ",shoes,")  # line 3: image 1, an outwear
    path.write_text("\n".join(lines))
    with pytest.raises(AnnotationError) as caught:
        split_fashionai(tmp_path)
    assert_names(caught.value, path, 3, "image_category one of", "got 'shoes'")


def test_missing_val_names_the_split_command_and_the_command_fixes_it(tmp_path):
    tree = write_fashionai(tmp_path)
    with pytest.raises(AnnotationError) as caught:
        splits.load_fashionai(tmp_path, 32)
    command = f"python -m fashion_core.data.fashionai split {tmp_path} --val 0.1 --test 0.1 --seed 0"
    assert command == split_command_line(tmp_path)
    assert_names(caught.value, tmp_path / "Annotations" / "val.csv", None, "expected an existing annotation file",
                 f"with: {command})")
    completed = subprocess.run([sys.executable, *shlex.split(command)[1:]], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    data = splits.load_fashionai(tmp_path, 32)
    assert (len(data.train), len(data.val), len(data.test)) == (3, 1, 1)
    assert sorted(image_id for split in ("train", "val", "test")
                  for image_id in read_fashionai(tmp_path, split).image_ids) == sorted(tree.image_ids)
