"""The streaming accumulator: exact counters against the brute force, metrics, merge, state."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.errors import ConfigurationError, ScoreMapError
from evaluation.localization import LocalizationAccumulator
from evaluation.localization.conventions import CONVENTIONS
from evaluation.localization.levels import QuantizedMaps
from evaluation.localization.reference import reference_counts
from evaluation.statistics.records import ATTRIBUTION_METRICS
from tests.evaluation.localization.map_strategies import gt_boxes, score_maps, smooth_map

FRAME = (32, 32)
TAUS = np.arange(0, 1, 0.05)


UNSCORED = np.full((1, len(ATTRIBUTION_METRICS)), np.nan)  # no attribution values for the image


def padded(boxes: list[np.ndarray]) -> torch.Tensor:
    most = max(len(b) for b in boxes)
    out = torch.full((len(boxes), most, 4), float("nan"), dtype=torch.float64)
    for i, b in enumerate(boxes):
        out[i, : len(b)] = torch.from_numpy(np.asarray(b, dtype=np.float64))
    return out


def accumulate(maps: list[np.ndarray], boxes: list[np.ndarray], labels: np.ndarray,
               topk: np.ndarray | None = None, batch: int = 3, first_position: int = 0,
               **kwargs: object) -> LocalizationAccumulator:
    acc = LocalizationAccumulator(frame_size=FRAME, thresholds=TAUS, **kwargs)
    for s in range(0, len(maps), batch):
        acc.update(
            torch.from_numpy(np.stack(maps[s : s + batch])),
            padded(boxes[s : s + batch]),
            torch.from_numpy(labels[s : s + batch]),
            None if topk is None else torch.from_numpy(topk[s : s + batch]),
            positions=first_position + torch.arange(s, min(s + batch, len(maps))),
        )
    return acc


@st.composite
def datasets(draw: st.DrawFn) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 7))
    maps = [draw(score_maps(FRAME)) * draw(st.floats(0.5, 5)) for _ in range(n)]
    boxes = [draw(gt_boxes(FRAME)) for _ in range(n)]
    labels = np.array([draw(st.integers(0, 3)) for _ in range(n)])
    topk = np.array([draw(st.permutations(range(6)))[:5] for _ in range(n)])
    return maps, boxes, labels, topk


@settings(max_examples=30, deadline=None)
@given(datasets(), st.sampled_from(CONVENTIONS))
def test_counters_equal_the_brute_force_loop(data: tuple, convention: str) -> None:
    maps, boxes, labels, topk = data
    acc = accumulate(maps, boxes, labels, topk, convention=convention)
    deltas = (30, 50, 70)
    top1 = topk[:, 0] == labels
    top5 = (topk == labels[:, None]).any(1)
    for variant, multi in enumerate((False, True)):
        for kind, keep in enumerate((np.ones(len(maps), bool), top1, top5)):
            expected = reference_counts(
                [m for m, k in zip(maps, keep, strict=True) if k],
                [b for b, k in zip(boxes, keep, strict=True) if k],
                TAUS, deltas, convention, multi,
            )
            assert np.array_equal(acc.counts.box_counts[kind, variant], expected)
        fixed = reference_counts(maps, boxes, [0.2], deltas, convention, multi)[0]
        assert acc.counts.fixed_counts[0, variant].tolist() == fixed.tolist()


def test_fixed_threshold_off_the_grid_and_custom_deltas() -> None:
    maps = [smooth_map(s, (4, 4), FRAME) for s in range(6)]
    boxes = [np.array([[4.0, 5.0, 20.0, 25.0]])] * 6
    acc = accumulate(maps, boxes, np.zeros(6, int), fixed_threshold=0.237, iou_thresholds=(40,))
    expected = reference_counts(maps, boxes, [0.237], (40, 50), "wsoleval", False)[0]
    assert acc.counts.fixed_counts[0, 0].tolist() == expected.tolist()
    result = acc.compute()
    assert list(result["boxacc_v2_by_iou"]) == ["40"]
    assert set(result["curves"]["v1"]) == {"40", "50"}


def hand_dataset() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Image A is found at low thresholds only, image B at high thresholds only."""
    a = np.zeros(FRAME, np.float32)
    a[4:28, 4:28] = 0.3
    a[10:12, 10:12] = 1.0
    b = np.zeros(FRAME, np.float32)
    b[4:28, 4:28] = 0.3
    b[20:30, 20:30] = 1.0
    return [a, b], [np.array([[4.0, 4.0, 27.0, 27.0]]), np.array([[20.0, 20.0, 29.0, 29.0]])]


