"""The ``intervals`` of one method in ``results.json``: a percentile bootstrap over images.

Every metric of :func:`evaluation.statistics.estimates.metric_samples` is recomputed on ``B``
resamples of the images (:mod:`evaluation.statistics.bootstrap`); its interval is the percentile
interval of those values. MaxBoxAcc, MaxBoxAccV2's parts and the ``_best`` Loc metrics re-select
their best threshold inside every resample, so the threshold choice's own noise is inside the
interval. The BoxAcc curves get a pointwise interval at every threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evaluation.statistics.bootstrap import (
    BootstrapSettings,
    percentile_interval,
    resample_weights,
)
from evaluation.statistics.estimates import metric_samples
from evaluation.statistics.records import ATTRIBUTION_METRICS, ImageRecords

SCALAR_KEYS = ("maxboxacc", "maxboxacc_v2", "gt_known_loc", "top1_loc", "top5_loc",
               "gt_known_loc_best", "top1_loc_best", "top5_loc_best", "top1_cls", "top5_cls",
               "pxap")
"""The box, Loc, Cls and pixel metrics that get an interval (with the attribution metrics)."""


def collect_samples(records: ImageRecords, settings: BootstrapSettings) -> dict[str, np.ndarray]:
    """Every metric of :func:`metric_samples` on each of the ``B`` resamples, in order.

    Raises:
        ConfigurationError: The records are incomplete (see
            :meth:`~evaluation.statistics.records.ImageRecords.checked_complete`).
    """
    records.checked_complete()
    blocks = [metric_samples(records, w) for w in resample_weights(records.size, settings)]
    return {key: np.concatenate([block[key] for block in blocks]) for key in blocks[0]}


def metric_intervals(records: ImageRecords, settings: BootstrapSettings) -> dict[str, Any]:
    """The ``intervals`` entry of a method: ``[low, high]`` per metric, in percent.

    Keys: :data:`SCALAR_KEYS` and each attribution metric (``None`` where the metric is not
    measured), ``boxacc_v2_by_iou`` (``{delta: [low, high]}``) and ``curves``
    (``{"v1"|"v2": {delta: {"low": [...], "high": [...]}}}``, one value per grid threshold).

    Raises:
        ConfigurationError: The records are incomplete.
    """
    samples = collect_samples(records, settings)
    level = settings.level
    result: dict[str, Any] = {}
    for key in (*SCALAR_KEYS, *ATTRIBUTION_METRICS):
        result[key] = _pair(percentile_interval(samples[key], level))
    result["boxacc_v2_by_iou"] = {
        str(d): _pair(percentile_interval(samples[f"v2_{d}"], level))
        for d in records.iou_thresholds
    }
    result["curves"] = {}
    for kind in ("v1", "v2"):
        bounds = percentile_interval(samples[f"curve_{kind}"], level)  # (2, D, T)
        result["curves"][kind] = {
            str(d): {"low": bounds[0, i].tolist(), "high": bounds[1, i].tolist()}
            for i, d in enumerate(records.deltas)
        }
    return result


def _pair(bounds: np.ndarray) -> list[float] | None:
    """``[low, high]`` as floats, or ``None`` when undefined."""
    if np.isnan(bounds).any():
        return None
    return [float(bounds[0]), float(bounds[1])]
