"""Every metric of ``results.json``, recomputed from per-image records for weighted image sets.

A weighted image set is a row ``w`` of image weights: all ones for the evaluated images
themselves (:func:`point_metrics`), the draw counts of a bootstrap resample otherwise
(:func:`metric_samples` takes a block of rows). Every metric is a function of weighted sums
``w @ column`` over images, computed as matrix products in blocks of images:

- ``BoxAcc_v(tau, delta) = 100 * (w @ hit_v[:, delta, tau]) / sum(w)``: the curves;
- ``MaxBoxAcc = max_tau BoxAcc_V1(tau, 50)``, **the best threshold re-selected in every resample**
  (ties: the smallest tau); ``MaxBoxAccV2 = mean_delta max_tau BoxAcc_V2(tau, delta)``, each delta
  with its own best tau, re-selected likewise;
- GT-known / Top-1 / Top-5 Loc at the fixed threshold: the V1 hits at IoU 50 in the last bit,
  alone, with ``top1`` and with ``top5``; the ``_best`` variants at the resample's own V1 best tau;
- Top-1 / Top-5 Cls: ``100 * (w @ top1) / sum(w)``;
- PxAP from the weighted pooled pixel histograms ``w @ pixels`` (as
  :mod:`evaluation.localization.pxap` computes it from pooled counts);
- each attribution metric: ``100 * (w @ v) / (w @ defined)`` over the images where it is
  defined (a mean of per-image values, in percent).

Hit counts are exact: the 0/1 columns are multiplied in float32 whose partial sums stay integers
below 2**24; pixel histograms and attribution values use float64.
"""

from __future__ import annotations

import numpy as np

from evaluation.statistics.records import ATTRIBUTION_METRICS, ImageRecords

IMAGE_BLOCK = 4096
"""Images per block of the matrix products."""

CLASSICAL_METRICS = ("gt_known_loc", "top1_loc", "top5_loc", "gt_known_loc_best",
                     "top1_loc_best", "top5_loc_best", "top1_cls", "top5_cls")
"""The Loc and Cls metrics (``None`` without predictions, except GT-known)."""


def point_metrics(records: ImageRecords) -> dict[str, np.ndarray]:
    """The metrics of the evaluated images themselves (every weight 1): :func:`metric_samples`."""
    return metric_samples(records, np.ones((1, records.size), dtype=np.float32))


