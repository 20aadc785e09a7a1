"""The order-based attribution metrics against brute force, on tie-heavy maps and many regions.

Brute force here: a stable descending argsort for the top shares (ties in pixel order), every
(region, outside) pair for the AUC, and every (peak, region pixel) pair's Euclidean distance for
the pointing games.
"""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.localization.attribution import attribution_metrics
from evaluation.localization.attribution_ranks import ranking_from_sorted, split_by_region
from evaluation.statistics.records import ATTRIBUTION_METRICS

COLUMN = {name: k for k, name in enumerate(ATTRIBUTION_METRICS)}


def top_share(values: np.ndarray, region: np.ndarray, k: int) -> float:
    order = np.argsort(-values, kind="stable")
    return float(region[order[:k]].sum()) / k


def pair_auc(values: np.ndarray, region: np.ndarray) -> float:
    inside, outside = values[region], values[~region]
    wins = (inside[:, None] > outside[None, :]).sum() + 0.5 * (inside[:, None] == outside).sum()
    return float(wins / (len(inside) * len(outside)))


def nearest_peak_distance(frame: np.ndarray, region: np.ndarray) -> float:
    peaks = np.argwhere(frame == frame.max())
    pixels = np.argwhere(region)
    gaps = peaks[:, None, :] - pixels[None, :, :]
    return float(np.sqrt((gaps**2).sum(axis=2)).min())


def random_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    height, width = rng.integers(2, 30, 2)
    maps = rng.integers(-3, 4, (height, width)).astype(np.float64)  # many ties
    if rng.random() < 0.5:
        maps = maps + rng.standard_normal((height, width)) * (rng.random() < 0.5)
    region = rng.random((height, width)) < rng.random()
    region.flat[rng.integers(region.size)] = True
    return maps, region


@pytest.mark.parametrize("seed", range(4))
def test_ranking_kernel_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(50):
        maps, region = random_case(rng)
        values, flags = maps.ravel(), region.ravel()
        inside, outside = split_by_region(values, flags)
        assert np.array_equal(inside, values[flags]) and np.array_equal(outside, values[~flags])
        inside.sort()
        outside.sort()
        k = int(rng.integers(1, values.size + 1))
        rank, top, auc = ranking_from_sorted(values, flags, inside, outside, k)
        assert rank == top_share(values, flags, int(flags.sum()))
        assert top == top_share(values, flags, k)
        if flags.all():
            assert np.isnan(auc)
        else:
            assert auc == pytest.approx(pair_auc(values, flags), rel=1e-15)


@pytest.mark.parametrize("tolerance", [1, 2, 5, 15])
def test_pointing_games_equal_the_brute_force_distance(tolerance: int) -> None:
    rng = np.random.default_rng(tolerance)
    maps, regions, expected = [], [], []
    for _ in range(120):
        frame = np.zeros((24, 32))
        peaks = rng.integers(0, (24, 32), (int(rng.integers(1, 4)), 2))
        frame[peaks[:, 0], peaks[:, 1]] = 1.0
        region = np.zeros((24, 32), dtype=bool)
        y0, x0 = rng.integers(0, (24, 32))
        region[y0 : y0 + rng.integers(1, 8), x0 : x0 + rng.integers(1, 8)] = True
        if rng.random() < 0.5:  # a second box: the bounding box no longer is the region
            y0, x0 = rng.integers(0, (24, 32))
            region[y0 : y0 + 3, x0 : x0 + 3] = True
        maps.append(frame)
        regions.append(region)
        expected.append(nearest_peak_distance(frame, region))
    table = attribution_metrics(np.stack(maps), np.stack(regions), tolerance)
    distance = np.array(expected)
    assert table[:, COLUMN["pointing_game"]].tolist() == (distance == 0).astype(float).tolist()
    tolerant = table[:, COLUMN["pointing_game_tolerant"]]
    assert tolerant.tolist() == (distance < tolerance).astype(float).tolist()
    assert 0 < tolerant.sum() < len(tolerant)  # both outcomes occur
