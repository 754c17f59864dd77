"""SynthFashion In-shop: the generator's garments laid out as DeepFashion's In-shop Clothes Retrieval benchmark.

A tree of its own, beside the DeepFashion-C / FLD / FashionAI one (whose bytes it never touches):

    OUT/synthfashion_inshop.json                     manifest (arguments, counts, conventions)
    OUT/img/<GENDER>/<Category>/id_XXXXXXXX/01_<K>_<view>.jpg
    OUT/Anno/list_bbox_inshop.txt                    image_name clothes_type pose_type x_1 y_1 x_2 y_2
    OUT/Anno/list_landmarks_inshop.txt               image_name clothes_type variation_type, then triples
    OUT/Eval/list_eval_partition.txt                 image_name item_id evaluation_status (train/query/gallery)

OUT is itself the benchmark root that fashion_core.data.inshop.read_inshop reads.

Items and photos:
  * An item is one garment (catalogue.sample_item: category, design, colours, print), photographed
    2-5 times (images_per_item); every photo of an item shows the same garment, under another pose
    type, pose, crop, background, clutter, occluders and mannequin.
  * Pose types (the In-shop codes of list_bbox_inshop.txt): 1 frontal (near-neutral pose), 2 side
    (the garment foreshortened horizontally by 0.55-0.8, an affine stand-in for a turned mannequin),
    4 zoom-out (garment at about half the frame), 5 zoom-in (crop 0.6-0.9 of the garment, so landmarks
    are cut off), 6 stand-alone (the garment alone: no mannequin, companion garment or occluder).
    SynthFashion renders garments from the front only, so it has no back view (code 3). Every item has
    a frontal photo; its other photos take distinct pose types.
  * File names: 01 (one colour variant per item), K and the view word by pose type: 1 front, 2 side,
    4 full, 5 -> 7 additional, 6 flat, as the real set names them.
  * Split by item: n_train_items items are train, n_test_items are test (which ones: a seeded draw,
    so item ids do not reveal the split). Each test item's photos are split into query and gallery,
    at least one of each.
  * Images are size x size, a square crop around the garment rendered at that size (not resampled).
    Landmark, visibility and bbox conventions are those of the main generator (writer.py): integer
    pixels, the wearer's left, visibility 0 visible / 1 occluded / 2 outside the frame, bbox of the
    garment pixels with exclusive x_2, y_2. variation_type as FLD's: 4/5 medium/large zoom-in, else
    1/2/3 by pose.
  * Gender: categories the real In-shop files under WOMEN only (dresses, skirts, ...) are WOMEN;
    the others are MEN with probability 0.3.
  * Determinism: every file is a function of the arguments (not of `workers`): item j draws from
    default_rng([seed, 21, j]), photo k from default_rng([seed, 22..24, k]), the test items from
    default_rng([seed, 20]).

CLI: python -m fashion_core.data.synthfashion inshop --out DIR --n-train-items N --n-test-items N
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from fashion_core.data.synthfashion.catalogue import ItemSpec, sample_item
from fashion_core.data.synthfashion.primitives import affine_compose
from fashion_core.data.synthfashion.scene import (
    garment_extent,
    sample_scene,
    variation_type,
)
from fashion_core.data.synthfashion.writer import (
    IDENTITY,
    NOTE,
    SynthKnobs,
    _jpeg,
    _landmark_columns,
    _name,
    _nonneg_int,
    _pos_int,
    _triples,
    _view_annotations,
    _write_list,
    add_knob_arguments,
    check_render_settings,
    check_workers,
    current_manifest,
    knobs_from_arguments,
    publish_tree,
    render_chunks,
)

INSHOP_VERSION = "synthfashion-inshop-1.0"
MANIFEST = "synthfashion_inshop.json"
STATUSES = ("train", "query", "gallery")
POSE_TYPE_NAMES = {1: "frontal", 2: "side", 4: "zoom-out", 5: "zoom-in", 6: "stand-alone"}
# pose type -> (K, view word) of the file name NN_K_<view>.jpg
VIEW_FILES = {1: (1, "front"), 2: (2, "side"), 4: (4, "full"), 5: (7, "additional"), 6: (6, "flat")}
MAX_IMAGES_PER_ITEM = len(POSE_TYPE_NAMES)
NAME_WIDTH = 64
ITEM_WIDTH = 16
MEN_SHARE = 0.3
# SynthFashion category -> (WOMEN folder, MEN folder or None): the real In-shop category folders.
FOLDERS = {
    "Blouse": ("Blouses_Shirts", None), "Button-Down": ("Blouses_Shirts", "Shirts_Polos"),
    "Cardigan": ("Cardigans", "Sweaters"), "Hoodie": ("Sweatshirts_Hoodies", "Sweatshirts_Hoodies"),
    "Jacket": ("Jackets_Coats", "Jackets_Vests"), "Sweater": ("Sweaters", "Sweaters"),
    "Tank": ("Tees_Tanks", "Tees_Tanks"), "Tee": ("Tees_Tanks", "Tees_Tanks"),
    "Culottes": ("Pants", None), "Jeans": ("Denim", "Denim"), "Joggers": ("Pants", "Pants"),
    "Leggings": ("Leggings", None), "Shorts": ("Shorts", "Shorts"), "Skirt": ("Skirts", None),
    "Dress": ("Dresses", None), "Jumpsuit": ("Rompers_Jumpsuits", None), "Kimono": ("Jackets_Coats", None),
    "Romper": ("Rompers_Jumpsuits", None),
}


@dataclass(frozen=True)
class InShopPhoto:
    index: int          # global 0-based image index, in item order
    item: ItemSpec      # item.name is the item id (id_XXXXXXXX)
    gender: str         # WOMEN / MEN
    folder: str         # the In-shop category folder
    pose_type: int
    status: str         # train / query / gallery

    @property
    def name(self) -> str:
        k, view = VIEW_FILES[self.pose_type]
        return f"img/{self.gender}/{self.folder}/{self.item.name}/01_{k}_{view}.jpg"


def plan_inshop(n_train_items: int, n_test_items: int, images_per_item: tuple[int, int],
                seed: int) -> list[InShopPhoto]:
    """Every photo of every item, items in id order, each item's photos in pose-type order."""
    n_items = n_train_items + n_test_items
    is_test = np.zeros(n_items, dtype=bool)
    is_test[np.random.default_rng([seed, 20]).permutation(n_items)[:n_test_items]] = True
    low, high = images_per_item
    photos: list[InShopPhoto] = []
    for j in range(n_items):
        rng = np.random.default_rng([seed, 21, j])
        item = replace(sample_item(rng), name=f"id_{j + 1:08d}")
        women, men = FOLDERS[item.category]
        if item.category == "Tee" and item.motif == "graphic":
            women = "Graphic_Tees"
        gender, folder = ("MEN", men) if men is not None and rng.random() < MEN_SHARE else ("WOMEN", women)
        count = int(rng.integers(low, high + 1))
        others = [int(code) for code in rng.permutation([2, 4, 5, 6])[:count - 1]]
        poses = sorted([1] + others)
        statuses = ["train"] * count
        if is_test[j]:
            n_query = int(rng.integers(1, count))
            query = set(int(p) for p in rng.permutation(count)[:n_query])
            statuses = ["query" if p in query else "gallery" for p in range(count)]
        for pose, status in zip(poses, statuses):
            photos.append(InShopPhoto(len(photos), item, gender, folder, pose, status))
    return photos


