"""Captum ``target`` arguments on a classifier's ``(N, K)`` output -> one class index per example.

The accepted forms and their meaning are those of :class:`captum.attr.LayerGradCam` on a 2-D
output (checked form by form in ``tests/infocam_captum/contract``), so code written for it runs
unchanged:

==============================================  =============================================
``target``                                      meaning
==============================================  =============================================
``int`` ``c``, 0-d or one-element int tensor,   class ``c`` for every example; Python indexing
1-tuple ``(c,)``                                (``-1`` is the last class, ``-K..K-1``)
list of ``N`` ints, 1-D int tensor of ``N``     one class per example, ``0..K-1`` (Captum's
                                                ``torch.gather`` refuses negative entries)
list of ``N`` 1-tuples ``[(c1,), (c2,), ...]``  one class per example, Python indexing
==============================================  =============================================

A one-element tensor means "the same class for all" even when ``N = 1``; a one-element list is
a per-example list (so it needs ``N = 1``). NumPy integers are accepted wherever an int is.
Refused with a :class:`~infocam_captum.exceptions.TargetError` that says what to pass: ``None``
(Captum never takes the argmax for you), bools, floats, tuples of several indices (a
multi-index into an output with more than two dimensions), lists or tensors whose length is not
``N``, and indices out of range.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch
from torch import Tensor

from infocam_captum.exceptions import InvalidArgumentError, TargetError

__all__ = ["Target", "check_target_form", "class_indices", "class_scores", "target_scores"]

Target = int | tuple[int, ...] | list[int] | list[tuple[int, ...]] | Tensor
"""The ``target`` forms of Captum (``captum._utils.typing.TargetType`` without ``None``)."""

_ARGMAX_HINT = (
    "Captum never takes the argmax for you; to explain the predicted class pass it "
    "explicitly, e.g. target=model(inputs).argmax(1) (or logits.argmax(1))."
)
_FORMS = (
    "pass an int or (c,) for one class for all examples, or a list of N ints, a list of N (c,) "
    "tuples or a 1-D integer tensor for one class per example"
)


@dataclass(frozen=True)
class _Parsed:
    """Raw class indices and whether negative ones count from the end (Python indexing)."""

    indices: Tensor
    negative_from_end: bool


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_integer_tensor(value: object) -> bool:
    return (
        isinstance(value, Tensor)
        and value.dtype != torch.bool
        and not value.is_floating_point()
        and not value.is_complex()
    )


def _single_index(value: object) -> int | None:
    """``value`` as one class index when it is an int or a one-element integer tensor."""
    if _is_int(value):
        return int(value)  # type: ignore[call-overload]
    if _is_integer_tensor(value) and value.numel() == 1:  # type: ignore[union-attr]
        return int(value.item())  # type: ignore[union-attr]
    return None


def _from_tuple(target: tuple[object, ...]) -> int:
    index = _single_index(target[0]) if len(target) == 1 else None
    if index is not None:
        return index
    if len(target) != 1:
        raise TargetError(
            f"target={target!r} holds {len(target)} indices: a tuple is a multi-index into an "
            "output with more than two dimensions, and a classifier's (N, K) output takes one "
            f"class index, (c,) or c; {_FORMS}."
        )
    raise TargetError(f"target={target!r} must hold one int class index; {_FORMS}.")


def _from_list(target: list[object], num_examples: int) -> _Parsed:
    if len(target) != num_examples:
        raise TargetError(
            f"target list holds {len(target)} entries for a batch of N={num_examples} examples; a "
            "list needs exactly one class per example (for one class for all examples pass an int "
            "or a 0-d tensor)."
        )
    if all(_is_int(entry) for entry in target):
        return _Parsed(torch.tensor([int(e) for e in target], dtype=torch.long), False)  # type: ignore[call-overload]
    if all(isinstance(entry, tuple) for entry in target):
        indices = [_from_tuple(entry) for entry in target]  # type: ignore[arg-type]
        return _Parsed(torch.tensor(indices, dtype=torch.long), True)
    kinds = sorted({type(entry).__name__ for entry in target})
    raise TargetError(
        f"a target list must hold one int per example, or one (c,) tuple per example, not a mix "
        f"or other types (found {', '.join(kinds)}); {_FORMS}."
    )


def _from_tensor(target: Tensor, num_examples: int) -> _Parsed:
    if not _is_integer_tensor(target):
        raise TargetError(f"target tensor has dtype {target.dtype}; class indices are integers.")
    if target.numel() == 1:
        return _Parsed(target.reshape(1).long(), True)
    if target.dim() != 1 or target.numel() != num_examples:
        raise TargetError(
            f"target tensor has shape {tuple(target.shape)}; expected a 0-d or one-element tensor "
            f"(one class for all examples) or a 1-D tensor of the N={num_examples} per-example "
            "classes."
        )
    return _Parsed(target.long(), False)


def _parse(target: object, num_examples: int) -> _Parsed:
    if target is None:
        raise TargetError(f"target=None: a class to explain is needed. {_ARGMAX_HINT}")
    if isinstance(target, Tensor):
        return _from_tensor(target, num_examples)
    if isinstance(target, tuple):
        return _Parsed(torch.tensor([_from_tuple(target)], dtype=torch.long), True)
    if isinstance(target, list):
        return _from_list(target, num_examples)
    if _is_int(target):
        return _Parsed(torch.tensor([int(target)], dtype=torch.long), True)  # type: ignore[call-overload]
    raise TargetError(f"target of type {type(target).__name__} is not supported; {_FORMS}.")


def check_target_form(target: object, num_examples: int) -> None:
    """Refuse a malformed ``target`` before any work (the range needs ``K``, see below).

    Raises:
        TargetError: ``None``, a bool, a float, a multi-index tuple, a list or tensor whose
            length is not ``num_examples``, or a mixed list.
    """
    _parse(target, num_examples)


def class_indices(
    target: object, num_examples: int, num_classes: int, device: torch.device | None = None
) -> Tensor:
    """One class index in ``[0, K)`` per example from a Captum ``target`` (module docstring).

    Args:
        target (int, tuple, list, or Tensor): See the table in the module docstring.
        num_examples (int): Batch size ``N``.
        num_classes (int): Number of classes ``K`` of the ``(N, K)`` output.
        device (torch.device, optional): Device of the result. Default: a tensor target's own
                    device, else the CPU.

    Returns:
        Tensor: ``(N,)`` int64 class indices, negative ones already counted from the end.

    Raises:
        TargetError: a form that Captum refuses on an ``(N, K)`` output, or an index out of
            range (the message names ``K``).
    """
    parsed = _parse(target, num_examples)
    indices = parsed.indices.to(device=device)
    lowest = -num_classes if parsed.negative_from_end else 0
    invalid = (indices < lowest) | (indices >= num_classes)
    if bool(invalid.any()):
        bad = sorted({int(t) for t in indices[invalid].tolist()})
        if parsed.negative_from_end:
            valid = f"0..{num_classes - 1}, or -{num_classes}..-1 counted from the end"
        else:
            valid = (
                f"0..{num_classes - 1}; negative indices work only for one class for all "
                "examples (c or (c,)) and in a list of (c,) tuples, as in Captum"
            )
        raise TargetError(
            f"target class(es) {bad} out of range for K={num_classes} classes (valid: {valid})."
        )
    indices = torch.where(indices < 0, indices + num_classes, indices)
    return indices.expand(num_examples)


def class_scores(output: object, num_examples: int) -> Tensor:
    """``output`` as the ``(N, K)`` class scores that a target indexes.

    Raises:
        InvalidArgumentError: ``output`` is not a 2-D tensor with ``num_examples`` rows.
    """
    if isinstance(output, Tensor) and output.dim() == 2 and output.shape[0] == num_examples:
        return output
    got = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
    raise InvalidArgumentError(
        f"forward_func must return ({num_examples}, K) class scores (logits) for the "
        f"{num_examples} examples, so that the target picks one score per example; it returned "
        f"{got}. Wrap the model so that it returns the logits."
    )


def target_scores(output: object, target: object, num_examples: int) -> Tensor:
    """Each example's score of its target class, ``output[i, y_i]``, as Captum selects it.

    Args:
        output (Tensor): The ``(N, K)`` model output.
        target (int, tuple, list, or Tensor): See the table in the module docstring.
        num_examples (int): Batch size ``N``.

    Returns:
        Tensor: ``(N,)`` scores, attached to ``output``'s autograd graph.

    Raises:
        InvalidArgumentError: ``output`` is not ``(N, K)``.
        TargetError: see :func:`class_indices`.
    """
    scores = class_scores(output, num_examples)
    indices = class_indices(target, num_examples, scores.shape[1], scores.device)
    return scores.gather(1, indices[:, None]).squeeze(1)
