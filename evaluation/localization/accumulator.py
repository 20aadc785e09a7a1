"""A streaming, mergeable localisation accumulator: box metrics, attribution metrics, intervals.

:meth:`LocalizationAccumulator.update` takes each batch of raw maps (torch tensors of any size
and device, as a model gives them) one way through the package: quantise
(:mod:`evaluation.localization.quantization`) and score the raw maps in the frame against the
ground-truth regions (:mod:`evaluation.localization.attribution`: pointing games, relevance mass
and rank, top-k, AUC), then :meth:`~LocalizationAccumulator.update_levels` sweeps
(:mod:`evaluation.localization.sweeps`: every threshold's best V1 and V2 IoU, resolved), counts
(:mod:`evaluation.localization.counts`: int64 counters) and records each image's hits, top-k
flags, label and attribution values at its position
(:class:`~evaluation.statistics.records.ImageRecords`), from which every metric gets a bootstrap
interval. ``update_levels`` is the one counting path; it takes numpy levels and values, so that
saved maps (``wsol-bench score``) are scored without torch: this module imports torch only inside
the methods that take or give tensors. Counters and records add exactly across batches, shards
and processes (:meth:`~LocalizationAccumulator.merge`, :meth:`~LocalizationAccumulator.all_reduce`;
records of disjoint positions), :meth:`~LocalizationAccumulator.state_dict` lets an interrupted
run resume, and :meth:`~LocalizationAccumulator.compute` turns the final counts into percentages
(:mod:`evaluation.localization.metrics`), with intervals when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluation.errors import ConfigurationError, ScoreMapError
from evaluation.localization.attribution import (
    DEFAULT_POINTING_TOLERANCE,
    DEFAULT_TOP_K,
    attribution_metrics,
    region_masks,
)
from evaluation.localization.attribution_ranks import warm_up as compile_ranking
from evaluation.localization.component_trees import warm_up as compile_sweeps
from evaluation.localization.counts import LocalizationCounts, hit_flags
from evaluation.localization.image_records import (
    all_reduce_records,
    record_batch,
    records_from_state,
    records_state,
)
from evaluation.localization.levels import QuantizedMaps, threshold_levels
from evaluation.localization.levels import warm_up as compile_quantizer
from evaluation.localization.metrics import attribution_means, localization_metrics
from evaluation.localization.settings import LocalizationSettings
from evaluation.localization.sweeps import best_level_ious
from evaluation.statistics.bootstrap import BootstrapSettings
from evaluation.statistics.intervals import metric_intervals
from evaluation.statistics.records import ATTRIBUTION_METRICS, ImageRecords

if TYPE_CHECKING:
    from torch import Tensor

_STATE_VERSION = 2


class LocalizationAccumulator:
    """Integer counters for box localisation metrics and per-image records, filled batch by batch.

    Args:
        frame_size: ``(H, W)`` of the evaluation frame; maps are resized to it.
        thresholds: Increasing map thresholds in [0, 1]; default ``np.arange(0, 1, 0.01)``.
        iou_thresholds: IoU thresholds ``delta`` in percent (0 < delta <= 100) for the
            MaxBoxAccV2 mean; 50 is always counted too (MaxBoxAcc and the Loc metrics use it).
        fixed_threshold: The threshold of GT-known / Top-1 / Top-5 Loc (V1, IoU >= 50).
        convention: ``"wsoleval"``, ``"paper"`` or ``"strict"`` (see
            :mod:`evaluation.localization.conventions`).
        executor: Optional :class:`concurrent.futures.Executor` that runs the box sweeps of
            each batch in chunks of 16 maps; a ``ThreadPoolExecutor`` uses one CPU core per
            thread (the compiled sweeps release the GIL). ``None`` runs them in this thread.
        pointing_tolerance: Distance (frame pixels) of the tolerant pointing game, TorchRay's 15.
        top_k: ``k`` of the top-k intersection, Quantus' 1000.

    Attributes:
        settings: The validated :class:`~evaluation.localization.settings.LocalizationSettings`.
        counts: The :class:`~evaluation.localization.counts.LocalizationCounts` so far.
        records: The per-image :class:`~evaluation.statistics.records.ImageRecords` so far.

    Raises:
        ConfigurationError: An argument is out of range.
    """

    def __init__(
        self,
        frame_size: tuple[int, int] = (224, 224),
        thresholds: Sequence[float] | np.ndarray | Tensor | None = None,
        iou_thresholds: Sequence[int] = (30, 50, 70),
        fixed_threshold: float = 0.2,
        convention: str = "wsoleval",
        executor: Executor | None = None,
        pointing_tolerance: int = DEFAULT_POINTING_TOLERANCE,
        top_k: int = DEFAULT_TOP_K,
    ) -> None:
        self.settings = LocalizationSettings.checked(
            frame_size, thresholds, iou_thresholds, fixed_threshold, convention,
            pointing_tolerance, top_k,
        )
        self.executor = executor
        steps, deltas = len(self.settings.thresholds), len(self.settings.counted_deltas)
        self.counts = LocalizationCounts.zeros(steps, deltas)
        self.records = self._empty_records()
        # Compiled code loads once per process: here, rather than in the first (timed) batch.
        compile_sweeps()
        compile_quantizer()
        compile_ranking()

    @property
    def num_images(self) -> int:
        """Number of images accumulated so far."""
        return self.counts.num_images

    def config(self) -> dict[str, Any]:
        """The settings that two accumulators must share to be added."""
        return self.settings.config()

    def _empty_records(self) -> ImageRecords:
        settings = self.settings
        return ImageRecords.empty(
            settings.thresholds, settings.fixed_threshold, settings.counted_deltas,
            settings.iou_thresholds,
        )

    def state_dict(self) -> dict[str, Any]:
        """Counters (int64 tensors), records and settings, for ``torch.save``.

        :meth:`load_state_dict` reads it back.
        """
        import torch

        counters = {
            name: torch.from_numpy(array.copy()) for name, array in self.counts.arrays().items()
        }
        return {"version": _STATE_VERSION, "config": self.config(), **counters,
                "records": records_state(self.records)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the counters and records with saved ones (same settings required).

        Raises:
            ConfigurationError: The state was saved with other settings or another version.
        """
        if state.get("version") != _STATE_VERSION:
            raise ConfigurationError(
                f"accumulator state version {state.get('version')!r} is not {_STATE_VERSION} "
                "(saved by another wsol-bench version); start the evaluation again"
            )
        self.settings.check_compatible(state["config"], "the saved state")
        self.counts.load(state)
        self.records = records_from_state(state["records"])

    def merge(self, other: LocalizationAccumulator) -> LocalizationAccumulator:
        """A new accumulator holding the sum of both (as if one had seen every batch).

        Raises:
            ConfigurationError: The settings differ, only one side has top-k predictions, or
                both recorded the same image position.
        """
        self.settings.check_compatible(other.config(), "the other accumulator")
        merged = LocalizationAccumulator(executor=self.executor, **self.config())
        merged.counts = self.counts.plus(other.counts)
        merged.records = self.records.plus(other.records)
        return merged

    def all_reduce(self, group: Any = None) -> None:
        """Sum the counters and gather the records over the processes of ``group``, in place.

        Raises:
            ConfigurationError: Two processes recorded the same image position.
        """
        self.counts.all_reduce(group)
        self.records = all_reduce_records(self.records, group)

    def update(
        self,
        maps: Tensor,
        gt_boxes: Tensor,
        labels: Tensor,
        topk_predictions: Tensor | None = None,
        masks: Tensor | None = None,
        positions: Tensor | np.ndarray | None = None,
    ) -> Tensor:
        """Add one batch (quantise, sweep, count, record) and return each V1 IoU per threshold.

        Args:
            maps: ``(B, 1, h, w)`` or ``(B, h, w)`` raw signed scores of any size and device;
                resized to the frame (bicubic) and min-max normalised per map.
            gt_boxes: ``(B, G, 4)`` inclusive ``x0, y0, x1, y1`` in frame pixels, rows padded
                with NaN where an image has fewer than ``G`` boxes.
            labels: ``(B,)`` class labels.
            topk_predictions: ``(B, k)`` predicted classes, best first (``k >= 1``; Top-5 uses
                the first ``min(k, 5)``), or ``None``. Either every batch has them or none.
            masks: Optional ``(B, H, W)`` uint8 frame masks (1 / 0 / 255 ignore) for PxAP; the
                attribution metrics then score against the mask instead of the boxes.
            positions: ``(B,)`` the images' positions in the evaluated set (their rows in the
                per-image records); ``None``: the positions after the highest one recorded.

        Returns:
            ``(B, T + 1)`` float64: for every image, the best IoU of its V1 (largest-contour) box
            with any of its GT boxes at each grid threshold and, in the last column, at the fixed
            threshold: the values the counters were made from (for per-image analyses such as a
            report's best and worst cases).

        Raises:
            ScoreMapError: Shapes disagree.
            ConfigurationError: Predictions are given for some batches and not others, or a
                position is already recorded.
        """
        import torch

        from evaluation.localization.pxap import image_pixel_histograms
        from evaluation.localization.quantization import (
            normalize_score_maps,
            quantize_raw_maps,
            resize_score_maps,
        )

        def numpy_of(values: Any, dtype: torch.dtype) -> np.ndarray:
            return torch.as_tensor(values).detach().to("cpu", dtype).numpy()

        settings = self.settings
        frame = settings.frame_size
        boxes, label_array = _checked_targets(
            len(maps), numpy_of(gt_boxes, torch.float64), numpy_of(labels, torch.long)
        )
        masks_array = None if masks is None else numpy_of(masks, torch.uint8)
        if len(maps) == 0:
            empty = np.zeros(0, dtype=bool)
            quantized = QuantizedMaps(np.zeros((0, *frame), np.uint8), empty, empty)
            attribution = np.zeros((0, len(ATTRIBUTION_METRICS)))
            histograms = None
        else:
            quantized = quantize_raw_maps(maps, frame, settings.convention)
            histograms = None
            if masks_array is not None:
                normalized = normalize_score_maps(maps, frame, settings.convention)
                histograms = image_pixel_histograms(
                    normalized.maps.cpu().numpy(), masks_array, settings.thresholds
                )
            batch_maps = maps[:, 0] if maps.dim() == 4 else maps
            frame_maps = resize_score_maps(batch_maps.detach().to("cpu", torch.float64), frame)
            # A map zeroed for a NaN the resize skipped is scored as zeros, as its boxes are.
            attribution = attribution_metrics(
                np.where(quantized.nonfinite[:, None, None], 0.0, frame_maps.numpy()),
                region_masks(boxes, frame, masks_array),
                settings.pointing_tolerance, settings.top_k,
            )
        topk = None if topk_predictions is None else numpy_of(topk_predictions, torch.long)
        where = None if positions is None else numpy_of(positions, torch.long)
        ious = self.update_levels(
            quantized, boxes, label_array, attribution, topk, histograms, where
        )
        return torch.from_numpy(ious)

    def update_levels(
        self,
        quantized: QuantizedMaps,
        gt_boxes: np.ndarray,
        labels: np.ndarray,
        attribution: np.ndarray,
        topk_predictions: np.ndarray | None = None,
        pixel_histograms: np.ndarray | None = None,
        positions: np.ndarray | None = None,
    ) -> np.ndarray:
        """Add one batch of maps already quantised in the frame (sweep, count, record): no torch.

        Args:
            quantized: ``(B, H, W)`` uint8 levels of the frame size with their zeroing flags
                (:func:`evaluation.localization.levels.quantize_frame_maps`).
            gt_boxes: ``(B, G, 4)`` inclusive ``x0, y0, x1, y1`` in frame pixels, NaN padding.
            labels: ``(B,)`` class labels.
            attribution: ``(B, A)`` float64 per-image attribution metrics of the raw maps in the
                frame (:func:`evaluation.localization.attribution.attribution_metrics`).
            topk_predictions: ``(B, k)`` predicted classes, best first, or ``None`` (as
                :meth:`update`).
            pixel_histograms: The batch's per-image ``(B, 2, T + 2)`` PxAP histograms
                (:func:`evaluation.localization.pxap.image_pixel_histograms`), or ``None`` when
                the batch has no masks.
            positions: ``(B,)`` image positions, as :meth:`update`.

        Returns:
            ``(B, T + 1)`` float64 V1 IoU per threshold, as :meth:`update`.

        Raises:
            ScoreMapError: Shapes disagree.
            ConfigurationError: Predictions are given for some batches and not others, or a
                position is already recorded.
        """
        settings = self.settings
        levels_maps = quantized.levels
        batch = len(levels_maps)
        if levels_maps.ndim != 3 or tuple(levels_maps.shape[1:]) != settings.frame_size:
            raise ScoreMapError(
                f"quantised maps must have shape (B, {settings.frame_size[0]}, "
                f"{settings.frame_size[1]}), got {tuple(levels_maps.shape)}"
            )
        gt_boxes, labels = _checked_targets(batch, gt_boxes, labels)
        attribution = np.asarray(attribution, dtype=np.float64)
        if attribution.shape != (batch, len(ATTRIBUTION_METRICS)):
            raise ScoreMapError(
                f"attribution must have shape ({batch}, {len(ATTRIBUTION_METRICS)}), got "
                f"{tuple(attribution.shape)}"
            )
        if batch == 0:
            return np.zeros((0, len(settings.thresholds) + 1), dtype=np.float64)
        if self.num_images and (topk_predictions is not None) != self.counts.has_predictions:
            raise ConfigurationError(
                "give topk_predictions with every batch or with none (Top-k needs all images)"
            )
        topk = None if topk_predictions is None else _checked_topk(batch, topk_predictions)
        peaks = levels_maps.reshape(batch, -1).max(axis=1)
        levels = threshold_levels(peaks, settings.counted_thresholds)
        ious = best_level_ious(levels_maps, levels, gt_boxes, settings.convention, self.executor)
        hits = hit_flags(ious, settings.counted_deltas)
        record_batch(self.records, positions, hits, labels, topk, attribution, pixel_histograms)
        self.counts.add_hits(ious, settings.counted_deltas, labels, topk)
        self.counts.add_zeroed(quantized.nonfinite, quantized.constant)
        if pixel_histograms is not None:
            self.counts.add_pixels(pixel_histograms.sum(axis=0), batch)
        return ious[0]

    def compute(self, bootstrap: BootstrapSettings | None = None) -> dict[str, Any]:
        """Metrics in percent (0..100) from the final counts and records (JSON-serialisable).

        See :func:`evaluation.localization.metrics.localization_metrics` for the box keys and
        :func:`evaluation.localization.metrics.attribution_means` for the attribution ones.

        Args:
            bootstrap: When given, also ``intervals`` (every metric's percentile bootstrap
                interval over images, :func:`evaluation.statistics.intervals.metric_intervals`;
                MaxBoxAcc and the other best-threshold metrics re-select their threshold in
                every resample) and ``interval`` (how they were drawn).

        Raises:
            ConfigurationError: No image has been accumulated, or intervals are asked for and
                some image positions below the highest one were never recorded.
        """
        metrics = localization_metrics(self.settings, self.counts)
        metrics.update(attribution_means(self.settings, self.records))
        if bootstrap is not None:
            metrics["intervals"] = metric_intervals(self.records, bootstrap)
            metrics["interval"] = {
                **bootstrap.describe(),
                "best_threshold": "re-selected inside every resample",
            }
        return metrics


