"""LayerClassActivationMap and the shared FC-weight machinery, on toy models."""

from __future__ import annotations

import pytest
import torch
from captum.attr import LayerAttribution
from torch import nn

import infocam_captum
from infocam_captum import LayerClassActivationMap, LayerInfoCam, LayerInfoCamPlus
from infocam_captum.exceptions import HeadNotFoundError, InvalidArgumentError, TargetError

from .toy_models import (
    TOY_BIAS,
    FailingCnn,
    GapFcToy,
    PreActivationCnn,
    SmallCnn,
    hooks_left,
    toy_input,
)


def test_exports():
    from captum.attr import LayerGradCam

    assert infocam_captum.LayerGradCam is LayerGradCam
    for name in ("LayerClassActivationMap", "LayerInfoCam", "LayerInfoCamPlus", "fc_weight_maps"):
        assert name in infocam_captum.__all__
    assert issubclass(LayerClassActivationMap, LayerAttribution)


def test_hand_computed_cam_on_the_toy_model():
    model = GapFcToy()
    cam = LayerClassActivationMap(model, model.features)
    x = toy_input()
    # channel 0 = [[1,2],[3,4]], channel 1 = [[0,1],[1,0]], W = [[1,2],[3,-1],[0,1]]
    assert cam.attribute(x, target=0).tolist() == [[[[1.0, 4.0], [5.0, 4.0]]]]
    assert cam.attribute(x, target=1).tolist() == [[[[3.0, 5.0], [8.0, 12.0]]]]
    assert cam.attribute(x, target=2).tolist() == [[[[0.0, 1.0], [1.0, 0.0]]]]
    # The spatial mean plus the bias is the logit: CAM decomposes it exactly.
    logits = model(x)[0]
    for y in range(3):
        mean = cam.attribute(x, target=y).mean().item()
        assert mean + TOY_BIAS[y] == pytest.approx(logits[y].item(), abs=1e-12)


def test_relu_attributions_and_sign():
    model = GapFcToy()
    x = -toy_input()
    cam = LayerClassActivationMap(model, model.features)
    assert cam.attribute(x, target=1).tolist() == [[[[-3.0, -5.0], [-8.0, -12.0]]]]
    assert cam.attribute(x, target=1, relu_attributions=True).tolist() == [[[[0.0] * 2] * 2]]


def test_additional_forward_args_reach_the_model():
    model = GapFcToy()
    x = toy_input().repeat(2, 1, 1, 1)
    scale = torch.tensor([1.0, -2.0], dtype=torch.float64)
    maps = LayerClassActivationMap(model, model.features).attribute(
        x, target=0, additional_forward_args=scale
    )
    # `features` sees the scaled input; the map is linear in it.
    assert maps[0].tolist() == [[[1.0, 4.0], [5.0, 4.0]]]
    assert maps[1].tolist() == [[[-2.0, -8.0], [-10.0, -8.0]]]


def test_attribute_to_layer_input_uses_the_pooling_input():
    model = GapFcToy()
    x = toy_input()
    by_input = LayerClassActivationMap(model, model.pool).attribute(
        x, target=1, attribute_to_layer_input=True
    )
    assert by_input.tolist() == [[[[3.0, 5.0], [8.0, 12.0]]]]


def test_target_types_give_the_same_maps():
    model = GapFcToy()
    x = torch.randn(3, 2, 4, 4, dtype=torch.float64)
    cam = LayerClassActivationMap(model, model.features)
    per_example = torch.cat([cam.attribute(x[i : i + 1], target=[2, 0, 1][i]) for i in range(3)])
    torch.testing.assert_close(cam.attribute(x, target=[2, 0, 1]), per_example)
    torch.testing.assert_close(cam.attribute(x, target=torch.tensor([2, 0, 1])), per_example)
    same = cam.attribute(x, target=1)
    torch.testing.assert_close(cam.attribute(x, target=torch.tensor(1)), same)
    torch.testing.assert_close(cam.attribute(x, target=torch.tensor([1])), same)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (None, "never takes the argmax"),
        ((0, 1), "tuple"),
        (3, "out of range"),
        ([0, 1, 2], "3 classes for a batch of 2"),
    ],
)
def test_bad_targets_raise_target_error(target, message):
    model = GapFcToy()
    x = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    with pytest.raises(TargetError, match=message):
        LayerClassActivationMap(model, model.features).attribute(x, target=target)
    assert hooks_left(model) == 0


def test_output_is_detached_and_leaves_gradients_alone():
    model = SmallCnn().eval()
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    maps = LayerClassActivationMap(model, model.layer).attribute(x, target=[0, 3])
    assert not maps.requires_grad and maps.grad_fn is None
    assert all(p.grad is None for p in model.parameters())
    assert x.requires_grad and x.grad is None