def _view(rng: np.random.Generator, scene, pose_type: int, size: int, truncation_rate: float) -> tuple:
    """(image pixels -> photo pixels, zoom): a square crop around the garment, squashed for a side view."""
    if pose_type == 2:
        x0, _, x1, _ = garment_extent(scene.geom, scene.world_to_image)
        squash = rng.uniform(0.55, 0.8)
        pre = np.array([[squash, 0.0, (x0 + x1) / 2 * (1.0 - squash)], [0.0, 1.0, 0.0]])
    else:
        pre = IDENTITY
    extent = garment_extent(scene.geom, affine_compose(pre, scene.world_to_image))
    garment_side = max(extent[2] - extent[0], extent[3] - extent[1])
    if pose_type == 4:
        zoom = rng.uniform(1.55, 2.1)
    elif pose_type == 5:
        zoom = rng.uniform(0.6, 0.9)
    else:   # frontal, side, stand-alone: the frame sometimes cuts a hem or a sleeve
        zoom = rng.uniform(0.88, 1.0) if rng.random() < truncation_rate else rng.uniform(1.05, 1.3)
    side = garment_side * zoom
    jitter = (1.0 - min(zoom, 1.0)) * 0.5 + 0.04
    cx = (extent[0] + extent[2]) / 2 + rng.uniform(-jitter, jitter) * garment_side
    cy = (extent[1] + extent[3]) / 2 + rng.uniform(-jitter, jitter) * garment_side
    scale = size / side
    crop = np.array([[scale, 0.0, -scale * (cx - side / 2)], [0.0, scale, -scale * (cy - side / 2)]])
    return affine_compose(crop, pre), zoom


