"""The one module that touches Captum's private helpers.

Captum's layer methods share underscore-private utilities (input formatting, the hooked forward
pass that gathers a layer's tensors across DataParallel replicas). They have been stable since
Captum 0.6, but they are private, so every use lives here, called with keyword arguments after the
leading positional ones, and pyproject pins the Captum range this file is tested against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from captum._utils.common import (
    _format_additional_forward_args,
    _format_tensor_into_tuples,
    _sort_key_list,
)
from captum._utils.gradient import _forward_layer_eval
from captum._utils.typing import TargetType
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from infocam_captum.exceptions import InvalidArgumentError

__all__ = [
    "ForwardRecord",
    "ModuleCall",
    "TargetType",
    "format_additional_forward_args",
    "format_inputs",
    "forward_with_layer",
]


def format_inputs(inputs: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """``inputs`` as a tuple of tensors, exactly as Captum's attribution methods see them."""
    return _format_tensor_into_tuples(inputs)


def format_additional_forward_args(args: object | None) -> tuple[Any, ...] | None:
    """``additional_forward_args`` as a tuple (or ``None``), as Captum passes them on."""
    return _format_additional_forward_args(args)


@dataclass
class ModuleCall:
    """What a watched module saw in the forward pass.

    Attributes:
        input_shape: Shape of its first positional input (on one device).
        input: That input (gathered over devices) when it was 2-D, i.e. a batch of vectors,
            else ``None`` (nothing large is kept).
        output: Its output under the same condition, else ``None``.
    """

    input_shape: tuple[int, ...]
    input: Tensor | None
    output: Tensor | None


@dataclass
class ForwardRecord:
    """The result of :func:`forward_with_layer`.

    Attributes:
        layer_outputs: The layer's output (or input) tensors, gathered over devices.
        output: What ``forward_func`` returned.
        calls: For every watched module that ran: its :class:`ModuleCall`.
    """

    layer_outputs: tuple[Tensor, ...]
    output: object
    calls: dict[nn.Module, ModuleCall] = field(default_factory=dict)


def forward_with_layer(
    forward_func: Callable[..., object],
    inputs: tuple[Tensor, ...],
    layer: nn.Module,
    additional_forward_args: tuple[Any, ...] | None = None,
    device_ids: list[int] | None = None,
    attribute_to_layer_input: bool = False,
    watch: Iterable[nn.Module] = (),
) -> ForwardRecord:
    """One forward pass without autograd that records ``layer`` and the model output.

    Captum's ``_forward_layer_eval`` runs the pass and gathers the layer's tensors (cloned in the
    hook, so later in-place operations cannot change them) across DataParallel replicas using
    ``device_ids`` (taken from ``forward_func.device_ids`` when not given, as Captum does). The
    model output is captured on the way out, and every module in ``watch`` gets a forward hook that
    records its first input and its output when those are 2-D (the input of a classifier head).
    Every hook is removed before this function returns or raises.

    Args:
        forward_func: The model or function to run.
        inputs: Formatted inputs (see :func:`format_inputs`).
        layer: Module whose output (or input) is recorded.
        additional_forward_args: Formatted extra arguments for ``forward_func``.
        device_ids: Device order of a DataParallel ``forward_func``.
        attribute_to_layer_input: Record the layer's input instead of its output.
        watch: Further modules to record (e.g. the candidate classifier heads).

    Returns:
        ForwardRecord: layer tensors, model output, watched calls.
    """
    outputs: list[object] = []

    def run_and_keep_output(*args: Any) -> object:
        output = forward_func(*args)
        outputs.append(output)
        return output

    per_device: dict[nn.Module, dict[torch.device, ModuleCall]] = {}

    def make_hook(module: nn.Module) -> Callable[..., None]:
        def hook(_: nn.Module, args: tuple[Any, ...], output: object) -> None:
            first = args[0] if args else None
            if not isinstance(first, Tensor):
                return
            keep = first.dim() == 2 and isinstance(output, Tensor)
            per_device.setdefault(module, {})[first.device] = ModuleCall(
                tuple(first.shape),
                first.detach().clone() if keep else None,
                output.detach().clone() if keep and isinstance(output, Tensor) else None,
            )

        return hook

    layer_ran: list[bool] = []
    if device_ids is None:
        device_ids = getattr(forward_func, "device_ids", None)
    handles: list[RemovableHandle] = [
        layer.register_forward_pre_hook(lambda *_: layer_ran.append(True))
    ]
    try:
        handles.extend(module.register_forward_hook(make_hook(module)) for module in watch)
        layer_outputs = _forward_layer_eval(
            run_and_keep_output,
            inputs,
            layer,
            additional_forward_args=additional_forward_args,
            device_ids=device_ids,
            attribute_to_layer_input=attribute_to_layer_input,
        )
    except AssertionError as error:
        if layer_ran:
            raise
        raise InvalidArgumentError(
            f"the layer {type(layer).__name__} never ran during the forward pass of "
            "forward_func; pass a module of the model being explained (the same instance)."
        ) from error
    finally:
        for handle in handles:
            handle.remove()
    return ForwardRecord(
        layer_outputs=layer_outputs,
        output=outputs[-1],
        calls={module: _gather(calls, device_ids) for module, calls in per_device.items()},
    )


def _gather(calls: dict[torch.device, ModuleCall], device_ids: list[int] | None) -> ModuleCall:
    pieces = [calls[device] for device in _sort_key_list(list(calls), device_ids)]
    inputs = [piece.input for piece in pieces if piece.input is not None]
    outputs = [piece.output for piece in pieces if piece.output is not None]
    if len(inputs) != len(pieces) or len(outputs) != len(pieces):
        return ModuleCall(pieces[0].input_shape, None, None)
    device = inputs[0].device
    return ModuleCall(
        pieces[0].input_shape,
        torch.cat([tensor.to(device) for tensor in inputs]),
        torch.cat([tensor.to(device) for tensor in outputs]),
    )