def metric_samples(records: ImageRecords, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric for each row of ``weights``.

    Args:
        records: Complete records of ``N`` images.
        weights: ``(b, N)`` non-negative integer weights (float32), rows with a positive sum.

    Returns:
        Name -> ``(b,)`` float64 values in percent: ``maxboxacc``, ``maxboxacc_v2``,
        ``v2_<delta>`` (each MaxBoxAccV2 part), the :data:`CLASSICAL_METRICS` (NaN without
        predictions, except GT-known), ``pxap`` (NaN without masks or positive pixels), each
        attribution metric; ``best_index`` (the V1 best tau's index); and ``curve_v1`` /
        ``curve_v2``: ``(b, D, T)`` BoxAcc per counted IoU threshold and grid threshold.
    """
    sums = _weighted_sums(records, weights)
    total = weights.sum(axis=1, dtype=np.float64)
    box = 100.0 * sums["box"] / total[:, None, None, None]
    steps, d50 = records.num_thresholds, records.deltas.index(50)
    v1 = box[:, 0, d50, :steps]
    best = np.argmax(v1, axis=1)
    rows = np.arange(len(total))
    values: dict[str, np.ndarray] = {
        "maxboxacc": v1[rows, best],
        "best_index": best.astype(np.float64),
        "curve_v1": box[:, 0, :, :steps],
        "curve_v2": box[:, 1, :, :steps],
    }
    parts = []
    for delta in records.iou_thresholds:
        part = box[:, 1, records.deltas.index(delta), :steps].max(axis=1)
        values[f"v2_{delta}"] = part
        parts.append(part)
    values["maxboxacc_v2"] = np.mean(parts, axis=0)
    restricted = 100.0 * sums["restricted"] / total[:, None, None]  # (b, 2, T + 1)
    loc = {"gt_known": box[:, 0, d50, :], "top1": restricted[:, 0], "top5": restricted[:, 1]}
    predicted = records.has_predictions
    for name, table in loc.items():
        usable = predicted or name == "gt_known"
        values[f"{name}_loc"] = table[:, steps] if usable else np.full(len(total), np.nan)
        values[f"{name}_loc_best"] = table[rows, best] if usable else np.full(len(total), np.nan)
    classification = 100.0 * sums["classification"] / total[:, None]
    for k, name in enumerate(("top1_cls", "top5_cls")):
        values[name] = classification[:, k] if predicted else np.full(len(total), np.nan)
    values["pxap"] = (
        pxap_of_histograms(sums["pixels"]) if "pixels" in sums else np.full(len(total), np.nan)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        means = 100.0 * sums["attribution"] / sums["defined"]
    for k, name in enumerate(ATTRIBUTION_METRICS):
        values[name] = means[:, k]
    return values


def _weighted_sums(records: ImageRecords, weights: np.ndarray) -> dict[str, np.ndarray]:
    """``weights @ column`` for every per-image column, image block by image block."""
    rows, size = weights.shape
    deltas, steps = len(records.deltas), records.num_thresholds + 1
    d50 = records.deltas.index(50)
    sums = {
        "box": np.zeros((rows, 2 * deltas * steps)),
        "restricted": np.zeros((rows, 2 * steps)),
        "classification": np.zeros((rows, 2)),
        "attribution": np.zeros((rows, len(ATTRIBUTION_METRICS))),
        "defined": np.zeros((rows, len(ATTRIBUTION_METRICS))),
    }
    if records.pixels is not None:
        sums["pixels"] = np.zeros((rows, 2 * (steps + 1)))
    for start in range(0, size, IMAGE_BLOCK):
        stop = min(size, start + IMAGE_BLOCK)
        block = weights[:, start:stop].astype(np.float32)
        flags = records.hit_flags(start, stop)
        top1, top5 = records.top1[start:stop], records.top5[start:stop]
        v1_50 = flags[:, 0, d50, :]
        sums["box"] += block @ flags.reshape(stop - start, -1).astype(np.float32)
        restricted = np.concatenate([v1_50 & top1[:, None], v1_50 & top5[:, None]], axis=1)
        sums["restricted"] += block @ restricted.astype(np.float32)
        sums["classification"] += block @ np.stack([top1, top5], axis=1).astype(np.float32)
        wide = block.astype(np.float64)
        values = records.attribution[start:stop]
        defined = ~np.isnan(values)
        sums["attribution"] += wide @ np.where(defined, values, 0.0)
        sums["defined"] += wide @ defined.astype(np.float64)
        if records.pixels is not None:
            sums["pixels"] += wide @ records.pixels[start:stop].reshape(stop - start, -1)
    shaped = {
        "box": sums["box"].reshape(rows, 2, deltas, steps),
        "restricted": sums["restricted"].reshape(rows, 2, steps),
        **{k: sums[k] for k in ("classification", "attribution", "defined")},
    }
    if "pixels" in sums:
        shaped["pixels"] = sums["pixels"].reshape(rows, 2, steps + 1)
    return shaped


def pxap_of_histograms(histograms: np.ndarray) -> np.ndarray:
    """PxAP in percent of each row of pooled ``(b, 2, K + 2)`` pixel histograms.

    Row-wise :func:`evaluation.localization.pxap.pxap_from_histograms`: true and false
    positives for ``score >= edge`` sweeping the edges downwards, precision ``TP / (TP + FP)``,
    recall ``TP / #positives``, ``PxAP = 100 * sum_{k >= 1, TP_k + FP_k > 0} P_k (R_k - R_{k-1})``;
    NaN where undefined (no positive pixel, or no pixel above any edge).
    """
    positive = histograms[:, 0, ::-1].astype(np.float64)
    negative = histograms[:, 1, ::-1].astype(np.float64)
    tp = positive.cumsum(axis=1)
    fp = negative.cumsum(axis=1)
    fn = positive.sum(axis=1, keepdims=True) - tp
    undefined = ((tp + fn) <= 0).all(axis=1) | ((tp + fp) <= 0).all(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
    steps = precision[:, 1:] * np.diff(recall, axis=1)
    area = np.where((tp + fp)[:, 1:] != 0, steps, 0.0).sum(axis=1) * 100.0
    return np.where(undefined, np.nan, area)
