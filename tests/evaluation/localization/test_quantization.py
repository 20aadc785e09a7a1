"""Normalisation and quantisation of score maps against the reference, bit for bit."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings

from evaluation.errors import ScoreMapError
from evaluation.localization.conventions import CONVENTIONS
from evaluation.localization.levels import quantize_normalized, threshold_levels
from evaluation.localization.quantization import normalize_score_maps, quantize_raw_maps
from evaluation.localization.reference import reference_normalize, reference_quantize
from tests.evaluation.localization.map_strategies import score_maps


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
    normalized = normalize_score_maps(torch.from_numpy(maps), (224, 224)).maps.numpy()
    ours = quantize_normalized(normalized)
    float32_levels_differ = False
    for i in range(8):
        expected = reference_quantize(reference_normalize(maps[i]), "wsoleval")
        assert np.array_equal(ours[i], expected)
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
        assert np.array_equal(fused.levels, quantize_normalized(expected.maps.numpy(), convention))
        assert np.array_equal(fused.nonfinite, expected.nonfinite.numpy())
        assert np.array_equal(fused.constant, expected.constant.numpy())
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
        ours = quantize_normalized(normalized, convention)
        assert np.array_equal(ours, reference_quantize(normalized, convention))


def test_threshold_levels_follow_int_tau_times_max() -> None:
    taus = np.arange(0, 1, 0.001)
    levels = threshold_levels(np.array([255, 0, 37], np.uint8), taus)
    for b, peak in enumerate((255, 0, 37)):
        assert levels[b].tolist() == [int(t * np.uint8(peak)) for t in taus]
