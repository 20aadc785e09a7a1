"""Decode every image of a split, to find the unreadable ones before a long run meets them.

:class:`DecodeCheck` is a map-style dataset: item ``i`` decodes record ``i``'s image as the
evaluation loader does (:func:`~evaluation.datasets.images.load_rgb` at the annotated size, so a
truncated file or one of another size fails) and its masks
(:func:`~evaluation.datasets.masks.read_grey_mask`), and returns ``(i, None)`` or
``(i, message)``. Run it through a DataLoader with worker processes (``collate_fn=list``) to use
every core; nothing is kept of the pixels.
"""

from __future__ import annotations

from torch.utils.data import Dataset

from evaluation.datasets.images import load_rgb
from evaluation.datasets.masks import read_grey_mask
from evaluation.datasets.records import DatasetIndex
from evaluation.errors import WSOLError


class DecodeCheck(Dataset):
    """Item ``i``: ``(i, None)`` when record ``i`` decodes, else ``(i, the error's message)``."""

    def __init__(self, index: DatasetIndex) -> None:
        """Check the records of ``index``."""
        self.records = index.records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[int, str | None]:
        """Decode record ``i``'s image and masks; the message of the first failure, if any."""
        record = self.records[i]
        masks = (*record.mask_paths, *((record.ignore_path,) if record.ignore_path else ()))
        try:
            load_rgb(record.path, record.size)
            for path in masks:
                read_grey_mask(path, record.size)
        except WSOLError as error:
            return i, str(error)
        return i, None
