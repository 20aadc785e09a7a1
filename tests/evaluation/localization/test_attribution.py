"""Per-image attribution metrics: exact values on hand-made maps, and in the accumulator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluation.localization import LocalizationAccumulator
from evaluation.localization.attribution import attribution_metrics, region_masks
from evaluation.statistics.records import ATTRIBUTION_METRICS

COLUMN = {name: k for k, name in enumerate(ATTRIBUTION_METRICS)}


def scores(maps: list[list[list[float]]], region: np.ndarray, **kwargs: int) -> dict:
    table = attribution_metrics(
        torch.tensor(maps, dtype=torch.float64), torch.from_numpy(region), **kwargs
    )
    return {name: table[:, k] for name, k in COLUMN.items()}


def test_hand_made_map_every_metric() -> None:
    # 3 x 4 map; the region is the left 2 x 2 block (K = 4 of n = 12 pixels).
    a = [[[4.0, 1.0, 0.0, -1.0],
          [2.0, 3.0, 0.0, 0.5],
          [-2.0, 0.0, 1.0, 0.5]]]
    region = np.zeros((1, 3, 4), dtype=bool)
    region[0, :2, :2] = True
    found = scores(a, region, tolerance=0, top_k=3)
    assert found["pointing_game"][0] == 1.0  # the maximum 4 is at (0, 0)
    positive_total = 4 + 1 + 2 + 3 + 0.5 + 1 + 0.5
    assert found["energy_pointing_game"][0] == pytest.approx(10 / positive_total)
    assert found["relevance_mass_accuracy"][0] == pytest.approx(10 / 9.0)  # sum(a) = 9
    # the 4 highest pixels: 4, 3, 2 (inside), 1 at (0, 1) inside too (ties at 1: row-major first)
    assert found["relevance_rank_accuracy"][0] == pytest.approx(4 / 4)
    assert found["top_k_intersection"][0] == pytest.approx(3 / 3)
    # AUC: positives {4, 1, 2, 3}, negatives {0, -1, 0.5, -2, 0, 1, 0.5, 0}: 31.5 of 32 pairs
    assert found["auc"][0] == pytest.approx(31.5 / 32)


def test_pointing_game_tolerance_and_ties() -> None:
    region = np.zeros((3, 8, 30), dtype=bool)
    region[:, :, :5] = True  # x = 0..4
    far = np.zeros((8, 30))
    far[4, 19] = 1.0  # 15 px from x = 4: outside a tolerance of 15 (strictly less)
    near = np.zeros((8, 30))
    near[4, 18] = 1.0  # 14 px: inside
    flat = np.zeros((8, 30))  # every pixel is a maximum: a hit, as Quantus counts it
    found = scores([far.tolist(), near.tolist(), flat.tolist()], region, tolerance=15)
    assert found["pointing_game"].tolist() == [0.0, 0.0, 1.0]
    assert found["pointing_game_tolerant"].tolist() == [0.0, 1.0, 1.0]


def test_undefined_values_are_nan() -> None:
    region = np.zeros((2, 4, 4), dtype=bool)
    region[1] = True  # the whole frame: AUC undefined, the rest defined
    negative = -np.ones((4, 4))
    negative[0, 0] = 0.5  # sum(a) < 0: relevance mass undefined; energy defined
    found = scores([negative.tolist(), negative.tolist()], region)
    assert all(np.isnan(found[name][0]) for name in ATTRIBUTION_METRICS)  # empty region
    assert np.isnan(found["auc"][1]) and np.isnan(found["relevance_mass_accuracy"][1])
    assert found["energy_pointing_game"][1] == 1.0 and found["top_k_intersection"][1] == 1.0
    zero = scores([np.zeros((4, 4)).tolist()], region[1:])
    assert zero["energy_pointing_game"][0] == 0.0


def test_regions_are_the_union_of_inclusive_boxes_or_the_mask() -> None:
    boxes = torch.tensor([[[1.0, 0.0, 2.0, 1.0], [3.0, 3.0, 3.0, 3.0]],
                          [[0.0, 0.0, 1.0, 1.0], [float("nan")] * 4]])
    regions = region_masks(boxes, (4, 5), None)
    expected = np.zeros((2, 4, 5), dtype=bool)
    expected[0, 0:2, 1:3] = expected[0, 3, 3] = True
    expected[1, 0:2, 0:2] = True
    assert np.array_equal(regions, expected)
    masks = torch.tensor([[[1, 0, 255], [0, 1, 1]]], dtype=torch.uint8)
    assert region_masks(boxes[:1], (2, 3), masks).tolist() == [[[True, False, False],
                                                                  [False, True, True]]]


def test_the_accumulator_reports_means_and_records_agree_with_counters() -> None:
    frame = (16, 16)
    maps = torch.zeros(3, 1, 16, 16)
    maps[0, 0, 2:6, 2:6] = 1.0  # inside the box
    maps[1, 0, 10:14, 10:14] = 1.0  # outside
    maps[2, 0, 3, 3] = float("nan")  # zeroed: every pixel a maximum, a pointing-game hit
    boxes = torch.tensor([[[1.0, 1.0, 7.0, 7.0]]] * 3)
    acc = LocalizationAccumulator(frame_size=frame, thresholds=np.arange(0, 1, 0.25))
    acc.update(maps, boxes, torch.tensor([0, 1, 2]), torch.tensor([[0], [0], [2]]))
    metrics = acc.compute()
    assert metrics["pointing_game"] == pytest.approx(200 / 3)
    assert metrics["attribution_region"] == "boxes"
    assert metrics["pointing_tolerance"] == 15 and metrics["top_k"] == 1000
    assert metrics["relevance_mass_accuracy"] == pytest.approx(100 * (1 + 0) / 2)  # NaN one out
    flags = acc.records.hit_flags()
    counted = flags.sum(axis=0)  # (2, D, T + 1)
    box = acc.counts.box_counts[0]  # (2, T, D)
    assert np.array_equal(counted[:, :, :-1], box.transpose(0, 2, 1))
    assert np.array_equal(counted[:, :, -1], acc.counts.fixed_counts[0])
    assert acc.records.column("top1").tolist() == [True, False, True]
