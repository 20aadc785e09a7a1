"""A streaming, mergeable localisation accumulator: MaxBoxAcc, MaxBoxAccV2, Top-k Loc, PxAP.

For every threshold ``tau`` of the grid and IoU threshold ``delta`` the accumulator counts the
images whose best IoU (over predicted and ground-truth box pairs) is ``>= delta / 100``, for the V1
box (largest contour) and the V2 boxes (every contour), three times: all images (GT-known), images
whose top-1 prediction is the label (Top-1) and images whose top-5 holds it (Top-5). The same
counters exist at one fixed threshold, which need not lie on the grid. Counters are int64 tensors:
batches, shards and processes add them exactly (:meth:`merge`, :meth:`all_reduce`), and
:meth:`state_dict` lets an interrupted run resume. :meth:`compute` turns final counts into
percentages: ``BoxAcc(tau, delta) = 100 * count / num_images``, ``MaxBoxAcc = max_tau BoxAcc_V1(tau,
50)``, ``MaxBoxAccV2 = mean_delta max_tau BoxAcc_V2(tau, delta)`` (one data-set-wide tau per delta,
never a per-image maximum), ties picking the smallest tau. Boxes and IoU follow
:mod:`evaluation.localization.boxes`; every threshold's best IoU of a map comes from the sweeps of
:mod:`evaluation.localization.component_trees`; PxAP follows :mod:`evaluation.localization.pxap`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
import torch
from torch import Tensor

from evaluation.errors import ConfigurationError, ScoreMapError
from evaluation.localization.boxes import (
    box_iou,
    check_convention,
    empty_box,
    find_contour_boxes,
    normalize_score_maps,
    quantize_raw_maps,
    threshold_levels,
)
from evaluation.localization.component_trees import CONVENTION_CODES, level_ious, rect_ious
from evaluation.localization.component_trees import warm_up as warm_up_sweeps
from evaluation.localization.pxap import pixel_histograms, pxap_from_histograms
from evaluation.localization.quantization import warm_up as warm_up_quantization

_KINDS = ("gt_known", "top1", "top5")
_TOTALS = (
    "num_images",
    "num_nonfinite_maps",
    "num_constant_maps",
    "num_with_predictions",
    "num_top1_correct",
    "num_top5_correct",
    "num_masked_images",
)
_STATE_VERSION = 1
_CHUNK = 16  # maps per task when an executor runs the sweeps


def _percent(count: int, total: int) -> float:
    return float(count * 100.0 / total)


class LocalizationAccumulator:
    """Integer counters for box localisation metrics, filled batch by batch.

    Args:
        frame_size: ``(H, W)`` of the evaluation frame; maps are resized to it.
        thresholds: Increasing map thresholds in [0, 1]; default ``np.arange(0, 1, 0.01)``.
        iou_thresholds: IoU thresholds ``delta`` in percent (0 < delta <= 100) for the
            MaxBoxAccV2 mean; 50 is always counted too (MaxBoxAcc and the Loc metrics use it).
        fixed_threshold: The threshold of GT-known / Top-1 / Top-5 Loc (V1, IoU >= 50).
        convention: ``"wsoleval"``, ``"paper"`` or ``"strict"`` (see
            :mod:`evaluation.localization.boxes`).
        executor: Optional :class:`concurrent.futures.Executor` that runs the box sweeps of
            each batch in chunks of 16 maps; a ``ThreadPoolExecutor`` uses one CPU core per
            thread (the compiled sweeps release the GIL). ``None`` runs them in this thread.

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
    ) -> None:
        self.convention = check_convention(convention)
        if len(frame_size) != 2 or min(int(v) for v in frame_size) < 1:
            raise ConfigurationError(f"frame_size must be two positive ints, got {frame_size}")
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        taus = np.arange(0, 1, 0.01) if thresholds is None else thresholds
        self.thresholds = torch.as_tensor(np.asarray(taus, dtype=np.float64)).reshape(-1)
        if len(self.thresholds) == 0 or not bool(torch.isfinite(self.thresholds).all()):
            raise ConfigurationError("thresholds must be a non-empty list of finite numbers")
        if self.thresholds.min() < 0 or self.thresholds.max() > 1:
            raise ConfigurationError("thresholds must lie in [0, 1]")
        if len(self.thresholds) > 1 and not bool((self.thresholds.diff() > 0).all()):
            raise ConfigurationError("thresholds must be strictly increasing")
        self.iou_thresholds = [int(d) for d in iou_thresholds]
        if not self.iou_thresholds or any(not 0 < d <= 100 for d in self.iou_thresholds):
            raise ConfigurationError(
                f"IoU thresholds are percentages in (0, 100], got {list(iou_thresholds)}"
            )
        if len(set(self.iou_thresholds)) != len(self.iou_thresholds):
            raise ConfigurationError(f"IoU thresholds repeat: {self.iou_thresholds}")
        self.fixed_threshold = float(fixed_threshold)
        if not 0 <= self.fixed_threshold <= 1:
            raise ConfigurationError(f"fixed_threshold must lie in [0, 1], got {fixed_threshold}")
        self.executor = executor
        self._deltas = sorted(set(self.iou_thresholds) | {50})
        steps, deltas = len(self.thresholds), len(self._deltas)
        self._box_counts = torch.zeros(3, 2, steps, deltas, dtype=torch.int64)
        self._fixed_counts = torch.zeros(3, 2, deltas, dtype=torch.int64)
        self._totals = torch.zeros(len(_TOTALS), dtype=torch.int64)
        self._pixel_histograms = torch.zeros(2, steps + 2, dtype=torch.int64)
        # Compiled code loads once per process: here, rather than in the first (timed) batch.
        warm_up_sweeps()
        warm_up_quantization()

    # ------------------------------------------------------------------ configuration and state
    def config(self) -> dict[str, Any]:
        """The settings that two accumulators must share to be added."""
        return {
            "frame_size": list(self.frame_size),
            "thresholds": self.thresholds.tolist(),
            "iou_thresholds": list(self.iou_thresholds),
            "fixed_threshold": self.fixed_threshold,
            "convention": self.convention,
        }

    def _counters(self) -> list[Tensor]:
        return [self._box_counts, self._fixed_counts, self._totals, self._pixel_histograms]

    def _check_compatible(self, config: dict[str, Any], what: str) -> None:
        mine = self.config()
        if config != mine:
            diff = [key for key in mine if config.get(key) != mine[key]]
            raise ConfigurationError(
                f"cannot combine with {what}: settings differ in {', '.join(diff) or 'keys'}"
            )

    @property
    def num_images(self) -> int:
        """Number of images accumulated so far."""
        return int(self._totals[0])

    def state_dict(self) -> dict[str, Any]:
        """Counters and settings, for ``torch.save`` and :meth:`load_state_dict`."""
        return {
            "version": _STATE_VERSION,
            "config": self.config(),
            "box_counts": self._box_counts.clone(),
            "fixed_counts": self._fixed_counts.clone(),
            "totals": self._totals.clone(),
            "pixel_histograms": self._pixel_histograms.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the counters with saved ones (same settings required).

        Raises:
            ConfigurationError: The state was saved with other settings or another version.
        """
        if state.get("version") != _STATE_VERSION:
            raise ConfigurationError(
                f"accumulator state version {state.get('version')!r} is not {_STATE_VERSION}"
            )
        self._check_compatible(state["config"], "the saved state")
        for name, current in zip(
            ("box_counts", "fixed_counts", "totals", "pixel_histograms"),
            self._counters(),
            strict=True,
        ):
            saved = torch.as_tensor(state[name], dtype=torch.int64)
            if saved.shape != current.shape:
                raise ConfigurationError(f"saved {name} has shape {tuple(saved.shape)}")
            current.copy_(saved)

    def merge(self, other: LocalizationAccumulator) -> LocalizationAccumulator:
        """A new accumulator holding the sum of both (as if one had seen every batch).

        Raises:
            ConfigurationError: The settings differ.
        """
        self._check_compatible(other.config(), "the other accumulator")
        if self.num_images and other.num_images and bool(self._totals[3]) != bool(other._totals[3]):
            raise ConfigurationError(
                "cannot merge an accumulator with top-k predictions and one without"
            )
        merged = LocalizationAccumulator(
            self.frame_size,
            self.thresholds,
            self.iou_thresholds,
            self.fixed_threshold,
            self.convention,
            self.executor,
        )
        for target, mine, theirs in zip(
            merged._counters(), self._counters(), other._counters(), strict=True
        ):
            target.copy_(mine + theirs)
        return merged

    def all_reduce(self, group: Any = None) -> None:
        """Sum the counters over the processes of ``group`` in place (``torch.distributed``).

        Every process ends with the global counts. Works with any backend: the counters travel
        as one int64 tensor, on the current CUDA device for NCCL.
        """
        import torch.distributed as dist

        counters = self._counters()
        flat = torch.cat([c.flatten() for c in counters])
        if dist.get_backend(group) == "nccl":
            flat = flat.to(torch.device("cuda", torch.cuda.current_device()))
        dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
        flat = flat.cpu()
        start = 0
        for counter in counters:
            counter.copy_(flat[start : start + counter.numel()].view_as(counter))
            start += counter.numel()

    # ------------------------------------------------------------------ accumulation
    def update(
        self,
        maps: Tensor,
        gt_boxes: Tensor,
        labels: Tensor,
        topk_predictions: Tensor | None = None,
        masks: Tensor | None = None,
    ) -> Tensor:
        """Add one batch and return each image's V1 IoU at every threshold.

        Args:
            maps: ``(B, 1, h, w)`` or ``(B, h, w)`` raw signed scores of any size and device;
                resized to the frame (bicubic) and min-max normalised per map.
            gt_boxes: ``(B, G, 4)`` inclusive ``x0, y0, x1, y1`` in frame pixels, rows padded
                with NaN where an image has fewer than ``G`` boxes.
            labels: ``(B,)`` class labels.
            topk_predictions: ``(B, k)`` predicted classes, best first (``k >= 1``; Top-5 uses
                the first ``min(k, 5)``), or ``None``. Either every batch has them or none.
            masks: Optional ``(B, H, W)`` uint8 frame masks (1 / 0 / 255 ignore) for PxAP.

        Returns:
            ``(B, T + 1)`` float64: for every image, the best IoU of its V1 (largest-contour) box
            with any of its GT boxes at each grid threshold and, in the last column, at the fixed
            threshold: the values the counters were made from (for per-image analyses such as a
            report's best and worst cases).

        Raises:
            ScoreMapError: Shapes disagree.
            ConfigurationError: Predictions are given for some batches and not others.
        """
        batch = maps.shape[0]
        gt_boxes = torch.as_tensor(gt_boxes).to("cpu", torch.float64)
        labels = torch.as_tensor(labels).to("cpu", torch.long).reshape(-1)
        if gt_boxes.dim() != 3 or gt_boxes.shape[0] != batch or gt_boxes.shape[2] != 4:
            raise ScoreMapError(
                f"gt_boxes must have shape ({batch}, G, 4), got {tuple(gt_boxes.shape)}"
            )
        if labels.shape[0] != batch:
            raise ScoreMapError(f"labels must have shape ({batch},), got {tuple(labels.shape)}")
        if batch == 0:
            return torch.zeros((0, len(self.thresholds) + 1), dtype=torch.float64)
        if self.num_images and (topk_predictions is not None) != bool(self._totals[3]):
            raise ConfigurationError(
                "give topk_predictions with every batch or with none (Top-k needs all images)"
            )
        quantized = quantize_raw_maps(maps, self.frame_size, self.convention)
        taus = torch.cat([self.thresholds, torch.tensor([self.fixed_threshold])])
        peaks = torch.from_numpy(quantized.levels.reshape(batch, -1).max(axis=1))
        levels = threshold_levels(peaks, taus).numpy()
        v1_iou, v2_iou = self._best_ious(quantized.levels, levels, gt_boxes)

        deltas = torch.tensor(self._deltas, dtype=torch.float64) / 100
        hits = torch.stack([v1_iou, v2_iou], dim=1)[..., None] >= deltas
        kinds = torch.ones(3, batch, dtype=torch.bool)
        totals = torch.zeros_like(self._totals)
        if topk_predictions is not None:
            topk = torch.as_tensor(topk_predictions).to("cpu", torch.long)
            if topk.dim() == 1:
                topk = topk[:, None]
            if topk.dim() != 2 or topk.shape[0] != batch or topk.shape[1] == 0:
                raise ScoreMapError(
                    f"topk_predictions must have shape ({batch}, k) with k >= 1, "
                    f"got {tuple(topk.shape)}"
                )
            kinds[1] = topk[:, 0] == labels
            kinds[2] = (topk[:, :5] == labels[:, None]).any(dim=1)
            totals[3:6] = torch.tensor([batch, int(kinds[1].sum()), int(kinds[2].sum())])
        counted = (hits[None] & kinds[:, :, None, None, None]).sum(dim=1)
        self._box_counts += counted[:, :, :-1]
        self._fixed_counts += counted[:, :, -1]
        totals[0] = batch
        totals[1] = int(quantized.nonfinite.sum())
        totals[2] = int(quantized.constant.sum())
        if masks is not None:
            normalized = normalize_score_maps(maps, self.frame_size, self.convention).maps
            self._pixel_histograms += pixel_histograms(
                normalized, torch.as_tensor(masks), self.thresholds
            )
            totals[6] = batch
        self._totals += totals
        return v1_iou

    def _best_ious(
        self, levels_map: np.ndarray, levels: np.ndarray, gt_boxes: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Best IoU of the V1 box and of the V2 boxes, ``(B, T + 1)`` each, float64.

        The component-tree sweeps (:mod:`evaluation.localization.component_trees`) give every level
        at once; the rare levels they leave unresolved (a tie in largest area, a component inside a
        hole) get OpenCV's contour search.
        """
        batch = len(levels_map)
        requested = np.zeros((batch, 256), dtype=bool)
        np.put_along_axis(requested, levels, True, axis=1)
        gt = np.ascontiguousarray(gt_boxes.numpy())
        code = CONVENTION_CODES[self.convention]
        if self.executor is None:
            v1, v2, unresolved = level_ious(levels_map, requested, gt, code)
        else:
            parts = [slice(s, s + _CHUNK) for s in range(0, batch, _CHUNK)]
            results = list(
                self.executor.map(
                    level_ious,
                    [levels_map[part] for part in parts],
                    [requested[part] for part in parts],
                    [gt[part] for part in parts],
                    [code] * len(parts),
                )
            )
            v1, v2, unresolved = (np.concatenate(column) for column in zip(*results, strict=True))
        for b in np.flatnonzero(unresolved.any(axis=1)).tolist():
            found = np.flatnonzero(unresolved[b])
            self._contour_search(levels_map[b], found, gt[b], v1[b], v2[b])
        empty = empty_box(self.convention)
        valid = ~torch.isnan(gt_boxes).any(dim=-1)
        if empty is None or not bool(valid.any()):
            empty_iou = torch.zeros(batch, dtype=torch.float64)
        else:
            iou = box_iou(torch.tensor([[empty]]), torch.nan_to_num(gt_boxes), self.convention)
            empty_iou = torch.where(valid, iou[:, 0], torch.zeros_like(iou[:, 0]))
            empty_iou = empty_iou.amax(dim=-1)
        index = torch.from_numpy(levels)
        best = []
        for table in (v1, v2):
            values = torch.from_numpy(table).gather(1, index)
            best.append(torch.where(values < 0, empty_iou[:, None], values))
        return best[0], best[1]

    def _contour_search(
        self, image: np.ndarray, levels: np.ndarray, gt: np.ndarray, v1: np.ndarray, v2: np.ndarray
    ) -> None:
        """Fill ``v1[levels]`` and ``v2[levels]`` from ``cv2.findContours`` (one map)."""
        found = find_contour_boxes(image, levels)
        code = CONVENTION_CODES[self.convention]
        iou = rect_ious(found.rects, gt, code, *self.frame_size)
        for k, level in enumerate(levels.tolist()):
            mine = iou[found.level_index == k]
            v2[level] = mine.max() if len(mine) else -1.0
            v1[level] = iou[found.largest[k]] if found.largest[k] >= 0 else -1.0

    # ------------------------------------------------------------------ results
    def compute(self) -> dict[str, Any]:
        """Metrics in percent (0..100) from the final counts (JSON-serialisable).

        Keys: ``convention``, ``frame_size``, ``num_images``, ``num_nonfinite_maps``,
        ``num_constant_maps``, ``thresholds``, ``iou_thresholds``, ``maxboxacc`` and
        ``best_threshold`` (V1, IoU >= 50), ``maxboxacc_v2`` (mean over ``iou_thresholds``),
        ``boxacc_v2_by_iou`` and ``best_threshold_by_iou`` (V2, per delta), ``curves``
        (``{"v1"|"v2": {delta: [BoxAcc per tau]}}``), ``fixed_threshold``, ``gt_known_loc``,
        ``top1_loc``, ``top5_loc`` (V1, IoU >= 50, at the fixed threshold), ``gt_known_loc_best``,
        ``top1_loc_best``, ``top5_loc_best`` at ``best_threshold_loc`` (the V1 best tau),
        ``top1_cls``, ``top5_cls`` (``None`` without predictions), ``pxap`` (``None`` without
        masks, or when no pixel is positive).

        Raises:
            ConfigurationError: No image has been accumulated.
        """
        total = self.num_images
        if total == 0:
            raise ConfigurationError("no image was accumulated: nothing to compute")
        taus = [round(t, 12) for t in self.thresholds.tolist()]
        predicted = bool(self._totals[3])
        fifty = self._deltas.index(50)

        def curve(kind: int, variant: int, d: int) -> list[float]:
            return [_percent(int(c), total) for c in self._box_counts[kind, variant, :, d]]

        def best(kind: int, variant: int, d: int) -> int:
            return int(torch.argmax(self._box_counts[kind, variant, :, d]))

        v1_best = best(0, 0, fifty)
        v2_best = {d: best(0, 1, self._deltas.index(d)) for d in self.iou_thresholds}
        v2_values = {
            str(d): _percent(int(self._box_counts[0, 1, i, self._deltas.index(d)]), total)
            for d, i in v2_best.items()
        }

        def loc(kind: int, at_best: bool) -> float | None:
            if kind and not predicted:
                return None
            if at_best:
                return _percent(int(self._box_counts[kind, 0, v1_best, fifty]), total)
            return _percent(int(self._fixed_counts[kind, 0, fifty]), total)

        masked = bool(self._totals[6])
        return {
            "convention": self.convention,
            "frame_size": list(self.frame_size),
            "num_images": total,
            "num_nonfinite_maps": int(self._totals[1]),
            "num_constant_maps": int(self._totals[2]),
            "thresholds": taus,
            "iou_thresholds": list(self.iou_thresholds),
            "maxboxacc": _percent(int(self._box_counts[0, 0, v1_best, fifty]), total),
            "best_threshold": taus[v1_best],
            "maxboxacc_v2": float(np.mean(list(v2_values.values()))),
            "boxacc_v2_by_iou": v2_values,
            "best_threshold_by_iou": {str(d): taus[i] for d, i in v2_best.items()},
            "curves": {
                name: {str(d): curve(0, variant, i) for i, d in enumerate(self._deltas)}
                for variant, name in enumerate(("v1", "v2"))
            },
            "fixed_threshold": self.fixed_threshold,
            "gt_known_loc": loc(0, False),
            "top1_loc": loc(1, False),
            "top5_loc": loc(2, False),
            "gt_known_loc_best": loc(0, True),
            "top1_loc_best": loc(1, True),
            "top5_loc_best": loc(2, True),
            "best_threshold_loc": taus[v1_best],
            "top1_cls": _percent(int(self._totals[4]), total) if predicted else None,
            "top5_cls": _percent(int(self._totals[5]), total) if predicted else None,
            "pxap": pxap_from_histograms(self._pixel_histograms) if masked else None,
        }
