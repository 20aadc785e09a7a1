"""One forward pass that records a layer's tensors and the model output, with per-call hooks.

Every call registers its own hooks and removes them in ``finally``; everything it records lives in
the call, never on the module or the attribution object. A hook that fires also fires for forward
passes that other threads run through the same module at that moment, so each hook keeps only the
calls that belong to its own pass:

- a call that runs in the calling thread;
- when ``forward_func`` is a DataParallel model (``device_ids`` given, or
  ``forward_func.device_ids``), also a call of a *replica* of the hooked module (DataParallel runs
  the replicas in worker threads and they share the original module's hook dictionary). Such
  passes hold a lock per hooked module, so two of them never overlap on one layer.

So two threads may explain with one attribution object at the same time and each gets its own
activations. A layer that runs several times in one pass keeps its last call (per device), as
Captum does. The pieces recorded on several devices are concatenated in ``device_ids`` order.

With ``differentiable=True`` the hook replaces each recorded tensor ``T`` by a fresh leaf
``L = T.detach().requires_grad_()`` and lets the model continue with ``L.clone()``: the model
output is a function of ``L``, so ``torch.autograd.grad(score, L)`` is the gradient of the score
with respect to the layer, the backward pass stops at the layer, no parameter ``.grad`` is
touched, and in-place operations after the layer change the clone, never ``L``.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from infocam_captum.exceptions import InvalidArgumentError

__all__ = [
    "LayerForward",
    "ModuleCall",
    "check_hookable",
    "device_order",
    "forward_with_layer",
    "gather",
]

_PARALLEL_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.Lock] = weakref.WeakKeyDictionary()
_PARALLEL_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class LayerForward:
    """The result of :func:`forward_with_layer`.

    Attributes:
        layer_tensors: The layer's output (or input) tensors, concatenated over devices.
        per_device: The recorded tensors of each device, in ``device_ids`` order (one entry
            without DataParallel). With ``differentiable=True`` these are the leaves.
        output: What ``forward_func`` returned.
        calls: For every watched module that ran: its :class:`ModuleCall`.
    """

    layer_tensors: tuple[Tensor, ...]
    per_device: tuple[tuple[Tensor, ...], ...]
    output: object
    calls: Mapping[nn.Module, ModuleCall]

    def layer_gradients(
        self, scores: Tensor, grad_kwargs: Mapping[str, Any] | None = None
    ) -> tuple[Tensor, ...]:
        r"""Gradients :math:`\partial (\sum scores) / \partial T` for each layer tensor ``T``.

        Needs a pass with ``differentiable=True``. The backward pass stops at the layer and
        leaves every parameter's ``.grad`` as it was.

        Args:
            scores: A tensor computed from :attr:`output` (e.g. the target logits, ``(N,)``).
            grad_kwargs: Further keyword arguments of :func:`torch.autograd.grad`.

        Returns:
            One gradient per layer tensor, concatenated over devices like :attr:`layer_tensors`.
        """
        leaves = [tensor for piece in self.per_device for tensor in piece]
        if not all(leaf.requires_grad for leaf in leaves):
            raise InvalidArgumentError(
                "layer_gradients needs floating-point layer tensors recorded by a differentiable "
                "pass; call forward_with_layer(..., differentiable=True)."
            )
        flat = torch.autograd.grad(scores.sum(), leaves, **dict(grad_kwargs or {}))
        width = len(self.per_device[0])
        pieces = [tuple(flat[i : i + width]) for i in range(0, len(flat), width)]
        return gather(pieces)


def check_hookable(forward_func: Callable[..., Any], layer: object) -> None:
    """Refuse what no hooked forward pass can explain: TorchScript, several layers, no module.

    Raises:
        InvalidArgumentError: ``layer`` is a list, tuple or ``nn.ModuleList`` (one layer is
            explained at a time), not an ``nn.Module``, or ``forward_func`` or ``layer`` is
            TorchScript (``torch.jit.script`` / ``torch.jit.trace`` output).
    """
    if isinstance(layer, list | tuple | nn.ModuleList):
        raise InvalidArgumentError(
            f"layer is a {type(layer).__name__} of {len(layer)} modules, but these attributions "
            "explain a single layer: pass one nn.Module (make one attribution object per layer)."
        )
    if not isinstance(layer, nn.Module):
        raise InvalidArgumentError(
            f"layer must be an nn.Module of the model being explained, got a "
            f"{type(layer).__name__}."
        )
    owner = getattr(forward_func, "__self__", None)
    for name, value in (("forward_func", forward_func), ("forward_func", owner), ("layer", layer)):
        if isinstance(value, torch.jit.ScriptModule | torch.jit.ScriptFunction):
            raise InvalidArgumentError(
                f"{name} is TorchScript ({type(value).__name__}, from torch.jit.script or "
                "torch.jit.trace): forward hooks cannot run inside a TorchScript graph, so no "
                "layer attribution (LayerGradCam included) can record the layer. Explain the "
                "eager nn.Module (the model before scripting or tracing) with one of its own "
                "layers, or its torch.compile version (hooks run there); the TorchScript model is "
                "for deployment."
            )


def device_order(devices: Sequence[torch.device], device_ids: Sequence[int] | None) -> list[int]:
    """Positions of ``devices`` sorted into ``device_ids`` order (DataParallel's batch order).

    Raises:
        InvalidArgumentError: several devices without ``device_ids``, or a device not listed.
    """
    if len(devices) == 1:
        return [0]
    indices = [device.index for device in devices]
    if not device_ids:
        raise InvalidArgumentError(
            f"the layer ran on {len(devices)} devices ({', '.join(map(str, devices))}) but no "
            "device order is known; pass device_ids= (the DataParallel device_ids) to the "
            "attribution."
        )
    missing = [str(device) for device in devices if device.index not in device_ids]
    if missing:
        raise InvalidArgumentError(
            f"the layer ran on {', '.join(missing)}, which device_ids={list(device_ids)} does not "
            "list; pass the device_ids of the DataParallel model."
        )
    return sorted(range(len(devices)), key=lambda i: list(device_ids).index(indices[i]))


def gather(pieces: Sequence[tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
    """Concatenate per-device tuples along the batch, on the first piece's device."""
    if len(pieces) == 1:
        return pieces[0]
    device = pieces[0][0].device
    return tuple(
        torch.cat([piece[i].to(device) for piece in pieces]) for i in range(len(pieces[0]))
    )


def _parallel_lock(module: nn.Module) -> threading.Lock:
    with _PARALLEL_LOCKS_GUARD:
        lock = _PARALLEL_LOCKS.get(module)
        if lock is None:
            lock = _PARALLEL_LOCKS[module] = threading.Lock()
        return lock


@contextmanager
def _serialised(modules: Iterable[nn.Module]) -> Iterator[None]:
    """Hold the DataParallel lock of every module, taken in one global order (no deadlock)."""
    with ExitStack() as stack:
        for module in sorted(set(modules), key=id):
            stack.enter_context(_parallel_lock(module))
        yield


def _eager(hook: Callable[..., Any]) -> Callable[..., Any]:
    """``hook``, kept out of ``torch.compile`` graphs.

    The hooks read the thread id, which dynamo cannot trace; disabled, they run eagerly (a graph
    break, as any Python side effect in a hook) without a warning. Dynamo is loaded only once
    something was compiled; until then nothing is wrapped.
    """
    if "torch._dynamo" not in sys.modules:
        return hook
    return torch.compiler.disable(hook)


def _tensors_of(value: object) -> tuple[Tensor, ...]:
    items = value if isinstance(value, tuple | list) else (value,)
    return tuple(item for item in items if isinstance(item, Tensor))


def _with_leaves(value: object) -> tuple[object, tuple[Tensor, ...]]:
    """``value`` with every floating tensor replaced by a clone of a fresh leaf; the leaves."""
    leaves: list[Tensor] = []

    def swap(item: object) -> object:
        if not isinstance(item, Tensor):
            return item
        if not (item.is_floating_point() or item.is_complex()):
            leaves.append(item)
            return item
        leaf = item.detach().requires_grad_()
        leaves.append(leaf)
        return leaf.clone()

    if isinstance(value, tuple | list):
        return type(value)(swap(item) for item in value), tuple(leaves)
    return swap(value), tuple(leaves)


def forward_with_layer(
    forward_func: Callable[..., object],
    inputs: tuple[Tensor, ...],
    layer: nn.Module,
    additional_forward_args: tuple[Any, ...] | None = None,
    *,
    device_ids: Sequence[int] | None = None,
    attribute_to_layer_input: bool = False,
    differentiable: bool = False,
    watch: Iterable[nn.Module] = (),
) -> LayerForward:
    """Run ``forward_func(*inputs, *additional_forward_args)`` once and record ``layer``.

    Autograd is off unless ``differentiable`` (then it is on). The recorded tensors are copies
    (clones, or leaves with ``differentiable``), so in-place operations after the layer cannot
    change them. Every module in ``watch`` gets a hook that records its first input and its
    output when those are 2-D (the input of a classifier head). The module docstring says which
    calls a hook keeps (thread safety, DataParallel). Exceptions raised by ``forward_func``
    propagate unchanged; every hook is removed before this function returns or raises.

    Args:
        forward_func: The model or function to run.
        inputs: Formatted inputs (a tuple of tensors).
        layer: Module whose output (or input) is recorded.
        additional_forward_args: Formatted extra arguments for ``forward_func``.
        device_ids: Device order of a DataParallel ``forward_func`` (default:
            ``forward_func.device_ids`` when it has them).
        attribute_to_layer_input: Record the layer's input instead of its output.
        differentiable: Record leaves that require grad (see :meth:`LayerForward.layer_gradients`).
        watch: Further modules to record (e.g. the candidate classifier heads).

    Returns:
        LayerForward: layer tensors, model output, watched calls.

    Raises:
        InvalidArgumentError: the forward pass finished without running ``layer`` (a module of
            another model or a copy, or a layer inside TorchScript), ``layer`` or
            ``forward_func`` is TorchScript, or the devices cannot be ordered.
    """
    check_hookable(forward_func, layer)
    if device_ids is None:
        device_ids = getattr(forward_func, "device_ids", None)
    parallel = bool(device_ids)
    caller = threading.get_ident()
    watched = list(dict.fromkeys(watch))
    record_lock = threading.Lock()
    layer_pieces: dict[torch.device, tuple[Tensor, ...]] = {}
    watched_pieces: dict[nn.Module, dict[torch.device, ModuleCall]] = {}

    def belongs_to_this_pass(hooked: nn.Module, called: nn.Module) -> bool:
        return threading.get_ident() == caller or (parallel and called is not hooked)

    def record_layer(called: nn.Module, value: object) -> object:
        if not belongs_to_this_pass(layer, called):
            return None
        if differentiable:
            replaced, tensors = _with_leaves(value)
        else:
            replaced, tensors = None, tuple(t.detach().clone() for t in _tensors_of(value))
        if tensors:
            with record_lock:
                layer_pieces[tensors[0].device] = tensors
        return replaced

    def make_watch_hook(module: nn.Module) -> Callable[..., None]:
        def hook(called: nn.Module, args: tuple[Any, ...], output: object) -> None:
            first = args[0] if args else None
            if not isinstance(first, Tensor) or not belongs_to_this_pass(module, called):
                return
            keep = first.dim() == 2 and isinstance(output, Tensor)
            call = ModuleCall(
                tuple(first.shape),
                first.detach().clone() if keep else None,
                output.detach().clone() if keep and isinstance(output, Tensor) else None,
            )
            with record_lock:
                watched_pieces.setdefault(module, {})[first.device] = call

        return hook

    handles: list[RemovableHandle] = []
    with ExitStack() as stack:
        if parallel:
            stack.enter_context(_serialised([layer, *watched]))
        try:
            if attribute_to_layer_input:
                handles.append(
                    layer.register_forward_pre_hook(
                        _eager(lambda called, args: record_layer(called, args))
                    )
                )
            else:
                handles.append(
                    layer.register_forward_hook(
                        _eager(lambda called, _args, output: record_layer(called, output))
                    )
                )
            handles.extend(
                module.register_forward_hook(_eager(make_watch_hook(module))) for module in watched
            )
            with torch.set_grad_enabled(differentiable):
                output = forward_func(*inputs, *(additional_forward_args or ()))
        finally:
            for handle in handles:
                handle.remove()
    if not layer_pieces:
        raise InvalidArgumentError(
            f"the layer {type(layer).__name__} never ran during the forward pass of forward_func "
            "(which completed); pass a module of the model being explained (the same instance, "
            "not a copy). A layer inside a TorchScript model never runs hooks: explain the eager "
            "model."
        )
    devices = list(layer_pieces)
    order = device_order(devices, device_ids)
    per_device = tuple(layer_pieces[devices[i]] for i in order)
    return LayerForward(
        layer_tensors=gather(per_device),
        per_device=per_device,
        output=output,
        calls={
            module: _gather_calls(calls, device_ids) for module, calls in watched_pieces.items()
        },
    )


def _gather_calls(
    calls: dict[torch.device, ModuleCall], device_ids: Sequence[int] | None
) -> ModuleCall:
    devices = list(calls)
    pieces = [calls[devices[i]] for i in device_order(devices, device_ids)]
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
