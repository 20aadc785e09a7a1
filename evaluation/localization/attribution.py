"""Per-image localisation metrics of XAI evaluation, as Quantus 0.6 defines them.

Each metric scores one attribution map ``a`` against one ground-truth region ``s`` (a boolean
mask of the frame): the union of the image's GT boxes (inclusive frame pixels), or the dataset's
foreground mask (value 1; background and ignore pixels count as outside) where it has masks.

``a`` is the **raw map upsampled to the evaluation frame** (bicubic, as the box metrics resize
it) **without** the min-max normalisation: Quantus receives the attribution as the method gives
it, and a min-max shift would hand every background pixel a share of the mass. The metrics that
only order the pixels (pointing game, rank accuracy, top-k intersection, AUC) are the same
either way. (Quantus divides by ``max |a|`` by default, which changes none of them.) A map with
a NaN or an infinity is scored as an all-zero map, as the box metrics score it.

With ``n = H * W`` pixels, ``K = |s|`` and ``a+ = max(a, 0)``:

- **Pointing game** (Zhang et al. 2018; Quantus ``PointingGame``): 1 if some pixel where ``a``
  is maximal lies in ``s``, else 0 (ties: any maximal pixel counts, so a constant map hits).
- **Pointing game with tolerance** (TorchRay's ``PointingGame(tolerance=15)``): 1 if some
  maximal pixel lies at Euclidean distance ``< tolerance`` pixels from a pixel of ``s``.
- **Energy-based pointing game** (Wang et al. 2020; Quantus ``AttributionLocalisation`` with
  ``positive_attributions=True, abs=False``): ``sum(a+ * s) / sum(a+)``; 0 when ``sum(a+) = 0``
  (Quantus adds 1e-9 to the denominator).
- **Relevance mass accuracy** (Arras et al. 2022; Quantus ``RelevanceMassAccuracy``):
  ``sum(a * s) / sum(a)`` on the signed map; undefined (NaN) when ``sum(a) <= 0``, where the ratio
  is no share of the relevance (Quantus returns the ratio anyway).
- **Relevance rank accuracy** (Arras et al. 2022; Quantus ``RelevanceRankAccuracy``): the share
  of the ``K`` highest-scoring pixels that lie in ``s``.
- **Top-k intersection** (Theiner et al. 2021; Quantus ``TopKIntersection``): the share of the
  ``min(k, n)`` highest-scoring pixels that lie in ``s`` (``k = 1000`` by default, Quantus').
- **AUC** (Quantus ``AUC``): the area under the ROC curve of ``a`` as a detector of ``s``; with
  tied scores counted one half (the Mann-Whitney statistic ``U / (K (n - K))``, what
  scikit-learn's ``roc_curve`` + ``auc`` give). Undefined when ``K = 0`` or ``K = n``.

Ranking ties (rank accuracy, top-k) are broken by pixel order (row-major); Quantus's unstable
``argsort`` may break them otherwise. Every metric is undefined (NaN) for an empty region.

The metrics that sum values are numpy sums over the frame; those that order pixels cost one sort
per map (the values inside and outside the region, sorted apart:
:mod:`evaluation.localization.attribution_ranks`, compiled, exact integer counts), and the
tolerant pointing game one distance transform, only for a map whose maximum misses the region.
"""

from __future__ import annotations

import cv2
import numpy as np

from evaluation.localization.attribution_ranks import ranking_from_sorted, split_by_region
from evaluation.statistics.records import ATTRIBUTION_METRICS

DEFAULT_POINTING_TOLERANCE = 15
"""TorchRay's pointing-game tolerance, in frame pixels."""

DEFAULT_TOP_K = 1000
"""Quantus' default ``k`` of the top-k intersection."""

ORDER_METRICS = (
    "pointing_game", "pointing_game_tolerant", "relevance_rank_accuracy", "top_k_intersection",
    "auc",
)
"""The metrics that depend on the pixels' order only (the others sum values)."""


def region_masks(
    gt_boxes: np.ndarray, frame_size: tuple[int, int], masks: np.ndarray | None
) -> np.ndarray:
    """``(B, H, W)`` bool ground-truth regions: mask == 1, else the union of the GT boxes.

    Args:
        gt_boxes: ``(B, G, 4)`` inclusive ``x0, y0, x1, y1`` frame boxes, NaN rows as padding.
        frame_size: ``(H, W)``.
        masks: Optional ``(B, H, W)`` uint8 masks (1 foreground, 0 background, 255 ignore).
    """
    if masks is not None:
        return np.asarray(masks) == 1
    height, width = frame_size
    ys = np.arange(height, dtype=np.float64)[None, None, :, None]
    xs = np.arange(width, dtype=np.float64)[None, None, None, :]
    boxes = np.asarray(gt_boxes, dtype=np.float64)
    x0, y0, x1, y1 = (boxes[..., k][..., None, None] for k in range(4))
    inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)  # NaN rows: all False
    return inside.any(axis=1)


