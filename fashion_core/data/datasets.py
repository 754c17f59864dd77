"""Torch datasets for DeepFashion-C, FLD, FashionAI and In-shop: crop, resize, optional flip, heatmap targets.

Coordinate convention: continuous pixel coordinates, pixel i covers [i, i+1) and its centre
is i + 0.5; an image of width W spans [0, W]. Annotated coordinates are used as written.
Under this convention a crop box (x1, y1, x2, y2) resized to S maps x to
(x - x1) * S / (x2 - x1) (exactly what PIL's resize(box=...) samples), and a horizontal
flip maps x to S - x, so flipping twice is the identity and a landmark stays on the same
image content. (torchvision 0.29's keypoint flip uses W - 1 - x, the pixel-index convention,
which would shift flipped landmarks by one pixel against its own resize, so the few lines
of keypoint arithmetic are done here.)

Randomness: the only random step is the training flip, a pure function of
(seed, epoch, annotation row), so it is identical across workers, runs and resumes.
Call `set_epoch` before creating the DataLoader iterator (non-persistent workers copy the
dataset when iteration starts).

Every image is checked where it is opened: it must decode, and its bbox and visible landmarks
(keypoints) must fit its size (deepfashion.image_size_issue, fashionai.keypoint_size_issue), else
AnnotationError names the annotation file and line. `check_images` runs that over a whole split
before training, so a bad image stops a run before its first epoch rather than in it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.v2.functional as F
from PIL import Image
from torch.utils.data import Dataset

from fashion_core.data.deepfashion import (
    PARTITION_FILE,
    SPLITS,
    CategoryAttributeAnnotations,
    LandmarkAnnotations,
    image_size_issue,
)
from fashion_core.data.errors import AnnotationError
from fashion_core.data.fashionai import FashionAIAnnotations, keypoint_size_issue
from fashion_core.data.inshop import INSHOP_PARTITION_FILE, INSHOP_SPLITS, InShopAnnotations
from fashion_core.data.vocab import FASHIONAI_CLOTHES_TYPE, FASHIONAI_FLIP_PAIRS

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEEPFASHION_FLIP_PAIRS = ((0, 1), (2, 3), (4, 5), (6, 7))
HEATMAP_KERNELS = ("gaussian", "liu_lu")


@dataclass(frozen=True)
class HeatmapSpec:
    """Heatmap targets. kernel "gaussian": exp(-d^2 / (2 r^2)); "liu_lu": exp(-0.5 d / r), d the plain distance.

    radius r is in heatmap pixels; the heatmap side is input_size // stride and heatmap cell
    (i, j) is centred on input pixel coordinates ((j + 0.5) * stride, (i + 0.5) * stride).
    Liu & Lu 2018 use liu_lu with r = 8 at 224 px, stride 1.
    """

    kernel: str = "gaussian"
    radius: float = 2.0
    stride: int = 1

    def __post_init__(self) -> None:
        if self.kernel not in HEATMAP_KERNELS:
            raise ValueError(f"kernel must be one of {HEATMAP_KERNELS}, got {self.kernel!r}")
        if not self.radius > 0:
            raise ValueError(f"radius must be positive, got {self.radius}")
        if int(self.stride) != self.stride or self.stride < 1:
            raise ValueError(f"stride must be a positive integer, got {self.stride}")


def render_heatmaps(points: np.ndarray | torch.Tensor, present: np.ndarray | torch.Tensor, input_size: int,
                    spec: HeatmapSpec = HeatmapSpec()) -> torch.Tensor:
    """float32 (L, S//stride, S//stride) maps for points (L,2) in input pixels.

    A point that is not `present` or lies outside [0, input_size) gets an all-zero map.
    """
    # numpy, not torch: for maps this small torch's per-op overhead doubles the time.
    points = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    present = np.asarray(present, dtype=bool).reshape(-1)
    side = input_size // spec.stride
    x, y = points[:, 0], points[:, 1]
    inside = present & (x >= 0) & (x < input_size) & (y >= 0) & (y < input_size)
    keep = inside.astype(np.float32)[:, None]
    centres = np.arange(side, dtype=np.float32) + np.float32(0.5)
    dx2 = np.square(centres[None, :] - x[:, None] / np.float32(spec.stride))  # (L, W)
    dy2 = np.square(centres[None, :] - y[:, None] / np.float32(spec.stride))  # (L, H)
    if spec.kernel == "gaussian":
        # Separable: two (L, side) exponentials and one outer product instead of L*side*side exps.
        scale = np.float32(-1.0 / (2.0 * spec.radius ** 2))
        maps = (np.exp(dy2 * scale) * keep)[:, :, None] * np.exp(dx2 * scale)[:, None, :]
    else:
        exponent = np.sqrt(dy2[:, :, None] + dx2[:, None, :])
        exponent *= np.float32(-0.5 / spec.radius)
        maps = np.exp(exponent, out=exponent) * keep[:, :, None]
    return torch.from_numpy(maps)


def flip_decision(seed: int, epoch: int, row: int) -> bool:
    """The training flip coin: a pure function of (seed, epoch, row), stable across processes and Python versions."""
    digest = hashlib.blake2b(f"{seed}:{epoch}:{row}".encode(), digest_size=8).digest()
    return bool(digest[0] & 1)


def flip_permutation(n_points: int, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Index array `perm` with flipped[i] = original[perm[i]]: left and right slots swap."""
    perm = np.arange(n_points)
    for left, right in pairs:
        perm[left], perm[right] = right, left
    return perm


def transform_points(points: np.ndarray, box: np.ndarray, input_size: int, flip: bool | np.ndarray) -> np.ndarray:
    """Original-image points (..., L, 2) -> input pixels after crop to `box` (..., 4), resize to S x S and mirror.

    Leading dimensions broadcast: one image (L,2) with box (4,) and flip a bool, or a batch
    (B,L,2) with boxes (B,4) and flips (B,).
    """
    box = np.asarray(box, dtype=np.float64)
    origin = box[..., None, :2]
    scale = input_size / (box[..., None, 2:] - origin)
    out = (np.asarray(points, dtype=np.float64) - origin) * scale
    mirrored = np.asarray(flip, dtype=bool)[..., None]
    out[..., 0] = np.where(mirrored, input_size - out[..., 0], out[..., 0])
    return out.astype(np.float32)


def input_to_original_points(points: np.ndarray, box: np.ndarray, input_size: int) -> np.ndarray:
    """Input pixels (..., L, 2) of an unmirrored S x S crop of `box` (..., 4) -> original-image pixels.

    The inverse of transform_points with flip=False: how predictions go back to the image.
    """
    box = np.asarray(box, dtype=np.float64)
    origin = box[..., None, :2]
    return np.asarray(points, dtype=np.float64) * ((box[..., None, 2:] - origin) / input_size) + origin


def denormalize(image_tensor: torch.Tensor) -> np.ndarray:
    """ImageNet-normalised (3,H,W) or (B,3,H,W) -> uint8 (H,W,3) or (B,H,W,3) for display."""
    image = image_tensor.detach().cpu().float()
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    pixels = (image * std + mean).mul(255.0).round().clamp(0, 255).to(torch.uint8)
    return pixels.movedim(-3, -1).numpy()


class _KeypointImageDataset(Dataset):
    """The one pipeline: decode, crop + resize (aspect not kept), optional mirror, normalise, heatmaps."""

    flip_pairs: tuple[tuple[int, int], ...] = ()

    def __init__(self, rows: np.ndarray, n_points: int, input_size: int, flip: bool,
                 heatmaps: HeatmapSpec | None, seed: int, cache_images: bool = False):
        self.rows = np.asarray(rows, dtype=np.int64)
        self.input_size = int(input_size)
        self.flip = bool(flip)
        self.heatmaps = heatmaps
        self.seed = int(seed)
        self.epoch = 0
        self._flip_permutation = flip_permutation(n_points, self.flip_pairs)
        # Decoded, cropped and resized pixels (before the random flip), kept per item when asked:
        # small CPU runs train several models for several seeds on the same few thousand crops.
        self.cache_images = bool(cache_images)
        self._pixel_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _image_source(self, row: int) -> tuple[Path, Path, int]:
        """(image file, annotation file, 1-based line) of annotation row `row`."""
        raise NotImplementedError

    def _crop_box(self, row: int, width: int, height: int) -> np.ndarray:
        """Row `row`'s crop box (x1, y1, x2, y2) in its width x height image, after checking the row's
        annotations against that size (AnnotationError naming their file and line)."""
        raise NotImplementedError

    def _decode(self, row: int) -> tuple[Image.Image, np.ndarray]:
        """The RGB image of annotation row `row` and its crop box (x1, y1, x2, y2)."""
        image = open_rgb(*self._image_source(row))
        return image, self._crop_box(row, image.width, image.height)

    def check_images(self) -> None:
        """Open every image of this split and check its annotations against its size, before any training.

        With cache_images every image is decoded, cropped and kept (fill_cache), which training
        would do in its first epoch anyway; without, each image's header is read and verified (fast,
        though a JPEG cut short after its header passes). Raises AnnotationError naming the image
        file and the annotation line that lists it.
        """
        if self.cache_images:
            self.fill_cache()
            return
        for row in self.rows.tolist():
            self._crop_box(row, *image_header_size(*self._image_source(row)))

    def _pixels_and_box(self, item: int) -> tuple[torch.Tensor, np.ndarray]:
        cached = self._pixel_cache.get(item)
        if cached is not None:
            return torch.from_numpy(cached[0]), cached[1]
        image, box = self._decode(int(self.rows[item]))
        size = self.input_size
        resized = image.resize((size, size), Image.Resampling.BILINEAR, box=tuple(float(v) for v in box))
        # pil_to_tensor returns a channels-first view of HWC memory; arithmetic on it is ~5x slower.
        pixels = F.pil_to_tensor(resized).contiguous()
        if self.cache_images:
            # numpy, not tensors: a dataset sent to a worker process (fashion_core.engine.parallel) then pickles
            # as plain bytes instead of one shared-memory file descriptor per cached image.
            self._pixel_cache[item] = (pixels.numpy(), box)
        return pixels, box

    def fill_cache(self) -> None:
        """Decode, crop and resize every image now (with cache_images), e.g. once before workers copy the dataset."""
        if self.cache_images:
            for item in range(len(self)):
                if item not in self._pixel_cache:
                    self._pixels_and_box(item)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.rows)

    def flips(self, item: int) -> bool:
        """Whether item `item` is mirrored in the current epoch."""
        return self.flip and flip_decision(self.seed, self.epoch, int(self.rows[item]))

    def _annotations(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                                      dict[str, torch.Tensor]]:
        """For annotation rows (B,): points (B,L,2), codes (B,L), visible (B,L), heatmap-labelled (B,L), and
        the batched per-image labels (category, attributes, clothes_type)."""
        raise NotImplementedError

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([item])[0]

    def __getitems__(self, items: list[int]) -> list[dict[str, torch.Tensor]]:
        """The samples of `items`, computed as one batch (the DataLoader's batched fetch calls this).

        Per-image Python work is only the cache lookup and the flip coin; the normalisation, the
        mirror and the keypoint arithmetic run once on the stacked batch, which makes a cached
        epoch several times faster than sample-by-sample tensors at these small sizes.
        """
        items = [int(item) for item in items]
        size = self.input_size
        rows = self.rows[items]
        mirror = np.array([self.flips(item) for item in items], dtype=bool)
        pixels_and_boxes = [self._pixels_and_box(item) for item in items]
        pixels = torch.stack([pixels for pixels, _ in pixels_and_boxes])
        boxes = np.stack([np.asarray(box, dtype=np.float64) for _, box in pixels_and_boxes])
        points, codes, visible, labelled, labels = self._annotations(rows)

        transformed = transform_points(points, boxes, size, mirror)
        if mirror.any():
            flipped = torch.from_numpy(mirror)
            pixels[flipped] = F.horizontal_flip(pixels[flipped])
            perm = self._flip_permutation
            for array in (transformed, codes, visible, labelled):
                array[mirror] = array[mirror][:, perm]
        transformed[codes < 0] = 0.0
        images = F.normalize(F.to_dtype(pixels, torch.float32, scale=True), IMAGENET_MEAN, IMAGENET_STD)
        extent = boxes[:, 2:] - boxes[:, :2]
        batch = {
            "image": images,
            "landmarks": torch.from_numpy(transformed),
            "visibility": torch.from_numpy(codes.astype(np.int64)),
            "visible": torch.from_numpy(visible),
            "index": torch.from_numpy(rows.astype(np.int64)),
            "crop_box": torch.from_numpy(boxes.astype(np.float32)),
            "crop_size": torch.from_numpy(extent.astype(np.float32)),
            "scale": torch.from_numpy((size / extent).astype(np.float32)),
            "flipped": torch.from_numpy(mirror),
            **labels,
        }
        if self.heatmaps is not None:
            batch["heatmaps"] = torch.stack([render_heatmaps(transformed[i], labelled[i], size, self.heatmaps)
                                             for i in range(len(items))])
        names = list(batch)
        return [dict(zip(names, values)) for values in zip(*(batch[name].unbind(0) for name in names))]


