"""Every paper's widget viewer is the one ImageViewer skeleton: a control change redraws it, from the cached result."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from fashion_core.data.vocab import LANDMARK_NAMES  # noqa: E402
from fashion_core.models import build_model  # noqa: E402
from fashion_core.viewers.base import ImageViewer, image_source  # noqa: E402
from fashion_core.viewers.dafe import MODULE_LABELS, DAFEAttentionViewer  # noqa: E402
from fashion_core.viewers.fpm import PoseMachineViewer  # noqa: E402
from fashion_core.viewers.landmarks import AttentionViewer  # noqa: E402
from fashion_core.viewers.m2fashion import M2FashionViewer  # noqa: E402

SIZE = 32
ATTRIBUTES = ["floral", "denim", "long sleeve"]
ATTRIBUTE_TYPES = [1, 2, 3]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("viewer_base_photos")
    rng = np.random.default_rng(1)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(folder / name)
    return image_source(folder=folder, input_size=SIZE)


def tiny(name: str, **options) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(name, width=0.0625, input_size=SIZE, pretrained=False, **options).eval()


# (viewer factory, a change of one of the viewer's own controls)
VIEWERS = {
    "landmarks": (lambda source: AttentionViewer(tiny("liu2018", num_categories=3, num_attributes=4,
                                                      backbone="vgg_mini"), source),
                  lambda viewer: setattr(viewer.channel, "value", LANDMARK_NAMES[2])),
    "dafe": (lambda source: DAFEAttentionViewer(tiny("dafe", backbone="resnet_mini"), source),
             lambda viewer: setattr(viewer.module, "value", MODULE_LABELS[0])),
    "fpm": (lambda source: PoseMachineViewer(tiny("fpm", backbone="vgg_mini", stages=2), source),
            lambda viewer: setattr(viewer.stage, "value", 1)),
    "m2fashion": (lambda source: M2FashionViewer(tiny("m2fashion", num_categories=3, num_attributes=len(ATTRIBUTES),
                                                      backbone="resnet_mini", feature_stride=16),
                                                 source, ATTRIBUTES, ATTRIBUTE_TYPES),
                  lambda viewer: setattr(viewer.state, "value", "known positive")),
}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_every_viewer_extends_the_one_base():
    for viewer_class in (AttentionViewer, DAFEAttentionViewer, PoseMachineViewer, M2FashionViewer):
        assert issubclass(viewer_class, ImageViewer)
        assert viewer_class.render is ImageViewer.render and viewer_class.image_result is ImageViewer.image_result


def _shown_png(viewer) -> str:
    (output,) = viewer.output.outputs
    return output["data"]["image/png"]


@pytest.mark.parametrize("name", sorted(VIEWERS))
def test_one_control_change_redraws_each_viewer(name, source):
    make, change = VIEWERS[name]
    viewer = make(source)
    assert isinstance(viewer, ImageViewer) and set(viewer.cache) == {0}
    assert plt.get_fignums() == [], "widget figures stay outside pyplot"
    first_figure, first_png = viewer.figure, _shown_png(viewer)
    assert viewer.caption.value.startswith("image 0 (of 0..1): a.png")

    change(viewer)
    assert viewer.figure is not first_figure and _shown_png(viewer) != first_png
    assert set(viewer.cache) == {0}, "a control other than the image reuses the cached result"

    redrawn = viewer.figure
    viewer.opacity.value = 0.2
    assert viewer.figure is not redrawn and set(viewer.cache) == {0}

    viewer.image.value = 1
    assert set(viewer.cache) == {0, 1} and viewer.caption.value.startswith("image 1 (of 0..1): b.png")
    assert plt.get_fignums() == []
