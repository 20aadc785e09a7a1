"""Bootstrap intervals against a brute-force bootstrap written here, and their coverage."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.errors import ConfigurationError
from evaluation.statistics.bootstrap import BootstrapSettings, percentile_interval
from evaluation.statistics.estimates import point_metrics
from evaluation.statistics.intervals import metric_intervals
from evaluation.statistics.records import ATTRIBUTION_METRICS, ImageRecords
from tests.evaluation.statistics.record_factory import DELTAS, THRESHOLDS, random_records

FIFTY = DELTAS.index(50)
STEPS = len(THRESHOLDS)


def brute_force(flags: np.ndarray, top1: np.ndarray, attribution: np.ndarray, pixels: np.ndarray,
                resamples: int, seed: int) -> dict[str, list[float]]:
    """One resample at a time: draw N images, take them, score them from scratch."""
    rng = np.random.default_rng(seed)
    count = len(flags)
    values: dict[str, list[float]] = {key: [] for key in (
        "maxboxacc", "maxboxacc_v2", "gt_known_loc", "top1_loc_best", "top1_cls",
        "relevance_mass_accuracy", "pxap", "v1_curve_3")}
    for _ in range(resamples):
        drawn = rng.integers(0, count, size=count)
        hits = flags[drawn]
        v1 = hits[:, 0, FIFTY, :STEPS].mean(axis=0) * 100
        best = int(np.argmax(v1))
        values["maxboxacc"].append(v1.max())
        values["maxboxacc_v2"].append(np.mean(
            [hits[:, 1, d, :STEPS].mean(axis=0).max() * 100 for d in range(len(DELTAS))]))
        values["gt_known_loc"].append(hits[:, 0, FIFTY, STEPS].mean() * 100)
        values["top1_loc_best"].append((hits[:, 0, FIFTY, best] & top1[drawn]).mean() * 100)
        values["top1_cls"].append(top1[drawn].mean() * 100)
        mass = attribution[drawn, ATTRIBUTION_METRICS.index("relevance_mass_accuracy")]
        values["relevance_mass_accuracy"].append(np.nanmean(mass) * 100)
        values["pxap"].append(pxap(pixels[drawn].sum(axis=0)))
        values["v1_curve_3"].append(v1[3])
    return {key: np.percentile(v, [2.5, 97.5]).tolist() for key, v in values.items()}


def pxap(histogram: np.ndarray) -> float:
    """Average precision of pooled (2, K) histograms, written out as a loop over edges."""
    total = 0.0
    previous_recall = 0.0
    positives = histogram[0].sum()
    for k in range(histogram.shape[1] - 1, -1, -1):
        tp, fp = histogram[0, k:].sum(), histogram[1, k:].sum()
        recall = tp / positives
        if k < histogram.shape[1] - 1 and tp + fp > 0:
            total += tp / (tp + fp) * (recall - previous_recall)
        previous_recall = recall
    return 100 * total


def test_intervals_equal_a_brute_force_bootstrap() -> None:
    records, flags = random_records(np.random.default_rng(1), 60, hit_rate=np.linspace(0.2, 0.8,
                                    STEPS + 1), pixels=True)
    settings = BootstrapSettings(resamples=200, seed=7)
    ours = metric_intervals(records, settings)
    expected = brute_force(flags, records.column("top1"), records.column("attribution"),
                           records.column("pixels"), 200, 7)
    for key in ("maxboxacc", "maxboxacc_v2", "gt_known_loc", "top1_loc_best", "top1_cls",
                "relevance_mass_accuracy", "pxap"):
        np.testing.assert_allclose(ours[key], expected[key], rtol=1e-9, err_msg=key)
    curve = ours["curves"]["v1"]["50"]
    np.testing.assert_allclose([curve["low"][3], curve["high"][3]], expected["v1_curve_3"],
                               rtol=1e-9)


def test_the_point_estimates_are_the_plain_metrics() -> None:
    records, flags = random_records(np.random.default_rng(2), 40)
    point = point_metrics(records)
    v1 = flags[:, 0, FIFTY, :STEPS].mean(axis=0) * 100
    assert point["maxboxacc"][0] == pytest.approx(v1.max())
    assert point["best_index"][0] == np.argmax(v1)
    top5 = records.column("top5")
    assert point["top5_loc"][0] == pytest.approx((flags[:, 0, FIFTY, STEPS] & top5).mean() * 100)


def test_the_same_seed_gives_the_same_intervals_and_another_seed_other_ones() -> None:
    records, _ = random_records(np.random.default_rng(3), 50)
    first = metric_intervals(records, BootstrapSettings(resamples=50, seed=1))
    assert metric_intervals(records, BootstrapSettings(resamples=50, seed=1)) == first
    assert metric_intervals(records, BootstrapSettings(resamples=50, seed=2)) != first


def test_blocks_of_resamples_do_not_change_the_intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    records, _ = random_records(np.random.default_rng(4), 30)
    settings = BootstrapSettings(resamples=40, seed=5)
    whole = metric_intervals(records, settings)
    monkeypatch.setattr("evaluation.statistics.bootstrap.WEIGHT_BUDGET", 7 * 30)
    monkeypatch.setattr("evaluation.statistics.estimates.IMAGE_BLOCK", 8)
    blocked = metric_intervals(records, settings)
    for key in ATTRIBUTION_METRICS:  # float64 sums in another order: equal to rounding
        np.testing.assert_allclose(blocked.pop(key), whole.pop(key), rtol=1e-12)
    assert blocked == whole  # hit counts are exact whatever the blocks


def test_the_95_percent_interval_covers_a_known_rate_in_about_95_percent_of_trials() -> None:
    true_rate = 0.3
    rng = np.random.default_rng(11)
    covered = 0
    trials = 400
    for trial in range(trials):
        records, _ = random_records(rng, 150, hit_rate=true_rate, predictions=False)
        low, high = metric_intervals(records, BootstrapSettings(300, seed=trial))["gt_known_loc"]
        covered += low <= 100 * true_rate <= high
    assert 0.92 <= covered / trials <= 0.975


def test_undefined_metrics_have_no_interval() -> None:
    records, _ = random_records(np.random.default_rng(5), 20, predictions=False)
    intervals = metric_intervals(records, BootstrapSettings(resamples=20))
    assert intervals["top1_loc"] is None and intervals["pxap"] is None
    assert intervals["gt_known_loc"] is not None


def test_incomplete_records_are_refused() -> None:
    records = ImageRecords.empty(THRESHOLDS, 0.2, DELTAS, DELTAS)
    flags = np.zeros((1, 2, len(DELTAS), STEPS + 1), dtype=bool)
    records.add(np.array([2]), flags, None, None, np.zeros(1), np.zeros((1, 7)), None)
    with pytest.raises(ConfigurationError, match="2 image positions hold no record"):
        metric_intervals(records, BootstrapSettings(resamples=5))


def test_percentile_interval_skips_undefined_resamples() -> None:
    samples = np.array([1.0, np.nan, 3.0, 2.0, np.nan])
    np.testing.assert_allclose(percentile_interval(samples, 0.5),
                               np.percentile([1.0, 3.0, 2.0], [25, 75]))
    assert np.isnan(percentile_interval(np.full(4, np.nan), 0.95)).all()


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="resamples"):
        BootstrapSettings(resamples=0)
    with pytest.raises(ConfigurationError, match="level"):
        BootstrapSettings(level=1.0)
    assert BootstrapSettings(10, 3, 0.9).describe() == {
        "method": "percentile bootstrap", "resamples": 10, "seed": 3, "level": 0.9,
        "unit": "images"}
