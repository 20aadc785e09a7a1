"""Box geometry: contour rectangles to inclusive boxes, the empty-mask box, IoU.

Every function follows one of the conventions of :mod:`evaluation.localization.conventions`:
:func:`rects_to_boxes` turns ``cv2.boundingRect`` rectangles into inclusive ``x0, y0, x1, y1``
boxes, :func:`empty_box` is what a convention predicts when a mask has no contour, and
:func:`box_iou` scores boxes against ground-truth boxes on inclusive pixels.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from evaluation.localization.conventions import check_convention


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
    x, y, w, h = (rects[..., i] for i in range(4))
    if convention == "wsoleval":
        if isinstance(rects, Tensor):
            x1, y1 = (x + w).clamp(max=width - 1), (y + h).clamp(max=height - 1)
        else:
            x1, y1 = np.minimum(x + w, width - 1), np.minimum(y + h, height - 1)
    elif convention == "paper":
        x1, y1 = x + w, y + h
    else:
        x1, y1 = x + w - 1, y + h - 1
    stack = torch.stack if isinstance(rects, Tensor) else np.stack
    return stack([x, y, x1, y1], -1)


def empty_box(convention: str = "wsoleval") -> tuple[int, int, int, int] | None:
    """The box a convention predicts when the mask has no contour (``None``: no box)."""
    check_convention(convention)
    return {"wsoleval": (0, 0, 0, 0), "paper": (0, 0, 1, 1), "strict": None}[convention]


def box_iou(pred: Tensor, gt: Tensor, convention: str = "wsoleval") -> Tensor:
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
        ``(..., P, G)`` float64 IoU.
    """
    check_convention(convention)
    a = pred.to(torch.float64).unsqueeze(-2)
    b = gt.to(torch.float64).unsqueeze(-3)
    inter_w = torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0]) + 1
    inter_h = torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1]) + 1
    if convention != "paper":
        inter_w, inter_h = inter_w.clamp(min=0), inter_h.clamp(min=0)
    inter = inter_w * inter_h
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    area_b = (b[..., 2] - b[..., 0] + 1) * (b[..., 3] - b[..., 1] + 1)
    union = area_a + area_b - inter
    degenerate = union <= 0
    iou = inter / torch.where(degenerate, torch.ones_like(union), union)
    return torch.where(degenerate, torch.zeros_like(iou), iou)