def test_maxboxacc_uses_one_threshold_for_the_data_set_not_per_image() -> None:
    """Issue #36: a per-image best threshold would give 100 %, the metric gives 50 %."""
    maps, boxes = hand_dataset()
    acc = accumulate(maps, boxes, np.zeros(2, int))
    result = acc.compute()
    per_image_best = [
        reference_counts([m], [b], TAUS, (50,), "wsoleval", False).max() for m, b in zip(
            maps, boxes, strict=True)
    ]
    assert per_image_best == [1, 1]
    assert result["maxboxacc"] == 50.0
    curve = result["curves"]["v1"]["50"]
    assert result["best_threshold"] == TAUS[curve.index(50.0)] == 0.0
    assert curve[0] == 50.0 and max(curve) == 50.0


def test_compute_reports_every_contract_key_in_percent() -> None:
    maps, boxes = hand_dataset()
    acc = accumulate(maps, boxes, np.array([1, 2]), topk=np.array([[1, 0], [0, 2]]))
    result = acc.compute()
    json.dumps(result, allow_nan=False)
    assert result["num_images"] == 2 and result["convention"] == "wsoleval"
    assert result["thresholds"][:3] == [0.0, 0.05, 0.1]
    assert result["iou_thresholds"] == [30, 50, 70]
    assert result["top1_cls"] == 50.0 and result["top5_cls"] == 100.0
    assert result["gt_known_loc"] == 50.0 and result["top1_loc"] == 50.0
    assert result["top5_loc"] == 50.0
    assert result["best_threshold_loc"] == result["best_threshold"]
    assert result["gt_known_loc_best"] == result["maxboxacc"]
    v2 = result["boxacc_v2_by_iou"]
    assert result["maxboxacc_v2"] == pytest.approx(np.mean(list(v2.values())))
    for delta, tau in result["best_threshold_by_iou"].items():
        curve = result["curves"]["v2"][delta]
        assert curve[result["thresholds"].index(tau)] == v2[delta] == max(curve)
        assert result["thresholds"].index(tau) == curve.index(max(curve))
    assert result["pxap"] is None
    assert result["num_nonfinite_maps"] == 0


def test_without_predictions_topk_metrics_are_none() -> None:
    maps, boxes = hand_dataset()
    result = accumulate(maps, boxes, np.zeros(2, int)).compute()
    for key in ("top1_loc", "top5_loc", "top1_loc_best", "top5_loc_best", "top1_cls", "top5_cls"):
        assert result[key] is None


def test_nonfinite_and_constant_maps_are_zeroed_and_counted() -> None:
    maps = [smooth_map(1, (4, 4), FRAME) for _ in range(4)]
    maps[1][3, 3] = np.nan
    maps[2][0, 0] = np.inf
    maps[3][:] = 7.0
    boxes = [np.array([[0.0, 0.0, 0.0, 0.0]])] * 4
    acc = accumulate(maps, boxes, np.zeros(4, int))
    result = acc.compute()
    assert result["num_nonfinite_maps"] == 2 and result["num_constant_maps"] == 1
    # Zeroed maps predict [0, 0, 0, 0], which matches a one-pixel box at the origin.
    assert acc.counts.box_counts[0, 0, :, 0].min() >= 3


