"""Classifier-head discovery and verification, across torchvision architectures (weights=None)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torchvision.models as tvm
from torch import nn

from infocam_captum import LayerClassActivationMap, LayerInfoCam, find_classifier
from infocam_captum.exceptions import HeadNotFoundError, InvalidArgumentError

from .toy_models import LayerNormHeadCnn, NoLinearCnn, PreActivationCnn, SmallCnn, hooks_left

# (builder, layer attribute path, expected head name, expected activation)
ARCHITECTURES: list[tuple[Callable[[], nn.Module], str, str, str]] = [
    (lambda: tvm.resnet18(weights=None), "layer4", "fc", "identity"),
    (lambda: tvm.resnet50(weights=None), "layer4", "fc", "identity"),
    (lambda: tvm.resnext50_32x4d(weights=None), "layer4", "fc", "identity"),
    (lambda: tvm.wide_resnet50_2(weights=None), "layer4", "fc", "identity"),
    (lambda: tvm.densenet121(weights=None), "features", "classifier", "relu"),
    (lambda: tvm.mobilenet_v2(weights=None), "features", "classifier.1", "identity"),
    (lambda: tvm.efficientnet_b0(weights=None), "features", "classifier.1", "identity"),
    (lambda: tvm.regnet_y_400mf(weights=None), "trunk_output", "fc", "identity"),
    (
        lambda: tvm.googlenet(weights=None, aux_logits=False, init_weights=False),
        "inception5b",
        "fc",
        "identity",
    ),
    (lambda: tvm.shufflenet_v2_x0_5(weights=None), "conv5", "fc", "identity"),
]
IDS = [
    "resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "densenet121", "mobilenet_v2",
    "efficientnet_b0", "regnet_y_400mf", "googlenet", "shufflenet_v2_x0_5",
]


@pytest.mark.parametrize(("build", "layer_name", "head_name", "activation"), ARCHITECTURES, ids=IDS)
def test_head_found_and_cam_decomposes_the_logits(build, layer_name, head_name, activation):
    model = build().eval()
    layer = model.get_submodule(layer_name)
    x = torch.randn(2, 3, 64, 64)
    head = find_classifier(model, layer, x)
    assert (head.name, head.activation) == (head_name, activation)
    assert head.linear is model.get_submodule(head_name)
    target = torch.tensor([3, 998])
    cam = LayerClassActivationMap(model, layer).attribute(x, target=target)
    with torch.no_grad():
        logits = model(x)
    # The spatial mean of a CAM plus the bias is the logit (this needs the right head and,
    # for DenseNet, the ReLU the model applies after `features`).
    decomposed = cam.mean(dim=(1, 2, 3)) + head.linear.bias[target].detach()
    torch.testing.assert_close(decomposed, logits[torch.arange(2), target], rtol=1e-4, atol=1e-4)
    assert hooks_left(model) == 0


def test_vgg16_mlp_head_is_rejected_with_the_reason():
    model = tvm.vgg16(weights=None).eval()
    with pytest.raises(HeadNotFoundError) as error:
        find_classifier(model, model.features, torch.randn(1, 3, 64, 64))
    message = str(error.value)
    assert "`classifier.0` (Linear 25088 -> 4096) receives 25088 features" in message
    assert "the layer outputs 512 channels" in message
    assert "pass classifier=" in message and "LayerGradCam" in message
    assert hooks_left(model) == 0


def test_mobilenet_v3_mlp_head_is_rejected():
    model = tvm.mobilenet_v3_small(weights=None).eval()
    with pytest.raises(HeadNotFoundError, match="its output is not the model output"):
        LayerInfoCam(model, model.features).attribute(torch.randn(1, 3, 64, 64), target=0)


def test_convnext_layer_norm_after_pooling_is_rejected():
    model = tvm.convnext_tiny(weights=None).eval()
    with pytest.raises(HeadNotFoundError) as error:
        find_classifier(model, model.features, torch.randn(1, 3, 64, 64))
    message = str(error.value)
    assert "`classifier.2` (Linear 768 -> 1000)" in message
    assert "not the spatial mean of the layer output" in message
    assert "other Linear module(s) did not run or did not receive a (N, C) batch" in message


def test_layer_norm_head_is_rejected_but_an_explicit_classifier_is_trusted():
    model = LayerNormHeadCnn().eval()
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(HeadNotFoundError, match="something other than global average pooling"):
        LayerInfoCam(model, model.layer).attribute(x, target=1)
    explicit = LayerClassActivationMap(model, model.layer, classifier=model.fc).attribute(
        x, target=1
    )
    expected = torch.einsum("c,bchw->bhw", model.fc.weight[1], model.layer(x))[:, None]
    torch.testing.assert_close(explicit, expected.detach())


def test_dropout_in_training_mode_is_named_in_the_error():
    model = SmallCnn().train()
    with pytest.raises(HeadNotFoundError, match=r"call model\.eval\(\)"):
        LayerInfoCam(model, model.layer).attribute(torch.randn(4, 3, 8, 8), target=1)


def test_wrong_layer_is_rejected():
    model = tvm.resnet18(weights=None).eval()
    with pytest.raises(HeadNotFoundError, match="receives 512 features but the layer outputs 256"):
        find_classifier(model, model.layer3, torch.randn(1, 3, 64, 64))


def test_functional_relu_before_pooling_is_recognised():
    model = PreActivationCnn().eval()
    head = find_classifier(model, model.layer, torch.randn(2, 3, 8, 8))
    assert (head.name, head.activation) == ("fc", "relu")
    features = torch.randn(1, 5, 2, 2)
    torch.testing.assert_close(head.features_from(features), features.clamp(min=0))
    torch.testing.assert_close(head.weight, model.fc.weight.detach())


def test_models_without_a_linear_are_rejected_at_construction():
    model = NoLinearCnn()
    with pytest.raises(HeadNotFoundError, match=r"has no nn\.Linear"):
        LayerInfoCam(model, model.layer)
    with pytest.raises(HeadNotFoundError, match=r"has no nn\.Linear"):
        find_classifier(model, model.layer, torch.randn(1, 3, 8, 8))


def test_several_qualifying_heads_are_ambiguous():
    class TwinHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.Conv2d(3, 4, 3)
            self.fc = nn.Linear(4, 2)
            self.twin = self.fc  # the same Linear registered twice is found once

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.layer(x).mean(dim=(2, 3)))

    model = TwinHeads()
    assert find_classifier(model, model.layer, torch.randn(1, 3, 5, 5)).name == "fc"

    class TwoHeads(TwinHeads):
        def __init__(self) -> None:
            super().__init__()
            self.twin = nn.Linear(4, 2)
            self.twin.load_state_dict(self.fc.state_dict())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            pooled = self.layer(x).mean(dim=(2, 3))
            return self.fc(pooled) + 0 * self.twin(pooled)

    model = TwoHeads()
    with pytest.raises(HeadNotFoundError, match="several Linear modules qualify"):
        find_classifier(model, model.layer, torch.randn(1, 3, 5, 5))


def test_layer_with_tuple_output_is_rejected():
    class TupleLayer(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, x

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = TupleLayer()
            self.fc = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.layer(x)[0].mean(dim=(2, 3)))

    model = Model()
    with pytest.raises(InvalidArgumentError, match="produces 2 tensors"):
        find_classifier(model, model.layer, torch.randn(1, 3, 4, 4))
