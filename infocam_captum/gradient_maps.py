r"""Batched map math of the gradient CAM family, shared by the attribution classes and the runner.

Pure tensor code: no hooks, no model, no Python loop over examples. Given the activations
:math:`A` of the explained layer, shaped ``(B, C, h, w)``, and the gradients
:math:`g = \partial y^c / \partial A` of each example's raw target score :math:`y^c` (the logit,
never its exponential), every method weighs the channels and sums them; sums over :math:`ij` run
over the spatial cells:

- ``"gradcam"`` (Selvaraju et al. 2017): :math:`M = \sum_k \bar g_k A_k` with
  :math:`\bar g_k = \mathrm{mean}_{ij}\, g_k(i, j)`, exactly Captum's ``LayerGradCam``.
- ``"gradcam++"`` (Chattopadhyay et al. 2018), as pytorch-grad-cam 1.5 computes it:
  :math:`w_k = \sum_{ij} \mathrm{relu}(g_k(i, j))\, \alpha_k(i, j)` with
  :math:`\alpha_k = g_k^2 / (2 g_k^2 + S_k g_k^3 + \epsilon)`, :math:`S_k = \sum_{ij} A_k(i, j)`,
  :math:`\epsilon = 10^{-6}`, and :math:`\alpha_k(i, j) = 0` where :math:`g_k(i, j) = 0`;
  :math:`M = \sum_k w_k A_k`.
- ``"xgradcam"`` (Fu et al. 2020), as pytorch-grad-cam 1.5:
  :math:`w_k = \sum_{ij} g_k(i, j) A_k(i, j) / (S_k + \epsilon)`, :math:`\epsilon = 10^{-7}`;
  :math:`M = \sum_k w_k A_k`.
- ``"layercam"`` (Jiang et al. 2021), as pytorch-grad-cam 1.5: a weight per cell,
  :math:`M = \sum_k \mathrm{relu}(g_k) \odot A_k`.

All maps are signed and unnormalised; the peers' ReLU, min-max scaling and resizing are left to
the caller. One backward pass of the target scores to the layer serves every method:
:func:`gradient_weight_maps` computes several from the same ``(features, grads)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from infocam_captum.exceptions import InvalidArgumentError

__all__ = [
    "GRADCAM_PLUS_PLUS_EPS",
    "GRADIENT_METHODS",
    "XGRADCAM_EPS",
    "GradientMethod",
    "gradient_channel_maps",
    "gradient_weight_maps",
]

GradientMethod = Literal["gradcam", "gradcam++", "xgradcam", "layercam"]

GRADIENT_METHODS: tuple[GradientMethod, ...] = ("gradcam", "gradcam++", "xgradcam", "layercam")
"""The methods :func:`gradient_weight_maps` computes."""

GRADCAM_PLUS_PLUS_EPS = 1e-6
"""The :math:`\\epsilon` of Grad-CAM++'s alpha denominator (pytorch-grad-cam 1.5)."""

XGRADCAM_EPS = 1e-7
"""The :math:`\\epsilon` of XGrad-CAM's activation-sum denominator (pytorch-grad-cam 1.5)."""


def _channel_weights(
    features: Tensor, grads: Tensor, method: GradientMethod, spatial_sums: Tensor | None
) -> Tensor:
    """The weights that multiply ``features``: ``(B, C, 1, ..)``, or per cell for LayerCAM."""
    spatial = tuple(range(2, features.dim()))
    if method == "gradcam":
        return torch.mean(grads, dim=spatial, keepdim=True)
    if method == "layercam":
        return torch.relu(grads)
    sums = features.sum(dim=spatial, keepdim=True) if spatial_sums is None else spatial_sums
    if method == "xgradcam":
        return (grads * features / (sums + XGRADCAM_EPS)).sum(dim=spatial, keepdim=True)
    squared = grads * grads
    alpha = squared / (2 * squared + sums * squared * grads + GRADCAM_PLUS_PLUS_EPS)
    alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
    return (torch.relu(grads) * alpha).sum(dim=spatial, keepdim=True)


