"""A brute-force copy of wsolevaluation's evaluation of saved maps, written from its formulas.

The test oracle of ``wsol-bench score``: plain loops over images, nothing shared with the code
under test except the brute-force box loop of :mod:`evaluation.localization.reference` (itself
one OpenCV threshold + contour search per map per threshold). Per image, as ``CAMComputer`` and
``evaluate_wsol`` do: the map is cast to float64 (``t2n``), resized to 224x224 with
``cv2.resize(INTER_CUBIC)``, min-max normalised (``normalize_scoremap``); boxes are
``compute_bboxes_from_scoremaps``' on the threshold grid ``np.arange(0, 1, interval)``, ground
truth ``int(x * 224 / W)``; ``BoxEvaluator`` counts images whose best IoU is ``>= delta / 100``.
Masks: ``cv2.imread(GRAYSCALE)`` as float32, ``cv2.resize(INTER_NEAREST)`` to 224x224, ``> 0.5``,
instances OR-ed, the ignore mask minus the foreground ignored; ``MaskEvaluator`` histograms the
scores on edges ``[taus..., 1, 2, 3]`` and integrates precision over recall.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from evaluation.localization.reference import (
    reference_best_ious,
    reference_boxes,
    reference_normalize,
)

SIDE = 224


@dataclass
class ReferenceResult:
    """What the reference's evaluators hold at the end.

    Attributes:
        thresholds: The grid.
        counts: ``{"v1"|"v2": (T, D) int64}`` images correct per threshold and IoU threshold.
        best_ious: ``{"v1"|"v2": (N, T)}`` every image's best IoU per threshold.
        num_images: Images counted.
        pxap: PxAP in percent, ``None`` without masks.
    """

    thresholds: list[float]
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    best_ious: dict[str, np.ndarray] = field(default_factory=dict)
    num_images: int = 0
    pxap: float | None = None


def read_lines(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines() if line.strip()]


def scoremap(scoremaps: Path, image_id: str) -> np.ndarray:
    """``CAMComputer``: t2n (float64), cv2 bicubic to 224x224, normalize_scoremap."""
    cam = np.load(scoremaps / f"{image_id}.npy").astype(np.float64)
    if cam.ndim == 3:
        cam = cam[0]
    resized = cv2.resize(cam, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC)
    return reference_normalize(resized)


def resized_box(box: list[str], size: tuple[int, int]) -> list[int]:
    x0, y0, x1, y1 = (float(v) for v in box)
    width, height = size
    return [int(x0 * SIDE / width), int(y0 * SIDE / height), int(x1 * SIDE / width),
            int(y1 * SIDE / height)]


def mask_image(path: Path) -> np.ndarray:
    mask = np.float32(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
    return cv2.resize(mask, (SIDE, SIDE), interpolation=cv2.INTER_NEAREST)


def label_mask(root: Path, mask_paths: list[str], ignore_path: str) -> np.ndarray:
    """``get_mask``: 1 foreground, 0 background, 255 ignore."""
    foreground = np.stack([mask_image(root / p) > 0.5 for p in mask_paths]).any(axis=0)
    ignore = np.zeros_like(foreground)
    if ignore_path:
        ignore = (mask_image(root / ignore_path) > 0.5) & ~foreground
    return foreground.astype(np.uint8) + 255 * ignore.astype(np.uint8)


def pxap(true_hist: np.ndarray, false_hist: np.ndarray) -> float:
    """``MaskEvaluator.compute``."""
    tp = true_hist[::-1].cumsum()
    fn = true_hist.sum() - tp
    fp = false_hist[::-1].cumsum()
    non_zero = (tp + fp) != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    return float((precision[1:] * np.diff(recall))[non_zero[1:]].sum() * 100)


def reference_evaluate(
    metadata: Path,
    scoremaps: Path,
    mask_root: Path | None = None,
    interval: float = 0.01,
    iou_thresholds: tuple[int, ...] = (30, 50, 70),
) -> ReferenceResult:
    """``evaluate_wsol`` on a metadata folder: V1 and V2 box counts, or PxAP for mask metadata."""
    ids = [fields[0] for fields in read_lines(metadata / "image_ids.txt")]
    sizes = {f[0]: (int(f[1]), int(f[2])) for f in read_lines(metadata / "image_sizes.txt")}
    localization = read_lines(metadata / "localization.txt")
    thresholds = list(np.arange(0, 1, interval))
    result = ReferenceResult(thresholds, num_images=len(ids))
    if mask_root is not None:
        masks: dict[str, list[str]] = {}
        ignores: dict[str, str] = {}
        for image_id, mask_path, *ignore in localization:
            masks.setdefault(image_id, []).append(mask_path)
            if ignore and ignore[0]:
                ignores[image_id] = ignore[0]
        edges = np.append(thresholds, [1.0, 2.0, 3.0])
        true_hist = np.zeros(len(edges) - 1)
        false_hist = np.zeros(len(edges) - 1)
        for image_id in ids:
            scores = scoremap(scoremaps, image_id)
            gt = label_mask(mask_root, masks[image_id], ignores.get(image_id, ""))
            true_hist += np.histogram(scores[gt == 1], bins=edges)[0]
            false_hist += np.histogram(scores[gt == 0], bins=edges)[0]
        result.pxap = pxap(true_hist, false_hist)
        return result
    boxes: dict[str, list[list[int]]] = {}
    for image_id, *box in localization:
        boxes.setdefault(image_id, []).append(resized_box(box, sizes[image_id]))
    for variant, multi in (("v1", False), ("v2", True)):
        counts = np.zeros((len(thresholds), len(iou_thresholds)), dtype=np.int64)
        best_ious = np.zeros((len(ids), len(thresholds)))
        for n, image_id in enumerate(ids):
            found = reference_boxes(scoremap(scoremaps, image_id), thresholds, "wsoleval", multi)
            best = reference_best_ious(found, np.array(boxes[image_id]), "wsoleval")
            best_ious[n] = best
            for d, delta in enumerate(iou_thresholds):
                counts[np.where(best >= delta / 100)[0], d] += 1
        result.counts[variant] = counts
        result.best_ious[variant] = best_ious
    return result


def expected_report(reference: ReferenceResult, iou_thresholds: tuple[int, ...]) -> dict:
    """The box keys of a ``score`` report that the reference's counters determine."""
    total = reference.num_images
    taus = [round(t, 12) for t in reference.thresholds]
    curves = {
        variant: {
            str(delta): [float(c * 100.0 / total) for c in counts[:, d]]
            for d, delta in enumerate(iou_thresholds)
        }
        for variant, counts in reference.counts.items()
    }
    fifty = iou_thresholds.index(50)
    v1 = reference.counts["v1"][:, fifty]
    v2 = reference.counts["v2"]
    v2_best = {d: int(np.argmax(v2[:, k])) for k, d in enumerate(iou_thresholds)}
    return {
        "num_images": total,
        "thresholds": taus,
        "curves": curves,
        "maxboxacc": float(v1.max() * 100.0 / total),
        "best_threshold": taus[int(np.argmax(v1))],
        "boxacc_v2_by_iou": {
            str(d): float(reference.counts["v2"][i, k] * 100.0 / total)
            for k, (d, i) in enumerate(v2_best.items())
        },
        "best_threshold_by_iou": {str(d): taus[i] for d, i in v2_best.items()},
    }
