"""The one module that touches Captum's private helpers.

Captum's attribution methods format their arguments with underscore-private utilities; using the
same ones here means the inputs and extra arguments reach ``forward_func`` exactly as they reach
it from :class:`captum.attr.LayerGradCam`. They have been stable since Captum 0.6, but they are
private, so every use lives here and pyproject pins the Captum range this file is tested
against. The hooked forward pass itself is the project's own
(:mod:`infocam_captum._layer_forward`).
"""

from __future__ import annotations

from typing import Any

from captum._utils.common import _format_additional_forward_args, _format_tensor_into_tuples
from captum._utils.typing import TargetType
from torch import Tensor

__all__ = ["TargetType", "format_additional_forward_args", "format_inputs"]


def format_inputs(inputs: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """``inputs`` as a tuple of tensors, exactly as Captum's attribution methods see them."""
    return _format_tensor_into_tuples(inputs)


def format_additional_forward_args(args: object | None) -> tuple[Any, ...] | None:
    """``additional_forward_args`` as a tuple (or ``None``), as Captum passes them on."""
    return _format_additional_forward_args(args)
