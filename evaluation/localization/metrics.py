"""Metrics in percent from final counts: MaxBoxAcc, MaxBoxAccV2, GT-known/Top-k Loc, PxAP.

``BoxAcc(tau, delta) = 100 * count / num_images``; ``MaxBoxAcc = max_tau BoxAcc_V1(tau, 50)``;
``MaxBoxAccV2 = mean_delta max_tau BoxAcc_V2(tau, delta)`` (one data-set-wide tau per delta,
never a per-image maximum); ties pick the smallest tau. GT-known / Top-1 / Top-5 Loc count V1 at
IoU >= 50 at the fixed threshold and at the V1 best tau; PxAP follows
:mod:`evaluation.localization.pxap`. Ratios are final counts over all images, never means of
running means. The attribution metrics (:mod:`evaluation.localization.attribution`) are means of
per-image values, in percent, over the images where they are defined (:func:`attribution_means`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluation.errors import ConfigurationError
from evaluation.localization.counts import LocalizationCounts
from evaluation.localization.pxap import pxap_from_histograms
from evaluation.localization.settings import LocalizationSettings
from evaluation.statistics.records import ATTRIBUTION_METRICS, ImageRecords


def localization_metrics(
    settings: LocalizationSettings, counts: LocalizationCounts
) -> dict[str, Any]:
    """The metrics dict of :meth:`~evaluation.localization.LocalizationAccumulator.compute`.

    Keys: ``convention``, ``frame_size``, ``num_images``, ``num_nonfinite_maps``,
    ``num_constant_maps``, ``thresholds``, ``iou_thresholds``, ``maxboxacc`` and
    ``best_threshold`` (V1, IoU >= 50), ``maxboxacc_v2`` (mean over ``iou_thresholds``),
    ``boxacc_v2_by_iou`` and ``best_threshold_by_iou`` (V2, per delta), ``curves``
    (``{"v1"|"v2": {delta: [BoxAcc per tau]}}``), ``fixed_threshold``, ``gt_known_loc``,
    ``top1_loc``, ``top5_loc`` (V1, IoU >= 50, at the fixed threshold), ``gt_known_loc_best``,
    ``top1_loc_best``, ``top5_loc_best`` at ``best_threshold_loc`` (the V1 best tau),
    ``top1_cls``, ``top5_cls`` (``None`` without predictions), ``pxap`` (``None`` without
    masks, or when no pixel is positive).

    Raises:
        ConfigurationError: No image has been counted.
    """
    total = counts.num_images
    if total == 0:
        raise ConfigurationError("no image was accumulated: nothing to compute")
    taus = [round(t, 12) for t in settings.thresholds.tolist()]
    deltas = settings.counted_deltas
    box = counts.box_counts
    v1_best = int(np.argmax(box[0, 0, :, deltas.index(50)]))
    v2_best = {d: int(np.argmax(box[0, 1, :, deltas.index(d)])) for d in settings.iou_thresholds}
    v2_values = {
        str(d): _percent(int(box[0, 1, i, deltas.index(d)]), total) for d, i in v2_best.items()
    }
    return {
        "convention": settings.convention,
        "frame_size": list(settings.frame_size),
        "num_images": total,
        "num_nonfinite_maps": int(counts.totals[1]),
        "num_constant_maps": int(counts.totals[2]),
        "thresholds": taus,
        "iou_thresholds": list(settings.iou_thresholds),
        "maxboxacc": _percent(int(box[0, 0, v1_best, deltas.index(50)]), total),
        "best_threshold": taus[v1_best],
        "maxboxacc_v2": float(np.mean(list(v2_values.values()))),
        "boxacc_v2_by_iou": v2_values,
        "best_threshold_by_iou": {str(d): taus[i] for d, i in v2_best.items()},
        "curves": {
            name: {
                str(d): [_percent(int(c), total) for c in box[0, variant, :, i]]
                for i, d in enumerate(deltas)
            }
            for variant, name in enumerate(("v1", "v2"))
        },
        "fixed_threshold": settings.fixed_threshold,
        **_loc_metrics(counts, deltas.index(50), v1_best),
        "best_threshold_loc": taus[v1_best],
        **_classification_and_pixels(counts),
    }


def _loc_metrics(counts: LocalizationCounts, fifty: int, best: int) -> dict[str, float | None]:
    """GT-known / Top-1 / Top-5 Loc (V1, IoU >= 50) at the fixed and at the best threshold."""
    total, predicted = counts.num_images, counts.has_predictions
    values: dict[str, float | None] = {}
    for suffix, table in (("", counts.fixed_counts[:, 0, fifty]),
                          ("_best", counts.box_counts[:, 0, best, fifty])):
        for kind, name in enumerate(("gt_known", "top1", "top5")):
            usable = predicted or kind == 0
            values[f"{name}_loc{suffix}"] = _percent(int(table[kind]), total) if usable else None
    return values


def _classification_and_pixels(counts: LocalizationCounts) -> dict[str, float | None]:
    """Top-1 / Top-5 classification accuracy and PxAP (``None`` where not measured)."""
    total, predicted = counts.num_images, counts.has_predictions
    return {
        "top1_cls": _percent(int(counts.totals[4]), total) if predicted else None,
        "top5_cls": _percent(int(counts.totals[5]), total) if predicted else None,
        "pxap": pxap_from_histograms(counts.pixel_histograms) if counts.totals[6] else None,
    }


def _percent(count: int, total: int) -> float:
    return float(count * 100.0 / total)


def attribution_means(settings: LocalizationSettings, records: ImageRecords) -> dict[str, Any]:
    """The attribution metrics: ``100 * mean`` of the per-image values where defined.

    Keys: each of :data:`~evaluation.statistics.records.ATTRIBUTION_METRICS` (``None`` where no
    image defines it), ``attribution_region`` (``"masks"`` when the dataset's masks were the
    ground truth, else ``"boxes"``), ``pointing_tolerance`` (pixels) and ``top_k``.
    """
    values = records.column("attribution")[records.column("filled")]
    means: dict[str, Any] = {}
    for k, name in enumerate(ATTRIBUTION_METRICS):
        defined = values[~np.isnan(values[:, k]), k]
        means[name] = float(100.0 * defined.sum() / len(defined)) if len(defined) else None
    return {
        **means,
        "attribution_region": "masks" if records.pixels is not None else "boxes",
        "pointing_tolerance": settings.pointing_tolerance,
        "top_k": settings.top_k,
    }