def _checked_targets(
    batch: int, gt_boxes: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``gt_boxes`` as ``(B, G, 4)`` float64 and ``labels`` as ``(B,)`` int64.

    Raises:
        ScoreMapError: A shape disagrees with the batch.
    """
    gt_boxes = np.asarray(gt_boxes, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64, copy=False).reshape(-1)
    if gt_boxes.ndim != 3 or gt_boxes.shape[0] != batch or gt_boxes.shape[2] != 4:
        raise ScoreMapError(
            f"gt_boxes must have shape ({batch}, G, 4), got {tuple(gt_boxes.shape)}"
        )
    if labels.shape[0] != batch:
        raise ScoreMapError(f"labels must have shape ({batch},), got {tuple(labels.shape)}")
    return gt_boxes, labels


def _checked_topk(batch: int, topk_predictions: np.ndarray) -> np.ndarray:
    """Top-k predictions as ``(B, k)`` int64 (a ``(B,)`` array is top-1).

    Raises:
        ScoreMapError: The shape is not ``(B, k)`` with ``k >= 1``.
    """
    topk = np.asarray(topk_predictions).astype(np.int64, copy=False)
    if topk.ndim == 1:
        topk = topk[:, None]
    if topk.ndim != 2 or topk.shape[0] != batch or topk.shape[1] == 0:
        raise ScoreMapError(
            f"topk_predictions must have shape ({batch}, k) with k >= 1, got {tuple(topk.shape)}"
        )
    return topk
