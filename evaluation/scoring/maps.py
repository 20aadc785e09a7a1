"""One saved score map: where it is (``<scoremaps>/<image_id>.npy``) and its checked array."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.errors import ScoreMapError


def map_path(root: Path, image_id: str) -> Path:
    """``root / (image_id + ".npy")``: ``np.save`` appends ``.npy`` to the id, suffix included."""
    return root / f"{image_id}.npy"


def load_score_map(path: Path) -> np.ndarray:
    """The score map saved at ``path`` as a 2-D real array (a leading axis of length 1 dropped).

    Raises:
        ScoreMapError: The file is not a readable ``.npy`` array, is not 2-D (``(H, W)`` or
            ``(1, H, W)``), is empty or does not hold real numbers.
    """
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ScoreMapError(f"{path}: not a readable .npy array ({error})") from None
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or min(array.shape) < 1:
        raise ScoreMapError(
            f"{path}: a score map must be 2-D (H, W), got shape {tuple(array.shape)}"
        )
    if array.dtype.kind not in "fiub":
        raise ScoreMapError(f"{path}: a score map must hold numbers, got dtype {array.dtype}")
    return array
