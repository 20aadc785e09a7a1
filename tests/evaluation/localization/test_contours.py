"""Boxes of a map at many thresholds (the contour search) against the reference and by hand."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.errors import ConfigurationError, ScoreMapError
from evaluation.localization.boxes import box_iou, empty_box
from evaluation.localization.contours import boxes_at_thresholds, find_contour_boxes
from evaluation.localization.conventions import CONVENTIONS
from evaluation.localization.reference import (
    reference_boxes,
    reference_normalize,
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


def test_unknown_convention_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="wsoleval, paper, strict"):
        boxes_at_thresholds(np.zeros((3, 3)), [0.1], "exactish")


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
