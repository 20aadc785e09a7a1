"""Box geometry: contour rectangles to inclusive boxes, the empty-mask box, IoU.

Every function follows one of the conventions of :mod:`evaluation.localization.conventions`:
:func:`rects_to_boxes` turns ``cv2.boundingRect`` rectangles into inclusive ``x0, y0, x1, y1``
boxes, :func:`empty_box` is what a convention predicts when a mask has no contour, and
:func:`box_iou` scores boxes against ground-truth boxes on inclusive pixels. The arithmetic is
numpy's; torch tensors are accepted and returned as tensors (on the input's device) without this
module importing torch.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluation.localization.conventions import check_convention

if TYPE_CHECKING:
    from torch import Tensor


def _is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor (without importing torch: none exists before it)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def as_numpy(value: Any) -> np.ndarray:
    """A numpy array of ``value``: an array-like, or a torch tensor on any device."""
    return value.detach().cpu().numpy() if _is_tensor(value) else np.asarray(value)


def rects_to_boxes(
    rects: np.ndarray | Tensor, frame_size: tuple[int, int], convention: str = "wsoleval"
) -> np.ndarray | Tensor:
    """Turn ``cv2.boundingRect`` rectangles ``x, y, w, h`` into inclusive boxes.

    ``"wsoleval"``: ``(x, y, min(x+w, W-1), min(y+h, H-1))``; ``"paper"``: ``(x, y, x+w, y+h)``;
    ``"strict"``: ``(x, y, x+w-1, y+h-1)``.

    Args:
        rects: ``(..., 4)`` integer rectangles (numpy array or tensor).
        frame_size: ``(H, W)`` of the frame.
        convention: One of :data:`~evaluation.localization.conventions.CONVENTIONS`.

    Returns:
        ``(..., 4)`` boxes ``x0, y0, x1, y1`` of the same kind and dtype.
    """
    check_convention(convention)
    height, width = frame_size
    values = as_numpy(rects)
    x, y, w, h = (values[..., i] for i in range(4))
    if convention == "wsoleval":
        x1, y1 = np.minimum(x + w, width - 1), np.minimum(y + h, height - 1)
    elif convention == "paper":
        x1, y1 = x + w, y + h
    else:
        x1, y1 = x + w - 1, y + h - 1
    boxes = np.stack([x, y, x1, y1], -1).astype(values.dtype, copy=False)
    return _like(boxes, rects)


def empty_box(convention: str = "wsoleval") -> tuple[int, int, int, int] | None:
    """The box a convention predicts when the mask has no contour (``None``: no box)."""
    check_convention(convention)
    return {"wsoleval": (0, 0, 0, 0), "paper": (0, 0, 1, 1), "strict": None}[convention]


def box_iou(
    pred: np.ndarray | Tensor, gt: np.ndarray | Tensor, convention: str = "wsoleval"
) -> np.ndarray | Tensor:
    """IoU of every predicted box with every ground-truth box, on inclusive pixel boxes.

    ``inter = max(0, min(x1) - max(x0) + 1) * max(0, min(y1) - max(y0) + 1)`` (``"paper"``: the
    two factors unclamped), ``union = area_a + area_b - inter`` with ``area = (x1 - x0 + 1) *
    (y1 - y0 + 1)``, IoU ``inter / union``, 0 where ``union <= 0``; float64, the reference's
    operation order, so thresholding ``IoU >= delta / 100`` matches it exactly. A NaN box (padding)
    gives NaN.

    Args:
        pred: ``(..., P, 4)`` boxes ``x0, y0, x1, y1``.
        gt: ``(..., G, 4)`` boxes, broadcastable with ``pred`` over the leading dimensions.
        convention: One of :data:`~evaluation.localization.conventions.CONVENTIONS`.

    Returns:
        ``(..., P, G)`` float64 IoU, a tensor when ``pred`` is one.
    """
    check_convention(convention)
    a = as_numpy(pred).astype(np.float64)[..., :, None, :]
    b = as_numpy(gt).astype(np.float64)[..., None, :, :]
    inter_w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + 1
    inter_h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + 1
    if convention != "paper":
        inter_w, inter_h = np.maximum(inter_w, 0.0), np.maximum(inter_h, 0.0)
    inter = inter_w * inter_h
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    union = area_a + area_b - inter
    degenerate = union <= 0
    iou = inter / np.where(degenerate, 1.0, union)
    return _like(np.where(degenerate, 0.0, iou), pred)


def _like(result: np.ndarray, model: Any) -> np.ndarray | Tensor:
    """``result`` as a tensor on ``model``'s device when ``model`` is a tensor."""
    if not _is_tensor(model):
        return result
    torch = sys.modules["torch"]
    return torch.from_numpy(np.ascontiguousarray(result)).to(model.device)
