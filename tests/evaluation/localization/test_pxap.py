"""PxAP against a literal port of the reference's MaskEvaluator, and its invariants."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.errors import ScoreMapError
from evaluation.localization import LocalizationAccumulator
from evaluation.localization.pxap import (
    image_pixel_histograms,
    pixel_histograms,
    pxap_from_histograms,
)
from tests.evaluation.localization.map_strategies import score_maps

TAUS = np.arange(0, 1, 0.01)


def reference_pxap(scoremaps: list[np.ndarray], masks: list[np.ndarray], taus: np.ndarray) -> float:
    """``MaskEvaluator.accumulate`` + ``compute`` on normalised maps, as in wsolevaluation."""
    edges = np.append(taus, [1.0, 2.0, 3.0])
    true_hist = np.zeros(len(taus) + 2, dtype=np.float64)
    false_hist = np.zeros(len(taus) + 2, dtype=np.float64)
    for scoremap, gt_mask in zip(scoremaps, masks, strict=True):
        true_hist += np.histogram(scoremap[gt_mask == 1], bins=edges)[0].astype(np.float64)
        false_hist += np.histogram(scoremap[gt_mask == 0], bins=edges)[0].astype(np.float64)
    tp = true_hist[::-1].cumsum()
    fn = true_hist.sum() - tp
    fp = false_hist[::-1].cumsum()
    non_zero = (tp + fp) != 0
    with np.errstate(invalid="ignore"):
        precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    return float((precision[1:] * np.diff(recall))[non_zero[1:]].sum() * 100)


def pxap_of(maps: np.ndarray, masks: np.ndarray, thresholds: np.ndarray = TAUS) -> float | None:
    acc = LocalizationAccumulator(frame_size=maps.shape[1:], thresholds=thresholds)
    boxes = torch.zeros(len(maps), 1, 4)
    acc.update(torch.from_numpy(maps), boxes, torch.zeros(len(maps)), masks=torch.from_numpy(masks))
    return acc.compute()["pxap"]


@settings(max_examples=25, deadline=None)
@given(st.lists(score_maps(size=(20, 24)), min_size=1, max_size=4), st.integers(0, 2**31 - 1))
def test_pxap_equals_the_reference(maps: list[np.ndarray], seed: int) -> None:
    rng = np.random.default_rng(seed)
    masks = rng.choice(np.array([0, 1, 255], np.uint8), size=(len(maps), 20, 24), p=[.5, .4, .1])
    masks[:, 0, 0] = 1
    stacked = np.stack(maps)
    acc = LocalizationAccumulator(frame_size=(20, 24), thresholds=TAUS)
    acc.update(torch.from_numpy(stacked), torch.zeros(len(maps), 1, 4), torch.zeros(len(maps)),
               masks=torch.from_numpy(masks))
    # The reference's t2n casts every map to float64 before normalising; float32 here would move
    # pixels that sit on a threshold into the neighbouring bin.
    normalized = [
        (m - m.min()) / (m - m.min()).max() if m.max() > m.min() else np.zeros_like(m)
        for m in stacked.astype(np.float64)
    ]
    assert acc.compute()["pxap"] == pytest.approx(
        reference_pxap(normalized, list(masks), TAUS), rel=1e-12
    )


def test_histograms_are_np_histogram_on_edges() -> None:
    values = torch.tensor([[[0.0, 0.05, 0.1, 0.99], [1.0, 0.5, 0.3, 0.03]]], dtype=torch.float64)
    masks = torch.tensor([[[1, 1, 0, 255], [1, 0, 0, 1]]], dtype=torch.uint8)
    taus = torch.tensor([0.0, 0.1, 0.5], dtype=torch.float64)
    hist = pixel_histograms(values, masks, taus)
    edges = np.array([0.0, 0.1, 0.5, 1.0, 2.0, 3.0])
    v, m = values.numpy(), masks.numpy()
    assert hist[0].tolist() == np.histogram(v[m == 1], bins=edges)[0].tolist()
    assert hist[1].tolist() == np.histogram(v[m == 0], bins=edges)[0].tolist()


def test_each_image_has_its_own_histograms() -> None:
    rng = np.random.default_rng(1)
    values = rng.random((3, 6, 7))
    values[1, 0, 0] = 1.0  # the last bin is closed
    masks = rng.choice(np.array([0, 1, 255], np.uint8), size=(3, 6, 7))
    taus = np.array([0.0, 0.25, 0.5])
    per_image = image_pixel_histograms(values, masks, taus)
    edges = np.array([0.0, 0.25, 0.5, 1.0, 2.0, 3.0])
    assert per_image.shape == (3, 2, 5) and per_image.dtype == np.int64
    for b in range(3):
        for row, label in enumerate((1, 0)):
            expected = np.histogram(values[b][masks[b] == label], bins=edges)[0]
            assert per_image[b, row].tolist() == expected.tolist()
    assert np.array_equal(pixel_histograms(values, masks, taus), per_image.sum(axis=0))


def test_perfect_map_scores_100_and_constant_map_scores_the_prevalence() -> None:
    masks = np.zeros((2, 16, 16), np.uint8)
    masks[:, 3:9, 4:12] = 1
    assert pxap_of(masks.astype(np.float32), masks) == pytest.approx(100.0)
    constant = np.full((2, 16, 16), 3.0, np.float32)
    assert pxap_of(constant, masks) == pytest.approx(100.0 * masks.mean())


def test_pxap_is_none_without_positive_pixels_or_without_masks() -> None:
    maps = np.random.default_rng(0).random((2, 8, 8)).astype(np.float32)
    assert pxap_of(maps, np.zeros((2, 8, 8), np.uint8)) is None
    assert pxap_of(maps, np.full((2, 8, 8), 255, np.uint8)) is None
    acc = LocalizationAccumulator(frame_size=(8, 8))
    acc.update(torch.from_numpy(maps), torch.zeros(2, 1, 4), torch.zeros(2))
    assert acc.compute()["pxap"] is None
    assert pxap_from_histograms(torch.zeros(2, 5, dtype=torch.int64)) is None


def test_masks_are_validated() -> None:
    maps = torch.rand(1, 8, 8)
    with pytest.raises(ScoreMapError, match="shape"):
        pixel_histograms(maps, torch.zeros(1, 8, 9, dtype=torch.uint8), torch.tensor([0.0]))
    with pytest.raises(ScoreMapError, match="255"):
        pixel_histograms(maps, torch.full((1, 8, 8), 7, dtype=torch.uint8), torch.tensor([0.0]))