def attribution_metrics(
    frame_maps: np.ndarray,
    regions: np.ndarray,
    tolerance: int = DEFAULT_POINTING_TOLERANCE,
    top_k: int = DEFAULT_TOP_K,
) -> np.ndarray:
    """Every metric of the module docstring for a batch, per image.

    Args:
        frame_maps: ``(B, H, W)`` raw maps in the frame (float; non-finite maps are zeroed).
        regions: ``(B, H, W)`` bool ground-truth regions.
        tolerance: The tolerant pointing game's distance in pixels (>= 0).
        top_k: ``k`` of the top-k intersection (>= 1).

    Returns:
        ``(B, A)`` float64 values in [0, 1] (NaN where undefined), columns in the order of
        :data:`~evaluation.statistics.records.ATTRIBUTION_METRICS`.
    """
    maps = np.asarray(frame_maps, dtype=np.float64)
    finite = np.isfinite(maps).reshape(len(maps), -1).all(axis=1)
    if not finite.all():
        maps = np.where(finite[:, None, None], maps, 0.0)
    regions = np.asarray(regions, dtype=bool)
    batch = maps.shape[0]
    flat, inside = maps.reshape(batch, -1), regions.reshape(batch, -1)
    positive = np.maximum(flat, 0.0)
    positive_total = positive.sum(axis=1)
    signed_total = flat.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = {
            "energy_pointing_game": np.where(
                positive_total > 0, (positive * inside).sum(axis=1) / positive_total, 0.0
            ),
            "relevance_mass_accuracy": np.where(
                signed_total > 0, (flat * inside).sum(axis=1) / signed_total, np.nan
            ),
        }
    ordered = _order_metrics(maps, regions, tolerance, min(int(top_k), flat.shape[1]))
    for k, name in enumerate(ORDER_METRICS):
        values[name] = ordered[:, k]
    table = np.stack([values[name] for name in ATTRIBUTION_METRICS], axis=1)
    table[~inside.any(axis=1)] = np.nan
    return table


def _order_metrics(
    maps: np.ndarray, regions: np.ndarray, tolerance: int, top_k: int
) -> np.ndarray:
    """``(B, 5)``: the metrics of :data:`ORDER_METRICS`, which only order the pixels, per map.

    Each map's values inside and outside its region are split and sorted
    (:mod:`evaluation.localization.attribution_ranks`): the map's maximum is the larger of the
    two parts' last values, so the pointing game hits when the region's maximum equals it; the
    ranking metrics come from the two sorted parts. Only a map whose maximum lies outside the
    region needs the distance transform (:func:`_near_a_peak`) for the tolerant game. NaN rows
    where the region is empty.
    """
    batch = len(maps)
    out = np.full((batch, len(ORDER_METRICS)), np.nan)
    for b in range(batch):
        values, region = maps[b].ravel(), regions[b].ravel()
        inside, outside = split_by_region(values, region)
        if len(inside) == 0:
            continue
        inside.sort()
        outside.sort()
        peak = inside[-1] if len(outside) == 0 else max(inside[-1], outside[-1])
        hit = bool(inside[-1] == peak)
        tolerant = hit or (tolerance > 0 and _near_a_peak(maps[b], regions[b], peak, tolerance))
        ranking = ranking_from_sorted(values, region, inside, outside, top_k)
        out[b] = (float(hit), float(tolerant), *ranking)
    return out


def _near_a_peak(frame_map: np.ndarray, region: np.ndarray, peak: float, tolerance: int) -> bool:
    """Whether a pixel where the map equals ``peak`` lies at distance ``< tolerance`` of the region.

    The distance is OpenCV's exact Euclidean distance transform (``DIST_MASK_PRECISE``) to the
    nearest region pixel (``region`` not empty, ``tolerance > 0``). Every value of that transform
    is the distance to some region pixel, so it is never below the distance to the region's
    bounding box: when every peak pixel lies ``>= tolerance`` from the box (``dx^2 + dy^2 >=
    tolerance^2`` in integers), the answer is no without the transform.
    """
    peaks_y, peaks_x = np.nonzero(frame_map == peak)
    rows, columns = np.nonzero(region.any(axis=1))[0], np.nonzero(region.any(axis=0))[0]
    dy = np.maximum(np.maximum(rows[0] - peaks_y, peaks_y - rows[-1]), 0)
    dx = np.maximum(np.maximum(columns[0] - peaks_x, peaks_x - columns[-1]), 0)
    if (dx * dx + dy * dy >= tolerance * tolerance).all():
        return False
    outside = (~region).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return bool((distance[peaks_y, peaks_x] < tolerance).any())
