"""Each requested level's best V1 and V2 IoU of quantised maps, resolved: the sweep of the trip.

The second leg of a map's trip (quantise -> sweep -> count). :func:`best_level_ious` runs the
component-tree sweeps (:func:`evaluation.localization.component_trees.level_ious`: every level
of a map in two union-find passes), in chunks of :data:`CHUNK` maps on an optional executor. The
rare levels the sweeps leave unresolved (a tie in largest area, a component inside a hole) get
OpenCV's contour search (:func:`evaluation.localization.contours.find_contour_boxes`), scored by
the same compiled IoU (:func:`evaluation.localization.component_trees.rect_ious`). A level whose
mask is empty scores the convention's empty box (:func:`evaluation.localization.boxes.empty_box`).
What comes out is final: ``max`` over ground-truth boxes of the IoU of the V1 box (largest
contour) and of the best V2 box (any contour), per map and requested level.
"""

from __future__ import annotations

from concurrent.futures import Executor

import numpy as np

from evaluation.localization.boxes import box_iou, empty_box
from evaluation.localization.component_trees import CONVENTION_CODES, level_ious, rect_ious
from evaluation.localization.contours import find_contour_boxes

CHUNK = 16
"""Maps per task when an executor runs the sweeps."""


def best_level_ious(
    levels_maps: np.ndarray,
    levels: np.ndarray,
    gt_boxes: np.ndarray,
    convention: str,
    executor: Executor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Best IoU of the V1 box and of the V2 boxes of every map at its requested levels.

    Args:
        levels_maps: ``(B, H, W)`` uint8 quantised maps; their size is the frame.
        levels: ``(B, K)`` int64 foreground levels ``L`` (mask ``S > L``) of each map.
        gt_boxes: ``(B, G, 4)`` inclusive ground-truth boxes, NaN rows as padding.
        convention: One of :data:`~evaluation.localization.conventions.CONVENTIONS`.
        executor: Runs the sweeps in chunks of :data:`CHUNK` maps; ``None``: this thread.

    Returns:
        ``(B, K)`` float64 each: the best IoU of the V1 box and of any V2 box with a ground-truth
        box at each level (clamped at 0); the empty box's IoU where the mask is empty.
    """
    requested = np.zeros((len(levels_maps), 256), dtype=bool)
    np.put_along_axis(requested, levels, True, axis=1)
    gt = np.ascontiguousarray(gt_boxes, dtype=np.float64)
    code = CONVENTION_CODES[convention]
    v1, v2, unresolved = _sweep(levels_maps, requested, gt, code, executor)
    for b in np.flatnonzero(unresolved.any(axis=1)).tolist():
        _search_contours(levels_maps[b], np.flatnonzero(unresolved[b]), gt[b], code, v1[b], v2[b])
    empty_iou = _empty_box_iou(gt, convention)
    best = []
    for table in (v1, v2):
        values = np.take_along_axis(table, levels, axis=1)
        best.append(np.where(values < 0, empty_iou[:, None], values))
    return best[0], best[1]


def _sweep(
    levels_maps: np.ndarray,
    requested: np.ndarray,
    gt: np.ndarray,
    code: int,
    executor: Executor | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`level_ious` over all maps, in chunks on ``executor`` when there is one."""
    if executor is None:
        return level_ious(levels_maps, requested, gt, code)
    parts = [slice(s, s + CHUNK) for s in range(0, len(levels_maps), CHUNK)]
    results = list(
        executor.map(
            level_ious,
            [levels_maps[part] for part in parts],
            [requested[part] for part in parts],
            [gt[part] for part in parts],
            [code] * len(parts),
        )
    )
    v1, v2, unresolved = (np.concatenate(column) for column in zip(*results, strict=True))
    return v1, v2, unresolved


def _search_contours(
    image: np.ndarray, levels: np.ndarray, gt: np.ndarray, code: int, v1: np.ndarray,
    v2: np.ndarray,
) -> None:
    """Fill ``v1[levels]`` and ``v2[levels]`` of one map from ``cv2.findContours``."""
    found = find_contour_boxes(image, levels)
    iou = rect_ious(found.rects, gt, code, *image.shape)
    for k, level in enumerate(levels.tolist()):
        mine = iou[found.level_index == k]
        v2[level] = mine.max() if len(mine) else -1.0
        v1[level] = iou[found.largest[k]] if found.largest[k] >= 0 else -1.0


def _empty_box_iou(gt_boxes: np.ndarray, convention: str) -> np.ndarray:
    """``(B,)`` best IoU of the convention's empty-mask box with each image's valid GT boxes."""
    empty = empty_box(convention)
    valid = ~np.isnan(gt_boxes).any(axis=-1)
    if empty is None or not bool(valid.any()):
        return np.zeros(len(gt_boxes), dtype=np.float64)
    iou = box_iou(np.array([[empty]]), np.nan_to_num(gt_boxes), convention)[:, 0]
    return np.where(valid, iou, 0.0).max(axis=-1)
