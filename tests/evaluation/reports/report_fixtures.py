"""Build run folders (results.json + gallery.npz) per the issue-5 file contract; read reports.

The metric values are random but self-consistent (MaxBoxAcc is the maximum of its curve at the
best threshold, MaxBoxAccV2 the mean of the V2 maxima), so report tests can check every number
against the JSON they came from.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

METHODS = ("cam", "gradcam", "infocam", "infocam+")
IOUS = ("30", "50", "70")


def _curve(rng: np.random.Generator, thresholds: np.ndarray, peak: float) -> list[float]:
    centre = rng.uniform(0.1, 0.6)
    width = rng.uniform(0.15, 0.4)
    values = peak * np.exp(-(((thresholds - centre) / width) ** 2))
    return [round(float(v), 4) for v in values]


def method_metrics(rng: np.random.Generator, fixed_threshold: float = 0.2) -> dict:
    """One ``LocalizationAccumulator.compute()`` dict plus ``images_per_second``."""
    thresholds = np.round(np.arange(0, 1, 0.01), 2)
    v1 = _curve(rng, thresholds, rng.uniform(30, 90))
    v2 = {iou: _curve(rng, thresholds, rng.uniform(20, 95)) for iou in IOUS}
    best_v1 = int(np.argmax(v1))
    best_v2 = {iou: int(np.argmax(curve)) for iou, curve in v2.items()}
    gt_known = float(rng.uniform(20, 80))
    top1_cls = 73.25
    return {
        "convention": "wsoleval",
        "num_images": 40,
        "num_nonfinite_maps": 0,
        "thresholds": [float(t) for t in thresholds],
        "iou_thresholds": [30, 50, 70],
        "maxboxacc": v1[best_v1],
        "best_threshold": float(thresholds[best_v1]),
        "maxboxacc_v2": float(np.mean([v2[iou][best_v2[iou]] for iou in IOUS])),
        "boxacc_v2_by_iou": {iou: v2[iou][best_v2[iou]] for iou in IOUS},
        "best_threshold_by_iou": {iou: float(thresholds[best_v2[iou]]) for iou in IOUS},
        "curves": {"v1": {"50": v1}, "v2": v2},
        "fixed_threshold": fixed_threshold,
        "gt_known_loc": gt_known,
        "top1_loc": gt_known * 0.7,
        "top5_loc": gt_known * 0.9,
        "gt_known_loc_best": v1[best_v1],
        "top1_loc_best": v1[best_v1] * 0.7,
        "top5_loc_best": v1[best_v1] * 0.9,
        "best_threshold_loc": float(thresholds[best_v1]),
        "top1_cls": top1_cls,
        "top5_cls": 91.5,
        "pxap": None,
        "images_per_second": float(rng.uniform(50, 900)),
    }


def write_gallery(path: Path, methods: Sequence[str], rng: np.random.Generator, count: int = 3,
                  side: int = 64) -> None:
    """``gallery.npz`` with ``count`` images, one GT box each (a second, NaN-padded row)."""
    yy, xx = np.mgrid[0:side, 0:side]
    images = np.zeros((count, side, side, 3), dtype=np.uint8)
    gt_boxes = np.full((count, 2, 4), np.nan, dtype=np.float32)
    maps = np.zeros((len(methods), count, side, side), dtype=np.float32)
    pred_boxes = np.zeros((len(methods), count, 4), dtype=np.float32)
    for n in range(count):
        x0, y0 = rng.integers(4, side // 2, size=2)
        x1, y1 = x0 + side // 3, y0 + side // 4
        images[n] = rng.integers(0, 80, size=(side, side, 3))
        images[n, y0 : y1 + 1, x0 : x1 + 1] = (200, 120, 40)
        gt_boxes[n, 0] = (x0, y0, x1, y1)
        for m in range(len(methods)):
            cx, cy = x0 + (m + 1) * 3, y0 + 5
            blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (6 + 2 * m) ** 2))
            maps[m, n] = (blob - blob.min()) / (blob.max() - blob.min())
            pred_boxes[m, n] = (max(cx - 8, 0), max(cy - 8, 0), min(cx + 8, side - 1),
                                min(cy + 8, side - 1))
    roles = np.full((len(methods), count), "sample", dtype="<U6")
    roles[:, 0] = "best"
    roles[:, -1] = "worst"
    np.savez_compressed(
        path,
        images=images,
        image_ids=np.array([f"img_{n:03d}" for n in range(count)]),
        labels=np.arange(count, dtype=np.int64),
        class_names=np.array([f"class {n}" for n in range(count)]),
        gt_boxes=gt_boxes,
        methods=np.array(list(methods)),
        maps=maps,
        pred_boxes=pred_boxes,
        ious=rng.uniform(0, 1, size=(len(methods), count)).astype(np.float32),
        roles=roles,
    )


def make_run(
    run_dir: Path,
    seed: int = 0,
    methods: Sequence[str] = METHODS,
    protocol: str = "wsoleval",
    dataset: str = "synthetic-cub",
    model: str = "small-cnn",
    gallery: bool = True,
    num_images: int = 40,
    fixed_threshold: float = 0.2,
) -> dict:
    """Write ``run_dir/results.json`` (and ``gallery.npz``); return the results dict."""
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    results = {
        "schema_version": 1,
        "config": {"methods": list(methods), "batch_size": 16, "limit": None},
        "environment": {"python": "3.11.0", "torch": "2.14.1", "captum": "0.9.0",
                        "infocam_captum": "0.1.0", "device": "cpu", "seed": 0, "world_size": 1},
        "dataset": {"name": dataset, "split": "test", "root": "/data/x",
                    "num_images": num_images, "num_classes": 10},
        "model": {"name": model, "checkpoint": "runs/train/checkpoint-last.pt"},
        "protocol": {"name": protocol, "frame_size": [224, 224], "window": 3,
                     "padding": "full", "convention": "wsoleval"},
        "classification": {"top1_cls": 73.25, "top5_cls": 91.5},
        "methods": {name: method_metrics(rng, fixed_threshold) for name in methods},
        "throughput": {"forward_images_per_second": 1234.5},
        "gallery": {"file": "gallery.npz", "count": 3} if gallery else None,
    }
    (run_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    if gallery:
        write_gallery(run_dir / "gallery.npz", methods, rng)
    return results


# --------------------------------------------------------------------------- reading reports

PCT_COLUMNS = {
    "Top-1 Cls": "top1_cls", "GT-known Loc": "gt_known_loc", "Top-1 Loc": "top1_loc",
    "Top-5 Loc": "top5_loc", "MaxBoxAcc": "maxboxacc", "MaxBoxAccV2": "maxboxacc_v2",
    "img/s": "images_per_second",
}


def parse_markdown_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every pipe table of ``text`` as (header, rows of cells)."""
    tables = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|:"):
            header = [c.strip() for c in lines[i].strip("|").split("|")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            tables.append((header, rows))
        else:
            i += 1
    return tables


def expected_cells(metrics: dict) -> dict[str, float]:
    """Column title -> the results.json value the cell shows."""
    values = {title: metrics[key] for title, key in PCT_COLUMNS.items()}
    for iou in ("30", "50", "70"):
        values[f"V2 @{iou}"] = metrics["boxacc_v2_by_iou"][iou]
    return values


def check_bold_marks(header: list[str], rows: list[list[str]], titles: list[str]) -> int:
    """Assert that exactly the rows with the (displayed) maximum are bold; return marks."""
    marks = 0
    for title in titles:
        column = header.index(title)
        shown = [float(r[column].strip("*")) for r in rows]
        bold = [r[column].startswith("**") for r in rows]
        if len(set(shown)) < 2:
            assert not any(bold), title
            continue
        assert bold == [value == max(shown) for value in shown], title
        marks += sum(bold)
    return marks
