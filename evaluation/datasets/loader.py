"""The torch side: a ``Dataset`` of decoded, transformed samples and its collate function.

``WSOLDataset`` maps every ground-truth box into the evaluation frame once, vectorised, when it is
built; ``__getitem__`` only decodes the image (PIL), moves it into the frame and normalises it, so
the work runs in DataLoader worker processes (``num_workers > 0``).

Sample dict (``__getitem__``):

- ``"image"``: float32 (3, S, S), ``(x / 255 - mean) / std``;
- ``"label"``: int, 0-based in the dataset's class order;
- ``"boxes"``: float32 (n, 4), inclusive ``x0, y0, x1, y1`` in frame pixels (``(0, 4)`` when
  training: training never sees boxes);
- ``"index"``: int, position in ``dataset.index.records``;
- ``"image_id"``: str;
- ``"mask"`` (evaluation only, when the record has masks and ``masks=True``): uint8 (S, S), 1 for
  foreground, 0 for background, 255 to ignore.

:func:`collate_wsol` stacks samples into ``"image"`` (B, 3, S, S), ``"label"`` (B,) int64,
``"boxes"`` (B, G, 4) padded with NaN rows, ``"index"`` (B,) int64, ``"image_id"`` list and, when
any sample has one, ``"mask"`` (B, S, S) uint8 (255, i.e. ignored, for samples without a mask).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from evaluation.datasets.cub import read_cub
from evaluation.datasets.images import load_rgb
from evaluation.datasets.masks import check_mask_rule, default_mask_rule, frame_label_mask
from evaluation.datasets.records import Box, DatasetIndex, ImageRecord
from evaluation.datasets.tiny_imagenet import read_tiny_imagenet
from evaluation.datasets.transforms import (
    eval_geometry,
    eval_image,
    map_boxes,
    to_tensor,
    train_geometry,
    train_image,
)
from evaluation.datasets.wsol_metadata import read_wsol_metadata
from evaluation.errors import ConfigurationError, WSOLError
from evaluation.paths import is_file
from evaluation.progress import Progress

IMAGENET_NORMALIZATION = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
DATASET_NAMES = ("cub", "tiny-imagenet", "wsol-metadata", "synthetic")
_NATIVE_NAMES = ("tiny-imagenet", "synthetic-tiny-imagenet")


def read_index(
    name: str,
    root: str | Path,
    split: str,
    image_root: str | Path | None = None,
    progress: Progress | None = None,
    on_unreadable: Callable[[WSOLError], None] | None = None,
) -> DatasetIndex:
    """Read a split of a dataset by name.

    Args:
        name: ``cub``, ``tiny-imagenet``, ``wsol-metadata`` or ``synthetic``.
        root: Dataset folder; for ``wsol-metadata`` the folder holding one metadata folder per
            split (``root/<split>/image_ids.txt``, as wsolevaluation's ``metadata/CUB``).
        split: Split name. ``synthetic`` detects the layout (``images.txt``: CUB,
            ``wnids.txt``: Tiny-ImageNet) and accepts ``test`` for Tiny's ``val``.
        image_root: Image folder of ``wsol-metadata`` (required there, unused otherwise).
        progress: Counts the images whose size is read (CUB and Tiny-ImageNet layouts; the
            metadata format stores the sizes).
        on_unreadable: Called with the error of each image whose size cannot be read, which is
            left out (CUB and Tiny-ImageNet layouts; default: the error is raised).

    Returns:
        The index; a synthetic one is named ``synthetic-cub`` or ``synthetic-tiny-imagenet``.

    Raises:
        ConfigurationError: Unknown name or layout, or ``wsol-metadata`` without ``image_root``.
    """
    base = Path(root)
    if name == "cub":
        return read_cub(base, split, progress, on_unreadable)
    if name == "tiny-imagenet":
        return read_tiny_imagenet(base, split, progress, on_unreadable)
    if name == "wsol-metadata":
        if image_root is None:
            raise ConfigurationError(
                "the wsol-metadata dataset needs image_root (the folder the image ids refer to)"
            )
        return read_wsol_metadata(base / split, image_root)
    if name == "synthetic":
        if synthetic_layout(base) == "cub":
            index = read_cub(base, split, progress, on_unreadable)
        else:
            tiny_split = "val" if split == "test" else split
            index = read_tiny_imagenet(base, tiny_split, progress, on_unreadable)
        index.name = f"synthetic-{index.name}"
        return index
    raise ConfigurationError(f"unknown dataset {name!r}: choose one of {DATASET_NAMES}")


def synthetic_layout(root: str | Path) -> str:
    """The layout of a ``make-synthetic`` tree: ``"cub"`` (``images.txt``) or ``"tiny-imagenet"``.

    Raises:
        ConfigurationError: ``root`` holds neither ``images.txt`` nor ``wnids.txt``.
    """
    base = Path(root)
    if is_file(base / "images.txt", "annotation files"):
        return "cub"
    if is_file(base / "wnids.txt", "annotation files"):
        return "tiny-imagenet"
    raise ConfigurationError(
        f"{base} holds neither images.txt (CUB layout) nor wnids.txt (Tiny-ImageNet "
        "layout): make one with `wsol-bench make-synthetic`"
    )


def load_dataset(
    name: str,
    root: str | Path,
    split: str,
    protocol: str = "wsoleval",
    normalization: tuple[Sequence[float], Sequence[float]] = IMAGENET_NORMALIZATION,
    image_size: int | None = None,
    train: bool = False,
    masks: bool = True,
    image_root: str | Path | None = None,
    mask_rule: str | None = None,
) -> WSOLDataset:
    """Read a split (:func:`read_index`) and wrap it in a :class:`WSOLDataset`.

    Args:
        name: ``cub``, ``tiny-imagenet``, ``wsol-metadata`` or ``synthetic``.
        root: Dataset folder (see :func:`read_index`).
        split: Split name.
        protocol: ``wsoleval``, ``paper`` or ``exact`` (:mod:`evaluation.datasets.transforms`).
        normalization: ``(mean, std)`` per RGB channel, in the model's convention.
        image_size: Frame side ``S`` (default 224; 64 for Tiny-ImageNet under ``paper``).
        train: Training samples (random crop and flip, no boxes or masks).
        masks: Load masks for records that have them (evaluation only).
        image_root: Image folder of ``wsol-metadata``.
        mask_rule: Grey threshold of the masks (:data:`evaluation.datasets.masks.MASK_RULES`);
            default: the protocol's (:func:`evaluation.datasets.masks.default_mask_rule`).

    Returns:
        The dataset.
    """
    index = read_index(name, root, split, image_root)
    return WSOLDataset(index, protocol, normalization, image_size, train, masks, mask_rule)


class WSOLDataset(Dataset):
    """Decoded images with their labels and ground truth in one evaluation frame.

    Attributes:
        index: The :class:`DatasetIndex` the samples come from.
        geometry: The :class:`~evaluation.datasets.transforms.Geometry` applied.
        frame_size: ``(H, W)`` of the evaluation frame.
        num_classes: Number of classes of the dataset.
        train: Whether samples are augmented training samples.
    """

    def __init__(
        self,
        index: DatasetIndex,
        protocol: str = "wsoleval",
        normalization: tuple[Sequence[float], Sequence[float]] = IMAGENET_NORMALIZATION,
        image_size: int | None = None,
        train: bool = False,
        masks: bool = True,
        mask_rule: str | None = None,
    ) -> None:
        """Map every box into the frame.

        Args:
            index: Records to serve.
            protocol: ``wsoleval``, ``paper``, ``paper-as-published`` (the records'
                ``authors_boxes``, mapped as under ``paper``) or ``exact``.
            normalization: ``(mean, std)`` per RGB channel.
            image_size: Frame side ``S``.
            train: Augmented training samples without boxes.
            masks: Serve masks where records have them (evaluation only).
            mask_rule: Grey threshold of the masks (:data:`evaluation.datasets.masks.MASK_RULES`);
                ``None``: the protocol's default.

        Raises:
            ConfigurationError: Unknown protocol or mask rule, ``normalization`` is not two
                triples with a positive std, or ``paper-as-published`` on records without
                ``authors_boxes``.
        """
        mean, std = _check_normalization(normalization)
        native = index.name in _NATIVE_NAMES
        self.index = index
        self.protocol = protocol
        self.train = train
        self.geometry = (train_geometry if train else eval_geometry)(protocol, image_size, native)
        self.frame_size = self.geometry.frame_size
        self.num_classes = index.num_classes
        self.masks = masks and not train
        self.mask_rule = check_mask_rule(mask_rule or default_mask_rule(protocol))
        self._mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
        ground_truth = _ground_truth(index, protocol)
        counts = np.array([len(boxes) for boxes in ground_truth], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(counts)])
        boxes = np.array([b for record_boxes in ground_truth for b in record_boxes],
                         dtype=np.float64)
        sizes = np.repeat(np.array([r.size for r in index.records], dtype=np.float64), counts, 0)
        self._boxes = map_boxes(boxes.reshape(-1, 4), sizes.reshape(-1, 2), self.geometry)

    def __len__(self) -> int:
        return len(self.index.records)

    def frame_boxes(self, i: int) -> np.ndarray:
        """The ground-truth boxes of record ``i`` in frame pixels, float32 (n, 4)."""
        return self._boxes[self._offsets[i] : self._offsets[i + 1]]

    def __getitem__(self, i: int) -> dict[str, Any]:
        """Decode record ``i`` and move it into the frame (sample keys: module doc)."""
        record = self.index.records[i]
        image = load_rgb(record.path, record.size)
        if self.train:
            placed = train_image(image, self.geometry)
            boxes = torch.zeros((0, 4), dtype=torch.float32)
        else:
            placed = eval_image(image, self.geometry)
            boxes = torch.from_numpy(self.frame_boxes(i).copy())
        sample: dict[str, Any] = {
            "image": to_tensor(placed, self._mean, self._std),
            "label": record.label,
            "boxes": boxes,
            "index": i,
            "image_id": record.image_id,
        }
        if self.masks and record.mask_path is not None:
            sample["mask"] = torch.from_numpy(self._mask(record).copy())
        return sample

    def _mask(self, record: ImageRecord) -> np.ndarray:
        """The record's label mask in the frame: 1 foreground, 0 background, 255 ignore."""
        return frame_label_mask(
            record.mask_paths, record.ignore_path, self.geometry, self.mask_rule, record.size
        )


def _ground_truth(index: DatasetIndex, protocol: str) -> list[tuple[Box, ...]]:
    """Each record's boxes: ``authors_boxes`` under ``paper-as-published``, else ``boxes``.

    Raises:
        ConfigurationError: ``paper-as-published`` on records that carry no authors' reading.
    """
    if protocol != "paper-as-published":
        return [record.boxes for record in index.records]
    ground_truth = []
    for record in index.records:
        if record.authors_boxes is None:
            raise ConfigurationError(
                "--protocol paper-as-published evaluates against the boxes as the infoCAM "
                f"authors' code reads CUB and Tiny-ImageNet files, which {index.name} does not "
                f"provide (image {record.image_id}); use --protocol paper, or the dataset's "
                "own CUB or Tiny-ImageNet layout"
            )
        ground_truth.append(record.authors_boxes)
    return ground_truth


def collate_wsol(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack samples; boxes NaN-padded to (B, G, 4), missing masks filled with 255 (ignore)."""
    count = len(samples)
    most = max((len(s["boxes"]) for s in samples), default=0)
    boxes = torch.full((count, most, 4), math.nan, dtype=torch.float32)
    for row, sample in enumerate(samples):
        boxes[row, : len(sample["boxes"])] = sample["boxes"]
    batch: dict[str, Any] = {
        "image": torch.stack([s["image"] for s in samples]),
        "label": torch.tensor([s["label"] for s in samples], dtype=torch.int64),
        "boxes": boxes,
        "index": torch.tensor([s["index"] for s in samples], dtype=torch.int64),
        "image_id": [s["image_id"] for s in samples],
    }
    with_mask = [s for s in samples if "mask" in s]
    if with_mask:
        height, width = with_mask[0]["mask"].shape
        masks = torch.full((count, height, width), 255, dtype=torch.uint8)
        for row, sample in enumerate(samples):
            if "mask" in sample:
                masks[row] = sample["mask"]
        batch["mask"] = masks
    return batch


def _check_normalization(
    normalization: tuple[Sequence[float], Sequence[float]],
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    try:
        mean, std = (tuple(float(v) for v in part) for part in normalization)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"normalization must be (mean, std), two triples of numbers, not {normalization!r}"
        ) from None
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ConfigurationError(
            f"normalization must be (mean, std) with 3 values each and std > 0, "
            f"not {normalization!r}"
        )
    return mean, std
