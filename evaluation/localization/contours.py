"""OpenCV's contour search, as the reference runs it, for any set of foreground levels of a map.

:func:`find_contour_boxes` runs ``cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)`` once per
requested foreground level of a quantised map (at most 256 distinct levels whatever the grid) on
the crop of the frame that holds the foreground (``offset`` restores frame coordinates), and
serves V1 and V2 from that one search. Cropping to the foreground's bounding box changes neither
the contours nor their order: everything outside the crop is background, and ``findContours``
pads with zeros. Contour areas are the shoelace formula in int64, equal to ``cv2.contourArea``
(which is exact on integer points); bounding rectangles are the extremes of the points, as
``cv2.boundingRect``.

:func:`boxes_at_thresholds` gives one normalised map's boxes at each threshold (the report's
gallery draws them). The streaming accumulator needs only each level's best IoU: the
component-tree sweeps give it (:mod:`evaluation.localization.sweeps`), which call
:func:`find_contour_boxes` only for the rare levels the sweeps leave unresolved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from evaluation.errors import ScoreMapError
from evaluation.localization.boxes import as_numpy, empty_box, rects_to_boxes
from evaluation.localization.levels import quantize_normalized, threshold_levels

if TYPE_CHECKING:
    from torch import Tensor


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
        convention: One of :data:`~evaluation.localization.conventions.CONVENTIONS`.
        multi_contour: ``False``: the V1 box (largest contour); ``True``: V2, every contour.

    Returns:
        One ``(n, 4)`` int64 array of inclusive boxes per threshold (``n = 1`` for V1); the
        convention's empty box where the mask is empty (``(0, 4)`` for ``"strict"``).

    Raises:
        ScoreMapError: The map is not 2-D, or holds values outside [0, 1] or non-finite values.
    """
    values = as_numpy(score_map)
    if values.ndim != 2:
        raise ScoreMapError(f"a score map must be 2-D (H, W), got shape {tuple(values.shape)}")
    if not bool(np.isfinite(values).all()) or values.min() < 0 or values.max() > 1:
        raise ScoreMapError("a normalised score map must hold finite values in [0, 1]")
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    levels_map = quantize_normalized(values, convention)
    levels = threshold_levels(levels_map.max().reshape(1), thresholds)[0]
    found = find_contour_boxes(levels_map, levels)
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
