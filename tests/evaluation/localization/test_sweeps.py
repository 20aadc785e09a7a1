"""Resolved best IoU per level: the sweeps, then OpenCV where they leave levels unresolved."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from evaluation.localization.component_trees import CONVENTION_CODES, level_ious
from evaluation.localization.conventions import CONVENTIONS
from evaluation.localization.reference import reference_best_ious, reference_boxes
from evaluation.localization.sweeps import CHUNK, best_level_ious
from tests.evaluation.localization.map_strategies import blocky_map

LEVELS = np.array([0, 50, 99, 150, 199, 254])


def nested_and_tied() -> np.ndarray:
    """Two maps the sweeps leave unresolved at low levels: a dot inside a ring's hole, twins."""
    ring = np.zeros((9, 9), dtype=np.uint8)
    ring[1:8, 1:8] = 200
    ring[2:7, 2:7] = 0
    ring[4, 4] = 200
    twins = np.zeros((9, 9), dtype=np.uint8)
    twins[1:4, 1:3] = twins[5:8, 6:8] = 100
    return np.stack([ring, twins])


def expected_ious(image: np.ndarray, gt: np.ndarray, convention: str, v2: bool) -> np.ndarray:
    """The brute force at the thresholds whose foreground level int(tau * max S) is each level.

    The sweeps clamp a contour box's IoU at 0 (the "paper" IoU can be negative); the empty box's
    IoU is taken as it is.
    """
    peak = int(image.max())
    taus = [(level + 0.5) / peak for level in LEVELS]
    scoremap = (image + 0.5) / 255  # quantises back to ``image`` exactly
    best = reference_best_ious(reference_boxes(scoremap, taus, convention, v2), gt, convention)
    return np.where(peak <= LEVELS, best, np.maximum(best, 0))


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_unresolved_levels_are_resolved_by_the_contour_search(convention: str) -> None:
    images = nested_and_tied()
    gt = torch.tensor([[[4.0, 4.0, 4.0, 4.0], [1.0, 1.0, 7.0, 7.0]],
                       [[6.0, 5.0, 7.0, 7.0], [np.nan] * 4]], dtype=torch.float64)
    code = CONVENTION_CODES[convention]
    requested = np.zeros((2, 256), dtype=bool)
    requested[:, LEVELS] = True
    _, _, unresolved = level_ious(images, requested, gt.numpy(), code)
    assert unresolved[0, 0] and unresolved[1, 0]  # the fallback is exercised
    levels = np.tile(LEVELS, (2, 1))
    v1, v2 = best_level_ious(images, levels, gt, convention)
    for b in range(2):
        valid = gt[b][~torch.isnan(gt[b]).any(1)].numpy()
        assert v1[b].tolist() == pytest.approx(expected_ious(images[b], valid, convention, False))
        assert v2[b].tolist() == pytest.approx(expected_ious(images[b], valid, convention, True))


def test_an_executor_splits_the_maps_in_chunks_and_gives_the_same_values() -> None:
    images = np.stack([
        (blocky_map(seed, (4, 5), (20, 24)) * 85).astype(np.uint8) for seed in range(2 * CHUNK + 3)
    ])
    gt = torch.tensor([[[2.0, 3.0, 15.0, 12.0]]], dtype=torch.float64).expand(len(images), 1, 4)
    levels = np.tile(LEVELS, (len(images), 1))
    alone = best_level_ious(images, levels, gt.contiguous(), "wsoleval")
    with ThreadPoolExecutor(2) as pool:
        pooled = best_level_ious(images, levels, gt.contiguous(), "wsoleval", pool)
    for mine, theirs in zip(alone, pooled, strict=True):
        assert np.array_equal(mine, theirs)
    for b in range(len(images)):
        expected = expected_ious(images[b], gt[b].numpy(), "wsoleval", True)
        assert alone[1][b].tolist() == pytest.approx(expected)
