"""PC-softmax, its loss, and the classifier as a mutual-information estimator.

Qin, Kim & Gedeon, "Rethinking Softmax with Cross-Entropy: Neural Network Classifier as Mutual
Information Estimator", arXiv 1911.10688. With class priors ``p(y)`` (the label proportions of the
training set) and logits ``f(x)``, the probability-corrected softmax is

    pc_softmax(f)_y = exp(f_y) / sum_y' p(y') exp(f_y').

It estimates ``p(y|x) / p(y) = exp(PMI(x, y))``: it is not a distribution over ``y``. Its mean
log at the true labels is a variational (Barber-Agakov) lower bound on the mutual information,

    I(X; Y) >= E_{p(x,y)}[f_y(x) - log sum_y' p(y') exp f_y'(x)],

tight when the classifier is Bayes-optimal, so training with the PC-softmax cross-entropy
maximises the bound and the trained classifier estimates ``I(X; Y)``. With balanced classes
(``p(y) = 1/K``) the bound is ``log K + E[log softmax_y(f)]``, i.e. ``log K`` minus the ordinary
cross-entropy.

Training with :class:`PCSoftmaxCrossEntropyLoss` is ordinary cross-entropy on ``f + log p`` (plus
the constant ``log p_y``); predict with ``argmax_y f_y(x)``, the raw logits, which is also the
argmax of PC-softmax. Priors are constants everywhere in this module: no gradient flows into them.

Priors must be a 1-D tensor (or sequence) of ``K`` finite, strictly positive numbers whose sum is 1
within :data:`PRIORS_TOLERANCE`; :func:`label_priors` builds them from labels or counts. The
functions check them on every call (a copy of ``K`` numbers to the host); the loss checks them once,
when it is built, so prefer it in training loops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infocam_captum.exceptions import InvalidArgumentError, PriorsError, TargetError

__all__ = [
    "PRIORS_TOLERANCE",
    "PCSoftmaxCrossEntropyLoss",
    "estimate_mutual_information",
    "label_priors",
    "pc_log_softmax",
    "pc_softmax",
    "pointwise_mutual_information",
]

PRIORS_TOLERANCE = 1e-4
"""Largest accepted ``|sum(priors) - 1|``."""

_UNITS = {"nat": 1.0, "bit": math.log(2.0)}
_REDUCTIONS = ("mean", "sum", "none")

PriorsLike = Tensor | Sequence[float]


def _checked_priors(priors: PriorsLike, num_classes: int | None) -> Tensor:
    """Validate ``priors`` and return them as a detached floating-point tensor.

    Raises:
        PriorsError: Not 1-D, wrong length, not finite, not positive, or not summing to 1.
    """
    try:
        tensor = torch.as_tensor(priors).detach()
    except (TypeError, ValueError, RuntimeError) as error:
        raise PriorsError(f"priors must be a 1-D tensor or sequence of numbers: {error}") from error
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    if tensor.dim() != 1 or tensor.numel() == 0:
        raise PriorsError(
            f"priors must be a non-empty 1-D vector of class probabilities, got shape "
            f"{tuple(tensor.shape)}"
        )
    if num_classes is not None and tensor.numel() != num_classes:
        raise PriorsError(
            f"priors have {tensor.numel()} entries but the logits have {num_classes} classes; "
            "pass one prior per class"
        )
    values = tensor.to("cpu", torch.float64)
    bad = (~(torch.isfinite(values) & (values > 0))).nonzero().flatten().tolist()
    if bad:
        shown = ", ".join(f"p[{i}]={values[i].item():g}" for i in bad[:5])
        raise PriorsError(
            f"priors must be finite and strictly positive (log p(y) enters the formula), got "
            f"{shown}{', ...' if len(bad) > 5 else ''}; build them with "
            "label_priors(..., smoothing=1.0) if a class has no samples"
        )
    total = float(values.sum())
    if abs(total - 1.0) > PRIORS_TOLERANCE:
        raise PriorsError(
            f"priors must sum to 1 within {PRIORS_TOLERANCE:g}, they sum to {total:.6g}; "
            "normalise them (priors / priors.sum()) or use label_priors()"
        )
    return tensor


def _check_logits(logits: Tensor, name: str = "logits") -> None:
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        kind = logits.dtype if isinstance(logits, Tensor) else type(logits).__name__
        raise InvalidArgumentError(f"{name} must be a floating-point tensor, got {kind}")
    if logits.dim() == 0:
        raise InvalidArgumentError(f"{name} must have a class dimension, got a 0-d tensor")


def _class_dim(logits: Tensor, dim: int) -> int:
    if not -logits.dim() <= dim < logits.dim():
        raise InvalidArgumentError(
            f"dim={dim} is out of range for logits of shape {tuple(logits.shape)}"
        )
    return dim % logits.dim()


def _broadcast_log_priors(priors: Tensor, logits: Tensor, dim: int) -> Tensor:
    """``log p`` on the logits' device and dtype, shaped to broadcast along ``dim``."""
    log_priors = priors.to(device=logits.device, dtype=logits.dtype).log()
    return log_priors.view(-1, *([1] * (logits.dim() - dim - 1)))


