"""Score maps to boxes at many thresholds, and IoU on inclusive pixel boxes.

Three named conventions, chosen by a string everywhere in :mod:`evaluation`:

``"wsoleval"`` (default): bit for bit the reference evaluation of Choe et al. (CVPR 2020,
``clovaai/wsolevaluation``, ``compute_bboxes_from_scoremaps`` and ``calculate_multiple_iou``).

- quantisation ``S = uint8(s * 255)`` (truncation, in the map's float type) of the min-max
  normalised map ``s``;
- at threshold ``tau`` a pixel is foreground iff ``S > int(tau * max(S))`` (strict; ``max(S)`` is
  255 after min-max, 0 for a zeroed map, whose every mask is then empty);
- contours from ``cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)``, holes and nested
  components included; V1 keeps the first contour of largest ``cv2.contourArea`` in OpenCV's
  order (what ``max(contours, key=cv2.contourArea)`` returns), V2 keeps every contour;
- box ``(x, y, min(x + w, W - 1), min(y + h, H - 1))`` from ``cv2.boundingRect`` = ``(x, y, w,
  h)``: one pixel too large on the right and bottom except at the border, as in every published
  MaxBoxAcc; no contour gives ``[0, 0, 0, 0]`` (a 1x1 box at the origin);
- IoU on inclusive boxes, areas ``(x1 - x0 + 1) * (y1 - y0 + 1)``, intersection clamped at 0, a
  union <= 0 gives 0.

``"paper"``: the infoCAM authors' evaluation code (inherited from ADL, ``junsukchoe/ADL``).

- quantisation through ``intensity_to_rgb(cam, "cubehelix", normalize=True)`` then
  ``cv2.cvtColor(RGB2GRAY)``: min-max in float64, colour-map index ``min(int(s * 256), 255)``,
  the gray level of that cubehelix colour (within 1 of ``255 * s``, monotone);
- foreground ``gray > int(tau * max(gray))``, the largest contour as above;
- box ``[x, y, x + w, y + h]`` unclipped (it may reach ``W`` and ``H``), ``[0, 0, 1, 1]`` when
  there is no contour (a 2x2 box);
- IoU with the +1 inclusive areas but the intersection **not** clamped: two disjoint boxes whose
  gaps are negative on both axes get a positive "intersection", so two 1x1 boxes one pixel apart
  diagonally score IoU 1. A union <= 0 gives 0 (the original divides by it).

``"strict"``: the same masks and contours as ``"wsoleval"``, without the off-by-ones.

- box ``(x, y, x + w - 1, y + h - 1)``: exactly the pixels of the contour's bounding rectangle;
- no contour means no box (IoU 0, a miss);
- IoU as in ``"wsoleval"``.

Ground-truth boxes are inclusive ``x0, y0, x1, y1`` pixel coordinates in the evaluation frame.

Exactness and speed. :func:`find_contour_boxes` runs ``cv2.findContours`` once per *distinct*
foreground level ``int(tau * max(S))`` of a map (at most 256 whatever the grid) on the crop of the
frame that holds the foreground (``offset`` restores frame coordinates), and serves V1 and V2 from
that one search. Cropping to the foreground's bounding box changes neither the contours nor their
order: everything outside the crop is background, and ``findContours`` pads with zeros. Contour
areas are the shoelace formula in int64, equal to ``cv2.contourArea`` (which is exact on integer
points); bounding rectangles are the extremes of the points, as ``cv2.boundingRect``. It gives the
boxes themselves (:func:`boxes_at_thresholds`); the streaming accumulator needs only each level's
best IoU and takes it from :mod:`evaluation.localization.component_trees` (every level of a map in
two union-find sweeps), calling :func:`find_contour_boxes` for the rare levels those leave
unresolved. :func:`quantize_raw_maps` fuses normalisation and quantisation for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from evaluation.errors import ConfigurationError, ScoreMapError
from evaluation.localization.quantization import quantize_maps

CONVENTIONS = ("wsoleval", "paper", "strict")


def check_convention(convention: str) -> str:
    """Return ``convention`` if it is one of :data:`CONVENTIONS`.

    Raises:
        ConfigurationError: The name is unknown.
    """
    if convention not in CONVENTIONS:
        raise ConfigurationError(
            f"unknown box convention {convention!r}: use one of {', '.join(CONVENTIONS)}"
        )
    return convention


@dataclass(frozen=True)
class NormalizedMaps:
    """Score maps resized to the evaluation frame and min-max normalised to [0, 1].

    Attributes:
        maps: ``(B, H, W)`` floating tensor in [0, 1]; zero where a map was zeroed.
        nonfinite: ``(B,)`` bool, the map held NaN or +-Inf (before or after resizing).
        constant: ``(B,)`` bool, the (finite) map was constant after resizing.
    """

    maps: Tensor
    nonfinite: Tensor
    constant: Tensor


def resize_score_maps(maps: Tensor, frame_size: tuple[int, int]) -> Tensor:
    """Resize ``(B, h, w)`` maps to ``frame_size = (H, W)`` with bicubic interpolation.

    ``F.interpolate(mode="bicubic", align_corners=False)`` is the same kernel (a = -0.75, pixel
    centres at half-integers) as the reference's ``cv2.resize(INTER_CUBIC)``: upsampled values
    agree to float rounding (about 1e-6 relative), not bit for bit, so a map already at the frame
    size is the only bit-exact input. Maps of the frame size are returned unchanged.
    """
    if tuple(maps.shape[-2:]) == tuple(frame_size):
        return maps
    return F.interpolate(
        maps.unsqueeze(1), size=tuple(frame_size), mode="bicubic", align_corners=False
    ).squeeze(1)


def _map_batch(maps: Tensor) -> Tensor:
    """``maps`` as ``(B, h, w)`` real scores.

    Raises:
        ScoreMapError: The shape is not ``(B, 1, h, w)`` or ``(B, h, w)``, or the dtype is not real.
    """
    if maps.dim() == 4 and maps.shape[1] == 1:
        maps = maps[:, 0]
    if maps.dim() != 3:
        raise ScoreMapError(
            f"score maps must have shape (B, 1, h, w) or (B, h, w), got {tuple(maps.shape)}"
        )
    if maps.is_complex() or maps.dtype == torch.bool:
        raise ScoreMapError(f"score maps must be real numbers, got dtype {maps.dtype}")
    return maps


def normalize_score_maps(
    maps: Tensor, frame_size: tuple[int, int], convention: str = "wsoleval"
) -> NormalizedMaps:
    """Resize raw score maps to the frame, then min-max normalise each one.

    ``s = (m - min m) / max(m - min m)``, computed like the reference's ``normalize_scoremap``
    (``cam -= cam.min(); cam /= cam.max()``) in float64, as the reference does (its ``t2n`` casts
    every CAM to float64 before resizing; the ``"paper"`` path's ``intensity_to_rgb`` works in
    float64 too), so the ``uint8(s * 255)`` levels match it. A map with a NaN or an infinity,
    before or after resizing, and a constant map become all zeros and are flagged.

    Args:
        maps: ``(B, 1, h, w)`` or ``(B, h, w)`` raw signed scores of any size, on any device.
        frame_size: ``(H, W)`` of the evaluation frame.
        convention: One of :data:`CONVENTIONS`.

    Returns:
        The normalised maps on the input's device, with the flags.

    Raises:
        ScoreMapError: ``maps`` does not have the shape ``(B, 1, h, w)`` or ``(B, h, w)``.
    """
    check_convention(convention)
    maps = _map_batch(maps)
    work = maps.to(torch.float64)
    finite = torch.isfinite(work.amin(dim=(1, 2))) & torch.isfinite(work.amax(dim=(1, 2)))
    work = resize_score_maps(work, frame_size)
    if work is maps:
        work = work.clone()
    low = work.amin(dim=(1, 2), keepdim=True)
    finite &= torch.isfinite(low.flatten())
    shifted = work.sub_(low)
    peak = shifted.amax(dim=(1, 2), keepdim=True)
    finite &= torch.isfinite(peak.flatten())
    constant = (peak == 0).flatten() & finite
    keep = finite & ~constant
    normalized = shifted.div_(torch.where(keep[:, None, None], peak, torch.ones_like(peak)))
    normalized[~keep] = 0
    return NormalizedMaps(normalized, ~finite, constant)


@lru_cache(maxsize=1)
def _cubehelix_gray() -> np.ndarray:
    """Gray level of each of the 256 cubehelix colours, as tensorpack + cv2 compute it."""
    import matplotlib

    rgb = matplotlib.colormaps["cubehelix"](np.arange(256))[:, :3]
    rgb8 = (rgb.astype("float32") * 255.0).astype("uint8")
    return cv2.cvtColor(rgb8[None], cv2.COLOR_RGB2GRAY)[0].copy()


def quantize_score_maps(normalized: Tensor, convention: str = "wsoleval") -> Tensor:
    """Quantise normalised maps to the uint8 levels that the convention thresholds.

    ``"wsoleval"``/``"strict"``: ``uint8(s * 255)`` (truncation, ``s * 255`` in the map's float
    type). ``"paper"``: ``gray[min(int(s * 256), 255)]`` with ``gray`` the cubehelix gray levels.

    Args:
        normalized: ``(..., H, W)`` maps in [0, 1].
        convention: One of :data:`CONVENTIONS`.

    Returns:
        A uint8 tensor of the same shape and device.
    """
    check_convention(convention)
    if convention == "paper":
        index = (normalized.to(torch.float64) * 256).clamp_(0, 255).to(torch.uint8)
        gray = torch.from_numpy(_cubehelix_gray()).to(normalized.device)
        return gray[index.long()]
    return (normalized * 255).to(torch.uint8)


@dataclass(frozen=True)
class QuantizedMaps:
    """Raw score maps as the uint8 levels a convention thresholds, with the zeroing flags.

    Attributes:
        levels: ``(B, H, W)`` uint8 array, ``quantize_score_maps(normalize_score_maps(...))``.
        nonfinite: ``(B,)`` bool tensor, the map held NaN or +-Inf (before or after resizing).
        constant: ``(B,)`` bool tensor, the (finite) map was constant after resizing.
    """

    levels: np.ndarray
    nonfinite: Tensor
    constant: Tensor


def quantize_raw_maps(
    maps: Tensor, frame_size: tuple[int, int], convention: str = "wsoleval"
) -> QuantizedMaps:
    """:func:`normalize_score_maps` then :func:`quantize_score_maps`, fused, on the CPU.

    Bit for bit the same levels and flags, without materialising a batch of float64 maps: the
    min-max normalisation and the quantisation run per map in one compiled pass
    (:func:`evaluation.localization.quantization.quantize_maps`). Maps of another size are resized
    in float64 first, as :func:`normalize_score_maps` does.

    Args:
        maps: ``(B, 1, h, w)`` or ``(B, h, w)`` raw signed scores of any size, on any device.
        frame_size: ``(H, W)`` of the evaluation frame.
        convention: One of :data:`CONVENTIONS`.

    Raises:
        ScoreMapError: ``maps`` does not have the shape ``(B, 1, h, w)`` or ``(B, h, w)``.
    """
    check_convention(convention)
    work = _map_batch(maps).detach().cpu()
    if work.dtype not in (torch.float32, torch.float64):
        work = work.to(torch.float64)
    before = torch.zeros(work.shape[0], dtype=torch.bool)
    if tuple(work.shape[-2:]) != tuple(frame_size):
        work = work.to(torch.float64)
        before = ~(torch.isfinite(work.amin(dim=(1, 2))) & torch.isfinite(work.amax(dim=(1, 2))))
        work = resize_score_maps(work, frame_size)
    gray = _cubehelix_gray() if convention == "paper" else np.zeros(0, dtype=np.uint8)
    levels, nonfinite, constant = quantize_maps(np.ascontiguousarray(work.numpy()), gray)
    levels[before.numpy()] = gray[0] if len(gray) else 0
    nonfinite_flags = torch.from_numpy(nonfinite) | before
    return QuantizedMaps(levels, nonfinite_flags, torch.from_numpy(constant) & ~before)


def threshold_levels(max_levels: Tensor, thresholds: Tensor | Sequence[float]) -> Tensor:
    """Foreground levels ``int(tau * max(S))`` for every map and threshold.

    Args:
        max_levels: ``(B,)`` the maximum quantised level of each map.
        thresholds: ``(T,)`` thresholds ``tau`` (float64 arithmetic, as the reference's
            ``np.float64 * np.uint8``).

    Returns:
        ``(B, T)`` int64 levels; a pixel is foreground iff its level is greater.
    """
    taus = torch.as_tensor(thresholds, dtype=torch.float64, device=max_levels.device)
    return torch.floor(taus[None, :] * max_levels.to(torch.float64)[:, None]).to(torch.long)


@dataclass(frozen=True)
class ContourBoxes:
    """Every contour of one map at several foreground levels.

    Attributes:
        level_index: ``(n,)`` int64, the position in the requested ``levels`` of each contour;
            contours of one level are contiguous and in OpenCV's order.
        rects: ``(n, 4)`` int64 ``x, y, w, h`` as ``cv2.boundingRect`` gives them, in frame
            coordinates.
        largest: ``(K,)`` int64, for each level the index (into ``rects``) of the V1 contour,
            the first one of largest ``cv2.contourArea``; -1 where the mask is empty.
    """

    level_index: np.ndarray
    rects: np.ndarray
    largest: np.ndarray


def find_contour_boxes(levels_map: np.ndarray, levels: Sequence[int] | np.ndarray) -> ContourBoxes:
    """Contours of ``levels_map > level`` for each level: one OpenCV search per level.

    Args:
        levels_map: ``(H, W)`` uint8 quantised map.
        levels: ``(K,)`` foreground levels, any order (each is searched once; repeat a level
            to get its contours twice).

    Returns:
        The contours' bounding rectangles and the V1 choice per level.
    """
    image = np.ascontiguousarray(levels_map, dtype=np.uint8)
    levels = np.asarray(levels, dtype=np.int64).reshape(-1)
    height, width = image.shape
    row_peak = image.max(axis=1).astype(np.int64)
    col_peak = image.max(axis=0).astype(np.int64)
    rows = row_peak[None, :] > levels[:, None]
    cols = col_peak[None, :] > levels[:, None]
    nonempty = rows.any(axis=1)
    y0 = rows.argmax(axis=1)
    y1 = height - rows[:, ::-1].argmax(axis=1)
    x0 = cols.argmax(axis=1)
    x1 = width - cols[:, ::-1].argmax(axis=1)
    buffer = np.empty(height * width, dtype=bool)
    contours: list[np.ndarray] = []
    counts = np.zeros(len(levels), dtype=np.int64)
    for k in np.flatnonzero(nonempty).tolist():
        top, bottom, left, right = int(y0[k]), int(y1[k]), int(x0[k]), int(x1[k])
        mask = buffer[: (bottom - top) * (right - left)].reshape(bottom - top, right - left)
        np.greater(image[top:bottom, left:right], int(levels[k]), out=mask)
        found = cv2.findContours(
            mask.view(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE, offset=(left, top)
        )[0]
        contours.extend(found)
        counts[k] = len(found)
    level_index = np.repeat(np.arange(len(levels), dtype=np.int64), counts)
    largest = np.full(len(levels), -1, dtype=np.int64)
    if not contours:
        return ContourBoxes(level_index, np.zeros((0, 4), dtype=np.int64), largest)
    lengths = np.fromiter(map(len, contours), dtype=np.int64, count=len(contours))
    points = np.concatenate(contours).reshape(-1, 2).astype(np.int64)
    starts = np.zeros(len(contours), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    px, py = points[:, 0], points[:, 1]
    left_x = np.minimum.reduceat(px, starts)
    top_y = np.minimum.reduceat(py, starts)
    rects = np.stack(
        [
            left_x,
            top_y,
            np.maximum.reduceat(px, starts) - left_x + 1,
            np.maximum.reduceat(py, starts) - top_y + 1,
        ],
        axis=1,
    )
    following = np.arange(1, len(px) + 1)
    following[starts + lengths - 1] = starts
    twice_area = np.abs(np.add.reduceat(px * py[following] - px[following] * py, starts))
    first = np.zeros(len(levels), dtype=np.int64)
    np.cumsum(counts[:-1], out=first[1:])
    present = counts > 0
    best_area = np.maximum.reduceat(twice_area, first[present])
    is_best = twice_area == np.repeat(best_area, counts[present])
    winners = np.flatnonzero(is_best)
    _, first_winner = np.unique(level_index[winners], return_index=True)
    largest[present] = winners[first_winner]
    return ContourBoxes(level_index, rects, largest)


def rects_to_boxes(
    rects: np.ndarray | Tensor, frame_size: tuple[int, int], convention: str = "wsoleval"
) -> np.ndarray | Tensor:
    """Turn ``cv2.boundingRect`` rectangles ``x, y, w, h`` into inclusive boxes.

    ``"wsoleval"``: ``(x, y, min(x+w, W-1), min(y+h, H-1))``; ``"paper"``: ``(x, y, x+w, y+h)``;
    ``"strict"``: ``(x, y, x+w-1, y+h-1)``.

    Args:
        rects: ``(..., 4)`` integer rectangles (numpy array or tensor).
        frame_size: ``(H, W)`` of the frame.
        convention: One of :data:`CONVENTIONS`.

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
        convention: One of :data:`CONVENTIONS`.

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


