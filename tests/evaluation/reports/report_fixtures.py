"""Build run folders (results.json, gallery.npz, records.npz) as evaluate writes them; read reports.

Each method's per-image records are random (hits drawn from random BoxAcc curves); its metrics
and intervals are computed from them, so report tests can check every number against the JSON
they came from and every mark against the paired comparison of the records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluation.statistics.bootstrap import BootstrapSettings
from evaluation.statistics.estimates import point_metrics
from evaluation.statistics.intervals import metric_intervals
from evaluation.statistics.records import ATTRIBUTION_METRICS, ImageRecords

METHODS = ("cam", "gradcam", "infocam", "infocam+")
IOUS = ("30", "50", "70")


def _rates(rng: np.random.Generator, thresholds: np.ndarray, peak: float) -> np.ndarray:
    """A hit probability per threshold: a Gaussian bump of height ``peak`` (in [0, 1])."""
    centre = rng.uniform(0.1, 0.6)
    width = rng.uniform(0.15, 0.4)
    return peak * np.exp(-(((thresholds - centre) / width) ** 2))


def method_records(
    rng: np.random.Generator, count: int, top1: np.ndarray, top5: np.ndarray,
    labels: np.ndarray, fixed_threshold: float,
) -> ImageRecords:
    """One method's per-image records: hits drawn from random BoxAcc curves."""
    thresholds = np.round(np.arange(0, 1, 0.01), 2)
    deltas = (30, 50, 70)
    flags = np.zeros((count, 2, 3, len(thresholds) + 1), dtype=bool)
    for variant in range(2):
        for d in range(3):
            rate = _rates(rng, thresholds, rng.uniform(0.2, 0.95))
            rate = np.append(rate, rate[int(fixed_threshold * 100)])
            flags[:, variant, d] = rng.random((count, len(rate))) < rate
    attribution = rng.random((count, len(ATTRIBUTION_METRICS))) * rng.uniform(0.3, 1.0)
    attribution[:, :2] = attribution[:, :2] < 0.3
    records = ImageRecords.empty(thresholds, fixed_threshold, deltas, deltas)
    records.add(np.arange(count), flags, top1, top5, labels, attribution, None)
    return records


