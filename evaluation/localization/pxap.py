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
import torch
from torch import Tensor

from evaluation.errors import ScoreMapError


def histogram_edges(thresholds: Tensor) -> Tensor:
    """Bin edges ``[tau..., 1.0, 2.0, 3.0]`` (float64) for ``(K,)`` thresholds."""
    extra = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    return torch.cat([thresholds.to(torch.float64).cpu(), extra])


def pixel_histograms(maps: Tensor, masks: Tensor, thresholds: Tensor) -> Tensor:
    """Histograms of the scores of positive and negative pixels, pooled over the batch.

    The sum over images of :func:`image_pixel_histograms` (same arguments and errors).

    Returns:
        ``(2, K + 2)`` int64 counts on the CPU: row 0 positive pixels, row 1 negative pixels.
    """
    return image_pixel_histograms(maps, masks, thresholds).sum(dim=0)


def image_pixel_histograms(maps: Tensor, masks: Tensor, thresholds: Tensor) -> Tensor:
    """Each image's histograms of the scores of its positive and negative pixels.

    Args:
        maps: ``(B, H, W)`` normalised scores in [0, 1].
        masks: ``(B, H, W)`` uint8 masks: 1 foreground, 0 background, 255 ignore.
        thresholds: ``(K,)`` thresholds.

    Returns:
        ``(B, 2, K + 2)`` int64 counts on the CPU: ``[b, 0]`` positive pixels, ``[b, 1]``
        negative pixels of image ``b``.

    Raises:
        ScoreMapError: The masks' shape differs from the maps' or they hold other values.
    """
    if tuple(masks.shape) != tuple(maps.shape):
        raise ScoreMapError(
            f"masks must have the maps' shape {tuple(maps.shape)}, got {tuple(masks.shape)}"
        )
    masks = masks.to(maps.device)
    if bool(((masks != 0) & (masks != 1) & (masks != 255)).any()):
        raise ScoreMapError("masks must hold 1 (foreground), 0 (background) or 255 (ignore)")
    edges = histogram_edges(thresholds).to(maps.device)
    bins = len(edges) - 1
    index = torch.bucketize(maps.to(torch.float64), edges, right=True) - 1
    index = torch.where(maps.to(torch.float64) == edges[-1], bins - 1, index)
    inside = (index >= 0) & (index < bins)
    batch = maps.shape[0]
    image = torch.arange(batch, device=maps.device)[:, None, None].expand_as(index)
    rows = []
    for label in (1, 0):
        chosen = inside & (masks == label)
        flat = image[chosen] * bins + index[chosen]
        rows.append(torch.bincount(flat, minlength=batch * bins).reshape(batch, bins).cpu())
    return torch.stack(rows, dim=1).to(torch.int64)


def pxap_from_histograms(histograms: Tensor) -> float | None:
    """PxAP in percent from pooled ``(2, K + 2)`` histograms (``MaskEvaluator.compute``).

    Returns:
        The area under the pixel precision-recall curve in percent, or ``None`` when it is
        undefined: no positive pixel, or no pixel at all (the reference raises there).
    """
    positive = histograms[0].double().numpy()
    negative = histograms[1].double().numpy()
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
