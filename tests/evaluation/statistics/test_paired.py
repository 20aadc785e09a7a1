"""Paired comparisons: the paired bootstrap by brute force, McNemar against scipy, ranks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from evaluation.errors import ConfigurationError
from evaluation.statistics.bootstrap import BootstrapSettings
from evaluation.statistics.paired import (
    compare_methods,
    discordant_pairs,
    hit_flags,
    mcnemar_exact,
)
from evaluation.statistics.records import ImageRecords
from tests.evaluation.statistics.record_factory import DELTAS, THRESHOLDS, random_records

STEPS = len(THRESHOLDS)
FIFTY = DELTAS.index(50)


def same_images(records: ImageRecords, flags: np.ndarray, labels: np.ndarray) -> ImageRecords:
    """Records of other hits on the images of ``labels``."""
    other = ImageRecords.empty(THRESHOLDS, 0.2, DELTAS, DELTAS)
    other.add(np.arange(len(labels)), flags, records.column("top1"), records.column("top5"),
              labels, records.column("attribution")[::-1], None)
    return other


def test_paired_bootstrap_of_maxboxacc_equals_a_brute_force_one() -> None:
    rng = np.random.default_rng(0)
    first, flags_a = random_records(rng, 80, hit_rate=0.6)
    flags_b = rng.random(flags_a.shape) < 0.45
    second = same_images(first, flags_b, first.column("labels"))
    comparison = compare_methods([first, second], BootstrapSettings(resamples=150, seed=3))
    draws = np.random.default_rng(3)
    differences = []
    for _ in range(150):
        picked = draws.integers(0, 80, size=80)
        a = flags_a[picked, 0, FIFTY, :STEPS].mean(axis=0).max()
        b = flags_b[picked, 0, FIFTY, :STEPS].mean(axis=0).max()
        differences.append(100 * (a - b))
    found = comparison.difference("maxboxacc", 0, 1)
    np.testing.assert_allclose([found.low, found.high], np.percentile(differences, [2.5, 97.5]),
                               rtol=1e-9)
    expected = 100 * (flags_a[:, 0, FIFTY, :STEPS].mean(axis=0).max()
                      - flags_b[:, 0, FIFTY, :STEPS].mean(axis=0).max())
    assert found.difference == pytest.approx(expected)
    assert found.significant == (found.low > 0 or found.high < 0)
    assert found.test == "paired bootstrap"
    reverse = comparison.difference("maxboxacc", 1, 0)
    assert (reverse.difference, reverse.low, reverse.high) == (
        -found.difference, -found.high, -found.low)


@pytest.mark.parametrize(("only_first", "only_second"), [(0, 0), (3, 0), (7, 2), (40, 61),
                                                         (500, 440)])
def test_mcnemar_exact_equals_scipys_two_sided_binomial_test(only_first: int,
                                                             only_second: int) -> None:
    n = only_first + only_second
    expected = 1.0 if n == 0 else binomtest(only_first, n, 0.5).pvalue
    assert mcnemar_exact(only_first, only_second) == pytest.approx(expected, rel=1e-9)


def test_fixed_threshold_hit_rates_use_mcnemar_on_the_discordant_images() -> None:
    rng = np.random.default_rng(1)
    first, flags_a = random_records(rng, 120)
    flags_b = flags_a.copy()
    flags_b[:40, 0, FIFTY, STEPS] = False  # the second method misses 40 images more or less
    flags_b[40:45, 0, FIFTY, STEPS] = True
    second = same_images(first, flags_b, first.column("labels"))
    found = compare_methods([first, second], BootstrapSettings(100)).difference(
        "gt_known_loc", 0, 1)
    a, b = hit_flags(first, "gt_known_loc"), hit_flags(second, "gt_known_loc")
    only_a, only_b = discordant_pairs(a, b)
    assert (only_a, only_b) == (int((a > b).sum()), int((b > a).sum()))
    assert found.test == "McNemar exact"
    assert found.p_value == pytest.approx(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    assert found.significant == (found.p_value < 0.05)


def test_ranks_count_the_methods_significantly_better_and_tie_the_rest() -> None:
    rng = np.random.default_rng(2)
    count = 400
    labels = rng.integers(0, 5, count)
    methods = []
    for rate in (0.8, 0.7, 0.6):  # A beats C; B is between, with ties either side
        flags = rng.random((count, 2, len(DELTAS), STEPS + 1)) < 0.5
        flags[:, 0, FIFTY, STEPS] = rng.random(count) < rate
        template, _ = random_records(np.random.default_rng(9), count)
        methods.append(same_images(template, flags, labels))
    comparison = compare_methods(methods, BootstrapSettings(200, seed=1))
    better = comparison.better("gt_known_loc")
    ranks = comparison.ranks["gt_known_loc"]
    assert list(ranks) == [1 + int(better[:, j].sum()) for j in range(3)]
    assert better[0, 2] and not better[2, 0]
    assert ranks[0] == 1 and ranks[2] >= 2


def test_methods_on_other_images_are_not_paired() -> None:
    first, _ = random_records(np.random.default_rng(3), 30)
    second, _ = random_records(np.random.default_rng(4), 31)
    with pytest.raises(ConfigurationError, match="same images"):
        compare_methods([first, second], BootstrapSettings(10))
    third, _ = random_records(np.random.default_rng(5), 30)
    with pytest.raises(ConfigurationError, match="labels differ"):
        compare_methods([first, third], BootstrapSettings(10))
    with pytest.raises(ConfigurationError, match="two methods"):
        compare_methods([first], BootstrapSettings(10))
