"""Per-image records: what an evaluation keeps per image so that a resample can be re-scored.

For every image position ``n`` (the image's place in the evaluated split) and one method:

- ``hits[n, v, d]``: bits over the ``T + 1`` thresholds (the grid, then the fixed threshold),
  packed little-endian into ``ceil((T + 1) / 8)`` bytes: bit ``t`` is ``best IoU >= delta_d / 100``
  for the V1 box (``v = 0``) or any V2 box (``v = 1``), decided on the float64 IoU exactly as the
  counters decide it (a rounded IoU could flip a hit at exactly ``delta``). Thresholds are not
  nested for the IoU (a larger mask can fit worse), so the set of hit thresholds is a bitmask,
  not a count.
- ``top1[n]``, ``top5[n]``: the label is the top-1 prediction / among the top five;
- ``labels[n]``: the class label;
- ``attribution[n, k]``: the per-image value of :data:`ATTRIBUTION_METRICS` ``k`` (NaN where
  the metric is undefined for that image);
- ``pixels[n]`` (only with masks): PxAP's ``(2, T + 2)`` positive / negative pixel histograms.

Records of disjoint positions add exactly (:meth:`ImageRecords.plus`): batches fill their
positions, torchrun ranks fill theirs and a sum gathers them. Memory per image and method for
the default 100 thresholds and three IoU thresholds: 78 bytes of hit bits, 56 of attribution
values, 10 of flags and label (about 7 MB for 50,000 images).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from evaluation.errors import ConfigurationError

ATTRIBUTION_METRICS = (
    "pointing_game",
    "pointing_game_tolerant",
    "energy_pointing_game",
    "relevance_mass_accuracy",
    "relevance_rank_accuracy",
    "top_k_intersection",
    "auc",
)
"""The per-image localisation metrics of XAI evaluation, in record column order."""

HIT_RATE_ATTRIBUTION_METRICS = ("pointing_game", "pointing_game_tolerant")
"""The attribution metrics whose per-image value is a hit (0 or 1)."""

_ARRAY_FIELDS = ("filled", "hits", "top1", "top5", "labels", "attribution", "pixels")


@dataclass(eq=False)
class ImageRecords:
    """One method's per-image records (see the module docstring for the fields).

    The arrays have room for at least :attr:`size` positions (they grow by doubling);
    :meth:`column` gives a field's first :attr:`size` rows.

    Attributes:
        thresholds: ``(T,)`` float64 grid thresholds.
        fixed_threshold: The threshold of the last hit bit (GT-known / Top-k Loc).
        deltas: The counted IoU thresholds in percent, ascending (50 among them).
        iou_thresholds: The IoU thresholds of the MaxBoxAccV2 mean.
        has_predictions: The images came with top-k predictions.
        size: One past the highest recorded position.
        filled: bool, the position holds an image.
        hits: uint8 packed hit bits, ``(capacity, 2, D, P)``.
        top1: bool.
        top5: bool.
        labels: int64.
        attribution: float64 ``(capacity, A)``, NaN where undefined.
        pixels: int64 ``(capacity, 2, T + 2)`` PxAP histograms, or ``None`` without masks.
    """

    thresholds: np.ndarray
    fixed_threshold: float
    deltas: tuple[int, ...]
    iou_thresholds: tuple[int, ...]
    has_predictions: bool
    size: int
    filled: np.ndarray
    hits: np.ndarray
    top1: np.ndarray
    top5: np.ndarray
    labels: np.ndarray
    attribution: np.ndarray
    pixels: np.ndarray | None

    @classmethod
    def empty(
        cls,
        thresholds: Sequence[float] | np.ndarray,
        fixed_threshold: float,
        deltas: Sequence[int],
        iou_thresholds: Sequence[int],
    ) -> ImageRecords:
        """Records of no image for these settings."""
        grid = np.asarray(thresholds, dtype=np.float64).reshape(-1)
        packed = (len(grid) + 1 + 7) // 8
        return cls(
            grid, float(fixed_threshold), tuple(int(d) for d in deltas),
            tuple(int(d) for d in iou_thresholds), False, 0,
            np.zeros(0, dtype=bool), np.zeros((0, 2, len(deltas), packed), dtype=np.uint8),
            np.zeros(0, dtype=bool), np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64),
            np.zeros((0, len(ATTRIBUTION_METRICS)), dtype=np.float64), None,
        )

    @property
    def count(self) -> int:
        """Number of images recorded."""
        return int(self.column("filled").sum())

    @property
    def num_thresholds(self) -> int:
        """``T``, the grid thresholds (the hit bits hold ``T + 1``: the fixed one last)."""
        return len(self.thresholds)

    def column(self, name: str) -> np.ndarray:
        """The first :attr:`size` rows of the array field ``name`` (a view)."""
        array = getattr(self, name)
        return array[: self.size]

    def add(
        self,
        positions: np.ndarray,
        hits: np.ndarray,
        top1: np.ndarray | None,
        top5: np.ndarray | None,
        labels: np.ndarray,
        attribution: np.ndarray,
        pixels: np.ndarray | None,
    ) -> None:
        """Record a batch of images at ``positions`` (in place).

        Args:
            positions: ``(B,)`` distinct non-negative image positions, not yet recorded.
            hits: ``(B, 2, D, T + 1)`` bool hit flags.
            top1: ``(B,)`` bool, or ``None`` without predictions.
            top5: ``(B,)`` bool, or ``None`` without predictions.
            labels: ``(B,)`` labels.
            attribution: ``(B, A)`` float64 attribution metric values.
            pixels: ``(B, 2, T + 2)`` PxAP histograms, or ``None`` without masks.

        Raises:
            ConfigurationError: A position is negative, repeats or is already recorded, or the
                batch has masks or predictions where earlier ones had none (or the reverse).
        """
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        if len(positions) == 0:
            return
        if positions.min() < 0:
            raise ConfigurationError("image positions must be >= 0")
        if len(np.unique(positions)) != len(positions):
            raise ConfigurationError("image positions repeat within one batch")
        if self.count and (pixels is None) != (self.pixels is None):
            raise ConfigurationError("give masks with every batch or with none (per-image PxAP)")
        if self.count and (top1 is None) == self.has_predictions:
            raise ConfigurationError("give predictions with every batch or with none")
        self._reserve(int(positions.max()) + 1, pixels is not None)
        taken = positions[self.filled[positions]]
        if len(taken):
            raise ConfigurationError(
                f"image position {int(taken[0])} is already recorded; give each image its own "
                "position (update(..., positions=...))"
            )
        self.filled[positions] = True
        self.hits[positions] = np.packbits(np.asarray(hits, dtype=bool), axis=-1, bitorder="little")
        if top1 is not None and top5 is not None:
            self.top1[positions] = np.asarray(top1, dtype=bool)
            self.top5[positions] = np.asarray(top5, dtype=bool)
        self.labels[positions] = np.asarray(labels, dtype=np.int64)
        self.attribution[positions] = np.asarray(attribution, dtype=np.float64)
        if pixels is not None and self.pixels is not None:
            self.pixels[positions] = np.asarray(pixels, dtype=np.int64)
        self.has_predictions = top1 is not None

    def _reserve(self, size: int, with_pixels: bool) -> None:
        """Make room for ``size`` positions (doubling), and for pixel histograms if asked."""
        if with_pixels and self.pixels is None:
            self.pixels = np.zeros((len(self.filled), 2, self.num_thresholds + 2), np.int64)
        self.size = max(self.size, size)
        if size <= len(self.filled):
            return
        capacity = max(size, 2 * len(self.filled))
        for name in _ARRAY_FIELDS:
            current = getattr(self, name)
            if current is not None:
                grown = np.zeros((capacity, *current.shape[1:]), dtype=current.dtype)
                grown[: len(current)] = current
                setattr(self, name, grown)

    def plus(self, other: ImageRecords) -> ImageRecords:
        """New records holding both sides' images (their positions must not overlap).

        Raises:
            ConfigurationError: Both sides recorded the same position, or one side has pixel
                histograms or predictions and the other not.
        """
        if self.count and other.count:
            if (self.pixels is None) != (other.pixels is None):
                raise ConfigurationError("cannot add records with masks to records without")
            if self.has_predictions != other.has_predictions:
                raise ConfigurationError("cannot add records with predictions to records without")
        size = max(self.size, other.size)
        overlap = np.flatnonzero(
            _padded(self.column("filled"), size) & _padded(other.column("filled"), size)
        )
        if len(overlap):
            raise ConfigurationError(
                f"both records hold image position {int(overlap[0])}: records add only over "
                "disjoint positions (give each batch its positions with update(..., positions=))"
            )
        summed: dict[str, np.ndarray | None] = {}
        for name in _ARRAY_FIELDS:
            a, b = getattr(self, name), getattr(other, name)
            if a is None and b is None:
                summed[name] = None
                continue
            template = a if a is not None else b
            a = _padded(a[: self.size] if a is not None else None, size, template)
            b = _padded(b[: other.size] if b is not None else None, size, template)
            summed[name] = a | b if a.dtype == bool else a + b
        predictions = self.has_predictions if self.count else other.has_predictions
        return replace(self, has_predictions=predictions, size=size, **summed)

    def checked_complete(self) -> ImageRecords:
        """These records, after checking that every position ``0 .. size - 1`` holds an image.

        Raises:
            ConfigurationError: No image, or some positions were never filled.
        """
        if self.count == 0:
            raise ConfigurationError("no image was recorded: nothing to resample")
        missing = np.flatnonzero(~self.column("filled"))
        if len(missing):
            raise ConfigurationError(
                f"{len(missing)} image positions hold no record (the first is {int(missing[0])});"
                " every position from 0 to the last one must be evaluated"
            )
        return self

    def hit_flags(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """``(n, 2, D, T + 1)`` bool hit flags of the images at positions ``start:stop``."""
        stop = self.size if stop is None else min(stop, self.size)
        bits = np.unpackbits(self.hits[start:stop], axis=-1, bitorder="little")
        return bits[..., : self.num_thresholds + 1].astype(bool)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything as named numpy arrays of :attr:`size` rows (``np.savez``, state files)."""
        pixels = self.column("pixels") if self.pixels is not None else np.zeros(
            (self.size, 2, 0), np.int64
        )
        return {
            "thresholds": self.thresholds,
            "fixed_threshold": np.float64(self.fixed_threshold),
            "deltas": np.asarray(self.deltas, dtype=np.int64),
            "iou_thresholds": np.asarray(self.iou_thresholds, dtype=np.int64),
            "has_predictions": np.bool_(self.has_predictions),
            **{name: self.column(name) for name in _ARRAY_FIELDS if name != "pixels"},
            "pixels": pixels,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ImageRecords:
        """The inverse of :meth:`arrays`.

        Raises:
            ConfigurationError: An array is missing or the shapes do not fit together.
        """
        missing = [k for k in ("thresholds", "fixed_threshold", "deltas", "iou_thresholds",
                               "has_predictions", *_ARRAY_FIELDS) if k not in arrays]
        if missing:
            raise ConfigurationError(f"per-image records lack {', '.join(missing)}")
        thresholds = np.asarray(arrays["thresholds"], dtype=np.float64).reshape(-1)
        deltas = tuple(int(d) for d in np.asarray(arrays["deltas"]).reshape(-1))
        filled = np.asarray(arrays["filled"], dtype=bool).reshape(-1)
        size = len(filled)
        pixels = np.asarray(arrays["pixels"], dtype=np.int64)
        expected = {
            "hits": (size, 2, len(deltas), (len(thresholds) + 8) // 8),
            "top1": (size,), "top5": (size,), "labels": (size,),
            "attribution": (size, len(ATTRIBUTION_METRICS)),
        }
        for name, shape in expected.items():
            if tuple(np.shape(arrays[name])) != shape:
                raise ConfigurationError(
                    f"per-image records: '{name}' has shape {tuple(np.shape(arrays[name]))}, "
                    f"expected {shape}"
                )
        return cls(
            thresholds, float(np.asarray(arrays["fixed_threshold"]).reshape(-1)[0]), deltas,
            tuple(int(d) for d in np.asarray(arrays["iou_thresholds"]).reshape(-1)),
            bool(np.asarray(arrays["has_predictions"]).reshape(-1)[0]), size, filled,
            np.asarray(arrays["hits"], dtype=np.uint8),
            np.asarray(arrays["top1"], dtype=bool), np.asarray(arrays["top5"], dtype=bool),
            np.asarray(arrays["labels"], dtype=np.int64),
            np.asarray(arrays["attribution"], dtype=np.float64),
            pixels if pixels.ndim == 3 and pixels.shape[-1] > 0 else None,
        )


def _padded(
    array: np.ndarray | None, size: int, template: np.ndarray | None = None
) -> np.ndarray:
    """``array`` with zero rows appended up to ``size`` (zeros like ``template`` for ``None``)."""
    like = array if array is not None else template
    assert like is not None
    out = np.zeros((size, *like.shape[1:]), dtype=like.dtype)
    if array is not None:
        out[: len(array)] = array
    return out
