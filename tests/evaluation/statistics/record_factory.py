"""Random per-image records with known hit flags, for the statistics tests."""

from __future__ import annotations

import numpy as np

from evaluation.statistics.records import ATTRIBUTION_METRICS, ImageRecords

THRESHOLDS = np.round(np.arange(0, 1, 0.1), 2)
DELTAS = (30, 50, 70)


def random_records(
    rng: np.random.Generator,
    count: int,
    hit_rate: float | np.ndarray = 0.5,
    pixels: bool = False,
    predictions: bool = True,
) -> tuple[ImageRecords, np.ndarray]:
    """Records of ``count`` images with independent hits; also the (N, 2, D, T + 1) flags."""
    steps = len(THRESHOLDS) + 1
    rate = np.broadcast_to(np.asarray(hit_rate, dtype=float), (steps,))
    flags = rng.random((count, 2, len(DELTAS), steps)) < rate
    records = ImageRecords.empty(THRESHOLDS, 0.2, DELTAS, DELTAS)
    attribution = rng.random((count, len(ATTRIBUTION_METRICS)))
    attribution[:, :2] = attribution[:, :2] < 0.4  # the pointing games are hits
    attribution[rng.random(count) < 0.1, 3] = np.nan  # relevance mass undefined on some images
    histograms = rng.integers(0, 50, size=(count, 2, len(THRESHOLDS) + 2)) if pixels else None
    top1 = rng.random(count) < 0.7 if predictions else None
    top5 = (top1 | (rng.random(count) < 0.5)) if predictions else None
    records.add(np.arange(count), flags, top1, top5, rng.integers(0, 5, count), attribution,
                histograms)
    return records, flags