def method_metrics(records: ImageRecords, seed: int = 0) -> dict:
    """``LocalizationAccumulator.compute(bootstrap)`` of the records, plus ``images_per_second``."""
    point = {k: v[0] for k, v in point_metrics(records).items()}
    taus = [float(t) for t in records.thresholds]
    ious = [str(d) for d in records.iou_thresholds]
    best = int(point["best_index"])
    v2_best = {iou: int(np.argmax(point["curve_v2"][i])) for i, iou in enumerate(ious)}
    settings = BootstrapSettings(resamples=100, seed=0)
    metrics = {
        "convention": "wsoleval",
        "num_images": records.size,
        "num_nonfinite_maps": 0,
        "thresholds": taus,
        "iou_thresholds": [30, 50, 70],
        "maxboxacc": float(point["maxboxacc"]),
        "best_threshold": taus[best],
        "maxboxacc_v2": float(point["maxboxacc_v2"]),
        "boxacc_v2_by_iou": {iou: float(point[f"v2_{iou}"]) for iou in ious},
        "best_threshold_by_iou": {iou: taus[i] for iou, i in v2_best.items()},
        "curves": {kind: {iou: point[f"curve_{kind}"][i].tolist() for i, iou in enumerate(ious)}
                   for kind in ("v1", "v2")},
        "fixed_threshold": records.fixed_threshold,
        **{key: float(point[key]) for key in ("gt_known_loc", "top1_loc", "top5_loc",
                                               "gt_known_loc_best", "top1_loc_best",
                                               "top5_loc_best", "top1_cls", "top5_cls")},
        "best_threshold_loc": taus[best],
        "pxap": None,
        **{key: float(point[key]) for key in ATTRIBUTION_METRICS},
        "attribution_region": "boxes", "pointing_tolerance": 15, "top_k": 1000,
        "intervals": metric_intervals(records, settings),
        "interval": {**settings.describe(), "best_threshold": "re-selected inside every resample"},
        "images_per_second": float(np.random.default_rng(seed).uniform(50, 900)),
    }
    return metrics


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
    images: str = "same images",
    records: bool = True,
) -> dict:
    """Write ``run_dir/results.json`` (and ``gallery.npz``, ``records.npz``); return the results.

    Runs made with the same ``images`` (and image count) share their image ids and labels, so
    they are paired; the hits differ with ``seed``.
    """
    rng = np.random.default_rng(seed)
    shared = np.random.default_rng(int(hashlib.sha256(images.encode()).hexdigest()[:8], 16))
    labels = shared.integers(0, 10, num_images)
    top1 = rng.random(num_images) < 0.73
    top5 = top1 | (rng.random(num_images) < 0.6)
    per_method = {name: method_records(rng, num_images, top1, top5, labels, fixed_threshold)
                  for name in methods}
    run_dir.mkdir(parents=True, exist_ok=True)
    image_ids = [f"{images}/img_{n:04d}.jpg" for n in range(num_images)]
    results = {
        "schema_version": 1,
        "config": {"methods": list(methods), "batch_size": 16, "limit": None},
        "environment": {"python": "3.11.0", "torch": "2.14.1", "captum": "0.9.0",
                        "infocam_captum": "0.1.0", "device": "cpu", "seed": 0, "world_size": 1},
        "dataset": {"name": dataset, "split": "test", "root": "/data/x",
                    "num_images": num_images, "num_classes": 10},
        "model": {"name": model, "checkpoint": "runs/train/checkpoint-last.pt",
                  "initialisation": "checkpoint"},
        "protocol": {"name": protocol, "frame_size": [224, 224], "window": 3,
                     "padding": "full", "convention": "wsoleval"},
        "classification": {"top1_cls": 100 * top1.mean(), "top5_cls": 100 * top5.mean()},
        "methods": {name: method_metrics(per_method[name], seed) for name in methods},
        "throughput": {"forward_images_per_second": 1234.5},
        "gallery": {"file": "gallery.npz", "count": 3} if gallery else None,
        "records": {"file": "records.npz", "image_ids_sha256": image_ids_sha256(image_ids)}
        if records else None,
    }
    (run_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    if gallery:
        write_gallery(run_dir / "gallery.npz", methods, rng)
    if records:
        write_records(run_dir / "records.npz", per_method, image_ids)
    return results


def write_records(path: Path, per_method: dict[str, ImageRecords], image_ids: list[str]) -> None:
    """``records.npz`` in the layout of ``evaluation.runs.schema``."""
    arrays = [r.arrays() for r in per_method.values()]
    shared = {k: v for k, v in arrays[0].items() if k not in ("hits", "attribution", "pixels")}
    np.savez_compressed(
        path, methods=np.array(list(per_method)), image_ids=np.array(image_ids), **shared,
        **{key: np.stack([a[key] for a in arrays]) for key in ("hits", "attribution", "pixels")},
    )


def image_ids_sha256(image_ids: list[str]) -> str:
    """SHA-256 of the image ids, one per line (as evaluation.runs.records computes it)."""
    return hashlib.sha256("\n".join(image_ids).encode("utf-8")).hexdigest()


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


def expected_intervals(metrics: dict) -> dict[str, list[float] | None]:
    """Column title -> the interval the cell shows (``None``: none)."""
    intervals = metrics.get("intervals") or {}
    found = {title: intervals.get(key) for title, key in PCT_COLUMNS.items()}
    for iou in ("30", "50", "70"):
        found[f"V2 @{iou}"] = (intervals.get("boxacc_v2_by_iou") or {}).get(iou)
    found["img/s"] = None
    return found


def cell_value(cell: str) -> tuple[float, list[float] | None]:
    """A Markdown cell ``**57.3 [55.1, 59.4]**`` as ``(57.3, [55.1, 59.4])``."""
    text = cell.strip("*")
    if " [" not in text:
        return float(text), None
    value, interval = text.split(" [")
    low, high = interval.rstrip("]").split(", ")
    return float(value), [float(low), float(high)]


def check_cells(cells: dict[str, str], metrics: dict) -> None:
    """Every value and interval of a row equals results.json's, rounded as shown."""
    intervals = expected_intervals(metrics)
    for title, value in expected_cells(metrics).items():
        shown, bounds = cell_value(cells[title])
        assert shown == round(value, 1), title
        expected = intervals.get(title)
        assert bounds == (None if expected is None else [round(v, 1) for v in expected]), title


def read_run_records(run_dir: Path) -> list[ImageRecords]:
    """The records of every method of a fixture run, in method order."""
    with np.load(run_dir / "records.npz") as archive:
        arrays = dict(archive)
    shared = {k: v for k, v in arrays.items() if k not in ("hits", "attribution", "pixels")}
    return [ImageRecords.from_arrays({**shared, "hits": arrays["hits"][m],
                                      "attribution": arrays["attribution"][m],
                                      "pixels": arrays["pixels"][m]})
            for m in range(len(arrays["methods"]))]


def expected_marks(records: list[ImageRecords], key: str, resamples: int = 100) -> list[int]:
    """Rows that no row beats significantly and that beat at least one (independently)."""
    from evaluation.statistics.paired import compare_methods

    comparison = compare_methods(records, BootstrapSettings(resamples=resamples, seed=0))
    if key not in comparison.metrics:
        return []
    better = comparison.better(key)
    return [i for i in range(len(records)) if not better[:, i].any() and better[i].any()]
