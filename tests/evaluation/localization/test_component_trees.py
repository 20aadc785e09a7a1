"""The component-tree sweeps against OpenCV's contour search, level by level."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.localization.component_trees import (
    _AREA_GAINS,
    _EULER_CHANGES,
    _NEIGHBOURS,
    CONVENTION_CODES,
    level_ious,
)
from evaluation.localization.conventions import CONVENTIONS
from evaluation.localization.reference import reference_multiple_iou, reference_paper_iou
from tests.evaluation.localization.map_strategies import blocky_map, gt_boxes, smooth_map

ALL_LEVELS = np.ones((1, 256), dtype=bool)


def frame_box(rect: tuple[int, int, int, int], convention: str, shape: tuple[int, int]) -> list:
    """The reference's box of a ``cv2.boundingRect``, per convention."""
    x, y, w, h = rect
    height, width = shape
    return {
        "wsoleval": [x, y, min(x + w, width - 1), min(y + h, height - 1)],
        "paper": [x, y, x + w, y + h],
        "strict": [x, y, x + w - 1, y + h - 1],
    }[convention]


def best_iou(box: list, gt: np.ndarray, convention: str) -> float:
    """Best IoU of ``box`` with the rows of ``gt`` that are not NaN padding, at least 0."""
    gt = gt[~np.isnan(gt).any(axis=1)]
    if len(gt) == 0:
        return 0.0
    if convention == "paper":
        return max([0.0] + [reference_paper_iou(box, g) for g in gt.tolist()])
    return max(0.0, float(reference_multiple_iou(np.array([box]), gt).max()))


def opencv_level(mask: np.ndarray) -> tuple[list, np.ndarray | None]:
    contours, hierarchy = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE
    )
    return list(contours), None if hierarchy is None else hierarchy[0]


def depth(hierarchy: np.ndarray, i: int) -> int:
    d, parent = 0, hierarchy[i][3]
    while parent >= 0:
        d, parent = d + 1, hierarchy[parent][3]
    return d


def check_against_opencv(levels_map: np.ndarray, gt: np.ndarray, convention: str) -> int:
    """Assert every level's V1 and V2 IoU and the unresolved flag; return resolved levels."""
    v1, v2, unresolved = level_ious(
        levels_map[None], ALL_LEVELS, gt[None], CONVENTION_CODES[convention]
    )
    resolved = 0
    for level in range(256):
        contours, hierarchy = opencv_level(levels_map > level)
        if not contours:
            assert (v1[0, level], v2[0, level], unresolved[0, level]) == (-1, -1, False)
            continue
        areas = [cv2.contourArea(c) for c in contours]
        depths = [depth(hierarchy, i) for i in range(len(contours))]
        nested = any(d % 2 == 0 < d for d in depths)
        # A hole or nested part can equal its outermost ancestor's area (a one-pixel-wide ring
        # traced on both sides) but comes after it; only outermost ties need OpenCV's order.
        tie = sum(a == max(areas) for a, d in zip(areas, depths, strict=True) if d == 0) > 1
        assert bool(unresolved[0, level]) == (nested or tie), level
        if unresolved[0, level]:
            continue
        resolved += 1
        boxes = [frame_box(cv2.boundingRect(c), convention, levels_map.shape) for c in contours]
        assert v2[0, level] == max(best_iou(b, gt, convention) for b in boxes), level
        assert v1[0, level] == best_iou(boxes[int(np.argmax(areas))], gt, convention), level
    return resolved


