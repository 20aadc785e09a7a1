"""Methods evaluated on the same images, compared pair by pair, and ranked with ties.

For methods ``i`` and ``j`` measured on the same ``N`` images (same positions, same labels):

- the difference of a metric is ``m_i - m_j`` on the evaluated images;
- its interval is the **paired bootstrap**: both methods are re-scored on the same resamples
  (:mod:`evaluation.statistics.bootstrap`), and the percentile interval is taken of the ``B``
  differences ``m_i(b) - m_j(b)``;
- the fixed-threshold hit rates (:data:`MCNEMAR_METRICS`: GT-known / Top-1 / Top-5 Loc at the
  fixed threshold, Top-1 / Top-5 Cls and the pointing games, each a share of per-image hits) are
  tested with **McNemar's exact test**: with ``b`` the images that only ``i`` hits and ``c`` those
  that only ``j`` hits, ``p = min(1, 2 * P(X <= min(b, c)))`` for ``X ~ Binomial(b + c, 1/2)``
  (``p = 1`` when ``b + c = 0``);
- a difference is **significant** when its test rejects at ``1 - level``: the p-value is below
  it for :data:`MCNEMAR_METRICS`, the bootstrap interval excludes 0 for every other metric;
- the **rank** of a method on a metric is ``1 + the number of methods significantly better`` on
  it: methods between which no difference is significant share a rank (ties).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from evaluation.errors import ConfigurationError
from evaluation.statistics.bootstrap import (
    BootstrapSettings,
    percentile_interval,
    resample_weights,
)
from evaluation.statistics.estimates import metric_samples, point_metrics
from evaluation.statistics.intervals import SCALAR_KEYS
from evaluation.statistics.records import ATTRIBUTION_METRICS, ImageRecords

MCNEMAR_METRICS = ("gt_known_loc", "top1_loc", "top5_loc", "top1_cls", "top5_cls",
                   "pointing_game", "pointing_game_tolerant")
"""Fixed-threshold hit rates: their differences are tested with McNemar's exact test."""


@dataclass(frozen=True)
class PairedDifference:
    """One metric's difference between two methods on the same images.

    Attributes:
        metric: The metric's key.
        first: Index of the first method.
        second: Index of the second method.
        difference: ``m_first - m_second`` in percentage points.
        low: Low end of the paired bootstrap interval of the difference.
        high: High end.
        p_value: McNemar's exact p-value for :data:`MCNEMAR_METRICS`, else ``None``.
        significant: The difference passes its test (see the module docstring).
    """

    metric: str
    first: int
    second: int
    difference: float
    low: float
    high: float
    p_value: float | None
    significant: bool

    @property
    def test(self) -> str:
        """``"McNemar exact"`` or ``"paired bootstrap"``."""
        return "McNemar exact" if self.p_value is not None else "paired bootstrap"


@dataclass(frozen=True)
class PairedComparison:
    """Every pairwise difference of methods measured on the same images, and their ranks.

    Attributes:
        metrics: The compared metrics (those every method measured).
        values: Metric -> ``(M,)`` values of the methods.
        differences: ``(metric, i, j)`` for ``i < j`` -> :class:`PairedDifference` of ``i - j``.
        ranks: Metric -> ``(M,)`` ranks (1 is best; ties share a rank).
        settings: The bootstrap settings.
    """

    metrics: tuple[str, ...]
    values: dict[str, np.ndarray]
    differences: dict[tuple[str, int, int], PairedDifference]
    ranks: dict[str, np.ndarray]
    settings: BootstrapSettings

    def difference(self, metric: str, first: int, second: int) -> PairedDifference:
        """The difference ``first - second`` (either order)."""
        if first < second:
            return self.differences[(metric, first, second)]
        found = self.differences[(metric, second, first)]
        return PairedDifference(metric, first, second, -found.difference, -found.high,
                                -found.low, found.p_value, found.significant)

    def better(self, metric: str) -> np.ndarray:
        """``(M, M)`` bool: ``[i, j]`` when method ``i`` is significantly better than ``j``."""
        count = len(self.values[metric])
        table = np.zeros((count, count), dtype=bool)
        for (name, i, j), found in self.differences.items():
            if name == metric and found.significant:
                table[i, j] = found.difference > 0
                table[j, i] = found.difference < 0
        return table


