"""The integer counters of a localisation evaluation: they add exactly, whatever the split.

The last leg of a map's trip (quantise -> sweep -> count). :meth:`LocalizationCounts.add_hits`
counts, for every threshold ``tau`` of the grid and IoU threshold ``delta``, the images whose
best IoU is ``>= delta / 100``, for the V1 box and the V2 boxes, three times: all images
(GT-known), images whose top-1 prediction is the label (Top-1) and images whose top-5 holds it
(Top-5); the same at the fixed threshold. Batches, shards and processes add the int64 arrays
exactly (:meth:`LocalizationCounts.plus`, :meth:`LocalizationCounts.all_reduce`). The counters
are numpy arrays, so that scoring saved maps needs no torch; only :meth:`all_reduce` imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from evaluation.errors import ConfigurationError

TOTALS = (
    "num_images",
    "num_nonfinite_maps",
    "num_constant_maps",
    "num_with_predictions",
    "num_top1_correct",
    "num_top5_correct",
    "num_masked_images",
)
"""The entries of :attr:`LocalizationCounts.totals`, in order."""


def hit_flags(ious: Sequence[np.ndarray], deltas: Sequence[int]) -> np.ndarray:
    """``(B, 2, D, T + 1)`` bool: best IoU ``>= delta / 100`` for V1 and V2, per IoU threshold.

    Args:
        ious: ``(V1, V2)`` best IoU, ``(B, T + 1)`` float64 each.
        deltas: IoU thresholds in percent.
    """
    stacked = np.stack(list(ious), axis=1)  # (B, 2, T + 1)
    return stacked[:, :, None, :] >= (np.asarray(deltas, dtype=np.float64) / 100)[:, None]


@dataclass(frozen=True)
class LocalizationCounts:
    """Counters of images (and, for PxAP, pixels); every field is an int64 numpy array.

    Attributes:
        box_counts: ``(3, 2, T, D)``: kind (GT-known, Top-1, Top-5) x variant (V1, V2) x grid
            threshold x counted IoU threshold: images whose best IoU is ``>= delta / 100``.
        fixed_counts: ``(3, 2, D)``: the same at the fixed threshold.
        totals: ``(7,)``: the image counts named in :data:`TOTALS`.
        pixel_histograms: ``(2, T + 2)``: positive and negative pixels per score bin (PxAP).
    """

    box_counts: np.ndarray
    fixed_counts: np.ndarray
    totals: np.ndarray
    pixel_histograms: np.ndarray

    @classmethod
    def zeros(cls, thresholds: int, deltas: int) -> LocalizationCounts:
        """Empty counters for ``thresholds`` grid thresholds and ``deltas`` IoU thresholds."""
        return cls(
            np.zeros((3, 2, thresholds, deltas), dtype=np.int64),
            np.zeros((3, 2, deltas), dtype=np.int64),
            np.zeros(len(TOTALS), dtype=np.int64),
            np.zeros((2, thresholds + 2), dtype=np.int64),
        )

    @property
    def num_images(self) -> int:
        """Images counted so far."""
        return int(self.totals[0])

    @property
    def has_predictions(self) -> bool:
        """The counted images came with top-k predictions."""
        return bool(self.totals[3])

    def arrays(self) -> dict[str, np.ndarray]:
        """The counters by field name (the keys of an accumulator's state dict)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def add_hits(
        self,
        ious: Sequence[np.ndarray],
        deltas: Sequence[int],
        labels: np.ndarray,
        topk: np.ndarray | None,
    ) -> None:
        """Count one batch's images by kind, variant, threshold and IoU threshold.

        Args:
            ious: ``(V1, V2)`` best IoU, ``(B, T + 1)`` float64 each (the grid, then the fixed
                threshold).
            deltas: The counted IoU thresholds in percent.
            labels: ``(B,)`` int64 class labels.
            topk: ``(B, k)`` int64 predicted classes, best first, or ``None``.
        """
        batch = len(labels)
        hits = hit_flags(ious, deltas).transpose(0, 1, 3, 2)  # (B, 2, T + 1, D)
        kinds = np.ones((3, batch), dtype=bool)
        if topk is not None:
            kinds[1] = topk[:, 0] == labels
            kinds[2] = (topk[:, :5] == labels[:, None]).any(axis=1)
            self.totals[3:6] += np.array([batch, kinds[1].sum(), kinds[2].sum()], dtype=np.int64)
        counted = (hits[None] & kinds[:, :, None, None, None]).sum(axis=1, dtype=np.int64)
        self.box_counts[...] += counted[:, :, :-1]
        self.fixed_counts[...] += counted[:, :, -1]
        self.totals[0] += batch

    def add_zeroed(self, nonfinite: np.ndarray, constant: np.ndarray) -> None:
        """Count the maps zeroed for a NaN/infinity and for being constant (``(B,)`` flags)."""
        self.totals[1] += int(np.count_nonzero(nonfinite))
        self.totals[2] += int(np.count_nonzero(constant))

    def add_pixels(self, histograms: np.ndarray, images: int) -> None:
        """Add one batch's ``(2, T + 2)`` PxAP histograms of ``images`` masked images."""
        self.pixel_histograms[...] += histograms
        self.totals[6] += images

    def load(self, saved: dict[str, Any]) -> None:
        """Replace the counters with the same-named arrays (or tensors) of ``saved``.

        Raises:
            ConfigurationError: A saved counter has another shape.
        """
        for name, current in self.arrays().items():
            values = np.asarray(saved[name], dtype=np.int64)
            if values.shape != current.shape:
                raise ConfigurationError(f"saved {name} has shape {tuple(values.shape)}")
            current[...] = values

    def plus(self, other: LocalizationCounts) -> LocalizationCounts:
        """New counters holding the sum of both.

        Raises:
            ConfigurationError: One side counted top-k predictions and the other did not.
        """
        if self.num_images and other.num_images and self.has_predictions != other.has_predictions:
            raise ConfigurationError(
                "cannot merge an accumulator with top-k predictions and one without"
            )
        mine, theirs = self.arrays(), other.arrays()
        return LocalizationCounts(**{name: mine[name] + theirs[name] for name in mine})

    def all_reduce(self, group: Any = None) -> None:
        """Sum the counters over the processes of ``group`` in place (``torch.distributed``).

        Every process ends with the global counts. Works with any backend: the counters travel
        as one int64 tensor, on the current CUDA device for NCCL.
        """
        import torch
        import torch.distributed as dist

        counters = list(self.arrays().values())
        flat = torch.from_numpy(np.concatenate([c.ravel() for c in counters]))
        if dist.get_backend(group) == "nccl":
            flat = flat.to(torch.device("cuda", torch.cuda.current_device()))
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        reduced = flat.cpu().numpy()
        start = 0
        for counter in counters:
            counter[...] = reduced[start : start + counter.size].reshape(counter.shape)
            start += counter.size
