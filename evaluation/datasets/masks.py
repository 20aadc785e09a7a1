"""Foreground masks in the evaluation frame, the way the reference reads them (PxAP).

``clovaai/wsolevaluation``'s ``get_mask`` reads each instance mask PNG with
``cv2.imread(path, cv2.IMREAD_GRAYSCALE)`` (here: the same decoder on the file's bytes,
``cv2.imdecode``, so that a file this user may not read is told apart), resizes it to the frame with
``cv2.resize(..., interpolation=cv2.INTER_NEAREST)`` (source pixel ``floor(x * w / W)``), and only
then thresholds it: foreground is ``grey > 0.5``, any non-zero grey value. The instance masks are
OR-ed; the ignore mask is read the same way and ignores its pixels outside the foreground.
:func:`frame_label_mask` does exactly that (nearest-neighbour picks values, so resizing the uint8
grey levels equals resizing the reference's float32 copy), then crops the frame's centre window
for protocols that crop. Labels: 1 foreground, 0 background, 255 ignore.

Two rules for the grey threshold (:data:`MASK_RULES`):

- ``"positive"``: ``grey > 0.5``, the reference's; the default of the ``wsoleval`` protocol.
- ``"majority"``: ``grey > 127``, CUB-200-2011's documented rule (its segmentations are
  annotator votes scaled to 0..255, so this is a 0.5 majority); the default of the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from evaluation.datasets.transforms import Geometry
from evaluation.errors import AccessError, ConfigurationError, DataFormatError

MASK_RULES = ("positive", "majority")
_GREY_THRESHOLDS = {"positive": 0.5, "majority": 127}


def default_mask_rule(protocol: str) -> str:
    """``"positive"`` (the reference's rule) under ``wsoleval``, ``"majority"`` otherwise."""
    return "positive" if protocol == "wsoleval" else "majority"


def check_mask_rule(rule: str) -> str:
    """Return ``rule`` if it is one of :data:`MASK_RULES`.

    Raises:
        ConfigurationError: The rule is unknown.
    """
    if rule not in MASK_RULES:
        raise ConfigurationError(
            f"unknown mask rule {rule!r}: use one of {', '.join(MASK_RULES)}"
        )
    return rule


def read_grey_mask(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A mask image as ``(H, W)`` uint8 grey levels (``cv2.IMREAD_GRAYSCALE``).

    Args:
        path: The mask file (PNG, or any format OpenCV reads).
        size: Expected ``(W, H)`` of the image it annotates; another size raises.

    Raises:
        DataFormatError: The file cannot be decoded or has another size than expected.
        AccessError: This user may not read the file.
    """
    try:
        encoded = np.fromfile(path, dtype=np.uint8)
    except PermissionError:
        raise AccessError(Path(path), "read this mask") from None
    except OSError as error:
        raise DataFormatError(
            Path(path), None, f"cannot read the mask ({error.strerror or error})"
        ) from None
    # cv2.imdecode of the bytes is cv2.imread's decoder, and tells a refused read apart.
    grey = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE) if encoded.size else None
    if grey is None:
        raise DataFormatError(
            Path(path), None, "cannot decode the mask (empty or not an image file)"
        )
    if size is not None and (grey.shape[1], grey.shape[0]) != tuple(size):
        raise DataFormatError(
            Path(path),
            None,
            f"mask is {grey.shape[1]}x{grey.shape[0]}, the image is {size[0]}x{size[1]}",
        )
    return grey


def frame_foreground(path: Path, side: int, rule: str, size: tuple[int, int] | None) -> np.ndarray:
    """``(side, side)`` bool: the mask resized (nearest) to ``side x side``, then thresholded."""
    grey = read_grey_mask(path, size)
    resized = cv2.resize(grey, (side, side), interpolation=cv2.INTER_NEAREST)
    return resized > _GREY_THRESHOLDS[rule]


def frame_label_mask(
    mask_paths: Sequence[Path],
    ignore_path: Path | None,
    geometry: Geometry,
    rule: str = "positive",
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """The label mask of one image in the evaluation frame (the reference's ``get_mask``).

    Args:
        mask_paths: The image's instance masks (at least one), OR-ed.
        ignore_path: Its ignore mask, or ``None``: ignored are its pixels outside the foreground.
        geometry: The evaluation geometry: masks resize to ``R x R``, then the centre ``S x S``
            window is kept.
        rule: One of :data:`MASK_RULES`.
        size: Expected ``(W, H)`` of every mask (the image's size), or ``None``.

    Returns:
        ``(S, S)`` uint8: 1 foreground, 0 background, 255 ignore.

    Raises:
        ConfigurationError: Unknown rule or no mask path.
        DataFormatError: A mask cannot be read or has another size than expected.
    """
    check_mask_rule(rule)
    if not mask_paths:
        raise ConfigurationError("an image's label mask needs at least one mask file")
    side = geometry.resize
    foreground = np.zeros((side, side), dtype=bool)
    for path in mask_paths:
        foreground |= frame_foreground(path, side, rule, size)
    labels = foreground.astype(np.uint8)
    if ignore_path is not None:
        labels[frame_foreground(ignore_path, side, rule, size) & ~foreground] = 255
    if geometry.resize == geometry.crop:
        return labels
    start, crop = geometry.offset, geometry.crop
    return labels[start : start + crop, start : start + crop].copy()
