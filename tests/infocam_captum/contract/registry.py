"""The methods under contract: one entry per attribution class, with the oracle it must equal.

Each :class:`MethodEntry` says how to build the class, which extra ``attribute`` keywords it
takes in the contract (``window=1``: the oracles hold before the region sum), which oracle
attribution it must equal on every case, which exceptions it raises for a refused target or a
layer that never ran, and how much wider than the dtype's rounding its NoiseTunnel check may be.
:data:`CONTROL` is ``LayerGradCam`` itself, run through every check: what the contract asks of
the methods, Captum's own layer attribution does.

Oracles (GAP -> Linear heads, ``h * w`` the layer's spatial size; ``f`` the logits):

- CAM = ``h * w`` x LayerGradCam.
- infoCAM before the window = ``h * w`` x LayerGradCam on ``f - (f.sum(1) - f) / (K - 1)``.
- infoCAM+ before the window = ``h * w`` x LayerGradCam on ``f_y - min_{y' != y} f_y'``.
- Grad-CAM++, XGrad-CAM, LayerCAM: their formulas written out with ``einsum`` on Captum's own
  activations and layer gradients; Score-CAM: a loop of one masked forward pass per example and
  channel (:mod:`.oracles`).

A new class joins the contract with one more entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from captum.attr import LayerAttribution, LayerGradCam
from captum.log import log_usage
from torch import Tensor, nn

from infocam_captum import (
    LayerCam,
    LayerClassActivationMap,
    LayerGradCamPlusPlus,
    LayerInfoCam,
    LayerInfoCamPlus,
    LayerScoreCam,
    LayerXGradCam,
)
from infocam_captum.exceptions import InvalidArgumentError, TargetError

from .oracles import (
    GradientFormulaOracle,
    ScoreCamOracle,
    grad_cam_plus_plus,
    layer_cam,
    xgrad_cam,
)

Build = Callable[[Callable[..., Any], nn.Module, list[int] | None], LayerAttribution]


def contrast_with_the_mean_of_the_others(logits: Tensor) -> Tensor:
    """``f - (f.sum(1) - f) / (K - 1)``: infoCAM's logits."""
    return logits - (logits.sum(1, keepdim=True) - logits) / (logits.shape[1] - 1)


def contrast_with_the_least_likely_other(logits: Tensor) -> Tensor:
    """``f_y - min_{y' != y} f_y'`` for every class ``y`` (ties: the first index, as argmin)."""
    values, order = logits.sort(dim=1, stable=True)
    is_lowest = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, order[:, :1], True)
    return logits - torch.where(is_lowest, values[:, 1:2], values[:, :1])


class ScaledGradCam(LayerGradCam):
    """``h * w`` x LayerGradCam of ``transform(forward_func(...))``: an FC-weight oracle."""

    def __init__(
        self,
        forward_func: Callable[..., Any],
        layer: nn.Module,
        device_ids: list[int] | None = None,
        transform: Callable[[Tensor], Tensor] = lambda logits: logits,
    ) -> None:
        def transformed(*args: Any) -> Tensor:
            return transform(forward_func(*args))

        if device_ids is None:
            device_ids = getattr(forward_func, "device_ids", None)
        super().__init__(transformed, layer, device_ids)

    @log_usage()
    def attribute(self, inputs: Any, *args: Any, **kwargs: Any) -> Tensor:
        maps = LayerGradCam.attribute.__wrapped__(self, inputs, *args, **kwargs)
        return maps.detach() * (maps.shape[-1] * maps.shape[-2])


@dataclass(frozen=True)
class MethodEntry:
    """One attribution class under contract (see the module docstring)."""

    name: str
    build: Build
    oracle: Build
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    refusal: type[BaseException] = TargetError
    never_ran: type[BaseException] = InvalidArgumentError
    rounding: float = 1.0

    def __str__(self) -> str:
        return self.name


METHODS: list[MethodEntry] = [
    MethodEntry(
        "LayerClassActivationMap",
        LayerClassActivationMap,
        ScaledGradCam,
    ),
    MethodEntry(
        "LayerInfoCam",
        LayerInfoCam,
        lambda f, layer, ids: ScaledGradCam(f, layer, ids, contrast_with_the_mean_of_the_others),
        {"window": 1},
    ),
    MethodEntry(
        "LayerInfoCamPlus",
        LayerInfoCamPlus,
        lambda f, layer, ids: ScaledGradCam(f, layer, ids, contrast_with_the_least_likely_other),
        {"window": 1},
    ),
    MethodEntry(
        "LayerGradCamPlusPlus",
        LayerGradCamPlusPlus,
        lambda f, layer, ids: GradientFormulaOracle(f, layer, ids, grad_cam_plus_plus),
    ),
    MethodEntry(
        "LayerXGradCam",
        LayerXGradCam,
        lambda f, layer, ids: GradientFormulaOracle(f, layer, ids, xgrad_cam),
    ),
    MethodEntry(
        "LayerCam",
        LayerCam,
        lambda f, layer, ids: GradientFormulaOracle(f, layer, ids, layer_cam),
    ),
    # Batched masked passes round differently from the oracle's one-image passes, and vargrad (a
    # difference of squares) magnifies that: a wider float32 tolerance under NoiseTunnel.
    MethodEntry("LayerScoreCam", LayerScoreCam, ScoreCamOracle, {"batch_size": 3}, rounding=4.0),
]

CONTROL = MethodEntry(
    "LayerGradCam",
    LayerGradCam,
    LayerGradCam,
    refusal=Exception,  # Captum raises AssertionError, IndexError, RuntimeError or TypeError
    never_ran=AssertionError,
)

WITH_CONTROL: list[MethodEntry] = [*METHODS, CONTROL]
