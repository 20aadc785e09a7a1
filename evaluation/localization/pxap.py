"""PxAP: pixel average precision of score maps against foreground masks (Choe et al. 2020).

The reference's ``MaskEvaluator``: the normalised scores of positive (mask 1) and negative
(mask 0) pixels are counted in histograms with bin edges ``[tau_0, ..., tau_{K-1}, 1, 2, 3]``
(left-closed bins, the last one closed, as ``np.histogram``), pooled over the whole data set;
ignore pixels (255) count nowhere. Sweeping the edges from 3 down to ``tau_0`` gives, for
``score >= edge``, ``TP`` and ``FP``, precision ``P = TP / (TP + FP)`` and recall
``R = TP / #positives``, and ``PxAP = 100 * sum_{k >= 1, TP_k + FP_k > 0} P_k (R_k - R_{k-1})``.
The histograms are integer counters: they add across batches and processes.
"""

from __future__ import annotations

import numpy as np

from evaluation.errors import ScoreMapError


def histogram_edges(thresholds: np.ndarray) -> np.ndarray:
    """Bin edges ``[tau..., 1.0, 2.0, 3.0]`` (float64) for ``(K,)`` thresholds."""
    return np.append(np.asarray(thresholds, dtype=np.float64), [1.0, 2.0, 3.0])


def pixel_histograms(maps: np.ndarray, masks: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Histograms of the scores of positive and negative pixels, pooled over the batch.

    The sum over images of :func:`image_pixel_histograms` (same arguments and errors).

    Returns:
        ``(2, K + 2)`` int64 counts: row 0 positive pixels, row 1 negative pixels.
    """
    return image_pixel_histograms(maps, masks, thresholds).sum(axis=0)


def image_pixel_histograms(
    maps: np.ndarray, masks: np.ndarray, thresholds: np.ndarray
) -> np.ndarray:
    """Each image's histograms of the scores of its positive and negative pixels.

    Bins are ``np.histogram``'s over :func:`histogram_edges`.

    Args:
        maps: ``(B, H, W)`` normalised scores in [0, 1] (float64 compares as the reference).
        masks: ``(B, H, W)`` uint8 masks: 1 foreground, 0 background, 255 ignore.
        thresholds: ``(K,)`` thresholds.

    Returns:
        ``(B, 2, K + 2)`` int64 counts: ``[b, 0]`` positive pixels, ``[b, 1]`` negative pixels
        of image ``b``.

    Raises:
        ScoreMapError: The masks' shape differs from the maps' or they hold other values.
    """
    maps, masks = np.asarray(maps), np.asarray(masks)
    if masks.shape != maps.shape:
        raise ScoreMapError(
            f"masks must have the maps' shape {tuple(maps.shape)}, got {tuple(masks.shape)}"
        )
    if bool(((masks != 0) & (masks != 1) & (masks != 255)).any()):
        raise ScoreMapError("masks must hold 1 (foreground), 0 (background) or 255 (ignore)")
    edges = histogram_edges(thresholds)
    bins = len(edges) - 1
    values = maps.astype(np.float64, copy=False)
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = bins - 1
    inside = (index >= 0) & (index < bins)
    batch = len(maps)
    image = np.arange(batch)[:, None, None] * bins
    rows = [
        np.bincount((image + index)[inside & (masks == label)], minlength=batch * bins)
        for label in (1, 0)
    ]
    return np.stack(rows).reshape(2, batch, bins).transpose(1, 0, 2).astype(np.int64)


def pxap_from_histograms(histograms: np.ndarray) -> float | None:
    """PxAP in percent from pooled ``(2, K + 2)`` histograms (``MaskEvaluator.compute``).

    Returns:
        The area under the pixel precision-recall curve in percent, or ``None`` when it is
        undefined: no positive pixel, or no pixel at all (the reference raises there).
    """
    counts = np.asarray(histograms, dtype=np.float64)
    positive, negative = counts[0], counts[1]
    tp = positive[::-1].cumsum()
    fn = positive.sum() - tp
    fp = negative[::-1].cumsum()
    if ((tp + fn) <= 0).all() or ((tp + fp) <= 0).all():
        return None
    non_zero = (tp + fp) != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
    auc = (precision[1:] * np.diff(recall))[non_zero[1:]].sum()
    return float(auc * 100)
