"""Record types shared by every dataset reader.

Box convention (one for the whole package): a box is ``(x0, y0, x1, y1)`` in the ORIGINAL image's
pixel coordinates, 0-based and inclusive, so ``x0 <= x1 <= W - 1`` and a one-pixel-wide box has
``x0 == x1``. Tiny-ImageNet and the reference metadata format store boxes this way. CUB-200-2011
stores ``x y w h``; its readers follow the field's rule (wsolevaluation, §2.12 of the reference):
``x0 = int(x), y0 = int(y), x1 = min(int(x + w), W - 1), y1 = min(int(y + h), H - 1)``. That ``x1``
is one pixel wider than the strict reading ``x + w - 1``; it is what every published CUB number
is measured against, and it is what ``wsol-bench convert`` writes.

The CUB and Tiny-ImageNet readers also keep each box as the infoCAM authors' code reads the file
(``ImageRecord.authors_boxes``, for ``--protocol paper-as-published``): CUB's raw
``x, y, x + w, y + h`` floats, not truncated and not clipped to the image; Tiny-ImageNet's
``x0 y0 x1 y1`` read as ``x y w h``, i.e. ``(x0, y0, x0 + x1, y0 + y1)`` (their
``load_bbox_size`` misreads the file; most such boxes reach past the 64 px image).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ImageRecord:
    """One image of a dataset split with its label and ground truth.

    Attributes:
        image_id: Identifier unique within the split (the relative path for the reference format).
        path: Image file (absolute when the reader was given a root; else as written in the file).
        label: 0-based class index in the dataset's own class order.
        boxes: Ground-truth boxes, inclusive ``(x0, y0, x1, y1)`` in original pixels; may be empty.
        size: Original size ``(W, H)`` in pixels.
        mask_path: Foreground mask PNG (grey levels, thresholded by a rule of
            :mod:`evaluation.datasets.masks`), or ``None``.
        extra_mask_paths: Further instance masks of the same image, OR-ed with ``mask_path``.
        ignore_path: Mask PNG of pixels to ignore in PxAP (the reference format's ignore file).
        authors_boxes: The boxes as the infoCAM authors' code reads the annotation file
            (``x0, y0, x1, y1`` in original pixels, possibly past the image; module doc), or
            ``None`` where the format has no such reading (the reference metadata format).
    """

    image_id: str
    path: Path
    label: int
    boxes: tuple[Box, ...]
    size: tuple[int, int]
    mask_path: Path | None = None
    extra_mask_paths: tuple[Path, ...] = ()
    ignore_path: Path | None = None
    authors_boxes: tuple[Box, ...] | None = None

    @property
    def mask_paths(self) -> tuple[Path, ...]:
        """Every foreground mask of the image (``mask_path`` first), empty when it has none."""
        return () if self.mask_path is None else (self.mask_path, *self.extra_mask_paths)


@dataclass
class DatasetIndex:
    """The records of one split of a dataset, in the dataset's order, with its class list.

    Attributes:
        name: Dataset name (``"cub"``, ``"tiny-imagenet"``, ``"wsol-metadata"``, ...).
        split: Split name as given to the reader.
        records: One record per image, in file order.
        class_names: Human-readable name per class index.
        class_ids: Identifier per class index (Tiny-ImageNet wnids, CUB folder names, or the
            label number as text for the reference metadata format).
    """

    name: str
    split: str
    records: list[ImageRecord]
    class_names: list[str]
    class_ids: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        """Number of classes of the dataset (not only those present in this split)."""
        return len(self.class_ids)

    def __len__(self) -> int:
        return len(self.records)