def test_several_gt_boxes_take_the_best_pair_and_padding_is_ignored() -> None:
    score = np.zeros(FRAME, np.float32)
    score[2:6, 2:6] = 1.0
    boxes = [np.array([[20.0, 20.0, 30.0, 30.0], [2.0, 2.0, 6.0, 6.0]])]
    acc = accumulate([score], boxes, np.zeros(1, int))
    assert acc.compute()["maxboxacc"] == 100.0
    acc2 = LocalizationAccumulator(frame_size=FRAME, thresholds=TAUS)
    gt = torch.tensor([[[2.0, 2.0, 6.0, 6.0], [np.nan] * 4]])
    acc2.update(torch.from_numpy(score)[None], gt, torch.zeros(1, dtype=torch.long))
    assert np.array_equal(acc2.counts.box_counts, acc.counts.box_counts)


def test_maps_of_other_sizes_are_resized_to_the_frame() -> None:
    coarse = torch.from_numpy(smooth_map(3, (3, 3), (8, 8)))[None, None]
    acc = LocalizationAccumulator(frame_size=FRAME, thresholds=TAUS)
    gt = torch.tensor([[[3.0, 4.0, 20.0, 22.0]]])
    acc.update(coarse, gt, torch.zeros(1, dtype=torch.long))
    resized = torch.nn.functional.interpolate(coarse, size=FRAME, mode="bicubic")
    expected = reference_counts([resized[0, 0].numpy()], [gt[0].numpy()], TAUS)
    assert np.array_equal(acc.counts.box_counts[0, 0], expected)


def test_merge_equals_one_accumulator_over_the_union() -> None:
    maps = [smooth_map(s, (5, 4), FRAME) for s in range(8)]
    boxes = [np.array([[s, s, 20.0 + s, 25.0]]) for s in range(8)]
    labels, topk = np.arange(8) % 3, (np.arange(8)[:, None] + np.arange(3)) % 3
    whole = accumulate(maps, boxes, labels, topk)
    left = accumulate(maps[:3], boxes[:3], labels[:3], topk[:3])
    right = accumulate(maps[3:], boxes[3:], labels[3:], topk[3:], first_position=3)
    merged = left.merge(right)
    assert merged.num_images == 8
    assert merged.compute() == whole.compute()
    for name, array in merged.records.arrays().items():
        assert np.array_equal(array, whole.records.arrays()[name], equal_nan=True), name
    overlapping = accumulate(maps[3:], boxes[3:], labels[3:], topk[3:])
    with pytest.raises(ConfigurationError, match="position 0"):
        left.merge(overlapping)
    for a, b in zip(
        merged.counts.arrays().values(), whole.counts.arrays().values(), strict=True
    ):
        assert np.array_equal(a, b)


def test_state_dict_round_trip_resumes_a_run(tmp_path: object) -> None:
    maps = [smooth_map(s, (4, 6), FRAME) for s in range(6)]
    boxes = [np.array([[2.0, 3.0, 18.0, 30.0]])] * 6
    whole = accumulate(maps, boxes, np.zeros(6, int))
    first = accumulate(maps[:4], boxes[:4], np.zeros(4, int))
    path = tmp_path / "state.pt"  # type: ignore[operator]
    torch.save(first.state_dict(), path)
    resumed = LocalizationAccumulator(frame_size=FRAME, thresholds=TAUS)
    resumed.load_state_dict(torch.load(path, weights_only=True))
    resumed.update(torch.from_numpy(np.stack(maps[4:])), padded(boxes[4:]),
                   torch.zeros(2, dtype=torch.long))
    assert resumed.compute() == whole.compute()


def test_incompatible_settings_are_refused() -> None:
    a = LocalizationAccumulator(frame_size=FRAME, thresholds=TAUS)
    for other in (LocalizationAccumulator(frame_size=FRAME),
                  LocalizationAccumulator(frame_size=FRAME, thresholds=TAUS, convention="paper")):
        with pytest.raises(ConfigurationError, match="differ"):
            a.merge(other)
        with pytest.raises(ConfigurationError, match="differ"):
            a.load_state_dict(other.state_dict())


def test_predictions_must_come_with_every_batch() -> None:
    maps, boxes = hand_dataset()
    acc = accumulate(maps, boxes, np.zeros(2, int))
    with pytest.raises(ConfigurationError, match="every batch"):
        acc.update(torch.from_numpy(maps[0])[None], padded(boxes[:1]),
                   torch.zeros(1, dtype=torch.long), torch.zeros(1, 5, dtype=torch.long))


