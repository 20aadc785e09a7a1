"""Score maps saved as ``<image_id>.npy`` files (the reference evaluation's format): found, read.

A score map is one array of numbers per image, any size, at :func:`map_path` (``np.save`` appends
``.npy`` to the image id, its ``.jpg`` included):

- ``(H, W)``, or ``(1, H, W)`` (the leading axis of length 1 is dropped, as CAM tools often save a
  single-channel map);
- floating point of any precision, or integers: heat maps saved as uint8 are accepted, since
  min-max normalisation turns any integer map into a valid score. The dtype is kept as saved:
  :func:`evaluation.localization.frame.to_frame` widens every map to float64 as the reference
  does (a float16 or integer map through float32 first would round differently).

Refused with a :class:`~evaluation.errors.ScoreMapError` naming the file: a boolean array (a mask
is not a score map), other shapes (``(3, H, W)`` colour heat maps, ``(H, W, 1)``, 1-D, 0-D, an
empty array), non-numeric dtypes, and files that are not one ``.npy`` array (an ``.npz``
archive, an empty or truncated file, a pickled object).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.errors import AccessError, ScoreMapError

EXPECTED = "a 2-D (H, W) array of numbers, or (1, H, W)"


def map_path(root: Path, image_id: str) -> Path:
    """``root / (image_id + ".npy")``: ``np.save`` appends ``.npy`` to the id, suffix included."""
    return root / f"{image_id}.npy"


def read_score_map(path: Path) -> np.ndarray:
    """Load ``path`` with ``np.load(allow_pickle=False)`` and check it (:func:`check_score_map`).

    Raises:
        ScoreMapError: The file is not one readable ``.npy`` array, or the array is no score map.
        AccessError: This user may not read the file.
    """
    try:
        with path.open("rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            if not isinstance(loaded, np.ndarray):
                loaded.close()
                raise ScoreMapError(
                    f"{path}: an .npz archive, not one .npy array; save each map with "
                    "np.save(f'{image_id}.npy', score_map)"
                )
    except PermissionError:
        raise AccessError(path, "read this score map") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        reason = str(error).strip() or type(error).__name__
        raise ScoreMapError(
            f"{path}: not a readable .npy array ({reason}); expected {EXPECTED} saved with "
            "np.save"
        ) from None
    return check_score_map(loaded, path)


def check_score_map(array: Any, path: Path) -> np.ndarray:
    """The 2-D map of a loaded array, after checking its shape and dtype (see the module doc).

    Args:
        array: What ``np.load`` returned.
        path: The file, for messages.

    Returns:
        The ``(H, W)`` array, its dtype as saved.

    Raises:
        ScoreMapError: A boolean, non-numeric, empty or wrongly shaped array.
    """
    if array.dtype == np.bool_:
        raise ScoreMapError(
            f"{path}: a boolean mask is not a score map; save the scores themselves ({EXPECTED})"
        )
    if array.dtype.kind not in "fiu":
        raise ScoreMapError(f"{path}: dtype {array.dtype} holds no numbers; expected {EXPECTED}")
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.size == 0:
        raise ScoreMapError(f"{path}: shape {tuple(array.shape)}; expected {EXPECTED}")
    return array