class LandmarkDataset(_KeypointImageDataset):
    """DeepFashion-C or FLD images of one split: crop = the bbox (the whole image when there is none).

    Sample keys: image (3,S,S) float32 normalised; landmarks (8,2) input pixels; visibility (8,)
    raw codes 0/1/2/-1; visible (8,) code 0 (the NE protocol); category (-1 without categories);
    attributes (K,) or (0,); clothes_type; index (annotation row); crop_box, crop_size, scale;
    flipped; heatmaps (8, S//stride, S//stride) when requested, drawn for visible and occluded
    landmarks (truncated and absent ones have no reliable position).
    """

    flip_pairs = DEEPFASHION_FLIP_PAIRS

    def __init__(self, annotations: LandmarkAnnotations, split: str | None, input_size: int = 224,
                 flip: bool = False, heatmaps: HeatmapSpec | None = None, seed: int = 0,
                 cache_images: bool = False):
        rows = annotations.indices(split)
        if len(rows) == 0:
            path = annotations.files[PARTITION_FILE]
            counts = ", ".join(f"{name} {int((annotations.split == name).sum())}" for name in SPLITS)
            raise AnnotationError(path, None, f"at least one image with evaluation_status {split!r}",
                                  f"none among {len(annotations)} images ({counts})")
        super().__init__(rows, 8, input_size, flip, heatmaps, seed, cache_images)
        self.annotations = annotations
        self._has_attributes = isinstance(annotations, CategoryAttributeAnnotations)

    def _image_source(self, row: int) -> tuple[Path, Path, int]:
        return (self.annotations.image_path(row), *self.annotations.source_line(row))

    def _crop_box(self, row: int, width: int, height: int) -> np.ndarray:
        issue = image_size_issue(self.annotations, row, width, height)
        if issue is not None:
            raise issue.error()
        if self.annotations.bbox is None:
            return np.array([0.0, 0.0, width, height])
        return self.annotations.bbox[row]

    def _annotations(self, rows: np.ndarray):
        annotations = self.annotations
        codes = annotations.landmark_visibility[rows]
        count = len(rows)
        if self._has_attributes:
            labels = {"category": torch.from_numpy(annotations.category[rows].astype(np.int64)),
                      "attributes": torch.from_numpy(annotations.attributes[rows].astype(np.float32))}
        else:
            labels = {"category": torch.full((count,), -1, dtype=torch.int64),
                      "attributes": torch.zeros(count, 0, dtype=torch.float32)}
        labels["clothes_type"] = torch.from_numpy(annotations.clothes_type[rows].astype(np.int64))
        return annotations.landmarks[rows], codes, codes == 0, (codes == 0) | (codes == 1), labels


