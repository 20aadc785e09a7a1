"""A streaming, mergeable localisation accumulator: box metrics, attribution metrics, intervals.

:meth:`LocalizationAccumulator.update` takes each batch of raw maps one way through the
package: quantise (:mod:`evaluation.localization.quantization`), sweep
(:mod:`evaluation.localization.sweeps`: every threshold's best V1 and V2 IoU, resolved), count
(:mod:`evaluation.localization.counts`: int64 counters); the raw maps in the frame are also
scored against the ground-truth regions (:mod:`evaluation.localization.attribution`: pointing
games, relevance mass and rank, top-k, AUC). Each image's hits, top-k flags, label and attribution
values go into per-image records at its position
(:class:`~evaluation.statistics.records.ImageRecords`), from which every metric gets a bootstrap
interval. Counters and records add exactly across batches, shards and processes
(:meth:`~LocalizationAccumulator.merge`, :meth:`~LocalizationAccumulator.all_reduce`; records of
disjoint positions), :meth:`~LocalizationAccumulator.state_dict` lets an interrupted run resume,
and :meth:`~LocalizationAccumulator.compute` turns the final counts into percentages
(:mod:`evaluation.localization.metrics`), with intervals when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
import torch
from torch import Tensor

from evaluation.errors import ConfigurationError, ScoreMapError
from evaluation.localization.attribution import (
    DEFAULT_POINTING_TOLERANCE,
    DEFAULT_TOP_K,
    attribution_metrics,
    region_masks,
)
from evaluation.localization.component_trees import warm_up as compile_sweeps
from evaluation.localization.counts import LocalizationCounts, hit_flags
from evaluation.localization.image_records import (
    all_reduce_records,
    record_batch,
    records_from_state,
    records_state,
)
from evaluation.localization.metrics import attribution_means, localization_metrics
from evaluation.localization.pxap import image_pixel_histograms
from evaluation.localization.quantization import (
    normalize_score_maps,
    quantize_raw_maps,
    resize_score_maps,
    threshold_levels,
)
from evaluation.localization.quantization import warm_up as compile_quantizer
from evaluation.localization.settings import LocalizationSettings
from evaluation.localization.sweeps import best_level_ious
from evaluation.statistics.bootstrap import BootstrapSettings
from evaluation.statistics.intervals import metric_intervals
from evaluation.statistics.records import ImageRecords

_STATE_VERSION = 2


class LocalizationAccumulator:
    """Integer counters for box localisation metrics, filled batch by batch.

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
            settings.thresholds.numpy(), settings.fixed_threshold, settings.counted_deltas,
            settings.iou_thresholds,
        )

    def state_dict(self) -> dict[str, Any]:
        """Counters, records and settings, for ``torch.save`` and :meth:`load_state_dict`."""
        counters = {name: tensor.clone() for name, tensor in self.counts.tensors().items()}
        return {"version": _STATE_VERSION, "config": self.config(), **counters,
                "records": records_state(self.records)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the counters with saved ones (same settings required).

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
        batch = maps.shape[0]
        gt_boxes, labels = _checked_targets(batch, gt_boxes, labels)
        if batch == 0:
            return torch.zeros((0, len(self.settings.thresholds) + 1), dtype=torch.float64)
        if self.num_images and (topk_predictions is not None) != self.counts.has_predictions:
            raise ConfigurationError(
                "give topk_predictions with every batch or with none (Top-k needs all images)"
            )
        settings = self.settings
        quantized = quantize_raw_maps(maps, settings.frame_size, settings.convention)
        peaks = torch.from_numpy(quantized.levels.reshape(batch, -1).max(axis=1))
        levels = threshold_levels(peaks, settings.counted_thresholds).numpy()
        ious = best_level_ious(
            quantized.levels, levels, gt_boxes, settings.convention, self.executor
        )
        topk = None if topk_predictions is None else _checked_topk(batch, topk_predictions)
        histograms = None
        if masks is not None:
            normalized = normalize_score_maps(maps, settings.frame_size, settings.convention)
            histograms = image_pixel_histograms(
                normalized.maps, torch.as_tensor(masks), settings.thresholds
            )
        frame_maps = resize_score_maps(
            _batch_of_maps(maps).detach().to("cpu", torch.float64), settings.frame_size
        )
        attribution = attribution_metrics(
            frame_maps, region_masks(gt_boxes, settings.frame_size, masks),
            settings.pointing_tolerance, settings.top_k,
        )
        hits = hit_flags(ious, settings.counted_deltas)
        record_batch(self.records, positions, hits, labels, topk, attribution, histograms)
        self.counts.add_hits(ious, settings.counted_deltas, labels, topk)
        self.counts.add_zeroed(quantized.nonfinite, quantized.constant)
        if histograms is not None:
            self.counts.add_pixels(histograms.sum(dim=0), batch)
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


def _batch_of_maps(maps: Tensor) -> Tensor:
    """``(B, h, w)`` maps from ``(B, 1, h, w)`` or ``(B, h, w)`` (checked by the quantiser)."""
    return maps[:, 0] if maps.dim() == 4 else maps


def _checked_targets(batch: int, gt_boxes: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """``gt_boxes`` as ``(B, G, 4)`` float64 and ``labels`` as ``(B,)`` int64, on the CPU.

    Raises:
        ScoreMapError: A shape disagrees with the batch.
    """
    gt_boxes = torch.as_tensor(gt_boxes).to("cpu", torch.float64)
    labels = torch.as_tensor(labels).to("cpu", torch.long).reshape(-1)
    if gt_boxes.dim() != 3 or gt_boxes.shape[0] != batch or gt_boxes.shape[2] != 4:
        raise ScoreMapError(
            f"gt_boxes must have shape ({batch}, G, 4), got {tuple(gt_boxes.shape)}"
        )
    if labels.shape[0] != batch:
        raise ScoreMapError(f"labels must have shape ({batch},), got {tuple(labels.shape)}")
    return gt_boxes, labels


def _checked_topk(batch: int, topk_predictions: Tensor) -> Tensor:
    """Top-k predictions as ``(B, k)`` int64 on the CPU (a ``(B,)`` tensor is top-1).

    Raises:
        ScoreMapError: The shape is not ``(B, k)`` with ``k >= 1``.
    """
    topk = torch.as_tensor(topk_predictions).to("cpu", torch.long)
    if topk.dim() == 1:
        topk = topk[:, None]
    if topk.dim() != 2 or topk.shape[0] != batch or topk.shape[1] == 0:
        raise ScoreMapError(
            f"topk_predictions must have shape ({batch}, k) with k >= 1, got {tuple(topk.shape)}"
        )
    return topk
