"""Top-k predicted classes of saved maps: a CSV ``image_id,top1,top2,...``, best first."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluation.datasets.parsing import read_text
from evaluation.errors import DataFormatError


def read_predictions(path: Path, image_ids: list[str]) -> np.ndarray:
    """Top-k predictions ``(N, k)`` int64 in ``image_ids`` order from ``path``.

    One line per image, ``image_id,top1[,top2,...]``, every line with the same ``k``; an optional
    header line starting with ``image_id``; blank lines are skipped.

    Raises:
        MissingFilesError: The file does not exist.
        DataFormatError: A line is malformed, names an unknown or repeated id, has another ``k``
            than the lines before it, or an id of ``image_ids`` has no line.
    """
    wanted = set(image_ids)
    rows: dict[str, list[int]] = {}
    width = None
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if not rows and width is None and fields[0] == "image_id":
            continue
        if len(fields) < 2:
            raise DataFormatError(path, number, "expected 'image_id,top1[,top2,...]'")
        image_id, classes = fields[0], fields[1:]
        if image_id not in wanted:
            raise DataFormatError(path, number, f"image id {image_id!r} is not in the metadata")
        if image_id in rows:
            raise DataFormatError(path, number, f"duplicate image id {image_id!r}")
        if width is not None and len(classes) != width:
            raise DataFormatError(
                path, number, f"{len(classes)} predictions where earlier lines have {width}"
            )
        try:
            rows[image_id] = [int(c) for c in classes]
        except ValueError:
            raise DataFormatError(path, number, "predicted classes must be integers") from None
        width = len(classes)
    absent = [i for i in image_ids if i not in rows]
    if absent:
        shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
        raise DataFormatError(path, None, f"no prediction for {len(absent)} image ids: {shown}")
    return np.array([rows[i] for i in image_ids], dtype=np.int64).reshape(len(image_ids), -1)