@pytest.mark.parametrize(
    "kwargs",
    [{"thresholds": [0.5, 0.2]}, {"thresholds": [1.5]}, {"thresholds": []},
     {"iou_thresholds": (0, 50)}, {"iou_thresholds": (50, 50)}, {"fixed_threshold": -0.1},
     {"convention": "other"}, {"frame_size": (0, 3)}],
)
def test_bad_settings_are_configuration_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigurationError):
        LocalizationAccumulator(**kwargs)


def test_bad_shapes_and_empty_accumulator() -> None:
    acc = LocalizationAccumulator(frame_size=FRAME, thresholds=TAUS)
    with pytest.raises(ScoreMapError, match="gt_boxes"):
        acc.update(torch.zeros(2, 32, 32), torch.zeros(2, 4), torch.zeros(2))
    with pytest.raises(ScoreMapError, match="labels"):
        acc.update(torch.zeros(2, 32, 32), torch.zeros(2, 1, 4), torch.zeros(3))
    with pytest.raises(ScoreMapError, match=r"topk_predictions must have shape \(2, k\)"):
        acc.update(torch.zeros(2, 32, 32), torch.zeros(2, 1, 4), torch.zeros(2),
                   topk_predictions=torch.zeros(3, 5))
    with pytest.raises(ConfigurationError, match="no image"):
        acc.compute()


def test_an_executor_gives_the_same_counters() -> None:
    maps = [smooth_map(s, (6, 6), FRAME) for s in range(40)]  # batches of 40: three chunks
    boxes = [np.array([[1.0, 2.0, 21.0, 22.0]])] * 40
    plain = accumulate(maps, boxes, np.zeros(40, int), batch=40)
    with ThreadPoolExecutor(2) as pool:
        pooled = accumulate(maps, boxes, np.zeros(40, int), batch=40, executor=pool)
    assert np.array_equal(plain.counts.box_counts, pooled.counts.box_counts)
    expected = reference_counts(maps, boxes, TAUS, (30, 50, 70), "wsoleval", multi_contour=True)
    assert np.array_equal(pooled.counts.box_counts[0, 1], expected)  # V2, GT-known


def test_the_fixed_threshold_is_float64_like_the_grid() -> None:
    # int(tau * max S) in float64, as the reference: int(0.01 * 100) = 1. Through float32
    # (0.00999999977...) it was 0, and the foreground at the fixed threshold took level 1 too.
    acc = LocalizationAccumulator(frame_size=(8, 8), thresholds=[0.5], fixed_threshold=0.01)
    assert acc.settings.counted_thresholds.dtype == np.float64
    assert acc.settings.counted_thresholds[-1] == 0.01
    levels = np.ones((1, 8, 8), np.uint8)
    levels[0, 2:6, 2:6] = 100  # S > 1: box (2, 2, 6, 6); S > 0: the frame (0, 0, 7, 7)
    flags = np.zeros(1, bool)
    ious = acc.update_levels(QuantizedMaps(levels, flags, flags), np.array([[[2, 2, 5, 5]]]),
                             np.zeros(1, np.int64), UNSCORED)
    assert ious[0, -1] == 16 / 25  # not 16 / 64
    assert acc.compute()["gt_known_loc"] == 100.0


def test_update_levels_checks_the_frame_size() -> None:
    acc = LocalizationAccumulator(frame_size=(8, 8))
    flags = np.zeros(1, bool)
    with pytest.raises(ScoreMapError, match=r"shape \(B, 8, 8\), got \(1, 8, 9\)"):
        acc.update_levels(QuantizedMaps(np.zeros((1, 8, 9), np.uint8), flags, flags),
                          np.zeros((1, 1, 4)), np.zeros(1), UNSCORED)
    with pytest.raises(ScoreMapError, match=r"attribution must have shape \(1, 7\), got \(1, 2\)"):
        acc.update_levels(QuantizedMaps(np.zeros((1, 8, 8), np.uint8), flags, flags),
                          np.zeros((1, 1, 4)), np.zeros(1), np.zeros((1, 2)))
