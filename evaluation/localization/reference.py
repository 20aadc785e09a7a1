"""The brute-force reference: one OpenCV threshold + contour search per map per threshold.

A literal port of ``clovaai/wsolevaluation`` (``inference.normalize_scoremap``,
``evaluation.compute_bboxes_from_scoremaps``, ``calculate_multiple_iou`` and
``BoxEvaluator.accumulate``) and of the infoCAM/ADL code for the ``"paper"`` convention
(``intensity_to_rgb`` + ``cv2.cvtColor``, ``calculate_IOU``), written as plain per-image loops. It
shares no code with :mod:`evaluation.localization.boxes` or
:mod:`evaluation.localization.accumulator`: the tests and ``benchmarks/box_eval_speed.py`` check the
fast evaluator against it, counter for counter.

Extensions of the originals, the same in both implementations: any non-finite value (not only
NaN) zeroes a map, as does a normalisation that overflows; ``"strict"`` boxes are
``(x, y, x + w - 1, y + h - 1)`` and an empty mask gives no box (IoU 0); a union <= 0 gives IoU 0
in ``"paper"`` too.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def reference_normalize(cam: np.ndarray) -> np.ndarray:
    """``normalize_scoremap``: min-max to [0, 1]; NaN/Inf or constant maps become zeros.

    The reference works in float64 whatever the model's dtype: its ``t2n`` casts every CAM with
    ``.astype(np.float)`` and ``check_scoremap_validity`` rejects anything else (the ``"paper"``
    convention's ``intensity.astype("float")`` is float64 too).

    Args:
        cam: ``(H, W)`` raw map of any real dtype.
    """
    cam = np.array(cam, dtype=np.float64)
    if np.isnan(cam).any() or np.isinf(cam).any():
        return np.zeros_like(cam)
    if cam.min() == cam.max():
        return np.zeros_like(cam)
    with np.errstate(over="ignore", invalid="ignore"):
        cam -= cam.min()
        cam /= cam.max()
    if not np.isfinite(cam).all():
        return np.zeros_like(cam)
    return cam


def reference_quantize(scoremap: np.ndarray, convention: str) -> np.ndarray:
    """The uint8 image that the convention thresholds.

    ``"wsoleval"``/``"strict"``: ``(scoremap * 255).astype(np.uint8)``. ``"paper"``: tensorpack's
    ``intensity_to_rgb(cam, normalize=True).astype("uint8")`` then ``cv2.COLOR_RGB2GRAY``.
    """
    if convention != "paper":
        return (scoremap * 255).astype(np.uint8)
    import matplotlib

    intensity = scoremap.astype("float")
    with np.errstate(invalid="ignore"):
        intensity -= intensity.min()
        intensity /= intensity.max()
    rgb = matplotlib.colormaps["cubehelix"](intensity)[..., :3]
    heatmap = (rgb.astype("float32") * 255.0).astype("uint8")
    return cv2.cvtColor(heatmap, cv2.COLOR_RGB2GRAY)


def reference_boxes(
    scoremap: np.ndarray,
    thresholds: Sequence[float],
    convention: str = "wsoleval",
    multi_contour: bool = False,
) -> list[list[list[int]]]:
    """``compute_bboxes_from_scoremaps``: the boxes of a normalised map at each threshold.

    Args:
        scoremap: ``(H, W)`` map normalised to [0, 1].
        thresholds: Thresholds ``tau``.
        convention: ``"wsoleval"``, ``"paper"`` or ``"strict"``.
        multi_contour: V2 (every contour) instead of V1 (the largest).

    Returns:
        For each threshold, a list of ``[x0, y0, x1, y1]`` boxes (empty for ``"strict"`` when
        there is no contour).
    """
    height, width = scoremap.shape
    scoremap_image = np.expand_dims(reference_quantize(scoremap, convention), 2)
    result = []
    for threshold in thresholds:
        _, thr_gray_heatmap = cv2.threshold(
            src=scoremap_image,
            thresh=int(threshold * np.max(scoremap_image)),
            maxval=255,
            type=cv2.THRESH_BINARY,
        )
        contours = cv2.findContours(
            image=thr_gray_heatmap, mode=cv2.RETR_TREE, method=cv2.CHAIN_APPROX_SIMPLE
        )[0]
        if len(contours) == 0:
            empty = {"wsoleval": [[0, 0, 0, 0]], "paper": [[0, 0, 1, 1]], "strict": []}
            result.append(empty[convention])
            continue
        if not multi_contour:
            contours = [max(contours, key=cv2.contourArea)]
        boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if convention == "wsoleval":
                boxes.append([x, y, min(x + w, width - 1), min(y + h, height - 1)])
            elif convention == "paper":
                boxes.append([x, y, x + w, y + h])
            else:
                boxes.append([x, y, x + w - 1, y + h - 1])
        result.append(boxes)
    return result


def reference_multiple_iou(box_a: np.ndarray, box_b: np.ndarray) -> np.ndarray:
    """``calculate_multiple_iou``: ``(num_a, num_b)`` IoU of inclusive ``x0y0x1y1`` boxes."""
    num_a = box_a.shape[0]
    num_b = box_b.shape[0]
    box_a = np.tile(box_a, num_b)
    box_a = np.expand_dims(box_a, axis=1).reshape((num_a, num_b, -1))
    box_b = np.tile(box_b, num_a)
    box_b = np.expand_dims(box_b, axis=1).reshape((num_b, num_a, -1))
    box_b = np.transpose(box_b, (1, 0, 2))
    min_x = np.maximum(box_a[:, :, 0], box_b[:, :, 0])
    min_y = np.maximum(box_a[:, :, 1], box_b[:, :, 1])
    max_x = np.minimum(box_a[:, :, 2], box_b[:, :, 2])
    max_y = np.minimum(box_a[:, :, 3], box_b[:, :, 3])
    area_intersect = np.maximum(0, max_x - min_x + 1) * np.maximum(0, max_y - min_y + 1)
    area_a = (box_a[:, :, 2] - box_a[:, :, 0] + 1) * (box_a[:, :, 3] - box_a[:, :, 1] + 1)
    area_b = (box_b[:, :, 2] - box_b[:, :, 0] + 1) * (box_b[:, :, 3] - box_b[:, :, 1] + 1)
    denominator = area_a + area_b - area_intersect
    degenerate_indices = np.where(denominator <= 0)
    denominator[degenerate_indices] = 1
    ious = area_intersect / denominator
    ious[degenerate_indices] = 0
    return ious


def reference_paper_iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """ADL's ``calculate_IOU``: the intersection's factors are not clamped at 0."""
    x_a, y_a = max(box_a[0], box_b[0]), max(box_a[1], box_b[1])
    x_b, y_b = min(box_a[2], box_b[2]), min(box_a[3], box_b[3])
    inter_area = (x_b - x_a + 1) * (y_b - y_a + 1)
    area_a = (box_a[2] - box_a[0] + 1) * (box_a[3] - box_a[1] + 1)
    area_b = (box_b[2] - box_b[0] + 1) * (box_b[3] - box_b[1] + 1)
    union = float(area_a + area_b - inter_area)
    return 0.0 if union <= 0 else inter_area / union


def reference_best_ious(
    boxes_at_thresholds: list[list[list[int]]], gt_boxes: np.ndarray, convention: str
) -> np.ndarray:
    """Per threshold, the best IoU over (predicted, ground-truth) box pairs (0 without boxes)."""
    best = np.zeros(len(boxes_at_thresholds))
    for k, boxes in enumerate(boxes_at_thresholds):
        if not boxes or len(gt_boxes) == 0:
            continue
        if convention == "paper":
            best[k] = max(reference_paper_iou(p, g) for p in boxes for g in gt_boxes.tolist())
        else:
            best[k] = reference_multiple_iou(np.array(boxes), gt_boxes).max()
    return best


def reference_counts(
    score_maps: Sequence[np.ndarray],
    gt_boxes: Sequence[np.ndarray],
    thresholds: Sequence[float],
    iou_thresholds: Sequence[int] = (30, 50, 70),
    convention: str = "wsoleval",
    multi_contour: bool = False,
) -> np.ndarray:
    """``BoxEvaluator.accumulate`` over a data set: correct-image counts per (tau, delta).

    Args:
        score_maps: Raw ``(H, W)`` maps at the frame size (normalised here).
        gt_boxes: Per image, ``(G, 4)`` inclusive ground-truth boxes in the frame.
        thresholds: Thresholds ``tau``.
        iou_thresholds: IoU thresholds ``delta`` in percent.
        convention: ``"wsoleval"``, ``"paper"`` or ``"strict"``.
        multi_contour: V2 instead of V1.

    Returns:
        ``(T, D)`` int64 counts of images whose best IoU at ``tau`` is ``>= delta / 100``.
    """
    counts = np.zeros((len(thresholds), len(iou_thresholds)), dtype=np.int64)
    for scoremap, gt in zip(score_maps, gt_boxes, strict=True):
        normalized = reference_normalize(scoremap)
        boxes = reference_boxes(normalized, thresholds, convention, multi_contour)
        best = reference_best_ious(boxes, np.asarray(gt).reshape(-1, 4), convention)
        for d, delta in enumerate(iou_thresholds):
            counts[np.where(best >= (delta / 100))[0], d] += 1
    return counts