class CategoryAttributeDataset(LandmarkDataset):
    """DeepFashion-C: the ground-truth bbox crop resized to S x S without keeping the aspect ratio (Liu & Lu)."""

    def __init__(self, annotations: CategoryAttributeAnnotations, split: str | None, input_size: int = 224,
                 flip: bool = False, heatmaps: HeatmapSpec | None = None, seed: int = 0,
                 cache_images: bool = False):
        if not isinstance(annotations, CategoryAttributeAnnotations):
            raise TypeError("CategoryAttributeDataset needs read_category_attribute(...) annotations; "
                            "use LandmarkDataset for FLD")
        super().__init__(annotations, split, input_size, flip, heatmaps, seed, cache_images)


class InShopDataset(LandmarkDataset):
    """In-shop Clothes Retrieval images of one split (train, query or gallery): the bbox crop, as LandmarkDataset.

    Sample keys: LandmarkDataset's (image, landmarks, visibility, visible, category = -1 since In-shop
    has no DeepFashion-C category, attributes of shape (0,), clothes_type, index, crop_box, crop_size,
    scale, flipped, heatmaps when requested) plus item: int64, the image's item (a row of
    annotations.item_names), the identity retrieval matches on and a triplet loss groups by.
    """

    def __init__(self, annotations: InShopAnnotations, split: str | None, input_size: int = 224,
                 flip: bool = False, cache_images: bool = True, heatmaps: HeatmapSpec | None = None, seed: int = 0):
        if not isinstance(annotations, InShopAnnotations):
            raise TypeError("InShopDataset needs read_inshop(...) annotations")
        if len(annotations.indices(split)) == 0:
            counts = ", ".join(f"{name} {int((annotations.split == name).sum())}" for name in INSHOP_SPLITS)
            raise AnnotationError(annotations.files[INSHOP_PARTITION_FILE], None,
                                  f"at least one image with evaluation_status {split!r}",
                                  f"none among {len(annotations)} images ({counts})")
        super().__init__(annotations, split, input_size, flip, heatmaps, seed, cache_images)

    @property
    def items(self) -> np.ndarray:
        """(N,) int64 item of every sample, in dataset order: what retrieval metrics compare."""
        return self.annotations.item_index[self.rows].astype(np.int64)

    def _annotations(self, rows: np.ndarray):
        points, codes, visible, labelled, labels = super()._annotations(rows)
        labels["item"] = torch.from_numpy(self.annotations.item_index[rows].astype(np.int64))
        return points, codes, visible, labelled, labels