@st.composite
def quantised_maps(draw: st.DrawFn) -> np.ndarray:
    """Smooth, blocky or salt-and-pepper uint8 maps (the last: many holes and nested parts)."""
    size = (draw(st.integers(1, 24)), draw(st.integers(1, 24)))
    seed = draw(st.integers(0, 2**31 - 1))
    kind = draw(st.sampled_from(["smooth", "blocky", "noise"]))
    if kind == "noise":
        levels = draw(st.sampled_from([2, 4, 256]))
        rng = np.random.default_rng(seed)
        return (rng.integers(0, levels, size) * (255 // (levels - 1))).astype(np.uint8)
    cells = (min(size[0], draw(st.integers(1, 6))), min(size[1], draw(st.integers(1, 6))))
    score = (smooth_map if kind == "smooth" else blocky_map)(seed, cells, size)
    span = score.max() - score.min()
    normalized = (score - score.min()) / span if span > 0 else np.zeros_like(score)
    return (normalized * 255).astype(np.uint8)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_level_equals_opencv(data: st.DataObject) -> None:
    levels_map = data.draw(quantised_maps())
    gt = data.draw(gt_boxes(levels_map.shape))
    convention = data.draw(st.sampled_from(CONVENTIONS))
    check_against_opencv(levels_map, gt, convention)


def test_smooth_maps_are_almost_always_resolved_in_the_sweeps() -> None:
    resolved = total = 0
    for seed in range(6):
        score = smooth_map(seed, (7, 7), (48, 48))
        levels_map = ((score - score.min()) / np.ptp(score) * 255).astype(np.uint8)
        gt = np.array([[5.0, 6.0, 30.0, 40.0], [np.nan] * 4])
        resolved += check_against_opencv(levels_map, gt, "wsoleval")
        total += len(np.unique(levels_map)) - 1
    assert resolved >= 0.9 * total


def test_nested_component_and_tie_are_unresolved() -> None:
    ring = np.zeros((9, 9), dtype=np.uint8)
    ring[1:8, 1:8] = 200
    ring[2:7, 2:7] = 0
    ring[4, 4] = 200  # a component inside the hole
    twins = np.zeros((5, 9), dtype=np.uint8)
    twins[1:4, 1:3] = twins[1:4, 6:8] = 100  # two outer contours of equal area
    gt = np.array([[1.0, 1.0, 7.0, 7.0]])
    for image in (ring, twins):
        _, _, unresolved = level_ious(image[None], ALL_LEVELS, gt[None], 0)
        assert unresolved[0, 0] and unresolved[0, 99] and not unresolved[0, 200]
        check_against_opencv(image, gt, "wsoleval")


def test_ring_hole_gives_the_widened_hole_box() -> None:
    image = np.zeros((10, 12), dtype=np.uint8)
    image[1:9, 1:11] = 255
    image[3:6, 4:8] = 0  # hole: x 4..7, y 3..5, so its contour spans x 3..8, y 2..6
    gt = np.array([[3.0, 2.0, 8.0, 6.0]])
    v1, v2, unresolved = level_ious(image[None], ALL_LEVELS, gt[None], CONVENTION_CODES["strict"])
    assert not unresolved[0, 100]
    assert v2[0, 100] == 1.0  # the hole's contour box is the ground truth exactly
    assert v1[0, 100] == pytest.approx(30 / 80)  # the outer box x 1..10, y 1..8


def test_area_table_counts_two_by_two_blocks() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        filled = rng.random((6, 6)) < 0.6
        filled[2, 2] = False
        mask = sum(int(filled[2 + dy, 2 + dx]) << k for k, (dx, dy) in enumerate(_NEIGHBOURS))

        def twice_area(f: np.ndarray) -> int:
            corners = f[:-1, :-1].astype(int) + f[1:, :-1] + f[:-1, 1:] + f[1:, 1:]
            return int((corners == 3).sum() + 2 * (corners == 4).sum())

        after = filled.copy()
        after[2, 2] = True
        assert _AREA_GAINS[mask] == twice_area(after) - twice_area(filled)


def test_euler_table_matches_components_minus_holes() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        foreground = rng.random((7, 7)) < 0.5
        foreground[3, 3] = True

        def euler(f: np.ndarray) -> int:
            contours, hierarchy = opencv_level(f)
            if not contours:
                return 0
            holes = sum(depth(hierarchy, i) % 2 for i in range(len(contours)))
            return len(contours) - 2 * holes

        after = foreground.copy()
        after[3, 3] = False
        background = ~foreground
        mask = sum(int(background[3 + dy, 3 + dx]) << k for k, (dx, dy) in enumerate(_NEIGHBOURS))
        assert _EULER_CHANGES[mask] == 4 * (euler(after) - euler(foreground))