def render_inshop_photo(photo: InShopPhoto, size: int, seed: int, knobs: SynthKnobs, debug: bool = False):
    """Render one photo: (annotation record, jpeg bytes).  debug=True adds the pre-JPEG image and the masks."""
    k, pose_type = photo.index, photo.pose_type
    pose_range = {1: 0.4, 5: 0.4, 6: 0.0}.get(pose_type, 1.0) * knobs.pose_range
    scene = sample_scene(photo.item, np.random.default_rng([seed, 22, k]), size,
                         occlusion_rate=0.0 if pose_type == 6 else knobs.occlusion_rate, truncation_rate=0.0,
                         clutter=knobs.clutter, pose_range=pose_range, scale_range=knobs.scale_range,
                         texture_contrast=knobs.texture_contrast)
    if pose_type == 6:
        scene = replace(scene, figure_polygons=[], companion=None, occluders=[])
    view, zoom = _view(np.random.default_rng([seed, 23, k]), scene, pose_type, size, knobs.truncation_rate)
    scene = replace(scene, fld_view=view, fld_zoom=zoom)
    image, annotations, _ = _view_annotations(scene, view, size, size, np.random.default_rng([seed, 24, k]), debug)
    record = {"index": k, "name": photo.name, "item_id": photo.item.name, "status": photo.status,
              "category": photo.item.category, "ctype": photo.item.ctype, "pose_type": pose_type,
              "variation_type": variation_type(scene), **annotations}
    if debug:
        record["scene"] = scene
    return record, _jpeg(image)


def _work(task) -> list[dict]:
    root, size, seed, knobs, chunk = task
    records = []
    for photo in chunk:
        record, data = render_inshop_photo(photo, size, seed, knobs)
        with open(os.path.join(root, photo.name), "wb") as handle:
            handle.write(data)
        records.append(record)
    return records


def _write_tree(root: Path, records: list[dict]) -> None:
    _write_list(root / "Eval" / "list_eval_partition.txt", ["image_name", "item_id", "evaluation_status"],
                [_name(r["name"], NAME_WIDTH) + _name(r["item_id"], ITEM_WIDTH) + r["status"] for r in records])
    _write_list(root / "Anno" / "list_bbox_inshop.txt",
                ["image_name", "clothes_type", "pose_type", "x_1", "y_1", "x_2", "y_2"],
                [_name(r["name"], NAME_WIDTH) + f"{r['ctype']}  {r['pose_type']}  "
                 + " ".join(f"{v:>4}" for v in r["bbox"]) for r in records])
    _write_list(root / "Anno" / "list_landmarks_inshop.txt", _landmark_columns(["variation_type"]),
                [_name(r["name"], NAME_WIDTH) + f"{r['ctype']}  {r['variation_type']}  " + _triples(r["landmarks"])
                 for r in records])