class FashionAIDataset(_KeypointImageDataset):
    """FashionAI: the whole image resized to S x S (aspect not kept; `scale` records S / original size).

    Same sample keys as LandmarkDataset with 24 keypoints; visibility holds FashionAI codes
    (1 visible, 0 occluded, -1 absent), visible = code 1, category = category_index.
    """

    flip_pairs = FASHIONAI_FLIP_PAIRS

    def __init__(self, annotations: FashionAIAnnotations, input_size: int = 512, flip: bool = False,
                 heatmaps: HeatmapSpec | None = None, seed: int = 0, cache_images: bool = False):
        if len(annotations) == 0:
            raise AnnotationError(annotations.path, None, "at least one annotated image", "none")
        super().__init__(np.arange(len(annotations)), 24, input_size, flip, heatmaps, seed, cache_images)
        self.annotations = annotations

    def _image_source(self, row: int) -> tuple[Path, Path, int]:
        return (self.annotations.image_path(row), *self.annotations.source_line(row))

    def _crop_box(self, row: int, width: int, height: int) -> np.ndarray:
        issue = keypoint_size_issue(self.annotations, row, width, height)
        if issue is not None:
            raise issue.error()
        return np.array([0.0, 0.0, width, height])

    def _annotations(self, rows: np.ndarray):
        annotations = self.annotations
        codes = annotations.visibility[rows]
        clothes_types = [FASHIONAI_CLOTHES_TYPE[str(category)] for category in annotations.category[rows]]
        labels = {"category": torch.from_numpy(annotations.category_index[rows].astype(np.int64)),
                  "attributes": torch.zeros(len(rows), 0, dtype=torch.float32),
                  "clothes_type": torch.tensor(clothes_types, dtype=torch.int64)}
        return annotations.keypoints[rows], codes, codes == 1, codes >= 0, labels


def open_rgb(image_path: Path, annotation_path: Path, line: int) -> Image.Image:
    """Decode an image to RGB; a missing or undecodable file names the annotation line that listed it."""
    try:
        with Image.open(image_path) as image:
            image.load()
            return image if image.mode == "RGB" else image.convert("RGB")
    except FileNotFoundError:
        raise AnnotationError(annotation_path, line, f"an existing image file {image_path}", "no such file") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise AnnotationError(annotation_path, line, f"a decodable image at {image_path}", str(error)) from None


def image_header_size(image_path: Path, annotation_path: Path, line: int) -> tuple[int, int]:
    """(width, height) from an image's header, verified but not decoded; errors name the annotation line."""
    try:
        with Image.open(image_path) as image:
            size = image.size
            image.verify()
        return size
    except FileNotFoundError:
        raise AnnotationError(annotation_path, line, f"an existing image file {image_path}", "no such file") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise AnnotationError(annotation_path, line, f"a readable image at {image_path}", str(error)) from None


def check_images(*datasets: _KeypointImageDataset) -> None:
    """Each dataset's check_images(), in order: what the CLI runs for train, val and test before training."""
    for dataset in datasets:
        dataset.check_images()