def boxes_at_thresholds(
    score_map: np.ndarray | Tensor,
    thresholds: Sequence[float] | np.ndarray,
    convention: str = "wsoleval",
    multi_contour: bool = False,
) -> list[np.ndarray]:
    """Boxes of one normalised map at each threshold (``compute_bboxes_from_scoremaps``).

    Args:
        score_map: ``(H, W)`` map already normalised to [0, 1] (it is quantised, not
            renormalised); its size is the frame.
        thresholds: Thresholds ``tau`` in [0, 1].
        convention: One of :data:`CONVENTIONS`.
        multi_contour: ``False``: the V1 box (largest contour); ``True``: V2, every contour.

    Returns:
        One ``(n, 4)`` int64 array of inclusive boxes per threshold (``n = 1`` for V1); the
        convention's empty box where the mask is empty (``(0, 4)`` for ``"strict"``).

    Raises:
        ScoreMapError: The map is not 2-D, or holds values outside [0, 1] or non-finite values.
    """
    values = torch.as_tensor(score_map)
    if values.dim() != 2:
        raise ScoreMapError(f"a score map must be 2-D (H, W), got shape {tuple(values.shape)}")
    if not bool(torch.isfinite(values).all()) or values.min() < 0 or values.max() > 1:
        raise ScoreMapError("a normalised score map must hold finite values in [0, 1]")
    if not values.is_floating_point():
        values = values.to(torch.float64)
    levels_map = quantize_score_maps(values, convention)
    levels = threshold_levels(levels_map.max().reshape(1), thresholds)[0].numpy()
    found = find_contour_boxes(levels_map.cpu().numpy(), levels)
    boxes = rects_to_boxes(found.rects, tuple(levels_map.shape), convention)
    empty = empty_box(convention)
    result = []
    for k in range(len(levels)):
        if found.largest[k] < 0:
            result.append(np.asarray([empty] if empty else [], dtype=np.int64).reshape(-1, 4))
        elif multi_contour:
            result.append(boxes[found.level_index == k])
        else:
            result.append(boxes[found.largest[k] : found.largest[k] + 1])
    return result

