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
"""

from __future__ import annotations

import cv2
import numpy as np

from evaluation.statistics.records import ATTRIBUTION_METRICS

DEFAULT_POINTING_TOLERANCE = 15
"""TorchRay's pointing-game tolerance, in frame pixels."""

DEFAULT_TOP_K = 1000
"""Quantus' default ``k`` of the top-k intersection."""


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
    maps = np.where(finite[:, None, None], maps, 0.0)
    regions = np.asarray(regions, dtype=bool)
    batch = maps.shape[0]
    flat, inside = maps.reshape(batch, -1), regions.reshape(batch, -1)
    size = inside.sum(axis=1)
    pixels = flat.shape[1]
    maxima = flat == flat.max(axis=1, keepdims=True)
    near = _within(regions, tolerance).reshape(batch, -1)
    positive = np.maximum(flat, 0.0)
    positive_total = positive.sum(axis=1)
    signed_total = flat.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = {
            "pointing_game": (maxima & inside).any(axis=1).astype(np.float64),
            "pointing_game_tolerant": (maxima & near).any(axis=1).astype(np.float64),
            "energy_pointing_game": np.where(
                positive_total > 0, (positive * inside).sum(axis=1) / positive_total, 0.0
            ),
            "relevance_mass_accuracy": np.where(
                signed_total > 0, (flat * inside).sum(axis=1) / signed_total, np.nan
            ),
        }
    ranking = _ranking_metrics(flat, inside, min(int(top_k), pixels))
    for k, name in enumerate(("relevance_rank_accuracy", "top_k_intersection", "auc")):
        values[name] = ranking[:, k]
    table = np.stack([values[name] for name in ATTRIBUTION_METRICS], axis=1)
    table[size == 0] = np.nan
    return table


def _within(regions: np.ndarray, tolerance: int) -> np.ndarray:
    """``(B, H, W)`` bool: pixels at Euclidean distance ``< tolerance`` from the region.

    ``tolerance = 0`` gives the region itself. The distance is OpenCV's exact Euclidean distance
    transform (``DIST_MASK_PRECISE``) to the nearest region pixel.
    """
    if tolerance <= 0:
        return regions
    near = np.zeros(regions.shape, dtype=bool)
    for b, region in enumerate(regions):
        if region.any():
            outside = (~region).astype(np.uint8)
            distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            near[b] = distance < tolerance
    return near


def _ranking_metrics(maps: np.ndarray, regions: np.ndarray, top_k: int) -> np.ndarray:
    """``(B, 3)``: relevance rank accuracy, top-k intersection and ROC AUC of each map.

    One sort of the values per map (no argsort): the ``k`` highest pixels are those above the
    ``k``-th highest value ``t`` plus, of the pixels equal to ``t``, the first ones in pixel
    order; the AUC counts, for every region pixel, the outside pixels scored lower plus half
    those scored equal (``2 U`` in exact integers), ``AUC = U / (K (n - K))``. NaN where the
    region is empty (and the AUC where it is the whole frame).
    """
    batch, pixels = maps.shape
    out = np.full((batch, 3), np.nan)
    for b in range(batch):
        values, region = maps[b], regions[b]
        size = int(region.sum())
        if size == 0:
            continue
        ordered = np.sort(values)
        out[b, 0] = _share_of_top(values, region, ordered, size)
        out[b, 1] = _share_of_top(values, region, ordered, top_k)
        if size < pixels:
            inside, outside = np.sort(values[region]), np.sort(values[~region])
            below = np.searchsorted(outside, inside, side="left").sum()
            up_to = np.searchsorted(outside, inside, side="right").sum()
            out[b, 2] = (int(below) + int(up_to)) / (2.0 * size * (pixels - size))
    return out


def _share_of_top(values: np.ndarray, region: np.ndarray, ordered: np.ndarray, k: int) -> float:
    """Share of the ``k`` highest-scoring pixels that lie in the region (ties: pixel order)."""
    cut = ordered[len(ordered) - k]
    above = values > cut
    tied = values == cut
    first_tied = tied & (np.cumsum(tied) <= k - int(above.sum()))
    return float((region & (above | first_tied)).sum()) / k