def compare_methods(
    records: Sequence[ImageRecords], settings: BootstrapSettings
) -> PairedComparison:
    """Compare methods recorded on the same images: differences, intervals, tests, ranks.

    Args:
        records: One method's complete records each, all on the same images.
        settings: Resamples, seed and level (the same resamples serve every method).

    Raises:
        ConfigurationError: Fewer than two methods, or the records are not of the same images
            (another count, other labels, or other threshold settings).
    """
    if len(records) < 2:
        raise ConfigurationError("a paired comparison needs at least two methods")
    for other in records[1:]:
        _check_same_images(records[0], other)
    for one in records:
        one.checked_complete()
    points = [point_metrics(one) for one in records]
    metrics = tuple(
        key for key in (*SCALAR_KEYS, *_part_keys(records[0]), *ATTRIBUTION_METRICS)
        if all(not np.isnan(p[key][0]) for p in points)
    )
    samples: dict[str, list[np.ndarray]] = {key: [] for key in metrics}
    for weights in resample_weights(records[0].size, settings):
        blocks = [metric_samples(one, weights) for one in records]
        for key in metrics:
            samples[key].append(np.stack([block[key] for block in blocks]))
    stacked = {key: np.concatenate(parts, axis=1) for key, parts in samples.items()}  # (M, B)
    values = {key: np.array([float(p[key][0]) for p in points]) for key in metrics}
    differences = {}
    for key in metrics:
        for i in range(len(records)):
            for j in range(i + 1, len(records)):
                differences[(key, i, j)] = _difference(
                    key, i, j, values[key], stacked[key], records, settings.level
                )
    comparison = PairedComparison(metrics, values, differences, {}, settings)
    ranks = {key: 1 + comparison.better(key).sum(axis=0) for key in metrics}
    return PairedComparison(metrics, values, differences, ranks, settings)


def _part_keys(records: ImageRecords) -> list[str]:
    return [f"v2_{d}" for d in records.iou_thresholds]


def _difference(
    key: str, i: int, j: int, values: np.ndarray, samples: np.ndarray,
    records: Sequence[ImageRecords], level: float,
) -> PairedDifference:
    """The paired difference ``i - j`` of one metric with its interval and test."""
    low, high = percentile_interval(samples[i] - samples[j], level)
    difference = float(values[i] - values[j])
    if key in MCNEMAR_METRICS:
        only_i, only_j = discordant_pairs(hit_flags(records[i], key), hit_flags(records[j], key))
        p_value = mcnemar_exact(only_i, only_j)
        significant = p_value < 1.0 - level
    else:
        p_value = None
        significant = bool(low > 0 or high < 0)
    return PairedDifference(key, i, j, difference, float(low), float(high), p_value, significant)


def hit_flags(records: ImageRecords, metric: str) -> np.ndarray:
    """Per-image hits of a fixed-threshold hit rate (float: 1, 0, or NaN where undefined).

    Raises:
        ConfigurationError: ``metric`` is not one of :data:`MCNEMAR_METRICS`.
    """
    if metric in ATTRIBUTION_METRICS and metric in MCNEMAR_METRICS:
        return records.column("attribution")[:, ATTRIBUTION_METRICS.index(metric)]
    top1, top5 = records.column("top1"), records.column("top5")
    if metric in ("top1_cls", "top5_cls"):
        return (top1 if metric == "top1_cls" else top5).astype(np.float64)
    if metric not in MCNEMAR_METRICS:
        raise ConfigurationError(f"{metric} is not a fixed-threshold hit rate")
    fixed = records.hit_flags()[:, 0, records.deltas.index(50), -1]
    restrict = {"gt_known_loc": True, "top1_loc": top1, "top5_loc": top5}[metric]
    return (fixed & restrict).astype(np.float64)


def discordant_pairs(first: np.ndarray, second: np.ndarray) -> tuple[int, int]:
    """Images hit by the first only and by the second only (images where either is NaN skip)."""
    usable = ~(np.isnan(first) | np.isnan(second))
    a, b = first[usable] > 0.5, second[usable] > 0.5
    return int((a & ~b).sum()), int((~a & b).sum())


def mcnemar_exact(only_first: int, only_second: int) -> float:
    """McNemar's exact two-sided p-value from the discordant counts ``b`` and ``c``.

    ``p = min(1, 2 * sum_{k <= min(b, c)} C(n, k) / 2**n)`` with ``n = b + c``; 1 when ``n = 0``.
    """
    n = only_first + only_second
    if n == 0:
        return 1.0
    smaller = min(only_first, only_second)
    log_terms = np.array([
        math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        for k in range(smaller + 1)
    ]) - n * math.log(2.0)
    peak = log_terms.max()
    tail = math.exp(peak) * float(np.exp(log_terms - peak).sum())
    return min(1.0, 2.0 * tail)


def _check_same_images(first: ImageRecords, second: ImageRecords) -> None:
    """Refuse records that are not of the same images under the same settings."""
    if first.size != second.size:
        raise ConfigurationError(
            f"paired methods must be measured on the same images: {first.size} against "
            f"{second.size} images"
        )
    if not np.array_equal(first.column("labels"), second.column("labels")):
        raise ConfigurationError(
            "paired methods must be measured on the same images: the labels differ"
        )
    same = (
        np.array_equal(first.thresholds, second.thresholds)
        and first.deltas == second.deltas
        and first.iou_thresholds == second.iou_thresholds
        and first.fixed_threshold == second.fixed_threshold
    )
    if not same:
        raise ConfigurationError(
            "paired methods must share the thresholds, IoU thresholds and fixed threshold"
        )
