"""Grad-CAM++, XGrad-CAM and LayerCAM where the gradients vary over the cells (a head after the
layer that is not GAP -> Linear), against a full-backward einsum computation."""

from __future__ import annotations

import pytest
import torch
from captum.attr import LayerGradCam
from torch import Tensor, nn

from infocam_captum import LayerCam, LayerGradCamPlusPlus, LayerXGradCam, gradient_weight_maps
from infocam_captum.exceptions import InvalidArgumentError

from .contract.oracles import grad_cam_plus_plus, layer_cam, xgrad_cam
from .toy_models import hooks_left

CLASSES = [
    (LayerGradCamPlusPlus, grad_cam_plus_plus),
    (LayerXGradCam, xgrad_cam),
    (LayerCam, layer_cam),
]


class ConvHead(nn.Module):
    """conv -> ReLU (``layer``) -> conv -> ReLU -> GAP -> Linear: the gradient at ``layer`` varies
    cell by cell and changes sign. ``unused`` runs on the input and feeds nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.Conv2d(5, 4, 3, padding=1), nn.ReLU())
        self.unused = nn.Conv2d(3, 2, 1)
        self.fc = nn.Linear(4, 6)

    def forward(self, x: Tensor) -> Tensor:
        self.unused(x)
        return self.fc(self.head(self.layer(x)).mean(dim=(2, 3)))


def full_backward(model: nn.Module, layer: nn.Module, x: Tensor, target: Tensor):
    """The layer's activations and the gradient of the summed target logits (loss.backward)."""
    kept = {}

    def hook(_module, _inputs, output):
        output.retain_grad()
        kept["a"] = output

    handle = layer.register_forward_hook(hook)
    try:
        logits = model(x)
    finally:
        handle.remove()
    logits.gather(1, target[:, None]).sum().backward()
    model.zero_grad(set_to_none=True)
    return kept["a"].detach(), kept["a"].grad


@pytest.mark.parametrize(
    ("attribution", "formula"), CLASSES, ids=lambda c: getattr(c, "__name__", "")
)
def test_maps_equal_the_formula_on_a_full_backward(attribution, formula) -> None:
    torch.manual_seed(0)
    model = ConvHead().double().eval()
    x = torch.randn(3, 3, 6, 6, dtype=torch.float64)
    target = torch.tensor([0, 5, 2])
    a, g = full_backward(model, model.layer, x, target)
    assert g.flatten(2).std(dim=2).min() > 0  # the gradients vary over the cells
    maps = attribution(model, model.layer).attribute(x, target=target)
    torch.testing.assert_close(maps, formula(a, g).sum(1, keepdim=True))
    channels = attribution(model, model.layer).attribute(x, target, attr_dim_summation=False)
    torch.testing.assert_close(channels, formula(a, g))
    assert not maps.requires_grad and maps.grad_fn is None
    assert all(p.grad is None for p in model.parameters())
    assert hooks_left(model) == 0


def test_the_shared_map_function_gives_the_classes_and_captums_gradcam() -> None:
    torch.manual_seed(1)
    model = ConvHead().eval()
    x = torch.randn(2, 3, 6, 6)
    target = torch.tensor([1, 3])
    a, g = full_backward(model, model.layer, x, target)
    maps = gradient_weight_maps(a, g)
    for attribution, name in [
        (LayerGradCamPlusPlus, "gradcam++"),
        (LayerXGradCam, "xgradcam"),
        (LayerCam, "layercam"),
    ]:
        expected = attribution(model, model.layer).attribute(x, target=target)
        torch.testing.assert_close(maps[name], expected)
    gradcam = LayerGradCam(model, model.layer).attribute(x, target=target).detach()
    torch.testing.assert_close(maps["gradcam"], gradcam)


@pytest.mark.parametrize("attribution", [c for c, _ in CLASSES], ids=lambda c: c.__name__)
def test_grad_kwargs_reach_autograd(attribution) -> None:
    # As Captum's test_relu_gradcam_with_unused_layer: a layer that runs but feeds nothing.
    model = ConvHead().eval()
    x = torch.randn(2, 3, 6, 6)
    explainer = attribution(model, model.unused)
    with pytest.raises(RuntimeError, match="not have been used in the graph"):
        explainer.attribute(x, target=1)
    maps = explainer.attribute(x, target=1, grad_kwargs={"materialize_grads": True})
    assert torch.equal(maps, torch.zeros(2, 1, 6, 6))
    assert hooks_left(model) == 0


def test_forward_func_must_return_class_scores() -> None:
    model = ConvHead().eval()
    explainer = LayerCam(lambda x: model(x)[:, :, None], model.layer)
    with pytest.raises(InvalidArgumentError, match=r"must return \(2, K\) class scores"):
        explainer.attribute(torch.randn(2, 3, 6, 6), target=1)
    assert hooks_left(model) == 0
