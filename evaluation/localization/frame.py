"""One raw score map into the evaluation frame as the reference does it, in numpy.

``clovaai/wsolevaluation``'s ``CAMComputer`` casts every CAM to float64 (``t2n``), resizes it with
``cv2.resize(cam, (W, H), interpolation=cv2.INTER_CUBIC)`` and min-max normalises it
(``normalize_scoremap``: ``cam -= cam.min(); cam /= cam.max()``, a NaN or a constant map becomes
zeros). :func:`to_frame` is the first two steps (bit for bit, since it runs the same OpenCV call on
the same float64 values), :func:`normalize_frame_map` the third (bit for bit too; any non-finite
value zeroes the map, the library's extension of the NaN rule). The uint8 levels of the box
metrics come from :func:`evaluation.localization.levels.quantize_frame_maps`, which normalises in
the same float64 operations without keeping ``s``; PxAP needs ``s`` itself.

The torch path of ``wsol-bench evaluate`` (:mod:`evaluation.localization.quantization`) resizes
with torch's bicubic kernel instead: the same kernel, but OpenCV rounds its interpolation
coefficients to float32. Where the scale factor is a power of two (7, 14, 28 or 56 to 224) the
coefficients are exact and both give the same levels; elsewhere (17 to 224, infoCAM's full padding
of a 14x14 map) values differ by about 1e-7 relative and about one pixel per map lands on the next
level.
"""

from __future__ import annotations

import cv2
import numpy as np


def to_frame(score_map: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """A 2-D real map at the frame size ``(H, W)``: float32 / float64 kept, other dtypes float64.

    A map of another size is cast to float64 and resized with ``cv2.INTER_CUBIC``, exactly the
    reference's call; a map already at the frame size is returned as it is (the reference's
    same-size ``cv2.resize`` is a copy, and every value is widened to float64 downstream).

    Args:
        score_map: ``(h, w)`` real scores.
        frame_size: ``(H, W)`` of the evaluation frame.
    """
    height, width = frame_size
    if score_map.shape == (height, width):
        if score_map.dtype in (np.float32, np.float64):
            return score_map
        return score_map.astype(np.float64)
    source = np.ascontiguousarray(score_map, dtype=np.float64)
    return cv2.resize(source, (width, height), interpolation=cv2.INTER_CUBIC)


def nonfinite(score_map: np.ndarray) -> bool:
    """Whether the map holds a NaN or an infinity (the reference zeroes such maps)."""
    return not bool(np.isfinite(score_map).all())


def normalize_frame_map(frame_map: np.ndarray) -> np.ndarray:
    """``s = (m - min m) / max(m - min m)`` in float64; zeros for a non-finite or constant map.

    Args:
        frame_map: ``(H, W)`` map at the frame size (see :func:`to_frame`).

    Returns:
        A new ``(H, W)`` float64 array in [0, 1].
    """
    work = np.array(frame_map, dtype=np.float64)
    if nonfinite(work) or work.min() == work.max():
        return np.zeros_like(work)
    with np.errstate(over="ignore", invalid="ignore"):
        work -= work.min()
        work /= work.max()
    if nonfinite(work):
        return np.zeros_like(work)
    return work
