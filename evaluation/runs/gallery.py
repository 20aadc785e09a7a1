"""The report gallery: sample images and each method's best and worst cases, as ``gallery.npz``.

During the run, :meth:`evaluation.localization.LocalizationAccumulator.update` returns
every image's V1 IoU at every threshold, which the runner keeps. After the run,
:func:`select_gallery` picks ``samples`` evenly spaced images plus, per method, the ``extremes``
images of highest and of lowest IoU at the method's best threshold (ties: the first in dataset
order), and
:func:`write_gallery` recomputes their maps and stores, atomically (``np.savez_compressed``):

- ``images`` uint8 (N, H, W, 3): the images in the evaluation frame (the model input, with the
  normalisation undone);
- ``image_ids`` (N,) str, ``labels`` (N,) int64, ``class_names`` (N,) str;
- ``gt_boxes`` float32 (N, G, 4), inclusive frame pixels, NaN rows as padding;
- ``methods`` (M,) str;
- ``maps`` float32 (M, N, H, W): each method's map resized to the frame (bicubic) and min-max
  normalised to [0, 1], as the metrics see it;
- ``pred_boxes`` float32 (M, N, 4): the V1 box at the method's best threshold (``best_threshold``
  of its results; NaN where the ``strict`` convention finds no box);
- ``ious`` float32 (M, N): that box's IoU with the best-matching GT box (the value the best and
  worst cases were ranked by);
- ``roles`` (M, N) str: ``"best"``, ``"worst"``, ``"sample"`` or ``""`` (an image selected for
  another method).
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
