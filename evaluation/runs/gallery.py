"""The gallery writer: sample images and each method's best and worst cases, as ``gallery.npz``.

During the run, :meth:`evaluation.localization.LocalizationAccumulator.update` returns every
image's V1 IoU at every threshold, which the loop keeps (:mod:`evaluation.runs.loop`). After the
run, :func:`select_gallery` picks ``samples`` evenly spaced images plus, per method, the
``extremes`` images of highest and of lowest IoU at the method's best threshold (ties: the first
in dataset order), and :func:`write_gallery` recomputes their maps and stores them atomically, in
the layout of :mod:`evaluation.runs.schema`. The reports read the file
(:func:`evaluation.reports.data.load_gallery`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from evaluation.io import atomic_save
from evaluation.localization.boxes import box_iou
from evaluation.localization.contours import boxes_at_thresholds
from evaluation.localization.quantization import normalize_score_maps
from evaluation.runs.attributor import BatchAttributor
from evaluation.runs.schema import GALLERY_FILE
from evaluation.runs.setup import RunSetup
from evaluation.runs.state import IOU_SCALE


def _best_iou(boxes: torch.Tensor, gt_boxes: torch.Tensor, convention: str) -> torch.Tensor:
    """Max over GT boxes of the IoU of each image's one box; NaN boxes and padding give 0."""
    iou = box_iou(boxes[:, None, :], gt_boxes.to(torch.float64).cpu(), convention)[:, 0, :]
    floor = torch.zeros((len(boxes), 1), dtype=torch.float64)
    return torch.cat([torch.nan_to_num(iou, nan=0.0), floor], dim=1).amax(dim=1).float()


def select_gallery(
    ious: Mapping[str, np.ndarray], samples: int, extremes: int
) -> tuple[list[int], dict[str, list[str]]]:
    """Choose the gallery's images and their role per method.

    Args:
        ious: method -> (N,) per-image IoU at the method's best threshold.
        samples: evenly spaced images over the dataset order.
        extremes: images of highest and of lowest IoU per method (the worst exclude the best).

    Returns:
        The dataset positions (samples first, then per method its best, then its worst, without
        repeats) and method -> one role per selected position.
    """
    count = len(next(iter(ious.values())))
    spaced = np.linspace(0, count - 1, min(samples, count)).round().astype(np.int64)
    sample = sorted({int(v) for v in spaced})
    chosen: dict[str, tuple[list[int], list[int]]] = {}
    for name, values in ious.items():
        order = np.argsort(-values, kind="stable")
        best = [int(p) for p in order[:extremes]]
        worst_order = np.argsort(values, kind="stable")
        worst = [int(p) for p in worst_order if int(p) not in best][:extremes]
        chosen[name] = (best, worst)
    positions = list(sample)
    for best, worst in chosen.values():
        positions += [p for p in best + worst if p not in positions]
    roles = {}
    for name, (best, worst) in chosen.items():
        roles[name] = [
            "best" if p in best else "worst" if p in worst else "sample" if p in sample else ""
            for p in positions
        ]
    return positions, roles


def write_gallery(
    path: Path,
    dataset: Any,
    attributor: BatchAttributor,
    ious: Mapping[str, np.ndarray],
    best_thresholds: Mapping[str, float],
    samples: int,
    extremes: int,
    convention: str,
) -> int:
    """Select the gallery (:func:`select_gallery`), recompute its maps and write ``path``.

    Args:
        path: the ``gallery.npz`` to write (atomically).
        dataset: the evaluated :class:`~evaluation.datasets.WSOLDataset`.
        attributor: the run's :class:`~evaluation.runs.attributor.BatchAttributor`.
        ious: method -> (N,) per-image IoU at the method's best threshold.
        best_thresholds: method -> its best threshold (V1, IoU 50), in [0, 1].
        samples: sample images.
        extremes: best and worst images per method.
        convention: the box convention.

    Returns:
        The number of images in the gallery.
    """
    from evaluation.datasets import collate_wsol

    positions, roles = select_gallery(ious, samples, extremes)
    batch = collate_wsol([dataset[p] for p in positions])
    result = attributor(batch["image"], batch["label"])
    frame = tuple(dataset.frame_size)
    model = attributor.model
    mean = torch.tensor(model.mean).view(1, 3, 1, 1)
    std = torch.tensor(model.std).view(1, 3, 1, 1)
    pixels = batch["image"] * std + mean
    if tuple(pixels.shape[-2:]) != frame:
        pixels = F.interpolate(pixels, size=frame, mode="bilinear", align_corners=False)
    images = (pixels.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    names = list(ious)
    maps = np.zeros((len(names), len(positions), *frame), dtype=np.float32)
    pred_boxes = np.full((len(names), len(positions), 4), np.nan, dtype=np.float32)
    gallery_ious = np.zeros((len(names), len(positions)), dtype=np.float32)
    for j, name in enumerate(names):
        normalized = normalize_score_maps(result.maps[name].cpu(), frame, convention).maps
        maps[j] = normalized.float().numpy()
        for i in range(len(positions)):
            box = boxes_at_thresholds(normalized[i], [best_thresholds[name]], convention)[0]
            if len(box):
                pred_boxes[j, i] = box[0]
        gallery_ious[j] = _best_iou(
            torch.from_numpy(pred_boxes[j]).double(), batch["boxes"], convention
        ).numpy()
    labels = batch["label"].numpy().astype(np.int64)
    arrays = {
        "images": images,
        "image_ids": np.array(batch["image_id"], dtype=str),
        "labels": labels,
        "class_names": np.array([dataset.index.class_names[k] for k in labels], dtype=str),
        "gt_boxes": batch["boxes"].numpy().astype(np.float32),
        "methods": np.array(names, dtype=str),
        "maps": maps,
        "pred_boxes": pred_boxes,
        "ious": gallery_ious,
        "roles": np.array([roles[n] for n in names], dtype=str),
    }
    atomic_save(path, lambda handle: np.savez_compressed(handle, **arrays))
    return len(positions)


def write_run_gallery(
    setup: RunSetup,
    attributor: BatchAttributor,
    metrics: Mapping[str, Mapping[str, Any]],
    ious: Mapping[str, torch.Tensor],
) -> dict[str, Any] | None:
    """Write ``RUN_DIR/gallery.npz`` of a finished run; ``None`` when the run wants no gallery.

    Args:
        setup: the run.
        attributor: recomputes the chosen images' maps.
        metrics: method -> its computed metrics (``best_threshold``, ``thresholds``).
        ious: method -> ``(N, T + 1)`` per-image V1 IoU x ``IOU_SCALE`` of every image.

    Returns:
        The ``gallery`` section of ``results.json``: ``{"file", "count"}``.
    """
    options = setup.options
    if options.gallery_samples + options.gallery_extremes == 0:
        return None
    best = {name: values["best_threshold"] for name, values in metrics.items()}
    at_best = {
        name: ious[name][:, metrics[name]["thresholds"].index(best[name])].numpy() / IOU_SCALE
        for name in metrics
    }
    count = write_gallery(
        options.output / GALLERY_FILE,
        setup.dataset,
        attributor,
        at_best,
        best,
        options.gallery_samples,
        options.gallery_extremes,
        setup.convention,
    )
    return {"file": GALLERY_FILE, "count": count}
