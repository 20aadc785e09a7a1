"""Raw score-map tensors to the uint8 levels a convention thresholds: resize, min-max, quantise.

The torch side of the first leg of a map's trip (quantise -> sweep -> count), for maps that come
out of a model (any size, any device). :func:`normalize_score_maps` resizes raw maps to the
evaluation frame (bicubic) and min-max normalises them in float64,
``s = (m - min m) / max(m - min m)``. :func:`quantize_raw_maps` gives the levels of
:func:`evaluation.localization.levels.quantize_normalized` applied to that ``s`` in one compiled
pass per map (:func:`evaluation.localization.levels.quantize_maps`), without the float64
intermediates of a whole batch: the same IEEE operations in the same order give the same levels
bit for bit. A map with a NaN or an infinity (or whose shifted maximum overflows) and a constant
map quantise to level 0 everywhere and are flagged, as the reference zeroes them. Saved maps
(``wsol-bench score``) take the numpy path of :mod:`evaluation.localization.frame` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from evaluation.errors import ScoreMapError
from evaluation.localization.conventions import check_convention
from evaluation.localization.levels import QuantizedMaps, convention_gray, quantize_maps


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
    centres at half-integers) as the reference's ``cv2.resize(INTER_CUBIC)``, which rounds its
    coefficients to float32: at power-of-two scale factors (7, 14, 28 to 224) the levels agree,
    elsewhere values differ by about 1e-7 relative (see :mod:`evaluation.localization.frame`).
    Maps of the frame size are returned unchanged.
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


def quantize_raw_maps(
    maps: Tensor, frame_size: tuple[int, int], convention: str = "wsoleval"
) -> QuantizedMaps:
    """:func:`normalize_score_maps` then ``quantize_normalized``, fused, on the CPU.

    Bit for bit the same levels and flags, without materialising a batch of float64 maps: the
    min-max normalisation and the quantisation run per map in one compiled pass
    (:func:`~evaluation.localization.levels.quantize_maps`). Maps of another size are resized
    in float64 first, as :func:`normalize_score_maps` does.

    Args:
        maps: ``(B, 1, h, w)`` or ``(B, h, w)`` raw signed scores of any size, on any device.
        frame_size: ``(H, W)`` of the evaluation frame.
        convention: One of :data:`~evaluation.localization.conventions.CONVENTIONS`.

    Returns:
        The levels and flags as numpy arrays.

    Raises:
        ScoreMapError: ``maps`` does not have the shape ``(B, 1, h, w)`` or ``(B, h, w)``.
    """
    gray = convention_gray(convention)
    work = _map_batch(maps).detach().cpu()
    if work.dtype not in (torch.float32, torch.float64):
        work = work.to(torch.float64)
    before = np.zeros(work.shape[0], dtype=bool)
    if tuple(work.shape[-2:]) != tuple(frame_size):
        work = work.to(torch.float64)
        finite = torch.isfinite(work.amin(dim=(1, 2))) & torch.isfinite(work.amax(dim=(1, 2)))
        before = ~finite.numpy()
        work = resize_score_maps(work, frame_size)
    levels, nonfinite, constant = quantize_maps(np.ascontiguousarray(work.numpy()), gray)
    levels[before] = gray[0] if len(gray) else 0
    return QuantizedMaps(levels, nonfinite | before, constant & ~before)
