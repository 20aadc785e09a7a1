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
        ((0, 1), "holds 2 indices"),
        (3, "out of range for K=3 classes"),
        ([0, 1, 2], "holds 3 entries for a batch of N=2"),
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
    with pytest.raises(TargetError, match="K=5"):  # raised after the forward (K unknown before)
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


def test_tuple_inputs_give_a_tensor_as_layer_grad_cam_does():
    model = GapFcToy()
    x = toy_input()
    out = LayerClassActivationMap(model, model.features).attribute((x,), target=0)
    assert type(out) is torch.Tensor
    assert out.tolist() == [[[[1.0, 4.0], [5.0, 4.0]]]]


def test_channel_contributions_on_the_toy_model():
    model = GapFcToy()
    cam = LayerClassActivationMap(model, model.features)
    x = toy_input()
    # W[1] = [3, -1]: channel 0 = 3 * [[1,2],[3,4]], channel 1 = -1 * [[0,1],[1,0]].
    channels = cam.attribute(x, target=1, attr_dim_summation=False)
    assert channels.tolist() == [[[[3.0, 6.0], [9.0, 12.0]], [[0.0, -1.0], [-1.0, 0.0]]]]
    assert torch.equal(channels.sum(1, keepdim=True), cam.attribute(x, target=1))
    # relu_attributions applies to each channel's contribution, as in LayerGradCam.
    positive = cam.attribute(x, target=1, relu_attributions=True, attr_dim_summation=False)
    assert positive.tolist() == [[[[3.0, 6.0], [9.0, 12.0]], [[0.0, 0.0], [0.0, 0.0]]]]
    info = LayerInfoCam(model, model.features)
    # infoCAM weights for y=1: W[1] - (W[0] + W[2]) / 2 = [2.5, -2.5]; window 2, "full".
    info_channels = info.attribute(
        x, target=1, attr_dim_summation=False, window=2, padding="full"
    )
    assert info_channels[0, 0].tolist() == [
        [2.5, 7.5, 5.0], [10.0, 25.0, 15.0], [7.5, 17.5, 10.0]
    ]
    assert torch.equal(
        info_channels.sum(1, keepdim=True), info.attribute(x, target=1, window=2, padding="full")
    )


def test_grad_kwargs_are_accepted_and_unused():
    model = GapFcToy()
    cam = LayerClassActivationMap(model, model.features)
    x = toy_input()
    assert torch.equal(
        cam.attribute(x, 0, None, False, False, True, {"retain_graph": True}),
        cam.attribute(x, target=0),
    )


def test_attr_dim_summation_must_be_a_bool():
    model = GapFcToy()
    with pytest.raises(InvalidArgumentError, match="window, padding and classes are keyword-only"):
        LayerInfoCam(model, model.features).attribute(toy_input(), 0, None, False, False, 3)


def test_constructor_takes_captums_order_and_classifier_by_keyword():
    model = SmallCnn().eval()
    x = torch.randn(2, 3, 8, 8)
    by_position = LayerInfoCam(model, model.layer, [0])
    assert by_position.device_ids == [0]
    by_keyword = LayerInfoCam(model, model.layer, device_ids=None, classifier=model.fc)
    assert by_keyword.classifier is model.fc
    torch.testing.assert_close(
        by_position.attribute(x, target=[1, 2]), by_keyword.attribute(x, target=[1, 2])
    )
    with pytest.raises(InvalidArgumentError, match=r"classifier as a keyword, classifier=\.\.\."):
        LayerInfoCam(model, model.layer, model.fc)  # the 0.1 order
    with pytest.raises(InvalidArgumentError, match=r"the 0\.1 order"):
        LayerInfoCam(model, model.layer, model.fc.weight)
    with pytest.raises(InvalidArgumentError, match="list of int device indices"):
        LayerInfoCam(model, model.layer, "cuda:0")
    with pytest.raises(TypeError):
        LayerInfoCam(model, model.layer, None, model.fc)  # classifier is keyword-only


def test_a_list_of_layers_is_refused_at_construction():
    model = SmallCnn().eval()
    for layers in ([model.layer, model.conv], (model.layer,), nn.ModuleList([model.layer])):
        with pytest.raises(InvalidArgumentError, match="explain a single layer"):
            LayerClassActivationMap(model, layers)
    with pytest.raises(InvalidArgumentError, match=r"must be an nn\.Module"):
        LayerClassActivationMap(model, "layer")


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
@pytest.mark.parametrize("compile_with", ["trace", "script"])
def test_torchscript_is_refused_with_what_works(compile_with):
    model = SmallCnn().eval()
    x = torch.randn(1, 3, 8, 8)
    scripted = torch.jit.trace(model, x) if compile_with == "trace" else torch.jit.script(model)
    for forward_func, layer in ((scripted, scripted.layer), (scripted, model.layer),
                                (model, scripted.layer)):
        with pytest.raises(InvalidArgumentError) as error:
            LayerInfoCam(forward_func, layer, classifier=model.fc)
        assert "hooks cannot run inside a TorchScript graph" in str(error.value)
        assert "Explain the eager nn.Module" in str(error.value)
    with pytest.raises(InvalidArgumentError, match="TorchScript"):  # not a HeadNotFoundError
        LayerInfoCam(scripted, scripted.layer)
    # A TorchScript model hidden in a plain function is found when its layer never runs.
    hidden = LayerInfoCam(lambda inputs: scripted(inputs), model.layer, classifier=model.fc)
    with pytest.raises(InvalidArgumentError, match="TorchScript model never runs hooks"):
        hidden.attribute(x, target=0)


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
