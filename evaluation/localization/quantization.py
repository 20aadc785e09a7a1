"""Raw score maps to the uint8 levels a convention thresholds: resize, min-max, quantise.

The first leg of a map's trip (quantise -> sweep -> count). :func:`normalize_score_maps` resizes
raw maps to the evaluation frame (bicubic) and min-max normalises them in float64,
``s = (m - min m) / max(m - min m)``; :func:`quantize_score_maps` turns ``s`` into the levels
``S = uint8(s * 255)`` (``"wsoleval"``, ``"strict"``) or ``gray[uint8(clip(s * 256, 0, 255))]``
(``"paper"``, the cubehelix gray levels; see :mod:`evaluation.localization.conventions`);
:func:`threshold_levels` gives the foreground levels ``int(tau * max S)`` (a pixel is foreground
iff its level is greater).

:func:`quantize_raw_maps` does the first two in one compiled pass per map
(:func:`quantize_maps`, numba), without the float64 intermediates of a whole batch: the same IEEE
operations in the same order give the same levels bit for bit. A map with a NaN or an infinity
(or whose shifted maximum overflows) and a constant map quantise to level 0 everywhere and are
flagged, as the reference zeroes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from numba import njit
from torch import Tensor

from evaluation.errors import ScoreMapError
from evaluation.localization.conventions import check_convention


@dataclass(frozen=True)
class NormalizedMaps:
    """Score maps resized to the evaluation frame and min-max normalised to [0, 1].

    Attributes:
        maps: ``(B, H, W)`` floating tensor in [0, 1]; zero where a map was zeroed.
        nonfinite: ``(B,)`` bool, the map held NaN or +-Inf (before or after resizing).
        constant: ``(B,)`` bool, the (finite) map was constant after resizing.
    """

    maps: Tensor
    nonfinite: Tensor
    constant: Tensor


def resize_score_maps(maps: Tensor, frame_size: tuple[int, int]) -> Tensor:
    """Resize ``(B, h, w)`` maps to ``frame_size = (H, W)`` with bicubic interpolation.

    ``F.interpolate(mode="bicubic", align_corners=False)`` is the same kernel (a = -0.75, pixel
    centres at half-integers) as the reference's ``cv2.resize(INTER_CUBIC)``: upsampled values
    agree to float rounding (about 1e-6 relative), not bit for bit, so a map already at the frame
    size is the only bit-exact input. Maps of the frame size are returned unchanged.
    """
    if tuple(maps.shape[-2:]) == tuple(frame_size):
        return maps
    return F.interpolate(
        maps.unsqueeze(1), size=tuple(frame_size), mode="bicubic", align_corners=False
    ).squeeze(1)


def _map_batch(maps: Tensor) -> Tensor:
    """``maps`` as ``(B, h, w)`` real scores.

    Raises:
        ScoreMapError: The shape is not ``(B, 1, h, w)`` or ``(B, h, w)``, or the dtype is not real.
    """
    if maps.dim() == 4 and maps.shape[1] == 1:
        maps = maps[:, 0]
    if maps.dim() != 3:
        raise ScoreMapError(
            f"score maps must have shape (B, 1, h, w) or (B, h, w), got {tuple(maps.shape)}"
        )
    if maps.is_complex() or maps.dtype == torch.bool:
        raise ScoreMapError(f"score maps must be real numbers, got dtype {maps.dtype}")
    return maps


def normalize_score_maps(
    maps: Tensor, frame_size: tuple[int, int], convention: str = "wsoleval"
) -> NormalizedMaps:
    """Resize raw score maps to the frame, then min-max normalise each one.

    ``s = (m - min m) / max(m - min m)``, computed like the reference's ``normalize_scoremap``
    (``cam -= cam.min(); cam /= cam.max()``) in float64, as the reference does (its ``t2n`` casts
    every CAM to float64 before resizing; the ``"paper"`` path's ``intensity_to_rgb`` works in
    float64 too), so the ``uint8(s * 255)`` levels match it. A map with a NaN or an infinity,
    before or after resizing, and a constant map become all zeros and are flagged.

    Args:
        maps: ``(B, 1, h, w)`` or ``(B, h, w)`` raw signed scores of any size, on any device.
        frame_size: ``(H, W)`` of the evaluation frame.
        convention: One of :data:`~evaluation.localization.conventions.CONVENTIONS`.

    Returns:
        The normalised maps on the input's device, with the flags.

    Raises:
        ScoreMapError: ``maps`` does not have the shape ``(B, 1, h, w)`` or ``(B, h, w)``.
    """
    check_convention(convention)
    maps = _map_batch(maps)
    work = maps.to(torch.float64)
    finite = torch.isfinite(work.amin(dim=(1, 2))) & torch.isfinite(work.amax(dim=(1, 2)))
    work = resize_score_maps(work, frame_size)
    if work is maps:
        work = work.clone()
    low = work.amin(dim=(1, 2), keepdim=True)
    finite &= torch.isfinite(low.flatten())
    shifted = work.sub_(low)
    peak = shifted.amax(dim=(1, 2), keepdim=True)
    finite &= torch.isfinite(peak.flatten())
    constant = (peak == 0).flatten() & finite
    keep = finite & ~constant
    normalized = shifted.div_(torch.where(keep[:, None, None], peak, torch.ones_like(peak)))
    normalized[~keep] = 0
    return NormalizedMaps(normalized, ~finite, constant)


@lru_cache(maxsize=1)
def _cubehelix_gray() -> np.ndarray:
    """Gray level of each of the 256 cubehelix colours, as tensorpack + cv2 compute it."""
    import matplotlib

    rgb = matplotlib.colormaps["cubehelix"](np.arange(256))[:, :3]
    rgb8 = (rgb.astype("float32") * 255.0).astype("uint8")
    return cv2.cvtColor(rgb8[None], cv2.COLOR_RGB2GRAY)[0].copy()


def quantize_score_maps(normalized: Tensor, convention: str = "wsoleval") -> Tensor:
    """Quantise normalised maps to the uint8 levels that the convention thresholds.

    ``"wsoleval"``/``"strict"``: ``uint8(s * 255)`` (truncation, ``s * 255`` in the map's float
    type). ``"paper"``: ``gray[min(int(s * 256), 255)]`` with ``gray`` the cubehelix gray levels.

    Args:
        normalized: ``(..., H, W)`` maps in [0, 1].
        convention: One of :data:`~evaluation.localization.conventions.CONVENTIONS`.

    Returns:
        A uint8 tensor of the same shape and device.
    """
    check_convention(convention)
    if convention == "paper":
        index = (normalized.to(torch.float64) * 256).clamp_(0, 255).to(torch.uint8)
        gray = torch.from_numpy(_cubehelix_gray()).to(normalized.device)
        return gray[index.long()]
    return (normalized * 255).to(torch.uint8)


@dataclass(frozen=True)
class QuantizedMaps:
    """Raw score maps as the uint8 levels a convention thresholds, with the zeroing flags.

    Attributes:
        levels: ``(B, H, W)`` uint8 array, ``quantize_score_maps(normalize_score_maps(...))``.
        nonfinite: ``(B,)`` bool tensor, the map held NaN or +-Inf (before or after resizing).
        constant: ``(B,)`` bool tensor, the (finite) map was constant after resizing.
    """

    levels: np.ndarray
    nonfinite: Tensor
    constant: Tensor


def quantize_raw_maps(
    maps: Tensor, frame_size: tuple[int, int], convention: str = "wsoleval"
) -> QuantizedMaps:
    """:func:`normalize_score_maps` then :func:`quantize_score_maps`, fused, on the CPU.

    Bit for bit the same levels and flags, without materialising a batch of float64 maps: the
    min-max normalisation and the quantisation run per map in one compiled pass
    (:func:`quantize_maps`). Maps of another size are resized
    in float64 first, as :func:`normalize_score_maps` does.

    Args:
        maps: ``(B, 1, h, w)`` or ``(B, h, w)`` raw signed scores of any size, on any device.
        frame_size: ``(H, W)`` of the evaluation frame.
        convention: One of :data:`~evaluation.localization.conventions.CONVENTIONS`.

    Raises:
        ScoreMapError: ``maps`` does not have the shape ``(B, 1, h, w)`` or ``(B, h, w)``.
    """
    check_convention(convention)
    work = _map_batch(maps).detach().cpu()
    if work.dtype not in (torch.float32, torch.float64):
        work = work.to(torch.float64)
    before = torch.zeros(work.shape[0], dtype=torch.bool)
    if tuple(work.shape[-2:]) != tuple(frame_size):
        work = work.to(torch.float64)
        before = ~(torch.isfinite(work.amin(dim=(1, 2))) & torch.isfinite(work.amax(dim=(1, 2))))
        work = resize_score_maps(work, frame_size)
    gray = _cubehelix_gray() if convention == "paper" else np.zeros(0, dtype=np.uint8)
    levels, nonfinite, constant = quantize_maps(np.ascontiguousarray(work.numpy()), gray)
    levels[before.numpy()] = gray[0] if len(gray) else 0
    nonfinite_flags = torch.from_numpy(nonfinite) | before
    return QuantizedMaps(levels, nonfinite_flags, torch.from_numpy(constant) & ~before)


def threshold_levels(max_levels: Tensor, thresholds: Tensor | Sequence[float]) -> Tensor:
    """Foreground levels ``int(tau * max(S))`` for every map and threshold.

    Args:
        max_levels: ``(B,)`` the maximum quantised level of each map.
        thresholds: ``(T,)`` thresholds ``tau`` (float64 arithmetic, as the reference's
            ``np.float64 * np.uint8``).

    Returns:
        ``(B, T)`` int64 levels; a pixel is foreground iff its level is greater.
    """
    taus = torch.as_tensor(thresholds, dtype=torch.float64, device=max_levels.device)
    return torch.floor(taus[None, :] * max_levels.to(torch.float64)[:, None]).to(torch.long)


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
