"""Score maps already in the evaluation frame to the uint8 levels a convention thresholds.

The numpy (torch-free) half of the first leg of a map's trip (quantise -> sweep -> count):
:func:`quantize_frame_maps` min-max normalises each map in float64 and quantises it in one
compiled pass (:func:`quantize_maps`, numba, no float64 intermediate of a whole batch), ``S =
uint8(s * 255)`` with ``s = (m - min m) / max(m - min m)`` (``"wsoleval"``, ``"strict"``) or
``gray[uint8(clip(s * 256, 0, 255))]`` (``"paper"``, the cubehelix gray levels of
:mod:`evaluation.localization.conventions`). :func:`quantize_normalized` quantises maps that are
already normalised; :func:`threshold_levels` gives the foreground levels ``int(tau * max S)`` (a
pixel is foreground iff its level is greater). A map with a NaN or an infinity (or whose shifted
maximum overflows) and a constant map quantise to level 0 everywhere and are flagged, as the
reference zeroes them. The torch side (resizing and normalising tensors of any size and device)
is :mod:`evaluation.localization.quantization`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from numba import njit

from evaluation.localization.conventions import check_convention


@dataclass(frozen=True)
class QuantizedMaps:
    """Raw score maps as the uint8 levels a convention thresholds, with the zeroing flags.

    Attributes:
        levels: ``(B, H, W)`` uint8 levels.
        nonfinite: ``(B,)`` bool, the map held NaN or +-Inf (before or after resizing).
        constant: ``(B,)`` bool, the (finite) map was constant after resizing.
    """

    levels: np.ndarray
    nonfinite: np.ndarray
    constant: np.ndarray


@lru_cache(maxsize=1)
def cubehelix_gray() -> np.ndarray:
    """Gray level of each of the 256 cubehelix colours, as tensorpack + cv2 compute it."""
    import matplotlib

    rgb = matplotlib.colormaps["cubehelix"](np.arange(256))[:, :3]
    rgb8 = (rgb.astype("float32") * 255.0).astype("uint8")
    return cv2.cvtColor(rgb8[None], cv2.COLOR_RGB2GRAY)[0].copy()


def convention_gray(convention: str) -> np.ndarray:
    """The gray table :func:`quantize_maps` takes: cubehelix for ``"paper"``, else empty."""
    check_convention(convention)
    return cubehelix_gray() if convention == "paper" else np.zeros(0, dtype=np.uint8)


def quantize_frame_maps(maps: np.ndarray, convention: str = "wsoleval") -> QuantizedMaps:
    """Min-max normalise and quantise ``(B, H, W)`` real maps already at the frame size.

    Float32 and float64 maps are read as they are (every value is widened to float64 before
    the arithmetic, as the reference's ``t2n`` cast); any other real dtype is cast to float64.

    Args:
        maps: ``(B, H, W)`` raw scores.
        convention: One of :data:`~evaluation.localization.conventions.CONVENTIONS`.
    """
    if maps.dtype not in (np.float32, np.float64):
        maps = maps.astype(np.float64)
    levels, nonfinite, constant = quantize_maps(
        np.ascontiguousarray(maps), convention_gray(convention)
    )
    return QuantizedMaps(levels, nonfinite, constant)


def quantize_normalized(normalized: np.ndarray, convention: str = "wsoleval") -> np.ndarray:
    """Quantise normalised maps in [0, 1] to the uint8 levels that the convention thresholds.

    ``"wsoleval"``/``"strict"``: ``uint8(s * 255)`` (truncation, ``s * 255`` in the map's float
    type). ``"paper"``: ``gray[min(int(s * 256), 255)]`` with ``gray`` the cubehelix gray levels.

    Args:
        normalized: ``(..., H, W)`` real maps in [0, 1].
        convention: One of :data:`~evaluation.localization.conventions.CONVENTIONS`.
    """
    gray = convention_gray(convention)
    values = np.asarray(normalized)
    if convention == "paper":
        return gray[np.clip(values.astype(np.float64) * 256, 0, 255).astype(np.uint8)]
    return (values * 255).astype(np.uint8)


def threshold_levels(
    max_levels: np.ndarray, thresholds: Sequence[float] | np.ndarray
) -> np.ndarray:
    """Foreground levels ``int(tau * max(S))`` for every map and threshold.

    Args:
        max_levels: ``(B,)`` the maximum quantised level of each map.
        thresholds: ``(T,)`` thresholds ``tau`` (float64 arithmetic, as the reference's
            ``np.float64 * np.uint8``).

    Returns:
        ``(B, T)`` int64 levels; a pixel is foreground iff its level is greater.
    """
    taus = np.asarray(thresholds, dtype=np.float64).reshape(-1)
    peaks = np.asarray(max_levels).astype(np.float64).reshape(-1)
    return np.floor(taus[None, :] * peaks[:, None]).astype(np.int64)


@njit(cache=True, nogil=True)
def quantize_maps(
    maps: np.ndarray, gray: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Quantise ``(B, H, W)`` float maps already at the frame size.

    Args:
        maps: ``(B, H, W)`` float32 or float64 raw scores.
        gray: ``(256,)`` uint8 gray level of each cubehelix colour for ``"paper"``, or an empty
            array for ``uint8(s * 255)``.

    Returns:
        ``(B, H, W)`` uint8 levels, ``(B,)`` bool non-finite flags, ``(B,)`` bool constant flags.
    """
    batch, height, width = maps.shape
    levels = np.zeros((batch, height, width), dtype=np.uint8)
    nonfinite = np.zeros(batch, dtype=np.bool_)
    constant = np.zeros(batch, dtype=np.bool_)
    paper = gray.shape[0] > 0
    for b in range(batch):
        flat = maps[b].ravel()
        low, high = np.inf, -np.inf
        finite = True
        for i in range(flat.shape[0]):
            value = np.float64(flat[i])
            finite &= np.isfinite(value)
            low = min(low, value)
            high = max(high, value)
        # max(m - low) is (max m) - low: rounding the difference is monotone in m.
        peak = high - low
        finite = finite and np.isfinite(peak)
        nonfinite[b] = not finite
        constant[b] = finite and peak == 0.0
        out = levels[b].ravel()
        if not finite or peak == 0.0:
            out[:] = gray[0] if paper else 0
        elif paper:
            for i in range(flat.shape[0]):
                s = (np.float64(flat[i]) - low) / peak
                out[i] = gray[np.uint8(min(max(s * 256.0, 0.0), 255.0))]
        else:
            for i in range(flat.shape[0]):
                out[i] = np.uint8((np.float64(flat[i]) - low) / peak * 255.0)
    return levels, nonfinite, constant


def warm_up() -> None:
    """Compile the float32 and float64 quantisers now (or load them from numba's cache)."""
    for dtype in (np.float32, np.float64):
        quantize_maps(np.zeros((1, 1, 1), dtype), np.zeros(0, np.uint8))
