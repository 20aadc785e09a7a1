"""LayerInfoCam and LayerInfoCamPlus: hand values, windows, classes, parity."""

from __future__ import annotations

import copy

import pytest
import torch

from infocam_captum import LayerInfoCam, LayerInfoCamPlus
from infocam_captum.exceptions import InvalidArgumentError, TargetError
from infocam_captum.maps import region_sum

from .toy_models import GapFcToy, SmallCnn, toy_input

# Toy model (tests/infocam_captum/toy_models.py): features c0 = [[1,2],[3,4]], c1 = [[0,1],[1,0]],
# W = [[1,2],[3,-1],[0,1]], b = [0.5,-1,2] -> logits f = [4.0, 6.0, 2.5].
# infoCAM, y=0: W0 - (W1+W2)/2 = [-0.5, 2]  -> -0.5*c0 + 2*c1 = [[-0.5, 1], [0.5, -2]]
# infoCAM+, y=0: least likely of {1, 2} is 2 -> W0 - W2 = [1, 1] -> [[1, 3], [4, 4]]
INFO_Y0 = [[-0.5, 1.0], [0.5, -2.0]]
PLUS_Y0 = [[1.0, 3.0], [4.0, 4.0]]


def test_hand_computed_infocam_without_window():
    model = GapFcToy()
    out = LayerInfoCam(model, model.features).attribute(toy_input(), target=0, window=1)
    assert out.tolist() == [[INFO_Y0]]


def test_hand_computed_infocam_windows():
    model = GapFcToy()
    info = LayerInfoCam(model, model.features)
    x = toy_input()
    # k = 2, "same": cell o sums o..o+1 (zero beyond the edge).
    assert info.attribute(x, target=0, window=2).tolist() == [[[[-1.0, -1.0], [-1.5, -2.0]]]]
    # k = 2, "full": 3 x 3, cell o sums o-1..o.
    assert info.attribute(x, target=0, window=2, padding="full").tolist() == [
        [[[-0.5, 0.5, 1.0], [0.0, -1.0, -1.0], [0.5, -1.5, -2.0]]]
    ]
    # Default: k = 3, "same" -> every cell of a 2 x 2 map sums the whole map.
    assert info.attribute(x, target=0).tolist() == [[[[-1.0, -1.0], [-1.0, -1.0]]]]


def test_hand_computed_infocam_plus():
    model = GapFcToy()
    plus = LayerInfoCamPlus(model, model.features)
    assert plus.attribute(toy_input(), target=0, window=1).tolist() == [[PLUS_Y0]]
    # y = 2 is itself the least likely class: the next lowest (class 0, f = 4) is used.
    # W2 - W0 = [-1, -1] -> -(c0 + c1)
    assert plus.attribute(toy_input(), target=2, window=1).tolist() == [
        [[[-1.0, -3.0], [-4.0, -4.0]]]
    ]


def test_relu_applies_to_the_region_summed_map():
    model = GapFcToy()
    info = LayerInfoCam(model, model.features)
    out = info.attribute(toy_input(), target=0, window=2, padding="full", relu_attributions=True)
    assert out.tolist() == [[[[0.0, 0.5, 1.0], [0.0, 0.0, 0.0], [0.5, 0.0, 0.0]]]]


def test_classes_subset():
    model = GapFcToy()
    x = toy_input()
    # Other classes restricted to {1}: W0 - W1 = [-2, 3] -> -2*c0 + 3*c1
    out = LayerInfoCam(model, model.features).attribute(x, target=0, window=1, classes=[0, 1])
    assert out.tolist() == [[[[-2.0, -1.0], [-3.0, -8.0]]]]
    plus = LayerInfoCamPlus(model, model.features)
    # Least likely of {1} is 1 whatever the logits.
    assert plus.attribute(x, target=0, window=1, classes=[1, 0]).tolist() == out.tolist()
    with pytest.raises(TargetError, match="not in `classes`"):
        plus.attribute(x, target=2, classes=[0, 1])
    with pytest.raises(InvalidArgumentError, match="at least two"):
        plus.attribute(x, target=0, classes=[0])


@pytest.mark.parametrize("method", [LayerInfoCam, LayerInfoCamPlus])
@pytest.mark.parametrize(
    ("window", "padding", "size"), [(3, "same", 4), (4, "full", 7), (1, "full", 4)]
)
def test_window_and_padding_on_a_cnn(method, window, padding, size):
    model = SmallCnn().eval().double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    unsummed = method(model, model.layer).attribute(x, target=[0, 3], window=1)
    out = method(model, model.layer).attribute(x, target=[0, 3], window=window, padding=padding)
    assert out.shape == (2, 1, size, size)
    torch.testing.assert_close(out, region_sum(unsummed, window, padding))


@pytest.mark.parametrize("method", [LayerInfoCam, LayerInfoCamPlus])
def test_float64_parity(method):
    model = SmallCnn().eval()
    x = torch.randn(3, 3, 8, 8)
    single = method(model, model.layer).attribute(x, target=[0, 1, 4], window=2, padding="full")
    double_model = copy.deepcopy(model).double()
    double = method(double_model, double_model.layer).attribute(
        x.double(), target=[0, 1, 4], window=2, padding="full"
    )
    assert single.dtype == torch.float32 and double.dtype == torch.float64
    torch.testing.assert_close(single.double(), double, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", [LayerInfoCam, LayerInfoCamPlus])
def test_batch_equals_per_example(method):
    model = SmallCnn().eval().double()
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64)
    target = [4, 0, 2, 2]
    batch = method(model, model.layer).attribute(x, target=torch.tensor(target), padding="full")
    singles = [
        method(model, model.layer).attribute(x[i : i + 1], target=target[i], padding="full")
        for i in range(4)
    ]
    torch.testing.assert_close(batch, torch.cat(singles))


def test_infocam_plus_needs_logits_from_forward_func():
    model = SmallCnn().eval()
    probabilities = LayerInfoCamPlus(
        lambda x: model(x).softmax(1), model.layer, classifier=model.fc
    )
    logits = LayerInfoCamPlus(model, model.layer)
    x = torch.randn(2, 3, 8, 8)
    # Softmax is monotone: the least likely class, hence the map, is the same.
    torch.testing.assert_close(
        probabilities.attribute(x, target=1), logits.attribute(x, target=1)
    )
    wrong = LayerInfoCamPlus(lambda x: model(x)[:, :3], model.layer, classifier=model.fc)
    with pytest.raises(InvalidArgumentError, match=r"\(2, 5\) logits"):
        wrong.attribute(x, target=1)