def _pc_log_softmax(logits: Tensor, priors: Tensor, dim: int) -> Tensor:
    log_priors = _broadcast_log_priors(priors, logits, dim)
    return logits - torch.logsumexp(logits + log_priors, dim=dim, keepdim=True)


def _checked_labels(
    labels: Tensor, num_classes: int, shape: torch.Size | None, ignore_index: int | None = None
) -> Tensor:
    """Validate integer class labels (dtype, shape, range) and return them as ``long``.

    Labels equal to ``ignore_index`` (when given) are exempt from the range check.

    Raises:
        TargetError: Not an integer tensor, wrong shape, or a label outside ``[0, num_classes)``.
    """
    if not isinstance(labels, Tensor):
        raise TargetError(f"labels must be a tensor of class indices, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TargetError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if shape is not None and labels.shape != shape:
        raise TargetError(
            f"labels have shape {tuple(labels.shape)}, expected {tuple(shape)} (the logits' "
            "shape without the class dimension)"
        )
    checked = labels if ignore_index is None else labels[labels != ignore_index]
    if checked.numel() > 0:
        low, high = (int(v) for v in torch.stack(torch.aminmax(checked)).tolist())
        if low < 0 or high >= num_classes:
            bad = low if low < 0 else high
            raise TargetError(f"label {bad} is out of range for {num_classes} classes")
    return labels.long()


def pc_softmax(logits: Tensor, priors: PriorsLike, dim: int = -1) -> Tensor:
    """Probability-corrected softmax (Qin, Kim & Gedeon, arXiv 1911.10688).

    ``pc_softmax(f)_y = exp(f_y) / sum_y' p(y') exp(f_y')`` along ``dim``, computed as
    ``exp(pc_log_softmax(f))``. It estimates ``p(y|x) / p(y)``; values may exceed 1 and do not sum
    to 1 (``sum_y p(y) pc_softmax(f)_y = 1`` instead).

    Args:
        logits: Floating-point tensor of any shape with the ``K`` classes along ``dim``.
        priors: ``K`` class priors (positive, summing to 1), broadcast over the other dimensions;
            treated as constants.
        dim: The class dimension.

    Returns:
        Tensor of the logits' shape, dtype and device.

    Raises:
        InvalidArgumentError: ``logits`` is not a floating-point tensor or ``dim`` is out of range.
        PriorsError: Invalid priors, or not ``K`` of them.
    """
    return pc_log_softmax(logits, priors, dim=dim).exp()


def pc_log_softmax(logits: Tensor, priors: PriorsLike, dim: int = -1) -> Tensor:
    """Log of the probability-corrected softmax (Qin, Kim & Gedeon, arXiv 1911.10688).

    ``pc_log_softmax(f)_y = f_y - logsumexp_y'(f_y' + log p(y'))`` along ``dim``: numerically
    stable for any logit scale. With uniform priors it equals ``log_softmax(f) + log K``. As an
    estimate of ``PMI(x, y) = log p(y|x) / p(y)`` it is exact when ``f_y(x) = log p(x|y)`` (up to a
    term in ``x``).

    Args:
        logits: Floating-point tensor of any shape with the ``K`` classes along ``dim``.
        priors: ``K`` class priors (positive, summing to 1 within :data:`PRIORS_TOLERANCE`),
            broadcast over the other dimensions; treated as constants (detached).
        dim: The class dimension.

    Returns:
        Tensor of the logits' shape, dtype and device.

    Raises:
        InvalidArgumentError: ``logits`` is not a floating-point tensor or ``dim`` is out of range.
        PriorsError: Invalid priors, or not ``K`` of them.
    """
    _check_logits(logits)
    dim = _class_dim(logits, dim)
    checked = _checked_priors(priors, logits.shape[dim])
    return _pc_log_softmax(logits, checked, dim)


def pointwise_mutual_information(logits: Tensor, priors: PriorsLike | None = None) -> Tensor:
    """Estimated pointwise mutual information ``PMI(x, y) = log p(y|x) / p(y)`` for every class.

    With priors: ``f_y - log sum_y' p(y') exp f_y'`` (:func:`pc_log_softmax`). Without priors the
    classes are taken as balanced: ``log K + log_softmax(f)_y``, the paper's softmax estimator
    (Qin, Kim & Gedeon, arXiv 1911.10688).

    Args:
        logits: Floating-point tensor ``(..., K)``, classes on the last dimension.
        priors: ``K`` class priors of the training set, or ``None`` for balanced classes.

    Returns:
        Tensor of the logits' shape: the estimate for every sample and class.

    Raises:
        InvalidArgumentError: ``logits`` is not a floating-point tensor with a class dimension.
        PriorsError: Invalid priors, or not ``K`` of them.
    """
    _check_logits(logits)
    if priors is None:
        return logits.log_softmax(dim=-1) + math.log(logits.shape[-1])
    return pc_log_softmax(logits, priors, dim=-1)


def estimate_mutual_information(
    logits: Tensor,
    labels: Tensor,
    priors: PriorsLike | None = None,
    unit: Literal["nat", "bit"] = "nat",
) -> Tensor:
    """Estimate ``I(X; Y)`` from a classifier's logits on samples ``(x_i, y_i)`` of ``p(x, y)``.

    With priors (PC-softmax estimator, Qin, Kim & Gedeon, arXiv 1911.10688):

        I_hat = mean_i [f_{y_i}(x_i) - log sum_y' p(y') exp f_y'(x_i)].

    Without priors (the paper's softmax estimator, which assumes balanced classes):

        I_hat = log K + mean_i log softmax(f(x_i))_{y_i}.

    Both are the mean of :func:`pointwise_mutual_information` at the true labels and agree for
    uniform priors. The estimate is a lower bound on ``I(X; Y)`` in expectation, tight for a
    Bayes-optimal classifier; pass the training set's priors (:func:`label_priors`) whenever the
    classes are imbalanced, since the balanced formula then over-states the information of a
    classifier that has learnt the priors (by ``log K - H(Y)`` for a perfect one). Evaluate on held
    out samples drawn with the same class proportions.

    Args:
        logits: Floating-point tensor ``(..., K)``, classes on the last dimension.
        labels: Integer class indices of shape ``logits.shape[:-1]``.
        priors: ``K`` class priors of the training set, or ``None`` for balanced classes.
        unit: ``"nat"`` (natural log) or ``"bit"`` (log base 2).

    Returns:
        0-d tensor in the logits' dtype (differentiable with respect to the logits).

    Raises:
        InvalidArgumentError: Bad logits, no samples, or an unknown unit.
        TargetError: Labels not integer, of the wrong shape, or out of range.
        PriorsError: Invalid priors, or not ``K`` of them.
    """
    if unit not in _UNITS:
        raise InvalidArgumentError(f"unit must be one of {sorted(_UNITS)}, got {unit!r}")
    _check_logits(logits)
    if logits.shape[:-1].numel() == 0:
        raise InvalidArgumentError("no samples: the logits have no rows to average over")
    labels = _checked_labels(labels, logits.shape[-1], logits.shape[:-1])
    pmi = pointwise_mutual_information(logits, priors)
    return pmi.gather(-1, labels.unsqueeze(-1)).mean() / _UNITS[unit]


def label_priors(
    labels_or_counts: Tensor | Sequence[int] | Sequence[float],
    num_classes: int,
    *,
    counts: bool = False,
    smoothing: float = 0.0,
) -> Tensor:
    """Class priors ``p(y)``: the label proportions of a training set.

    By default the input holds class labels (integers, any shape) and
    ``p(y) = (#{i: labels_i = y} + smoothing) / (N + K * smoothing)``. With ``counts=True`` it holds
    per-class counts (a 1-D vector of ``num_classes`` non-negative numbers, integer or float, e.g.
    ``torch.bincount`` output or weighted counts) and ``p(y) = (c_y + smoothing) /
    sum_y' (c_y' + smoothing)``. The keyword, not the dtype, tells the two apart.

    Args:
        labels_or_counts: Labels, or per-class counts with ``counts=True``.
        num_classes: ``K``.
        counts: Read the input as per-class counts instead of labels.
        smoothing: Pseudo-count added to every class (0 = plain proportions); use it when a class
            may have no samples, since PC-softmax needs ``log p(y)`` to be finite.

    Returns:
        1-D tensor of ``K`` positive priors summing to 1, in the default float dtype, on the
        input's device.

    Raises:
        InvalidArgumentError: ``num_classes`` is not a positive integer or ``smoothing`` is negative
            or not finite.
        TargetError: Labels not integer or out of range.
        PriorsError: Counts not a 1-D vector of ``K`` finite non-negative numbers, no samples at
            all, or a class with zero count (and no smoothing).
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise InvalidArgumentError(f"num_classes must be a positive integer, got {num_classes!r}")
    if not math.isfinite(smoothing) or smoothing < 0:
        raise InvalidArgumentError(f"smoothing must be a finite number >= 0, got {smoothing!r}")
    values = torch.as_tensor(labels_or_counts)
    if counts:
        if values.dim() != 1 or values.numel() != num_classes:
            raise PriorsError(
                f"counts must be a 1-D vector of {num_classes} per-class counts, got shape "
                f"{tuple(values.shape)}"
            )
        class_counts = values.to(torch.float64)
        if not bool(torch.isfinite(class_counts).all()) or bool((class_counts < 0).any()):
            raise PriorsError(
                f"counts must be finite and non-negative, got {class_counts.tolist()}"
            )
    else:
        labels = _checked_labels(values, num_classes, None)
        if labels.numel() == 0:
            raise PriorsError("no labels: cannot estimate class priors from an empty set")
        class_counts = torch.bincount(labels.flatten(), minlength=num_classes).to(torch.float64)
    class_counts = class_counts + smoothing
    empty = (class_counts <= 0).nonzero().flatten().tolist()
    if len(empty) == num_classes:
        raise PriorsError("all counts are zero: cannot estimate class priors")
    if empty:
        raise PriorsError(
            f"class(es) {empty[:10]}{'...' if len(empty) > 10 else ''} have no samples, so "
            "log p(y) = -inf; pass smoothing=1.0 to add a pseudo-count, or drop those classes"
        )
    return (class_counts / class_counts.sum()).to(torch.get_default_dtype())


class PCSoftmaxCrossEntropyLoss(nn.Module):
    """Cross-entropy of the probability-corrected softmax (Qin, Kim & Gedeon, arXiv 1911.10688).

    Per sample, ``loss = -log pc_softmax(f)_y = -f_y + log sum_y' p(y') exp f_y'``, which equals
    ``cross_entropy(f + log p, y) + log p(y)``: the ordinary cross-entropy of prior-adjusted logits
    plus a constant. Minimising its mean maximises the PC-softmax lower bound on ``I(X; Y)``
    (:func:`estimate_mutual_information` with the same priors), also for imbalanced classes.
    Predict with ``logits.argmax(dim=1)`` (the raw logits), not with the adjusted ones.

    Call convention of :class:`torch.nn.CrossEntropyLoss` with class-index targets: ``input`` of
    shape ``(N, K)``, ``(N, K, d1, ...)`` or ``(K,)``, ``target`` of shape ``(N,)``,
    ``(N, d1, ...)`` or ``()``, integer class indices in ``[0, K)`` or ``ignore_index``.

    Attributes:
        priors: The ``K`` class priors, a registered buffer: it moves with ``.to(device)``, is
            saved in the ``state_dict`` and gets no gradient.
        reduction: ``"mean"`` (over non-ignored targets), ``"sum"`` or ``"none"``.
        ignore_index: Target value that contributes neither to the loss nor to the mean.
    """

    priors: Tensor

    def __init__(
        self,
        priors: PriorsLike,
        reduction: Literal["mean", "sum", "none"] = "mean",
        ignore_index: int = -100,
    ) -> None:
        """Build the loss.

        Args:
            priors: ``K`` class priors of the training set (positive, summing to 1 within
                :data:`PRIORS_TOLERANCE`), e.g. from :func:`label_priors`. Copied and detached.
            reduction: ``"mean"``, ``"sum"`` or ``"none"``.
            ignore_index: Target value to ignore.

        Raises:
            PriorsError: Invalid priors.
            InvalidArgumentError: Unknown reduction.
        """
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise InvalidArgumentError(
                f"reduction must be one of {list(_REDUCTIONS)}, got {reduction!r}"
            )
        self.register_buffer("priors", _checked_priors(priors, None).clone())
        self.reduction = reduction
        self.ignore_index = ignore_index

    @property
    def num_classes(self) -> int:
        """``K``, the number of priors."""
        return self.priors.numel()

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Compute ``-f_y + log sum_y' p(y') exp f_y'`` per target, then reduce.

        Args:
            input: Logits, classes on dimension 1 (dimension 0 for an unbatched ``(K,)`` input).
            target: Integer class indices, ``input``'s shape without the class dimension.

        Returns:
            The reduced loss (0-d), or per-target losses with ``reduction="none"`` (0 where
            ignored).

        Raises:
            InvalidArgumentError: ``input`` is not a floating-point tensor.
            PriorsError: ``input`` does not have ``K`` classes.
            TargetError: Targets not integer, of the wrong shape, or out of range.
        """
        _check_logits(input, "input")
        dim = 1 if input.dim() >= 2 else 0
        if input.shape[dim] != self.num_classes:
            raise PriorsError(
                f"the loss has {self.num_classes} priors but the input has {input.shape[dim]} "
                f"classes (shape {tuple(input.shape)}, classes on dimension {dim})"
            )
        expected = input.shape[:dim] + input.shape[dim + 1 :]
        target = _checked_labels(target, self.num_classes, expected, self.ignore_index)
        log_probs = _pc_log_softmax(input, self.priors, dim)
        return F.nll_loss(
            log_probs, target, reduction=self.reduction, ignore_index=self.ignore_index
        )

    def extra_repr(self) -> str:
        """Summary shown in ``repr``."""
        return (
            f"num_classes={self.num_classes}, reduction={self.reduction!r}, "
            f"ignore_index={self.ignore_index}"
        )
