"""The per-image records of a finished run, as ``RUN_DIR/records.npz``.

Every method's :class:`~evaluation.statistics.records.ImageRecords` (gathered over the torchrun
processes by :meth:`~evaluation.localization.LocalizationAccumulator.all_reduce`), stacked along
a first method axis, with the images' ids, in the layout of :mod:`evaluation.runs.schema`. The
reports read them to compare methods on the same images (paired bootstrap, McNemar).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from evaluation.io import atomic_save
from evaluation.localization import LocalizationAccumulator
from evaluation.runs.schema import RECORDS_FILE
from evaluation.runs.setup import RunSetup

_SHARED = ("thresholds", "fixed_threshold", "deltas", "iou_thresholds", "has_predictions",
           "filled", "top1", "top5", "labels")


def image_ids_sha256(image_ids: list[str]) -> str:
    """SHA-256 of the evaluated image ids in order, one per line (what pairs two runs)."""
    return hashlib.sha256("\n".join(image_ids).encode("utf-8")).hexdigest()


def write_run_records(
    setup: RunSetup, accumulators: Mapping[str, LocalizationAccumulator]
) -> dict[str, Any]:
    """Write ``RUN_DIR/records.npz`` atomically; return the ``records`` section of the results.

    Returns:
        ``{"file": "records.npz", "image_ids_sha256": ...}``.
    """
    records = {name: acc.records.arrays() for name, acc in accumulators.items()}
    first = next(iter(records.values()))
    records_of = setup.dataset.index.records
    image_ids = [records_of[n].image_id for n in range(setup.num_images)]
    arrays: dict[str, np.ndarray] = {
        "methods": np.array(list(records), dtype=str),
        "image_ids": np.array(image_ids, dtype=str),
        **{name: first[name] for name in _SHARED},
    }
    for name in ("hits", "attribution", "pixels"):
        arrays[name] = np.stack([method[name] for method in records.values()])
    atomic_save(setup.options.output / RECORDS_FILE,
                lambda handle: np.savez_compressed(handle, **arrays))
    return {"file": RECORDS_FILE, "image_ids_sha256": image_ids_sha256(image_ids)}