def _arguments(n_train_items, n_test_items, images_per_item, size, seed, knobs: SynthKnobs) -> dict:
    return {"n_train_items": int(n_train_items), "n_test_items": int(n_test_items),
            "images_per_item": [int(images_per_item[0]), int(images_per_item[1])], "size": int(size),
            "seed": int(seed), "knobs": knobs.as_dict()}


def _manifest(args: dict, records: list[dict]) -> dict:
    items: dict[str, set] = {"train": set(), "test": set()}
    for r in records:
        items["train" if r["status"] == "train" else "test"].add(r["item_id"])
    return {
        "generator": "SynthFashion", "benchmark": "inshop", "version": INSHOP_VERSION, "note": NOTE,
        "arguments": args,
        "not_recorded": "workers and progress only change speed and output to the terminal, never a byte on disk",
        "counts": {
            "images": {s: sum(r["status"] == s for r in records) for s in STATUSES},
            "items": {s: len(v) for s, v in items.items()},
            "pose_type": {str(k): v for k, v in sorted(Counter(r["pose_type"] for r in records).items())},
            "variation_type": {str(k): v for k, v in sorted(Counter(r["variation_type"] for r in records).items())},
            "landmark_visibility": dict(sorted(Counter(str(v) for r in records for v, _, _ in r["landmarks"]).items())),
            "categories": dict(sorted(Counter(r["category"] for r in records).items())),
        },
        "conventions": {
            "split": "by item: train items never appear in query or gallery; every test item has >= 1 query and "
                     ">= 1 gallery image",
            "pose_type": "1 frontal, 2 side (horizontal foreshortening), 4 zoom-out, 5 zoom-in, 6 stand-alone "
                         "(no mannequin); no back view (3)",
            "file_names": "01_<K>_<view>.jpg: 1 front, 2 side, 4 full, 7 additional (pose type 5), 6 flat",
            "same_item": "the same garment (category, design, colours, print); pose, crop, background, mannequin, "
                         "companion garment and occluders are drawn per photo",
            "image_size": "size x size",
            "landmarks": "as the main SynthFashion tree: 8 DeepFashion slots, wearer's left, visibility 0 visible, "
                         "1 occluded, 2 outside the frame (true position kept)",
            "bbox": "garment pixels inside the frame; x_2/y_2 exclusive",
        },
    }


def _validate(n_train_items, n_test_items, images_per_item, size, seed, knobs, workers) -> tuple[int, int]:
    for name, n in (("n_train_items", n_train_items), ("n_test_items", n_test_items)):
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    if n_train_items + n_test_items == 0:
        raise ValueError("n_train_items + n_test_items must be at least 1")
    try:
        low, high = (int(v) for v in images_per_item)
    except (TypeError, ValueError):
        raise ValueError(f"images_per_item must be (low, high), got {images_per_item!r}") from None
    if not 2 <= low <= high <= MAX_IMAGES_PER_ITEM:
        raise ValueError(f"images_per_item must be (low, high) with 2 <= low <= high <= {MAX_IMAGES_PER_ITEM} "
                         f"(a test item needs a query and a gallery photo; one photo per pose type), "
                         f"got {tuple(images_per_item)!r}")
    check_render_settings(size, seed, knobs)
    check_workers(workers)
    return low, high


