"""The M2Fashion viewer, headless: stated labels change the ASA map and the predictions; the grid has one column per condition."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fashion_core.data.datasets import CategoryAttributeDataset  # noqa: E402
from fashion_core.data.deepfashion import read_category_attribute  # noqa: E402
from fashion_core.data.synthfashion.writer import generate  # noqa: E402
from fashion_core.viewers.m2fashion import condition_grid, m2fashion_viewer, states_vector  # noqa: E402
from fashion_core.models import build_model  # noqa: E402
from fashion_core.viewers.base import image_source  # noqa: E402

SIZE = {"backbone": "resnet_mini", "width": 0.0625, "input_size": 32, "feature_stride": 16}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_viewer") / "synthfashion"
    generate(root, n_train=2, n_val=2, n_test=4, size=64, seed=3, formats=("deepfashion_c",), workers=1,
             progress=False)
    annotations = read_category_attribute(root / "deepfashion_c")
    source = image_source(dataset=CategoryAttributeDataset(annotations, "test", 32))
    torch.manual_seed(0)
    model = build_model("m2fashion", num_categories=len(annotations.category_names),
                        num_attributes=len(annotations.attribute_names), **SIZE)
    with torch.no_grad():  # a random model's attention is nearly flat; make the states matter visibly
        model.state_embedding_spatial.weight.mul_(20.0)
    return model, source, annotations


def test_stating_a_label_changes_the_map_and_the_predictions(setup):
    model, source, annotations = setup
    viewer = m2fashion_viewer(model, source, annotations.attribute_names, annotations.attribute_types,
                              annotations.category_names)
    before = viewer.prediction
    assert before["attention"].shape == (2, 2) and before["attention"].sum() == pytest.approx(1.0, abs=1e-5)
    assert len(viewer.output.outputs) == 1 and "image/png" in viewer.output.outputs[0]["data"]
    name = annotations.attribute_names[0]
    viewer.set_attribute_state(name, "known positive")
    after = viewer.prediction
    assert viewer.assignments == {name: "known positive"} and viewer.states[0] == 1.0
    assert not np.allclose(before["attention"], after["attention"])
    assert not np.allclose(before["category"], after["category"])
    assert f"{name} +" in viewer.caption.value
    viewer.attribute.value = name  # the controls show the attribute's state, without setting anything
    assert viewer.state.value == "known positive"
    viewer.state.value = "known negative"  # the toggle sets it
    assert viewer.states[0] == -1.0
    viewer.reset()
    assert viewer.assignments == {} and np.allclose(viewer.prediction["attention"], before["attention"])
    viewer.image.value = 2
    assert set(viewer.features) == {0, 2} and "image 2" in viewer.caption.value
    assert repr(viewer) == "M2FashionViewer(image=2 of 4, known labels=0)"


def test_states_vector_rejects_unknown_names_and_states(setup):
    _, _, annotations = setup
    with pytest.raises(KeyError, match="unknown attribute"):
        states_vector({"no such attribute": "known positive"}, annotations.attribute_names)
    with pytest.raises(ValueError, match="state of"):
        states_vector({annotations.attribute_names[0]: "maybe"}, annotations.attribute_names)


def test_condition_grid_has_one_column_per_condition(setup):
    model, source, annotations = setup
    figure = condition_grid(model, source, [0, 1], annotations.attribute_names[:2], annotations.attribute_names,
                            annotations.category_names)
    assert len(figure.axes) == 2 * 3
    assert figure.axes[1].get_title().startswith(f"0: {annotations.attribute_names[0]} = +1")
    with pytest.raises(ValueError, match="at least one"):
        condition_grid(model, source, [], [], annotations.attribute_names)


def test_a_model_without_asa_says_so(setup):
    _, source, annotations = setup
    model = build_model("m2fashion", num_categories=len(annotations.category_names),
                        num_attributes=len(annotations.attribute_names), **SIZE, asa=False)
    viewer = m2fashion_viewer(model, source, annotations.attribute_names, annotations.attribute_types)
    assert viewer.prediction["attention"] is None
    texts = [text.get_text() for text in viewer.figure.axes[0].texts]
    assert "no ASA in this model" in texts


def test_the_viewer_keeps_the_widget_protocol_of_ipywidgets():
    # The front end syncs a widget through Widget.set_state(sync_data); a viewer method of that
    # name would swallow every message JupyterLab sends it.
    import ipywidgets

    from fashion_core.viewers.m2fashion import M2FashionViewer

    assert M2FashionViewer.set_state is ipywidgets.Widget.set_state
