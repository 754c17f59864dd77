"""Tiny valid DeepFashion-C, FLD and FashionAI trees for loader tests, plus ways to break them.

Each writer returns a tree object that knows what it wrote (expected arrays, which line holds
which image), so a test can corrupt one thing and assert the exact file and line in the error.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

CATEGORIES = [("Blouse", 1), ("Button-Down", 1), ("Jeans", 2), ("Skirt", 2), ("Dress", 3)]
# Names with spaces as in the real list_attr_cloth.txt; all five types present.
ATTRIBUTES = [("a-line", 3), ("abstract chevron print", 1), ("denim", 2), ("crew neck", 4),
              ("boho", 5), ("floral", 1), ("faux leather", 2)]
SLOTS = {1: (0, 1, 2, 3, 6, 7), 2: (4, 5, 6, 7), 3: tuple(range(8))}


@dataclass
class FixtureImage:
    name: str
    split: str
    category: int            # 1-based label as written in list_category_img.txt
    clothes_type: int
    size: tuple[int, int]    # (width, height)
    bbox: tuple[int, int, int, int]
    triples: list[tuple[int, int, int]]  # (visibility, x, y) in file order
    attributes: list[int]    # 1 / -1 per ATTRIBUTES row
    variation_type: int = 1


def _fixture_images(prefix: str) -> list[FixtureImage]:
    upper = [(0, 14, 10), (1, 30, 11), (0, 8, 25), (2, 40, 24), (0, 15, 50), (0, 33, 52)]
    lower = [(0, 12, 8), (0, 36, 9), (1, 10, 40), (0, 38, 41)]
    full = [(0, 20, 6), (0, 44, 7), (0, 9, 20), (1, 55, 21), (0, 22, 28), (0, 42, 29), (2, 18, 44), (0, 46, 45)]
    return [
        FixtureImage(f"{prefix}/Floral_Blouse/img_00000001.jpg", "train", 1, 1, (48, 64), (4, 6, 44, 60), upper,
                     [-1, 1, -1, 1, -1, 1, -1]),
        FixtureImage(f"{prefix}/Denim_Jeans/img_00000002.jpg", "train", 3, 2, (50, 56), (5, 3, 45, 50), lower,
                     [-1, -1, 1, -1, -1, -1, -1], variation_type=2),
        FixtureImage(f"{prefix}/Boho_Dress/img_00000003.jpg", "train", 5, 3, (64, 48), (2, 2, 60, 47), full,
                     [1, -1, -1, 1, 1, -1, -1], variation_type=3),
        FixtureImage(f"{prefix}/Crew_Button-Down/img_00000004.jpg", "val", 2, 1, (48, 64), (3, 5, 47, 63), upper,
                     [-1, -1, -1, 1, -1, -1, 1]),
        FixtureImage(f"{prefix}/Denim_Skirt/img_00000005.jpg", "test", 4, 2, (50, 56), (4, 4, 46, 52), lower,
                     [1, -1, 1, -1, -1, -1, -1], variation_type=4),
        FixtureImage(f"{prefix}/Boho_Dress/img_00000006.jpg", "test", 5, 3, (64, 48), (1, 1, 63, 47), full,
                     [-1, -1, -1, -1, 1, 1, -1], variation_type=5),
    ]


def pattern_image(width: int, height: int, seed: int) -> np.ndarray:
    """Gradients in R and G so crops and flips are visible in the pixels; B tells images apart."""
    xs = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    ys = np.linspace(0, 255, height, dtype=np.float32)[:, None].repeat(width, 1)
    blue = np.full((height, width), 40 + 30 * seed, dtype=np.float32)
    return np.stack([xs, ys, blue], axis=-1).astype(np.uint8)


def write_image(path: Path, width: int, height: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pattern_image(width, height, seed)).save(path, quality=95)


def write_list_file(path: Path, column_names: str, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{len(rows)}\n{column_names}\n" + "".join(row + "\n" for row in rows))


@dataclass
class DeepFashionTree:
    root: Path
    images: list[FixtureImage]
    image_dir: Path
    row_order: dict[str, list[int]] = field(default_factory=dict)  # role -> image index per data row

    def path(self, role: str) -> Path:
        return self.root / role

    def line_of(self, role: str, image_index: int) -> int:
        return 3 + self.row_order[role].index(image_index)

    def image_path(self, image_index: int) -> Path:
        return self.image_dir / self.images[image_index].name

    def expected_landmarks(self) -> tuple[np.ndarray, np.ndarray]:
        landmarks = np.zeros((len(self.images), 8, 2), np.float32)
        visibility = np.full((len(self.images), 8), -1, np.int8)
        for row, image in enumerate(self.images):
            for slot, (code, x, y) in zip(SLOTS[image.clothes_type], image.triples):
                landmarks[row, slot] = (x, y)
                visibility[row, slot] = code
        return landmarks, visibility


def _name_column(name: str) -> str:
    # The real files pad image names into a fixed-width column with runs of spaces.
    return name.ljust(60)


def _landmark_row(image: FixtureImage, with_variation: bool) -> str:
    fields = [str(image.clothes_type)] + ([str(image.variation_type)] if with_variation else [])
    fields += [f"{code} {x:03d} {y:03d}" for code, x, y in image.triples]
    return _name_column(image.name) + "  ".join(fields)


def write_deepfashion_c(root: Path, *, image_dir: str = "") -> DeepFashionTree:
    """A DeepFashion-C tree with 6 images (3 train, 1 val, 2 test); bbox rows in reverse order."""
    root = Path(root)
    images = _fixture_images("img")
    tree = DeepFashionTree(root, images, root / image_dir if image_dir else root)
    for index, image in enumerate(images):
        write_image(tree.image_path(index), *image.size, seed=index)
    order = list(range(len(images)))
    write_list_file(root / "Anno/list_category_cloth.txt", "category_name  category_type",
                    [name.ljust(15) + str(kind) for name, kind in CATEGORIES])
    write_list_file(root / "Anno/list_attr_cloth.txt", "attribute_name  attribute_type",
                    [name.ljust(29) + str(kind) for name, kind in ATTRIBUTES])
    write_list_file(root / "Eval/list_eval_partition.txt", "image_name  evaluation_status",
                    [_name_column(image.name) + image.split for image in images])
    write_list_file(root / "Anno/list_category_img.txt", "image_name  category_label",
                    [_name_column(image.name) + str(image.category) for image in images])
    write_list_file(root / "Anno/list_attr_img.txt", "image_name  attribute_labels",
                    [_name_column(image.name) + " ".join(f"{value:2d}" for value in image.attributes)
                     for image in images])
    write_list_file(root / "Anno/list_bbox.txt", "image_name  x_1  y_1  x_2  y_2",
                    [_name_column(images[i].name) + " ".join(f"{v:03d}" for v in images[i].bbox)
                     for i in reversed(order)])
    write_list_file(root / "Anno/list_landmarks.txt",
                    "image_name  clothes_type  landmark_visibility_1  landmark_location_x_1  landmark_location_y_1",
                    [_landmark_row(image, with_variation=False) for image in images])
    tree.row_order = {role: order for role in (
        "Eval/list_eval_partition.txt", "Anno/list_category_img.txt", "Anno/list_attr_img.txt",
        "Anno/list_landmarks.txt")}
    tree.row_order["Anno/list_bbox.txt"] = list(reversed(order))
    return tree


def write_fld(root: Path, *, with_bbox: bool = True) -> DeepFashionTree:
    """An FLD tree: list_landmarks.txt with variation_type, optional list_bbox.txt, partition."""
    root = Path(root)
    images = [
        FixtureImage(f"img/img_{index + 1:08d}.jpg", image.split, 0, image.clothes_type, image.size, image.bbox,
                     image.triples, [], image.variation_type)
        for index, image in enumerate(_fixture_images("img"))
    ]
    tree = DeepFashionTree(root, images, root)
    for index, image in enumerate(images):
        write_image(tree.image_path(index), *image.size, seed=index)
    order = list(range(len(images)))
    write_list_file(root / "Eval/list_eval_partition.txt", "image_name  evaluation_status",
                    [_name_column(image.name) + image.split for image in images])
    write_list_file(root / "Anno/list_landmarks.txt",
                    "image_name  clothes_type  variation_type  landmark_visibility_1  landmark_location_x_1  "
                    "landmark_location_y_1",
                    [_landmark_row(image, with_variation=True) for image in images])
    tree.row_order = {"Eval/list_eval_partition.txt": order, "Anno/list_landmarks.txt": order}
    if with_bbox:
        write_list_file(root / "Anno/list_bbox.txt", "image_name  x_1  y_1  x_2  y_2",
                        [_name_column(image.name) + " ".join(f"{v:03d}" for v in image.bbox) for image in images])
        tree.row_order["Anno/list_bbox.txt"] = order
    return tree


# ---------------------------------------------------------------------------------------------
# FashionAI

FASHIONAI_KEYPOINTS = [
    "neckline_left", "neckline_right", "center_front", "shoulder_left", "shoulder_right", "armpit_left",
    "armpit_right", "waistline_left", "waistline_right", "cuff_left_in", "cuff_left_out", "cuff_right_in",
    "cuff_right_out", "top_hem_left", "top_hem_right", "waistband_left", "waistband_right", "hemline_left",
    "hemline_right", "crotch", "bottom_left_in", "bottom_left_out", "bottom_right_in", "bottom_right_out",
]
_FASHIONAI_PRESENT = {
    "blouse": (0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14),
    "outwear": (0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14),
    "dress": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 17, 18),
    "skirt": (15, 16, 17, 18),
    "trousers": (15, 16, 19, 20, 21, 22, 23),
}


@dataclass
class FashionAITree:
    root: Path
    csv_path: Path
    image_ids: list[str]
    categories: list[str]
    sizes: list[tuple[int, int]]
    keypoints: np.ndarray   # (N,24,2)
    visibility: np.ndarray  # (N,24) 1 / 0 / -1

    def line_of(self, image_index: int) -> int:
        return 2 + image_index


def write_fashionai(root: Path, split: str = "train") -> FashionAITree:
    """One image per category; keypoints spread over the image, every third present one occluded."""
    root = Path(root)
    categories = ["blouse", "outwear", "dress", "skirt", "trousers"]
    sizes = [(64, 80), (80, 64), (64, 64), (72, 56), (56, 72)]
    image_ids = [f"Images/{category}/{index:04d}abc.jpg" for index, category in enumerate(categories)]
    keypoints = np.zeros((len(categories), 24, 2), np.float32)
    visibility = np.full((len(categories), 24), -1, np.int8)
    rows = []
    for index, (category, (width, height)) in enumerate(zip(categories, sizes)):
        write_image(root / image_ids[index], width, height, seed=index)
        cells = []
        for point in range(24):
            if point in _FASHIONAI_PRESENT[category]:
                x, y = 3 + (point * 7) % (width - 6), 2 + (point * 5) % (height - 4)
                code = 0 if point % 3 == 0 else 1
                keypoints[index, point] = (x, y)
                visibility[index, point] = code
                cells.append(f"{x}_{y}_{code}")
            else:
                cells.append("-1_-1_-1")
        rows.append([image_ids[index], category, *cells])
    csv_path = root / "Annotations" / f"{split}.csv"
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["image_id", "image_category", *FASHIONAI_KEYPOINTS])
        writer.writerows(rows)
    return FashionAITree(root, csv_path, image_ids, categories, sizes, keypoints, visibility)


# ---------------------------------------------------------------------------------------------
# Corruptions


def replace_line(path: Path, line_number: int, text: str) -> None:
    lines = path.read_text().split("\n")
    lines[line_number - 1] = text
    path.write_text("\n".join(lines))


def read_line(path: Path, line_number: int) -> str:
    return path.read_text().split("\n")[line_number - 1]


def replace_field(path: Path, line_number: int, field_index: int, value: str) -> None:
    """Replace the 1-based whitespace-separated field of a list-file line."""
    fields = read_line(path, line_number).split()
    fields[field_index - 1] = value
    replace_line(path, line_number, " ".join(fields))


def delete_line(path: Path, line_number: int) -> None:
    lines = path.read_text().split("\n")
    del lines[line_number - 1]
    path.write_text("\n".join(lines))


def truncate_jpeg(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def replace_csv_field(path: Path, line_number: int, column: int, value: str) -> None:
    """Replace the 1-based comma-separated column of a CSV line (FashionAI cells hold no commas)."""
    fields = read_line(path, line_number).split(",")
    fields[column - 1] = value
    replace_line(path, line_number, ",".join(fields))


def append_line(path: Path, text: str) -> int:
    """Append a line (the file gets a final newline first); returns its 1-based number."""
    content = path.read_text()
    if content and not content.endswith("\n"):
        content += "\n"
    path.write_text(content + text + "\n")
    return content.count("\n") + 1


def assert_names(error, path: Path, line: int | None, *expected: str) -> None:
    """The AnnotationError names `path` and `line` (attributes and message) and every `expected` fragment."""
    message = str(error)
    assert error.path == str(path)
    assert error.line == line
    assert (f"{path}:{line}:" if line is not None else f"{path}:") in message
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"