def _check_replaceable(out: Path) -> None:
    """Refuse to replace a directory that is neither empty nor a SynthFashion In-shop tree (never delete user data)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory")
    if not any(out.iterdir()):
        return
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("benchmark") != "inshop":
        raise FileExistsError(f"{out} exists, is not empty and holds no SynthFashion In-shop manifest ({MANIFEST}); "
                              "refusing to replace it")


def _render_all(tmp: Path, photos: list[InShopPhoto], size: int, seed: int, knobs: SynthKnobs, workers: int,
                progress: bool) -> list[dict]:
    for directory in sorted({str(Path(photo.name).parent) for photo in photos}):
        (tmp / directory).mkdir(parents=True, exist_ok=True)
    chunk = 16
    tasks = [(str(tmp), int(size), int(seed), knobs, photos[i:i + chunk]) for i in range(0, len(photos), chunk)]
    return render_chunks(_work, tasks, len(photos), workers, progress, "SynthFashion In-shop")


def generate_inshop(out_dir, n_train_items: int, n_test_items: int, images_per_item: tuple[int, int] = (2, 5),
                    size: int = 128, seed: int = 0, knobs: SynthKnobs = SynthKnobs(), workers: int = 2,
                    progress: bool = True) -> dict:
    """Render the In-shop tree into a temporary sibling of out_dir and move it into place when complete.

    As writer.generate: an interrupted run leaves out_dir as it was; a non-empty out_dir that is not a
    SynthFashion In-shop tree is never replaced (FileExistsError). Returns the manifest.
    """
    images_per_item = _validate(n_train_items, n_test_items, images_per_item, size, seed, knobs, workers)
    out = Path(out_dir).absolute()
    _check_replaceable(out)
    args = _arguments(n_train_items, n_test_items, images_per_item, size, seed, knobs)
    photos = plan_inshop(int(n_train_items), int(n_test_items), images_per_item, int(seed))

    def build(tmp: Path) -> dict:
        records = _render_all(tmp, photos, size, seed, knobs, int(workers), progress)
        records.sort(key=lambda r: r["index"])
        _write_tree(tmp, records)
        return _manifest(args, records)

    return publish_tree(out, build, MANIFEST)


def ensure_synthfashion_inshop(out_dir, n_train_items: int, n_test_items: int,
                               images_per_item: tuple[int, int] = (2, 5), size: int = 128, seed: int = 0,
                               knobs: SynthKnobs = SynthKnobs(), workers: int = 2, progress: bool = True) -> dict:
    """Generate only if OUT/synthfashion_inshop.json is missing or records other arguments; else return it."""
    images_per_item = _validate(n_train_items, n_test_items, images_per_item, size, seed, knobs, workers)
    manifest = current_manifest(Path(out_dir) / MANIFEST, INSHOP_VERSION,
                                _arguments(n_train_items, n_test_items, images_per_item, size, seed, knobs))
    if manifest is not None:
        return manifest
    return generate_inshop(out_dir, n_train_items, n_test_items, images_per_item, size=size, seed=seed, knobs=knobs,
                           workers=workers, progress=progress)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fashion_core.data.synthfashion inshop",
                                description="Generate SynthFashion (synthetic, NOT DeepFashion) in the DeepFashion "
                                            "In-shop Clothes Retrieval file format.")
    p.add_argument("--out", required=True, help="benchmark root (replaced atomically when complete)")
    p.add_argument("--n-train-items", type=_nonneg_int, required=True)
    p.add_argument("--n-test-items", type=_nonneg_int, required=True)
    p.add_argument("--images-per-item", type=_pos_int, nargs=2, metavar=("LO", "HI"), default=[2, 5])
    p.add_argument("--size", type=_pos_int, default=128, help="image side in pixels (default 128)")
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.add_argument("--workers", type=_pos_int, default=2, help="processes (output does not depend on it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_knob_arguments(p)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        knobs = knobs_from_arguments(a)
        _validate(a.n_train_items, a.n_test_items, tuple(a.images_per_item), a.size, a.seed, knobs, a.workers)
    except ValueError as error:
        parser.error(str(error))
    start = time.perf_counter()
    manifest = generate_inshop(a.out, a.n_train_items, a.n_test_items, tuple(a.images_per_item), size=a.size,
                               seed=a.seed, knobs=knobs, workers=a.workers, progress=not a.no_progress)
    elapsed = time.perf_counter() - start
    c = manifest["counts"]
    n = sum(c["images"].values())
    print(f"SynthFashion In-shop ({INSHOP_VERSION}; synthetic, not DeepFashion) written to {Path(a.out).absolute()}")
    print("  images: " + ", ".join(f"{s} {c['images'][s]}" for s in STATUSES)
          + f"; items: train {c['items']['train']}, test {c['items']['test']}")
    print(f"  {elapsed:.1f} s, {n / max(elapsed, 1e-9):.0f} images/s")
    return 0
