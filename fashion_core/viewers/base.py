"""What every widget viewer shares: the images it browses, the model's prediction, and the widget skeleton.

A model here is any nn.Module that maps ImageNet-normalised images (N,3,S,S) to a dict of
tensors with at least `landmarks` (N,L,2) in input pixels; each paper's viewer reads its own
further outputs (heatmaps and attention, SAU maps and CAS weights, belief maps per stage) or, for
M2Fashion, calls the model's trunk and heads itself.

`ImageViewer` is the skeleton each paper's viewer extends (fashion_core.viewers.landmarks, dafe,
fpm, m2fashion): an image slider and an opacity slider, a caption and an output area, the model's
result cached per image, and one render cycle that draws a fresh figure (fashion_core.viewers.drawing)
and shows it as a PNG. Widgets do not survive in a static report; each viewer module also has a
static grid of the same panels for the executed reports.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any, Sequence

import ipywidgets as widgets
import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

from fashion_core.data.datasets import IMAGENET_MEAN, IMAGENET_STD
from fashion_core.models.inference import evaluating, model_device
from fashion_core.viewers.drawing import new_figure

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


# ---------------------------------------------------------------------------- image sources

class ImageSource:
    """Images for the viewers: a torch dataset (with ground truth) or a folder of images (without).

    `item(index)` returns {"image": (3,S,S) normalised tensor, "label": str,
    "ground_truth": {"landmarks", "visibility"[, "category"]} or None}.
    Build one with `image_source(...)`.
    """

    def __init__(self, input_size: int, dataset=None, paths: Sequence[Path] = (), root: Path | None = None):
        self.input_size = int(input_size)
        self.dataset = dataset
        self.paths = list(paths)
        self.root = root

    @property
    def kind(self) -> str:
        return "dataset" if self.dataset is not None else "folder"

    def __len__(self) -> int:
        return len(self.dataset) if self.dataset is not None else len(self.paths)

    def label(self, index: int) -> str:
        if self.dataset is None:
            return self.paths[index].relative_to(self.root).as_posix()
        annotations, rows = getattr(self.dataset, "annotations", None), getattr(self.dataset, "rows", None)
        if annotations is not None and rows is not None and hasattr(annotations, "image_names"):
            return str(annotations.image_names[int(rows[index])])
        return f"#{index}"

    def item(self, index: int) -> dict:
        index = self._check_index(index)
        if self.dataset is None:
            return {"image": _load_normalised(self.paths[index], self.input_size), "label": self.label(index),
                    "ground_truth": None}
        sample = self.dataset[index]
        return {"image": sample["image"], "label": self.label(index), "ground_truth": _ground_truth(sample)}

    def _check_index(self, index: int) -> int:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"image index {index} outside 0..{len(self) - 1} of this {self.kind} source")
        return index


def image_source(dataset=None, folder: str | Path | None = None, input_size: int | None = None) -> ImageSource:
    """Images from a torch dataset (e.g. CategoryAttributeDataset(..., "test")) or from a folder.

    A folder is searched recursively for *.jpg, *.jpeg and *.png (sorted by relative path); each
    image is resized whole to S x S (aspect not kept) and ImageNet-normalised, like the datasets.
    input_size defaults to the dataset's, or 224 for a folder.
    """
    if (dataset is None) == (folder is None):
        raise ValueError("image_source needs exactly one of dataset=... or folder=...")
    if dataset is not None:
        size = getattr(dataset, "input_size", input_size)
        if size is None:
            raise ValueError("this dataset has no input_size attribute; pass input_size=...")
        if input_size is not None and int(input_size) != int(size):
            raise ValueError(f"input_size={input_size} but the dataset produces {size} x {size} images")
        return ImageSource(int(size), dataset=dataset)
    root = Path(folder).expanduser().absolute()
    if not root.is_dir():
        raise ValueError(f"image folder {root} does not exist or is not a directory")
    paths = sorted((path for path in root.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()),
                   key=lambda path: path.relative_to(root).as_posix())
    if not paths:
        raise ValueError(f"no images (*.jpg, *.jpeg, *.png) found in folder {root} or its subfolders")
    return ImageSource(224 if input_size is None else int(input_size), paths=paths, root=root)


def _load_normalised(path: Path, size: int) -> torch.Tensor:
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"cannot decode image {path}: {error}") from None
    resized = rgb.resize((size, size), Image.Resampling.BILINEAR, box=(0.0, 0.0, float(rgb.width), float(rgb.height)))
    pixels = TF.pil_to_tensor(resized).contiguous()
    return TF.normalize(TF.to_dtype(pixels, torch.float32, scale=True), IMAGENET_MEAN, IMAGENET_STD)


def _ground_truth(sample: dict) -> dict | None:
    if "landmarks" not in sample or "visibility" not in sample:
        return None
    truth = {"landmarks": sample["landmarks"].numpy(), "visibility": sample["visibility"].numpy()}
    if "category" in sample and int(sample["category"]) >= 0:
        truth["category"] = int(sample["category"])
    return truth


# ---------------------------------------------------------------------------- prediction

def predict_one(model: nn.Module, source: ImageSource, index: int) -> dict[str, np.ndarray]:
    """The model's outputs for one image, batch dimension dropped, as numpy (eval mode, no grad).

    The model's training flag is restored afterwards.
    """
    return predict_image(model, source.item(index)["image"])


def predict_image(model: nn.Module, image: torch.Tensor) -> dict[str, np.ndarray]:
    """predict_one for an already loaded (3,S,S) normalised image."""
    with evaluating(model):
        outputs = model(image.unsqueeze(0).to(model_device(model)))
    if not isinstance(outputs, dict) or "landmarks" not in outputs:
        raise TypeError(f"the model must return a dict with at least 'landmarks'; got {type(outputs).__name__}"
                        + (f" with keys {sorted(outputs)}" if isinstance(outputs, dict) else ""))
    return {key: value[0].detach().float().cpu().numpy() for key, value in outputs.items()
            if isinstance(value, torch.Tensor)}



# ---------------------------------------------------------------------------- widget skeleton

def show_png(output: widgets.Output, figure: Figure, text: str) -> None:
    """Show `figure` as a PNG in `output` (`text` as its text/plain), replacing what it showed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    # Replace the Output's content in one assignment: no flicker, and it works without a kernel too.
    output.outputs = ({"output_type": "display_data", "metadata": {},
                       "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                                "text/plain": text}},)


class ImageViewer(widgets.VBox):
    """Controls over a caption and an Output showing one figure of the chosen image; the base of every viewer.

    The base makes `image` (a slider over the source) and `opacity` (of the overlays), `caption`
    and `output`, and redraws when either slider moves. A subclass sets what its controls and
    drawing need, then calls this `__init__`, and defines:

    - `add_controls(style)`: make its own controls, wire their observers; return those whose change
      only redraws (the base observes them);
    - `control_rows()`: the rows of controls shown above the caption;
    - `draw(figure, index, item, result)`: draw the image into the fresh `figure`;
    - `view_label()`: what the figure shows besides the image, for the PNG's text form;

    and may override `run_model(item)` (what is computed once per image, by default the model's
    prediction) and `caption_label(index, item)`. `figure` is the last rendered Figure; `cache`
    maps an image index to (source item, `run_model` result), so only a new image runs the model.
    """

    viewer_name = "viewer"
    figure_size = (10.5, 4.3)
    description_width = "70px"

    def __init__(self, model: nn.Module, source: ImageSource, opacity: float = 0.5):
        self.model, self.source = model, source
        self.cache: dict[int, tuple[dict, Any]] = {}
        self.figure: Figure | None = None
        style = {"description_width": self.description_width}
        self.image = widgets.IntSlider(value=0, min=0, max=len(source) - 1, description="image",
                                       continuous_update=False, style=style)
        self.opacity = widgets.FloatSlider(value=float(opacity), min=0.0, max=1.0, step=0.05, description="opacity",
                                           continuous_update=False, style=style)
        self.caption = widgets.Label()
        self.output = widgets.Output()
        for control in (self.image, *self.add_controls(style), self.opacity):
            control.observe(self.redraw, names="value")
        super().__init__([*self.control_rows(), self.caption, self.output])
        self.render()

    # ------------------------------------------------------------------ what a subclass defines
    def add_controls(self, style: dict) -> Sequence[widgets.Widget]:
        """Make this viewer's own controls; returns those whose change redraws."""
        return ()

    def control_rows(self) -> list[widgets.Widget]:
        """The rows of controls above the caption."""
        return [widgets.HBox([self.image, self.opacity])]

    def draw(self, figure: Figure, index: int, item: dict, result: Any) -> None:
        """Draw image `index` (its source item and `run_model` result) as the controls say, into `figure`."""
        raise NotImplementedError(f"{type(self).__name__} must define draw()")

    def view_label(self) -> str:
        """What the figure shows besides the image (e.g. the chosen channel), for the PNG's text form."""
        return ""

    def run_model(self, item: dict) -> Any:
        """What the model computes once per image: its prediction (numpy, batch dimension dropped)."""
        return predict_image(self.model, item["image"])

    def caption_label(self, index: int, item: dict) -> str:
        """The caption's text after the image number."""
        return item["label"]

    # ------------------------------------------------------------------ the render cycle
    def image_result(self, index: int) -> tuple[dict, Any]:
        """(source item, `run_model` result) of image `index`, computed once."""
        if index not in self.cache:
            item = self.source.item(index)
            self.cache[index] = (item, self.run_model(item))
        return self.cache[index]

    def redraw(self, change) -> None:
        """An observer: any change of a control renders again."""
        self.render()

    def render(self) -> None:
        """Draw the current image as the controls say into a fresh `figure`, caption it and show it in `output`."""
        index = int(self.image.value)
        item, result = self.image_result(index)
        figure = new_figure(self.figure_size)
        self.draw(figure, index, item, result)
        self.figure = figure
        self.caption.value = f"image {index} (of 0..{len(self.source) - 1}): {self.caption_label(index, item)}"
        show_png(self.output, figure, f"<{self.viewer_name}: image {index}, {self.view_label()}>")
