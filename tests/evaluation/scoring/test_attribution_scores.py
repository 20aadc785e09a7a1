"""``wsol-bench score``'s attribution metrics: the raw map in the reference's frame, its regions.

The expected values are computed here from the reference's own frame (float64,
``cv2.resize(INTER_CUBIC)``, no min-max) and the reference's boxes (``int(x * 224 / W)``) or label
masks, with the metrics' formulas written out (pointing games, energy, relevance mass) and, for
the ranking metrics, the library function on that frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from evaluation.localization.attribution import attribution_metrics
from evaluation.statistics.records import ATTRIBUTION_METRICS
from tests.evaluation.scoring.folders import score
from tests.evaluation.scoring.test_parity import box_case, mask_case
from tests.evaluation.scoring.wsoleval_reference import (
    SIDE,
    label_mask,
    read_lines,
    resized_box,
)


def reference_frame(maps: Path, image_id: str) -> np.ndarray:
    raw = np.load(maps / f"{image_id}.npy").astype(np.float64)
    return cv2.resize(raw, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC)


def box_regions(meta: Path) -> tuple[list[str], dict[str, np.ndarray], dict[str, list]]:
    ids = [fields[0] for fields in read_lines(meta / "image_ids.txt")]
    sizes = {f[0]: (int(f[1]), int(f[2])) for f in read_lines(meta / "image_sizes.txt")}
    boxes: dict[str, list[list[int]]] = {}
    for image_id, *box in read_lines(meta / "localization.txt"):
        boxes.setdefault(image_id, []).append(resized_box(box, sizes[image_id]))
    regions = {}
    for image_id, found in boxes.items():
        region = np.zeros((SIDE, SIDE), bool)
        for x0, y0, x1, y1 in found:
            region[y0 : y1 + 1, x0 : x1 + 1] = True
        regions[image_id] = region
    return ids, regions, boxes


def distance_to_boxes(y: int, x: int, boxes: list[list[int]]) -> float:
    """Euclidean distance from pixel (y, x) to the nearest pixel of any inclusive box."""
    return min(
        float(np.hypot(max(x0 - x, 0, x - x1), max(y0 - y, 0, y - y1)))
        for x0, y0, x1, y1 in boxes
    )


def expected_means(frames: list[np.ndarray], regions: list[np.ndarray],
                   tolerant: list[float]) -> dict[str, float | None]:
    pointing, energy, mass = [], [], []
    for frame, region in zip(frames, regions, strict=True):
        peaks = frame == frame.max()
        pointing.append(float((peaks & region).any()))
        positive = np.maximum(frame, 0)
        energy.append(positive[region].sum() / positive.sum() if positive.sum() > 0 else 0.0)
        if frame.sum() > 0:
            mass.append(frame[region].sum() / frame.sum())
    def percent(values: list[float]) -> float | None:  # the mean as the report takes it
        return float(100.0 * np.sum(values) / len(values)) if values else None

    return {
        "pointing_game": percent(pointing),
        "pointing_game_tolerant": percent(tolerant),
        "energy_pointing_game": percent(energy),
        "relevance_mass_accuracy": percent(mass),
    }


def test_box_metadata_scores_the_raw_frame_against_the_box_union(tmp_path: Path) -> None:
    meta, maps = box_case(tmp_path, 30, (14, 14), np.float32, seed=9)
    out = tmp_path / "s.json"
    assert score(["--metadata", str(meta), "--scoremaps", str(maps), "--output", str(out),
                  "--pointing-tolerance", "20", "--top-k", "500", "--workers", "2"]) == 0
    report = json.loads(out.read_text())
    ids, regions, boxes = box_regions(meta)
    frames = [reference_frame(maps, i) for i in ids]
    tolerant = []
    for frame, image_id in zip(frames, ids, strict=True):
        ys, xs = np.nonzero(frame == frame.max())
        near = [distance_to_boxes(y, x, boxes[image_id]) < 20 for y, x in zip(ys, xs, strict=True)]
        tolerant.append(float(any(near)))
    expected = expected_means(frames, [regions[i] for i in ids], tolerant)
    assert 0 < expected["pointing_game"] < expected["pointing_game_tolerant"] < 100
    for key in ("pointing_game", "pointing_game_tolerant"):
        assert report[key] == expected[key], key
    for key in ("energy_pointing_game", "relevance_mass_accuracy"):
        assert report[key] == pytest.approx(expected[key], rel=1e-12), key
    table = attribution_metrics(np.stack(frames), np.stack([regions[i] for i in ids]), 20, 500)
    for key in ("relevance_rank_accuracy", "top_k_intersection", "auc"):
        column = table[:, ATTRIBUTION_METRICS.index(key)]
        assert report[key] == pytest.approx(100 * np.nanmean(column), rel=1e-12), key
    assert report["attribution_region"] == "boxes"
    assert report["pointing_tolerance"] == 20 and report["top_k"] == 500
    low, high = report["intervals"]["pointing_game"]
    assert low <= report["pointing_game"] <= high


def test_mask_metadata_scores_against_the_foreground_with_intervals(tmp_path: Path) -> None:
    meta, masks, maps = mask_case(tmp_path, sizes_listed=True)
    out = tmp_path / "s.json"
    assert score(["--metadata", str(meta), "--scoremaps", str(maps), "--masks", str(masks),
                  "--output", str(out), "--bootstrap-resamples", "50", "--seed", "3"]) == 0
    report = json.loads(out.read_text())
    ids = [fields[0] for fields in read_lines(meta / "image_ids.txt")]
    lines = read_lines(meta / "localization.txt")
    frames, regions = [], []
    for image_id in ids:
        paths = [f[1] for f in lines if f[0] == image_id]
        ignore = next((f[2] for f in lines if f[0] == image_id and f[2]), "")
        regions.append(label_mask(masks, paths, ignore) == 1)
        frames.append(reference_frame(maps, image_id))
    table = attribution_metrics(np.stack(frames), np.stack(regions), 15, 1000)
    expected = expected_means(frames, regions, list(table[:, 1]))
    assert report["attribution_region"] == "masks"
    assert report["pointing_game"] == expected["pointing_game"]
    assert report["energy_pointing_game"] == pytest.approx(expected["energy_pointing_game"],
                                                           rel=1e-12)
    assert report["interval"]["resamples"] == 50 and report["interval"]["seed"] == 3
    assert set(report["intervals"]) == {"top1_cls", "top5_cls", "pxap", *ATTRIBUTION_METRICS}
    low, high = report["intervals"]["pxap"]
    assert low <= report["pxap"] <= high
