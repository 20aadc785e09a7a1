r"""Batched map math shared by the attribution classes and the benchmark runner.

Everything here is pure tensor code: no hooks, no model, no Python loop over examples. Given the
activations ``F`` of the explained layer, shaped ``(B, C, h, w)``, the weight ``W`` (``(K, C)``) of
the Linear that follows global average pooling, and one target class ``y`` per example:

- ``"cam"`` (Zhou et al. 2016): :math:`M_y = \sum_c W_{y,c} F_c`.
- ``"infocam"`` (Qin, Kim & Gedeon): :math:`\sum_c \big(W_{y,c} - \frac{1}{|S|-1}
  \sum_{y' \in S, y' \neq y} W_{y',c}\big) F_c`, then a ``window`` x ``window`` region sum.
  ``S`` is ``classes`` (default: all ``K`` classes).
- ``"infocam+"``: :math:`\sum_c (W_{y,c} - W_{y_{min},c}) F_c`, then the same region sum, where
  :math:`y_{min} = \arg\min_{y' \in S, y' \neq y} f_{y'}` is the least likely class other than the
  target under the logits ``f``. The authors take the argmin over every class; the two agree
  unless the target itself is the least likely class, where theirs is identically zero.
  :func:`fc_weight_maps` also takes the contrast class ``c`` of every example explicitly
  (``least_likely``): :math:`\sum_c (W_{y,c} - W_{c',c}) F_c` with ``c'`` given.

Every map is a linear function of ``F``. The bias and the spatial averaging of the head are left
out, so before the region sum a map's spatial mean is the logit (difference) it explains, minus
the bias. Maps are signed and unnormalised. One forward pass yields every class and every method:
:func:`fc_weight_maps` computes several methods for one batch with a single batched matrix
product.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from infocam_captum.exceptions import InvalidArgumentError, TargetError
from infocam_captum.targets import Target, class_indices

Method = Literal["cam", "infocam", "infocam+"]
Padding = Literal["same", "full"]

METHODS: tuple[Method, ...] = ("cam", "infocam", "infocam+")
"""The FC-weight methods :func:`fc_weight_maps` computes."""

PADDINGS: tuple[Padding, ...] = ("same", "full")
"""The padding modes of :func:`region_sum`."""

ClassesType = Sequence[int] | Tensor | None
"""A subset of class indices (1-D, distinct, at least two), or ``None`` for every class."""


def as_class_subset(classes: ClassesType, num_classes: int, device: torch.device) -> Tensor | None:
    """Validate a ``classes`` subset and return it as an int64 tensor (``None`` stays ``None``).

    Raises:
        InvalidArgumentError: not 1-D integers, fewer than two classes, repeated or out of range.
    """
    if classes is None:
        return None
    if isinstance(classes, Tensor):
        if classes.is_floating_point() or classes.dtype == torch.bool or classes.dim() != 1:
            raise InvalidArgumentError(
                f"classes must be a 1-D integer tensor or a sequence of ints, got a {classes.dtype}"
                f" tensor of shape {tuple(classes.shape)}."
            )
        subset = classes.to(device=device, dtype=torch.long)
    else:
        values = list(classes)
        if not all(isinstance(c, numbers.Integral) and not isinstance(c, bool) for c in values):
            raise InvalidArgumentError("classes must be a sequence of int class indices.")
        subset = torch.tensor([int(c) for c in values], dtype=torch.long, device=device)
    if subset.numel() < 2:
        raise InvalidArgumentError(
            f"classes holds {subset.numel()} class(es); infoCAM compares the target with the other "
            "classes of the subset, so it needs at least two."
        )
    if bool(((subset < 0) | (subset >= num_classes)).any()):
        raise InvalidArgumentError(
            f"classes holds indices outside 0..{num_classes - 1} (the classifier has "
            f"{num_classes} classes)."
        )
    if torch.unique(subset).numel() != subset.numel():
        raise InvalidArgumentError("classes holds repeated indices; list each class once.")
    return subset


def _positions_in_subset(target: Tensor, subset: Tensor, num_classes: int) -> Tensor:
    """Position of every target inside ``subset``; TargetError when a target is not in it."""
    lookup = torch.full((num_classes,), -1, dtype=torch.long, device=subset.device)
    lookup[subset] = torch.arange(subset.numel(), device=subset.device)
    positions = lookup[target]
    if bool((positions < 0).any()):
        missing = sorted({int(t) for t in target[positions < 0].tolist()})
        raise TargetError(
            f"target class(es) {missing} are not in `classes`; the target must be one of the "
            "classes it is compared with."
        )
    return positions


def least_likely_class(logits: Tensor, target: Tensor, classes: ClassesType = None) -> Tensor:
    """The class other than the target with the lowest logit, per example.

    Args:
        logits (Tensor): ``(B, K)`` scores; any monotone transform of the logits (probabilities,
                    log-probabilities) gives the same answer.
        target (Tensor): ``(B,)`` int64 target classes.
        classes (Sequence[int] or Tensor, optional): Restrict the search to this subset (which
                    must contain every target). Default: None (all classes).

    Returns:
        Tensor: ``(B,)`` int64 indices into the ``K`` classes. Ties go to the first candidate
        (in ``classes`` order).

    Raises:
        TargetError: a target outside ``classes``.
    """
    subset = as_class_subset(classes, logits.shape[1], logits.device)
    return _least_likely(logits, target.to(logits.device), subset)


def _least_likely(logits: Tensor, target: Tensor, subset: Tensor | None) -> Tensor:
    if subset is None:
        scores, positions = logits, target
    else:
        scores = logits.index_select(1, subset)
        positions = _positions_in_subset(target, subset, logits.shape[1])
    scores = scores.clone().scatter_(1, positions[:, None], float("inf"))
    least = scores.argmin(dim=1)
    return least if subset is None else subset[least]


def class_weights(
    weight: Tensor,
    target: Tensor,
    method: Method,
    logits: Tensor | None = None,
    classes: ClassesType = None,
) -> Tensor:
    r"""Per-example channel weights of one method, ``(B, C)``.

    - ``"cam"``: :math:`W_y`.
    - ``"infocam"``: :math:`W_y - \frac{1}{|S|-1}\sum_{y' \in S \setminus \{y\}} W_{y'}`.
    - ``"infocam+"``: :math:`W_y - W_{y_{min}}` with ``y_min`` from :func:`least_likely_class`.

    Args:
        weight (Tensor): ``(K, C)`` classifier weight.
        target (Tensor): ``(B,)`` int64 classes in ``[0, K)`` (see
                    :func:`infocam_captum.targets.class_indices`).
        method (str): ``"cam"``, ``"infocam"`` or ``"infocam+"``.
        logits (Tensor, optional): ``(B, K)``; required for ``"infocam+"``. Default: None
        classes (Sequence[int] or Tensor, optional): The subset ``S`` that "the other classes"
                    are drawn from; it must contain every target. Default: None (all ``K``).

    Returns:
        Tensor: ``(B, C)`` weights in ``weight``'s dtype.

    Raises:
        InvalidArgumentError: an unknown method, or ``"infocam+"`` without logits.
        TargetError: a target outside ``classes``.
    """
    if method not in METHODS:
        raise InvalidArgumentError(f"unknown method {method!r}; expected one of {METHODS}.")
    subset = as_class_subset(classes, weight.shape[0], weight.device)
    target = target.to(weight.device)
    if subset is not None:
        _positions_in_subset(target, subset, weight.shape[0])
    return _class_weights(weight, target, method, logits, subset)


def _class_weights(
    weight: Tensor,
    target: Tensor,
    method: Method,
    logits: Tensor | None,
    subset: Tensor | None,
    least_likely: Tensor | None = None,
) -> Tensor:
    target_rows = weight.index_select(0, target)
    if method == "cam":
        return target_rows
    if subset is None and weight.shape[0] < 2:
        raise InvalidArgumentError(
            f"{method} compares the target with the other classes, but the classifier has "
            f"{weight.shape[0]} class; it needs at least two."
        )
    if method == "infocam":
        rows = weight if subset is None else weight.index_select(0, subset)
        return target_rows - (rows.sum(0) - target_rows) / (rows.shape[0] - 1)
    if least_likely is not None:
        return target_rows - weight.index_select(0, least_likely)
    if logits is None:
        raise InvalidArgumentError("infocam+ needs the logits to find the least likely class.")
    least = _least_likely(logits, target.to(logits.device), subset)
    return target_rows - weight.index_select(0, least.to(weight.device))


def _check_window(window: object, padding: object) -> None:
    if isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < 1:
        raise InvalidArgumentError(f"window={window!r}: the region size must be an int >= 1.")
    if padding not in PADDINGS:
        raise InvalidArgumentError(f"padding={padding!r}: expected one of {PADDINGS}.")


def region_sum(maps: Tensor, window: int, padding: Padding = "same") -> Tensor:
    """Sum of every ``window`` x ``window`` region of each map (a box filter, stride 1).

    Args:
        maps (Tensor): ``(B, M, h, w)``.
        window (int): Region size ``k >= 1``; ``1`` returns ``maps`` unchanged.
        padding (str): ``"full"``: zero padding ``k - 1`` on every side, output
                    ``(h + k - 1, w + k - 1)``; cell ``o`` sums input cells ``o-k+1 .. o``. This
                    is the authors' configuration (``k = 4`` on 14 x 14 CUB maps, ``k = 3`` on
                    4 x 4 Tiny-ImageNet maps); stretched over the image it shrinks the map
                    towards the centre. ``"same"``: output ``(h, w)`` aligned with the input;
                    cell ``o`` sums ``o - (k-1)//2 .. o + k//2``, so an even window reaches one
                    cell further to the right and bottom (it is the ``"full"`` output cropped
                    at offset ``k // 2``). Default: ``"same"``

    Returns:
        Tensor: the summed maps, same dtype and device.
    """
    _check_window(window, padding)
    if maps.dim() != 4:
        raise InvalidArgumentError(f"maps must be (B, M, h, w), got shape {tuple(maps.shape)}.")
    if window == 1:
        return maps
    before = window - 1 if padding == "full" else (window - 1) // 2
    after = window - 1 if padding == "full" else window // 2
    padded = F.pad(maps, (before, after, before, after))
    return F.avg_pool2d(padded, window, stride=1, divisor_override=1)


def fc_weight_maps(
    features: Tensor,
    logits: Tensor | None,
    weight: Tensor,
    target: Target,
    methods: Sequence[Method] = METHODS,
    window: int = 3,
    padding: Padding = "same",
    classes: ClassesType = None,
    least_likely: Tensor | None = None,
) -> dict[Method, Tensor]:
    """CAM, infoCAM and infoCAM+ maps for one batch, from one set of activations.

    This is what :class:`~infocam_captum.LayerClassActivationMap`,
    :class:`~infocam_captum.LayerInfoCam` and :class:`~infocam_captum.LayerInfoCamPlus` compute
    after their forward pass; a benchmark that already holds the activations and the logits of a
    batch calls it directly and gets every method for the cost of one batched matrix product.

    Args:
        features (Tensor): ``(B, C, h, w)`` activations of the explained layer: exactly what the
                    global average pooling averages (for DenseNet, after the ReLU; see
                    :class:`~infocam_captum.head.ClassifierHead`).
        logits (Tensor or None): ``(B, K)`` model output; only ``"infocam+"`` reads it.
        weight (Tensor): ``(K, C)`` weight of the Linear after the pooling.
        target (int, tuple, list, or Tensor): The classes to explain, in any form Captum's
                    ``LayerGradCam`` accepts on a ``(B, K)`` output (see
                    :mod:`infocam_captum.targets`).
        methods (Sequence[str]): Any of ``"cam"``, ``"infocam"``, ``"infocam+"``.
                    Default: all three
        window (int): Region size of the infoCAM methods (CAM is never region-summed); see
                    :func:`region_sum`. Default: 3
        padding (str): ``"same"`` or ``"full"``; see :func:`region_sum`. Default: ``"same"``
        classes (Sequence[int] or Tensor, optional): Restrict "the other classes" of infoCAM
                    and infoCAM+ to this subset, e.g. the 200 Tiny-ImageNet classes inside an
                    ImageNet-1k head; every target must belong to it. Default: None
        least_likely (Tensor, optional): ``(B,)`` integer classes in ``[0, K)``: infoCAM+'s
                    contrast class per example, :math:`W_y - W_{c}` with ``c = least_likely``,
                    instead of :func:`least_likely_class` (the logits and ``classes`` then play
                    no part in infoCAM+). The infoCAM authors' code takes
                    ``logits.topk(200, 1).indices[:, -1]``, which may be the target itself (a
                    zero map). Default: None

    Returns:
        dict[str, Tensor]: method -> ``(B, 1, h', w')`` signed, unnormalised maps on
        ``features``' device in the promoted dtype of ``features`` and ``weight`` (so float16
        activations with a float32 head give float32 maps). ``h' = h`` for CAM and for
        ``padding="same"``, ``h + window - 1`` for ``padding="full"``.

    Raises:
        InvalidArgumentError: shapes that do not fit, an unknown method, window or padding.
        TargetError: a target out of range or outside ``classes``.
    """
    if not methods:
        raise InvalidArgumentError(f"methods is empty; ask for at least one of {METHODS}.")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InvalidArgumentError(f"unknown method(s) {unknown}; expected a subset of {METHODS}.")
    batch = _prepare(features, logits, weight, target, methods, window, padding, classes,
                     least_likely)
    # Autocast would recast the channel sum to float16/bfloat16 (overflow above 65504): the maps
    # are computed in the promoted dtype of the inputs whatever the caller's autocast state.
    with torch.autocast(device_type=features.device.type, enabled=False):
        stacked = torch.stack(
            [
                _class_weights(
                    batch.weight, batch.target, m, batch.logits, batch.subset, batch.least_likely
                )
                for m in methods
            ],
            dim=1,
        )
        maps = torch.einsum("bmc,bchw->bmhw", stacked, batch.features)
        summed = [i for i, m in enumerate(methods) if m != "cam"]
        if summed:
            maps_summed = region_sum(maps[:, summed], window, padding)
    out: dict[Method, Tensor] = {}
    for index, method in enumerate(methods):
        if method == "cam":
            out[method] = maps[:, index : index + 1]
        else:
            position = summed.index(index)
            out[method] = maps_summed[:, position : position + 1]
    return out


def fc_weight_channel_maps(
    features: Tensor,
    logits: Tensor | None,
    weight: Tensor,
    target: Target,
    method: Method,
    window: int = 3,
    padding: Padding = "same",
    classes: ClassesType = None,
) -> Tensor:
    r"""Per-channel contributions of one method: which channels carry the evidence.

    Channel ``c`` of the result is :math:`w_c F_c`, with :math:`w` the method's weights of
    :func:`class_weights` (for ``"infocam"`` and ``"infocam+"`` then summed over every
    ``window`` x ``window`` region, channel by channel). The sum over channels,
    ``.sum(1, keepdim=True)``, is the map of :func:`fc_weight_maps` (up to the rounding of the
    summation order; exactly on integer-valued data).

    Args:
        features (Tensor): ``(B, C, h, w)`` activations, as in :func:`fc_weight_maps`.
        logits (Tensor or None): ``(B, K)`` model output; only ``"infocam+"`` reads it.
        weight (Tensor): ``(K, C)`` weight of the Linear after the pooling.
        target (int, tuple, list, or Tensor): The classes to explain (Captum's forms).
        method (str): ``"cam"``, ``"infocam"`` or ``"infocam+"``.
        window (int): Region size of the infoCAM methods; see :func:`region_sum`. Default: 3
        padding (str): ``"same"`` or ``"full"``; see :func:`region_sum`. Default: ``"same"``
        classes (Sequence[int] or Tensor, optional): The subset "the other classes" come from.
                    Default: None

    Returns:
        Tensor: ``(B, C, h', w')`` in the promoted dtype of ``features`` and ``weight``.

    Raises:
        InvalidArgumentError: shapes that do not fit, an unknown method, window or padding.
        TargetError: a target out of range or outside ``classes``.
    """
    if method not in METHODS:
        raise InvalidArgumentError(f"unknown method {method!r}; expected one of {METHODS}.")
    batch = _prepare(features, logits, weight, target, (method,), window, padding, classes)
    with torch.autocast(device_type=features.device.type, enabled=False):
        weights = _class_weights(batch.weight, batch.target, method, batch.logits, batch.subset)
        contributions = weights[:, :, None, None] * batch.features
        if method == "cam":
            return contributions
        return region_sum(contributions, window, padding)


@dataclass(frozen=True)
class _Batch:
    """Validated inputs of the map functions, on ``features``' device in the promoted dtype."""

    features: Tensor
    logits: Tensor | None
    weight: Tensor
    target: Tensor
    subset: Tensor | None
    least_likely: Tensor | None = None


def _prepare(
    features: Tensor,
    logits: Tensor | None,
    weight: Tensor,
    target: Target,
    methods: Sequence[Method],
    window: int,
    padding: Padding,
    classes: ClassesType,
    least_likely: Tensor | None = None,
) -> _Batch:
    _check_window(window, padding)
    if features.dim() != 4:
        raise InvalidArgumentError(
            f"features must be (B, C, h, w), got shape {tuple(features.shape)}."
        )
    if weight.dim() != 2 or weight.shape[1] != features.shape[1]:
        raise InvalidArgumentError(
            f"weight of shape {tuple(weight.shape)} does not fit features with "
            f"{features.shape[1]} channels; expected (K, {features.shape[1]})."
        )
    batch, num_classes = features.shape[0], weight.shape[0]
    contrast = None if least_likely is None else _contrast_classes(least_likely, batch,
                                                                   num_classes, features.device)
    if "infocam+" in methods and contrast is None and (
        logits is None or tuple(logits.shape) != (batch, num_classes)
    ):
        shape = None if logits is None else tuple(logits.shape)
        raise InvalidArgumentError(
            f"infocam+ needs logits of shape ({batch}, {num_classes}), got {shape}."
        )
    dtype = torch.promote_types(features.dtype, weight.dtype)
    indices = class_indices(target, batch, num_classes, features.device)
    subset = as_class_subset(classes, num_classes, features.device)
    if subset is not None:
        _positions_in_subset(indices, subset, num_classes)
    return _Batch(
        features=features.to(dtype),
        logits=None if logits is None else logits.to(features.device),
        weight=weight.to(device=features.device, dtype=dtype),
        target=indices,
        subset=subset,
        least_likely=contrast,
    )


def _contrast_classes(
    least_likely: Tensor, batch: int, num_classes: int, device: torch.device
) -> Tensor:
    """``least_likely`` as ``(B,)`` int64 on ``device``, checked against the batch and ``K``."""
    if (
        not isinstance(least_likely, Tensor)
        or least_likely.is_floating_point()
        or least_likely.dtype == torch.bool
        or tuple(least_likely.shape) != (batch,)
    ):
        found = (f"a {least_likely.dtype} tensor of shape {tuple(least_likely.shape)}"
                 if isinstance(least_likely, Tensor) else type(least_likely).__name__)
        raise InvalidArgumentError(
            f"least_likely must be a ({batch},) integer tensor, one class per example; got "
            f"{found}."
        )
    if bool(((least_likely < 0) | (least_likely >= num_classes)).any()):
        raise InvalidArgumentError(
            f"least_likely holds classes outside 0..{num_classes - 1} (the classifier has "
            f"{num_classes} classes)."
        )
    return least_likely.to(device=device, dtype=torch.long)
