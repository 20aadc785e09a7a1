"""Boxes, quantisation, normalisation and IoU against the reference and hand-worked cases."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.errors import ConfigurationError, ScoreMapError
from evaluation.localization.boxes import (
    CONVENTIONS,
    box_iou,
    boxes_at_thresholds,
    empty_box,
    find_contour_boxes,
    normalize_score_maps,
    quantize_raw_maps,
    quantize_score_maps,
    rects_to_boxes,
    threshold_levels,
)
from evaluation.localization.reference import (
    reference_boxes,
    reference_multiple_iou,
    reference_normalize,
    reference_paper_iou,
    reference_quantize,
)
from tests.evaluation.localization.map_strategies import score_maps

GOLDEN_TAUS = [0.0, 0.2, 0.4, 0.6, 0.8]
UNIMODAL = [
    [0, 0, 0, 0, 0],
    [0, 0.4, 0.4, 0.4, 0.6],
    [0, 0.4, 1, 0.8, 0.6],
    [0, 0.4, 0.4, 0.4, 0.6],
]
MULTIMODAL = [
    [0.4, 0, 0.2, 0.2, 0.2],
    [0.4, 0.4, 0, 0.4, 0],
    [0, 0, 0, 0.4, 0],
    [1, 0.6, 0.8, 0.2, 0.2],
]


def as_lists(boxes: list[np.ndarray]) -> list[list[list[int]]]:
    return [b.tolist() for b in boxes]


# ---------------------------------------------------------------- golden vectors (wsol_eval §2.14)
def test_golden_unimodal_v1() -> None:
    boxes = boxes_at_thresholds(np.array(UNIMODAL), GOLDEN_TAUS)
    assert as_lists(boxes) == [[[1, 1, 4, 3]], [[1, 1, 4, 3]], [[2, 1, 4, 3]], [[2, 2, 4, 3]],
                               [[2, 2, 3, 3]]]


def test_golden_multimodal_v1_and_v2() -> None:
    v1 = boxes_at_thresholds(np.array(MULTIMODAL), GOLDEN_TAUS)
    assert as_lists(v1) == [[[0, 0, 4, 3]], [[0, 0, 2, 2]], [[0, 3, 3, 3]], [[2, 3, 3, 3]],
                            [[0, 3, 1, 3]]]
    v2 = boxes_at_thresholds(np.array(MULTIMODAL), GOLDEN_TAUS, multi_contour=True)
    expected = [[[0, 0, 4, 3]], [[0, 1, 4, 3], [0, 0, 2, 2]], [[0, 3, 3, 3]],
                [[2, 3, 3, 3], [0, 3, 1, 3]], [[0, 3, 1, 3]]]
    assert [sorted(b) for b in as_lists(v2)] == [sorted(b) for b in expected]


def test_golden_zero_map_gives_origin_box_at_every_threshold() -> None:
    assert as_lists(boxes_at_thresholds(np.zeros((3, 3)), GOLDEN_TAUS)) == [[[0, 0, 0, 0]]] * 5


def test_golden_nan_map_raises() -> None:
    with pytest.raises(ScoreMapError) as info:
        boxes_at_thresholds(np.full((3, 3), np.nan), GOLDEN_TAUS)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [([1, 2, 5, 6], [3, 1, 4, 5], 8 / 27), ([1, 2, 5, 6], [1, 2, 5, 6], 1.0),
     ([0, 0, 0, 0], [0, 0, 0, 0], 1.0), ([0, 0, 3, 3], [5, 5, 6, 6], 0.0)],
)
def test_golden_iou(a: list[int], b: list[int], expected: float) -> None:
    iou = box_iou(torch.tensor([a]), torch.tensor([b]))
    assert iou.dtype == torch.float64
    assert float(iou[0, 0]) == pytest.approx(expected, abs=0, rel=1e-15)


def test_iou_many_against_many_matches_reference() -> None:
    rng = np.random.default_rng(0)
    a = np.sort(rng.integers(0, 40, (7, 2, 2)), axis=1).transpose(0, 2, 1).reshape(7, 4)
    b = np.sort(rng.integers(0, 40, (5, 2, 2)), axis=1).transpose(0, 2, 1).reshape(5, 4)
    a, b = a[:, [0, 2, 1, 3]], b[:, [0, 2, 1, 3]]
    ours = box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert np.array_equal(ours, reference_multiple_iou(a, b))


# ---------------------------------------------------------------- hand-worked cases
def square_map(size: int, x0: int, y0: int, side: int) -> np.ndarray:
    score = np.zeros((size, size))
    score[y0 : y0 + side, x0 : x0 + side] = 1.0
    return score


def test_off_by_one_of_wsoleval_and_its_fixes() -> None:
    score = square_map(10, 3, 4, 2)
    gt = torch.tensor([[3.0, 4.0, 4.0, 5.0]])
    wsol = boxes_at_thresholds(score, [0.5])[0]
    strict = boxes_at_thresholds(score, [0.5], "strict")[0]
    paper = boxes_at_thresholds(score, [0.5], "paper")[0]
    assert wsol.tolist() == [[3, 4, 5, 6]] and paper.tolist() == [[3, 4, 5, 6]]
    assert strict.tolist() == [[3, 4, 4, 5]]
    assert float(box_iou(torch.from_numpy(wsol), gt)) == pytest.approx(4 / 9)
    assert float(box_iou(torch.from_numpy(strict), gt, "strict")) == 1.0


def test_border_box_is_clipped_by_wsoleval_not_by_paper() -> None:
    score = square_map(10, 7, 7, 3)
    assert boxes_at_thresholds(score, [0.5])[0].tolist() == [[7, 7, 9, 9]]
    assert boxes_at_thresholds(score, [0.5], "paper")[0].tolist() == [[7, 7, 10, 10]]
    assert boxes_at_thresholds(score, [0.5], "strict")[0].tolist() == [[7, 7, 9, 9]]


def test_ring_with_hole_gives_outer_and_hole_boxes_in_v2() -> None:
    score = square_map(10, 1, 1, 7)
    score[3:6, 3:6] = 0
    v2 = boxes_at_thresholds(score, [0.5], "strict", multi_contour=True)[0]
    assert sorted(v2.tolist()) == [[1, 1, 7, 7], [2, 2, 6, 6]]
    assert boxes_at_thresholds(score, [0.5], "strict")[0].tolist() == [[1, 1, 7, 7]]


def test_diagonal_pixels_are_one_component() -> None:
    score = np.zeros((6, 6))
    score[1, 1] = score[2, 2] = score[3, 3] = 1.0
    assert boxes_at_thresholds(score, [0.5], "strict", multi_contour=True)[0].tolist() == [
        [1, 1, 3, 3]
    ]


def test_tie_in_contour_area_follows_opencv_order() -> None:
    score = np.zeros((8, 12))
    score[2:5, 1:4] = 1.0
    score[2:5, 7:10] = 1.0
    ours = boxes_at_thresholds(score, [0.5], "strict")[0].tolist()
    assert ours == reference_boxes(score, [0.5], "strict")[0]
    assert ours == [[7, 2, 9, 4]]


def test_empty_masks_per_convention() -> None:
    score = np.zeros((5, 5))
    assert boxes_at_thresholds(score, [0.3])[0].tolist() == [[0, 0, 0, 0]]
    assert boxes_at_thresholds(score, [0.3], "paper")[0].tolist() == [[0, 0, 1, 1]]
    assert boxes_at_thresholds(score, [0.3], "strict")[0].shape == (0, 4)
    assert [empty_box(c) for c in CONVENTIONS] == [(0, 0, 0, 0), (0, 0, 1, 1), None]


def test_full_map_gives_the_frame_box() -> None:
    assert boxes_at_thresholds(np.ones((6, 9)), [0.5])[0].tolist() == [[0, 0, 8, 5]]


def test_paper_iou_keeps_the_unclamped_intersection() -> None:
    a, b = torch.tensor([[0, 0, 0, 0]]), torch.tensor([[2, 2, 2, 2]])
    assert float(box_iou(a, b, "paper")) == 1.0 == reference_paper_iou([0, 0, 0, 0], [2, 2, 2, 2])
    assert float(box_iou(a, b, "wsoleval")) == 0.0
    far = torch.tensor([[9, 9, 9, 9]])
    assert float(box_iou(a, far, "paper")) == 0.0


def test_rects_to_boxes_on_arrays_and_tensors() -> None:
    rects = np.array([[2, 3, 4, 5], [6, 0, 4, 2]])
    expected = {"wsoleval": [[2, 3, 6, 7], [6, 0, 9, 2]], "paper": [[2, 3, 6, 8], [6, 0, 10, 2]],
                "strict": [[2, 3, 5, 7], [6, 0, 9, 1]]}
    for convention, boxes in expected.items():
        assert rects_to_boxes(rects, (8, 10), convention).tolist() == boxes
        assert rects_to_boxes(torch.from_numpy(rects), (8, 10), convention).tolist() == boxes


def test_unknown_convention_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="wsoleval, paper, strict"):
        boxes_at_thresholds(np.zeros((3, 3)), [0.1], "exactish")


# ---------------------------------------------------------------- normalisation and quantisation
def test_normalisation_zeroes_and_flags_bad_maps() -> None:
    maps = torch.randn(5, 6, 7)
    maps[1, 2, 3] = float("nan")
    maps[2, 0, 0] = float("inf")
    maps[3] = 4.5
    maps[4, 1, 1] = -float("inf")
    out = normalize_score_maps(maps, (6, 7))
    assert out.nonfinite.tolist() == [False, True, True, False, True]
    assert out.constant.tolist() == [False, False, False, True, False]
    assert float(out.maps[1:].abs().sum()) == 0.0
    assert float(out.maps[0].min()) == 0.0 and float(out.maps[0].max()) == 1.0


def test_normalisation_matches_the_reference_bit_for_bit() -> None:
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        maps = (rng.standard_normal((4, 9, 11)) * 3 + 1).astype(dtype)
        ours = normalize_score_maps(torch.from_numpy(maps), (9, 11)).maps.numpy()
        assert ours.dtype == np.float64
        for i in range(4):
            assert np.array_equal(ours[i], reference_normalize(maps[i]))
    assert not np.shares_memory(maps, ours)


def test_float32_maps_are_quantised_from_float64_like_the_reference() -> None:
    # The reference casts CAMs to float64 before normalising; in float32, (s * 255) lands one
    # level lower on some pixels of large maps. This seed has such pixels (checked below).
    maps = np.random.default_rng(1).standard_normal((8, 224, 224)).astype(np.float32)
    ours = quantize_score_maps(normalize_score_maps(torch.from_numpy(maps), (224, 224)).maps)
    float32_levels_differ = False
    for i in range(8):
        expected = reference_quantize(reference_normalize(maps[i]), "wsoleval")
        assert np.array_equal(ours[i].numpy(), expected)
        in_float32 = maps[i] - maps[i].min()
        in_float32 /= in_float32.max()
        float32_levels_differ |= not np.array_equal((in_float32 * 255).astype(np.uint8), expected)
    assert float32_levels_differ


def test_normalisation_resizes_like_cv2_inter_cubic() -> None:
    coarse = np.random.default_rng(2).standard_normal((7, 7)).astype(np.float32)
    ours = normalize_score_maps(torch.from_numpy(coarse)[None, None], (56, 56)).maps[0].numpy()
    reference = reference_normalize(cv2.resize(coarse, (56, 56), interpolation=cv2.INTER_CUBIC))
    assert np.abs(ours - reference).max() < 1e-5


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_fused_quantisation_equals_normalise_then_quantise(convention: str) -> None:
    rng = np.random.default_rng(3)
    maps = torch.from_numpy(rng.standard_normal((9, 40, 56)) * 5 + 2)
    maps[1, 4, 4] = float("nan")
    maps[2, 0, 0] = float("inf")
    maps[3] = -7.25
    maps[4, 0, 0], maps[4, 2, 2] = 1e308, -1e308  # the shifted maximum overflows
    maps[5, 4, 6] = -float("inf")
    cases = [maps, maps.float(), maps.half(), (maps.nan_to_num() * 100).to(torch.int64)]
    cases += [maps[:, None, ::2, ::2]]  # (B, 1, h, w) of another size: resized first
    for raw in cases:
        expected = normalize_score_maps(raw, (40, 56), convention)
        fused = quantize_raw_maps(raw, (40, 56), convention)
        assert np.array_equal(fused.levels, quantize_score_maps(expected.maps, convention).numpy())
        assert torch.equal(fused.nonfinite, expected.nonfinite)
        assert torch.equal(fused.constant, expected.constant)
    flags = quantize_raw_maps(maps, (40, 56), convention)
    assert flags.nonfinite.tolist() == [False, True, True, False, True, True, False, False, False]
    assert flags.constant.tolist() == [False, False, False, True] + [False] * 5


def test_normalisation_rejects_bad_shapes() -> None:
    with pytest.raises(ScoreMapError, match="shape"):
        normalize_score_maps(torch.zeros(2, 3, 4, 5), (4, 5))
    with pytest.raises(ScoreMapError, match="shape"):
        quantize_raw_maps(torch.zeros(2, 3, 4, 5), (4, 5))
    with pytest.raises(ScoreMapError, match="real"):
        quantize_raw_maps(torch.zeros(2, 4, 5, dtype=torch.complex64), (4, 5))


@settings(max_examples=25, deadline=None)
@given(score_maps(size=(17, 23)))
def test_quantisation_matches_the_reference(score: np.ndarray) -> None:
    for convention in CONVENTIONS:
        normalized = reference_normalize(score)
        ours = quantize_score_maps(torch.from_numpy(normalized), convention).numpy()
        assert np.array_equal(ours, reference_quantize(normalized, convention))


def test_threshold_levels_follow_int_tau_times_max() -> None:
    taus = np.arange(0, 1, 0.001)
    levels = threshold_levels(torch.tensor([255, 0, 37]), taus)
    for b, peak in enumerate((255, 0, 37)):
        assert levels[b].tolist() == [int(t * np.uint8(peak)) for t in taus]


# ---------------------------------------------------------------- exactness against brute force
@settings(max_examples=40, deadline=None)
@given(score_maps(size=(32, 32)), st.sampled_from(CONVENTIONS))
def test_boxes_equal_the_brute_force_loop(score: np.ndarray, convention: str) -> None:
    taus = list(np.arange(0, 1, 0.05))
    normalized = reference_normalize(score)
    v1 = boxes_at_thresholds(normalized, taus, convention)
    assert as_lists(v1) == reference_boxes(normalized, taus, convention)
    v2 = boxes_at_thresholds(normalized, taus, convention, multi_contour=True)
    expected = reference_boxes(normalized, taus, convention, multi_contour=True)
    assert [sorted(b) for b in as_lists(v2)] == [sorted(b) for b in expected]


@settings(max_examples=20, deadline=None)
@given(score_maps(size=(24, 40)))
def test_contour_order_and_areas_equal_opencv(score: np.ndarray) -> None:
    levels_map = reference_quantize(reference_normalize(score), "wsoleval")
    levels = [0, 40, 90, 128, 200, 250]
    found = find_contour_boxes(levels_map, levels)
    for k, level in enumerate(levels):
        contours = cv2.findContours(
            (levels_map > level).astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE
        )[0]
        rects = [list(cv2.boundingRect(c)) for c in contours]
        assert found.rects[found.level_index == k].tolist() == rects
        if contours:
            largest = max(range(len(contours)), key=lambda i: cv2.contourArea(contours[i]))
            first = int(np.flatnonzero(found.level_index == k)[0])
            assert int(found.largest[k]) - first == largest
        else:
            assert found.largest[k] == -1
