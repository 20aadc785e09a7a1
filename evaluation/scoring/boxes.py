"""Ground-truth boxes of saved maps' records, in the evaluation frame."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evaluation.datasets.records import ImageRecord
from evaluation.datasets.transforms import Geometry, map_boxes


def frame_boxes(records: Sequence[ImageRecord], geometry: Geometry) -> np.ndarray:
    """``(B, G, 4)`` float64 inclusive boxes of ``records`` in the frame, NaN padding.

    Each record's boxes map with :func:`evaluation.datasets.transforms.map_boxes` from its image
    size (the reference's ``int(x * 224 / W)`` under ``wsoleval``); ``G`` is the most boxes of
    one record (0 for mask metadata).
    """
    most = max((len(r.boxes) for r in records), default=0)
    boxes = np.full((len(records), most, 4), np.nan)
    for i, record in enumerate(records):
        if record.boxes:
            sizes = np.tile(np.asarray(record.size, dtype=np.float64), (len(record.boxes), 1))
            boxes[i, : len(record.boxes)] = map_boxes(np.asarray(record.boxes), sizes, geometry)
    return boxes
