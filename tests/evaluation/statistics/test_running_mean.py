"""The authors' mean of running ratios, against hand-worked values and a replica of their meter."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.errors import ConfigurationError
from evaluation.statistics.records import ATTRIBUTION_METRICS, ImageRecords
from evaluation.statistics.running_mean import published_accuracies, running_mean_accuracy
from tests.evaluation.statistics.record_factory import DELTAS, THRESHOLDS


class EpochMeter:
    """The authors' ``AverageEpochMeter``: ``sum += val * n; count += n; avg = sum / count``."""

    def __init__(self) -> None:
        self.sum = 0.0
        self.count = 0
        self.avg = 0.0

    def update(self, value: float, n: int) -> None:
        self.sum += value * n
        self.count += n
        self.avg = self.sum / self.count


def authors_loop(hits: np.ndarray, batch_size: int) -> float:
    """Their ``evaluate_loc``: count image by image, update the meter after every batch."""
    meter, hit_known, cnt = EpochMeter(), 0, 0
    for start in range(0, len(hits), batch_size):
        batch = hits[start : start + batch_size]
        for hit in batch:
            hit_known += int(hit)
            cnt += 1
        meter.update(hit_known / cnt * 100, len(batch))
    return meter.avg


def test_hand_worked_two_batches_of_two() -> None:
    hits = np.array([1, 1, 0, 0], dtype=bool)
    assert running_mean_accuracy(hits, 2) == 75.0  # (100 * 2 + 50 * 2) / 4
    assert running_mean_accuracy(hits, 4) == 50.0  # one batch: the final ratio
    # batches of 1: (100 + 100 + 200/3 + 50) / 4
    assert running_mean_accuracy(hits, 1) == pytest.approx((100 + 100 + 200 / 3 + 50) / 4)
    # a last partial batch weighs by its size: [1, 1, 0 | 0] -> (66.67 * 3 + 50 * 1) / 4
    assert running_mean_accuracy(hits, 3) == pytest.approx((200 / 3 * 3 + 50) / 4)


@pytest.mark.parametrize("batch_size", [1, 3, 7, 128, 500])
def test_equals_a_replica_of_the_authors_meter_exactly(batch_size: int) -> None:
    rng = np.random.default_rng(batch_size)
    hits = rng.random(390) < np.linspace(0.9, 0.3, 390)  # class-ordered: easy classes first
    assert running_mean_accuracy(hits, batch_size) == authors_loop(hits, batch_size)


def test_errors() -> None:
    with pytest.raises(ConfigurationError, match="no image"):
        running_mean_accuracy(np.zeros(0, dtype=bool), 2)
    with pytest.raises(ConfigurationError, match="batch_size must be >= 1"):
        running_mean_accuracy(np.ones(3, dtype=bool), 0)


def _records(fixed_hits: np.ndarray, top1: np.ndarray, positions: np.ndarray) -> ImageRecords:
    """Records whose V1 hit at IoU 50 and the fixed threshold is ``fixed_hits``; other bits 1."""
    count = len(positions)
    flags = np.ones((count, 2, len(DELTAS), len(THRESHOLDS) + 1), dtype=bool)
    flags[:, 0, DELTAS.index(50), -1] = fixed_hits
    records = ImageRecords.empty(THRESHOLDS, 0.2, DELTAS, DELTAS)
    records.add(positions, flags, top1, top1, np.zeros(count, np.int64),
                np.zeros((count, len(ATTRIBUTION_METRICS))), None)
    return records


def test_published_accuracies_read_the_fixed_threshold_v1_hits_at_iou_50() -> None:
    hits = np.array([1, 1, 0, 0, 1], dtype=bool)
    top1 = np.array([1, 0, 1, 0, 1], dtype=bool)
    published = published_accuracies(_records(hits, top1, np.arange(5)), 2)
    # GT-known: running 100, 50, 60 -> (100 * 2 + 50 * 2 + 60 * 1) / 5 = 72
    # Top-1 Loc [1, 0 | 0, 0 | 1]: running 50, 25, 40 -> (100 + 50 + 40) / 5 = 38
    assert published == {"gt_known_loc": pytest.approx(72.0), "top1_loc": pytest.approx(38.0)}


def test_published_accuracies_follow_dataset_order_not_recording_order() -> None:
    rng = np.random.default_rng(0)
    hits, top1 = rng.random(50) < 0.6, rng.random(50) < 0.8
    whole = published_accuracies(_records(hits, top1, np.arange(50)), 8)
    # two ranks' shards (positions r::2), each recorded in its own batches, then gathered
    even, odd = np.arange(0, 50, 2), np.arange(1, 50, 2)
    gathered = _records(hits[even], top1[even], even).plus(_records(hits[odd], top1[odd], odd))
    assert published_accuracies(gathered, 8) == whole
    assert whole["gt_known_loc"] == authors_loop(hits, 8)
    assert whole["top1_loc"] == authors_loop(hits & top1, 8)


def test_published_accuracies_need_complete_records_with_predictions() -> None:
    hits = np.ones(3, dtype=bool)
    with pytest.raises(ConfigurationError, match="hold no record"):
        published_accuracies(_records(hits, hits, np.array([0, 1, 3])), 2)
    with pytest.raises(ConfigurationError, match="top-1 predictions"):
        published_accuracies(_records(hits, None, np.arange(3)), 2)