def test_hooks_are_removed_after_success_and_after_exceptions():
    model = SmallCnn().eval()
    x = torch.randn(2, 3, 8, 8)
    LayerInfoCam(model, model.layer).attribute(x, target=1)
    assert hooks_left(model) == 0
    failing = FailingCnn().eval()
    with pytest.raises(RuntimeError, match="boom"):
        LayerInfoCamPlus(failing, failing.layer).attribute(x, target=1)
    assert hooks_left(failing) == 0
    with pytest.raises(TargetError):  # raised after the forward pass (K unknown before it)
        LayerInfoCam(model, model.layer).attribute(x, target=7)
    assert hooks_left(model) == 0
    stranger = nn.Conv2d(3, 3, 1)
    with pytest.raises(InvalidArgumentError, match="never ran"):
        LayerInfoCam(model, stranger, classifier=model.fc).attribute(x, target=1)
    assert hooks_left(model) == 0 and hooks_left(stranger) == 0


def test_in_place_relu_after_the_layer_does_not_change_the_recorded_features():
    model = PreActivationCnn().eval()
    x = torch.randn(2, 3, 6, 6)
    cam = LayerClassActivationMap(model, model.layer).attribute(x, target=[0, 2])
    features = torch.relu(model.layer(x))
    expected = torch.einsum("bc,bchw->bhw", model.fc.weight[[0, 2]], features)[:, None]
    torch.testing.assert_close(cam, expected.detach())


def test_explicit_classifier_linear_or_weight():
    model = SmallCnn().eval()
    x = torch.randn(2, 3, 8, 8)
    automatic = LayerClassActivationMap(model, model.layer).attribute(x, target=[1, 4])
    by_linear = LayerClassActivationMap(model, model.layer, classifier=model.fc)
    by_weight = LayerClassActivationMap(model, model.layer, classifier=model.fc.weight.data)
    torch.testing.assert_close(by_linear.attribute(x, target=[1, 4]), automatic)
    torch.testing.assert_close(by_weight.attribute(x, target=[1, 4]), automatic)
    with pytest.raises(TargetError, match="out of range"):  # K is known before the forward
        by_weight.attribute(x, target=5)


def test_explicit_classifier_must_fit_the_layer():
    model = SmallCnn().eval()
    with pytest.raises(InvalidArgumentError, match="takes 7 features but the layer outputs 6"):
        LayerClassActivationMap(model, model.layer, classifier=torch.zeros(3, 7)).attribute(
            torch.randn(1, 3, 8, 8), target=0
        )
    with pytest.raises(InvalidArgumentError, match=r"nn\.Linear or its"):
        LayerClassActivationMap(model, model.layer, classifier=torch.zeros(3))


def test_a_function_forward_needs_an_explicit_classifier():
    model = SmallCnn().eval()
    with pytest.raises(HeadNotFoundError, match="pass classifier="):
        LayerClassActivationMap(lambda x: model(x), model.layer)
    maps = LayerClassActivationMap(lambda x: model(x), model.layer, classifier=model.fc)
    assert maps.attribute(torch.randn(1, 3, 8, 8), target=0).shape == (1, 1, 4, 4)
    # A bound method of a module is searched like the module.
    bound = LayerClassActivationMap(model.forward, model.layer)
    assert bound.attribute(torch.randn(1, 3, 8, 8), target=0).shape == (1, 1, 4, 4)


def test_tuple_inputs_give_a_one_tuple():
    model = GapFcToy()
    x = toy_input()
    out = LayerClassActivationMap(model, model.features).attribute((x,), target=0)
    assert isinstance(out, tuple) and len(out) == 1
    assert out[0].tolist() == [[[[1.0, 4.0], [5.0, 4.0]]]]


def test_layer_output_must_be_a_feature_map():
    model = GapFcToy()
    with pytest.raises(InvalidArgumentError, match=r"\(N, C, h, w\)"):
        LayerClassActivationMap(model, model.fc, classifier=torch.zeros(3, 3)).attribute(
            toy_input(), target=0
        )


def test_captum_properties():
    model = GapFcToy()
    cam = LayerClassActivationMap(model, model.features)
    assert cam.multiplies_by_inputs is False
    assert cam.has_convergence_delta() is False
    assert LayerClassActivationMap.get_name() == "Layer Class Activation Map"
    assert LayerInfoCam.get_name() == "Layer Info Cam"
    assert hasattr(cam.attribute, "__wrapped__")  # @log_usage, needed by NoiseTunnel
