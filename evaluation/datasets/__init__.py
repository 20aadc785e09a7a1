"""Datasets for the WSOL benchmark: raw-layout readers, protocol transforms, a synthetic generator.

Readers return a :class:`DatasetIndex` of :class:`ImageRecord` (boxes inclusive ``x0, y0, x1, y1``
in original pixels; see :mod:`evaluation.datasets.records`). :func:`load_dataset` wraps an index
into a torch ``Dataset`` whose samples carry the image and its boxes in one evaluation frame.

Only the record types and the metadata reader are imported eagerly; the other names load their
module (and torch, where needed) on first use, so that ``wsol-bench`` starts fast.

May import: :mod:`evaluation.errors`, :mod:`evaluation.io`, :mod:`evaluation.paths`,
:mod:`evaluation.progress`, numpy, PIL and torch. Never ``localization``, ``runs``, ``reports``,
``models`` or ``commands``: reading data needs no model and no metric.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from evaluation.datasets.records import DatasetIndex, ImageRecord
from evaluation.datasets.wsol_metadata import read_wsol_metadata, write_wsol_metadata

if TYPE_CHECKING:
    from evaluation.datasets.class_map import imagenet1k_indices
    from evaluation.datasets.cub import read_cub
    from evaluation.datasets.loader import (
        DATASET_NAMES,
        IMAGENET_NORMALIZATION,
        WSOLDataset,
        collate_wsol,
        load_dataset,
        read_index,
    )
    from evaluation.datasets.synthetic import SyntheticSpec, make_synthetic
    from evaluation.datasets.tiny_imagenet import read_tiny_imagenet
    from evaluation.datasets.transforms import PROTOCOLS

_LAZY = {
    "imagenet1k_indices": "class_map",
    "read_cub": "cub",
    "read_tiny_imagenet": "tiny_imagenet",
    "DATASET_NAMES": "loader",
    "IMAGENET_NORMALIZATION": "loader",
    "PROTOCOLS": "transforms",
    "WSOLDataset": "loader",
    "collate_wsol": "loader",
    "load_dataset": "loader",
    "read_index": "loader",
    "SyntheticSpec": "synthetic",
    "make_synthetic": "synthetic",
}

__all__ = [
    "DATASET_NAMES",
    "IMAGENET_NORMALIZATION",
    "PROTOCOLS",
    "DatasetIndex",
    "ImageRecord",
    "SyntheticSpec",
    "WSOLDataset",
    "collate_wsol",
    "imagenet1k_indices",
    "load_dataset",
    "make_synthetic",
    "read_cub",
    "read_index",
    "read_tiny_imagenet",
    "read_wsol_metadata",
    "write_wsol_metadata",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first access."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