def _prepare(features: Tensor, grads: Tensor, methods: Sequence[str]) -> tuple[Tensor, Tensor]:
    unknown = [m for m in methods if m not in GRADIENT_METHODS]
    if unknown:
        raise InvalidArgumentError(
            f"unknown gradient method(s) {unknown}; expected some of {GRADIENT_METHODS}."
        )
    if features.dim() < 3 or features.shape != grads.shape:
        raise InvalidArgumentError(
            f"features {tuple(features.shape)} and grads {tuple(grads.shape)} must share one "
            "(B, C, h, w) shape: the layer's activations and the gradient of the target scores "
            "with respect to them."
        )
    dtype = torch.promote_types(features.dtype, grads.dtype)
    return features.to(dtype), grads.to(dtype)


def gradient_channel_maps(features: Tensor, grads: Tensor, method: GradientMethod) -> Tensor:
    r"""Per-channel contributions of one gradient method, summing over dimension 1 to its map.

    Channel ``k`` is :math:`w_k A_k` (LayerCAM: :math:`\mathrm{relu}(g_k) \odot A_k`).

    Args:
        features (Tensor): ``(B, C, h, w)`` activations of the explained layer.
        grads (Tensor): ``(B, C, h, w)`` gradients of each example's target score with respect
                    to ``features``.
        method (str): ``"gradcam"``, ``"gradcam++"``, ``"xgradcam"`` or ``"layercam"``
                    (formulas in the module docstring).

    Returns:
        Tensor: ``(B, C, h, w)`` in the promoted dtype of ``features`` and ``grads``.

    Raises:
        InvalidArgumentError: an unknown method, or shapes that differ.
    """
    features, grads = _prepare(features, grads, (method,))
    with torch.autocast(device_type=features.device.type, enabled=False):
        return _channel_weights(features, grads, method, None) * features


def gradient_weight_maps(
    features: Tensor,
    grads: Tensor,
    methods: Sequence[GradientMethod] = GRADIENT_METHODS,
) -> dict[GradientMethod, Tensor]:
    r"""The maps of several gradient methods from one layer's activations and gradients.

    Each map is :math:`\sum_k w_k A_k` with the method's weights (module docstring); the
    activations' spatial sums :math:`S_k` are computed once for Grad-CAM++ and XGrad-CAM.

    Args:
        features (Tensor): ``(B, C, h, w)`` activations of the explained layer.
        grads (Tensor): ``(B, C, h, w)`` gradients of each example's raw target score with
                    respect to ``features`` (one backward pass of the summed target scores).
        methods (Sequence[str]): Any of ``"gradcam"``, ``"gradcam++"``, ``"xgradcam"``,
                    ``"layercam"``. Default: all four

    Returns:
        dict[str, Tensor]: method -> ``(B, 1, h, w)`` signed, unnormalised map in the promoted
        dtype of ``features`` and ``grads``. ``"gradcam"`` performs Captum's ``LayerGradCam``
        operations in the same order, so the two agree bit for bit.

    Raises:
        InvalidArgumentError: an unknown method, or shapes that differ.

    Examples::

        >>> features = torch.rand(2, 8, 7, 7)
        >>> grads = torch.randn(2, 8, 7, 7)
        >>> maps = gradient_weight_maps(features, grads, ("gradcam++", "layercam"))
        >>> maps["gradcam++"].shape
        torch.Size([2, 1, 7, 7])
    """
    features, grads = _prepare(features, grads, methods)
    spatial = tuple(range(2, features.dim()))
    with torch.autocast(device_type=features.device.type, enabled=False):
        sums = None
        if any(m in ("gradcam++", "xgradcam") for m in methods):
            sums = features.sum(dim=spatial, keepdim=True)
        return {
            method: torch.sum(
                _channel_weights(features, grads, method, sums) * features, dim=1, keepdim=True
            )
            for method in methods
        }
