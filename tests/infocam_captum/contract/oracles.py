"""Independent computations of the gradient CAM family and Score-CAM, as Captum attributions.

Each oracle gets the layer's activations ``A`` from Captum's ``LayerActivation`` and the gradients
``g`` of the target score from Captum's ``LayerGradientXActivation(multiply_by_inputs=False)``,
then writes the published formula out with ``einsum`` (pytorch-grad-cam 1.5's definitions):

- Grad-CAM++: ``alpha = g^2 / (2 g^2 + S g^3 + 1e-6)`` (0 where g = 0), ``S_k = sum_ij A_k``,
  ``w_k = sum_ij relu(g_k) alpha_k``;
- XGrad-CAM: ``w_k = sum_ij g_k A_k / (S_k + 1e-7)``;
- LayerCAM: ``relu(g) * A`` cell by cell.

The Score-CAM oracle loops over examples and channels: one masked forward pass of one image per
channel, the mask min-max normalised at the layer's resolution and upsampled bilinearly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from captum.attr import (
    GradientAttribution,
    LayerActivation,
    LayerAttribution,
    LayerGradientXActivation,
)
from captum.log import log_usage
from torch import Tensor, nn

Formula = Callable[[Tensor, Tensor], Tensor]
"""``(A, g) -> (N, C, h, w)`` channel contributions whose sum over dimension 1 is the map."""


def grad_cam_plus_plus(a: Tensor, g: Tensor) -> Tensor:
    s = torch.einsum("nchw->nc", a)[:, :, None, None]
    alpha = g**2 / (2 * g**2 + s * g**3 + 1e-6)
    alpha = alpha.masked_fill(g == 0, 0)
    weights = torch.einsum("nchw,nchw->nc", torch.relu(g), alpha)
    return torch.einsum("nc,nchw->nchw", weights, a)


def xgrad_cam(a: Tensor, g: Tensor) -> Tensor:
    s = torch.einsum("nchw->nc", a)
    weights = torch.einsum("nchw,nchw->nc", g, a) / (s + 1e-7)
    return torch.einsum("nc,nchw->nchw", weights, a)


def layer_cam(a: Tensor, g: Tensor) -> Tensor:
    return torch.einsum("nchw,nchw->nchw", torch.relu(g), a)


def _finish(contributions: Tensor, relu_attributions: bool, attr_dim_summation: bool) -> Tensor:
    maps = contributions.sum(1, keepdim=True) if attr_dim_summation else contributions
    return torch.relu(maps) if relu_attributions else maps


class GradientFormulaOracle(LayerAttribution, GradientAttribution):
    """``formula(A, g)`` with ``A`` and ``g`` from Captum's own layer attributions."""

    def __init__(
        self,
        forward_func: Callable[..., Any],
        layer: nn.Module,
        device_ids: list[int] | None,
        formula: Formula,
    ) -> None:
        LayerAttribution.__init__(self, forward_func, layer, device_ids)
        GradientAttribution.__init__(self, forward_func)
        self.formula = formula
        self.activations = LayerActivation(forward_func, layer, device_ids)
        self.gradients = LayerGradientXActivation(
            forward_func, layer, device_ids, multiply_by_inputs=False
        )

    @log_usage()
    def attribute(
        self,
        inputs: Any,
        target: Any = None,
        additional_forward_args: Any = None,
        attribute_to_layer_input: bool = False,
        relu_attributions: bool = False,
        attr_dim_summation: bool = True,
    ) -> Tensor:
        a = self.activations.attribute(inputs, additional_forward_args, attribute_to_layer_input)
        g = self.gradients.attribute(
            inputs, target, additional_forward_args, attribute_to_layer_input
        )
        contributions = self.formula(a.detach(), g.detach())
        return _finish(contributions, relu_attributions, attr_dim_summation)


def _example(value: Any, index: int) -> Any:
    if isinstance(value, tuple):
        return tuple(_example(item, index) for item in value)
    if isinstance(value, Tensor) and value.dim() > 0:
        return value[index : index + 1]
    return value


class ScoreCamOracle(LayerAttribution):
    """Score-CAM, one example and one channel at a time."""

    def __init__(
        self, forward_func: Callable[..., Any], layer: nn.Module, device_ids: list[int] | None
    ) -> None:
        LayerAttribution.__init__(self, forward_func, layer, device_ids)
        self.activations = LayerActivation(forward_func, layer, device_ids)

    @log_usage()
    def attribute(
        self,
        inputs: Any,
        target: Any = None,
        additional_forward_args: Any = None,
        attribute_to_layer_input: bool = False,
        relu_attributions: bool = False,
        attr_dim_summation: bool = True,
    ) -> Tensor:
        a = self.activations.attribute(inputs, additional_forward_args, attribute_to_layer_input)
        inputs = inputs if isinstance(inputs, tuple) else (inputs,)
        extra = additional_forward_args
        extra = () if extra is None else extra if isinstance(extra, tuple) else (extra,)
        classes = torch.as_tensor(target).reshape(-1).expand(a.shape[0])
        weights = torch.zeros(a.shape[:2], dtype=a.dtype)
        with torch.no_grad():
            for n in range(a.shape[0]):
                scores = []
                for k in range(a.shape[1]):
                    cell = a[n, k]
                    mask = (cell - cell.min()) / (cell.max() - cell.min() + 1e-8)
                    masked = [
                        x[n : n + 1]
                        * F.interpolate(mask[None, None], x.shape[2:], mode="bilinear")
                        for x in inputs
                    ]
                    output = self.forward_func(*masked, *_example(extra, n))
                    scores.append(output[0, classes[n]])
                weights[n] = torch.softmax(torch.stack(scores), dim=0)
        contributions = torch.einsum("nc,nchw->nchw", weights, a)
        return _finish(contributions, relu_attributions, attr_dim_summation)
