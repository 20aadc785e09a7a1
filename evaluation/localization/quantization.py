"""Raw score maps to the uint8 levels that the box conventions threshold, in one fused pass.

:func:`evaluation.localization.boxes.normalize_score_maps` followed by
:func:`evaluation.localization.boxes.quantize_score_maps`, per map and without the float64
intermediates of a whole batch: ``s = (m - min m) / max(m - min m)`` in float64, then ``uint8(s *
255)`` (``"wsoleval"``, ``"strict"``) or ``gray[uint8(clip(s * 256, 0, 255))]`` (``"paper"``). The
same IEEE operations in the same order give the same levels bit for bit. A map with a NaN or an
infinity (or whose shifted maximum overflows) and a constant map quantise to level 0 everywhere and
are flagged, as the reference zeroes them.
"""

from __future__ import annotations

import numpy as np
from numba import njit


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
