"""``wsol-bench score`` against a brute-force copy of the reference evaluation, number for number.

Every curve point, maximum and best threshold (and PxAP) must be equal, not close: the score path
runs the reference's own float64 OpenCV resize, so any difference is a bug. The four cases of
issue 16 are here: maps not at 224x224 in float32/float16 (resized in float64), masks not at
224x224 and grey masks, OpenImages metadata (empty ``image_sizes.txt``, ``--masks``), and the
per-image values.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from evaluation.datasets.transforms import eval_geometry
from evaluation.datasets.wsol_metadata import read_wsol_metadata
from evaluation.localization import LocalizationAccumulator
from evaluation.scoring.stream import FrameRules, stream_levels
from tests.evaluation.scoring.folders import (
    random_boxes,
    score,
    write_box_metadata,
    write_lines,
    write_maps,
    write_mask,
)
from tests.evaluation.scoring.wsoleval_reference import expected_report, reference_evaluate

IOU = (30, 50, 70)


SCALES = (3.0, 1e-2, 1e-5)
"""Map ranges relative to an offset of 1: small ranges are where float32 arithmetic shows."""


def raw_map(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Raw CAM-like scores ``1 + scale * noise``: white noise up to 16x16, else smooth."""
    if max(shape) <= 16:
        noise = rng.standard_normal(shape)
    else:
        coarse = rng.standard_normal((7, 7))
        noise = cv2.resize(coarse, shape[::-1], interpolation=cv2.INTER_CUBIC)
    return 1 + scale * noise


def box_case(
    root: Path, count: int, shape: tuple[int, int], dtype: type, seed: int = 0,
    scales: tuple[float, ...] = SCALES,
) -> tuple[Path, Path]:
    """``count`` random maps of ``shape`` and ``dtype`` with random boxes in random image sizes."""
    rng = np.random.default_rng(seed)
    images, maps = {}, {}
    for n in range(count):
        size = (int(rng.integers(40, 500)), int(rng.integers(40, 500)))
        image_id = f"c{n % 3}/img_{n}.jpg"
        images[image_id] = (n % 3, size, random_boxes(rng, size))
        values = raw_map(rng, shape, scales[n % len(scales)])
        maps[image_id] = values.astype(dtype) if dtype != np.int32 else (values * 1e3).astype(dtype)
    return write_box_metadata(root / "meta", images), write_maps(root / "maps", maps)


def scored(meta: Path, maps: Path, out: Path, *extra: str) -> dict:
    assert score(["--metadata", str(meta), "--scoremaps", str(maps), "--output", str(out),
                  *extra]) == 0
    return json.loads(out.read_text())


def assert_equal_to_the_reference(report: dict, meta: Path, maps: Path, interval: float) -> None:
    expected = expected_report(reference_evaluate(meta, maps, interval=interval), IOU)
    for key, value in expected.items():
        assert report[key] == value, key
    assert report["maxboxacc_v2"] == float(np.mean(list(expected["boxacc_v2_by_iou"].values())))


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((224, 224), np.float32), ((224, 224), np.float64), ((14, 14), np.float32),
     ((14, 14), np.float64), ((7, 7), np.float16), ((300, 180), np.float32),
     ((9, 12), np.int32)],
)
def test_every_number_equals_the_reference(tmp_path: Path, shape: tuple, dtype: type) -> None:
    meta, maps = box_case(tmp_path, 24, shape, dtype, seed=shape[0] + shape[1])
    report = scored(meta, maps, tmp_path / "s.json", "--workers", "2")
    assert_equal_to_the_reference(report, meta, maps, 0.01)


@pytest.mark.slow
def test_two_thousand_raw_float32_maps_equal_the_reference_at_every_curve_point(
    tmp_path: Path,
) -> None:
    # Resized in float32 (the old path), 14 of these 60 curve points and MaxBoxAccV2 moved.
    meta, maps = box_case(tmp_path, 2000, (14, 14), np.float32, seed=16, scales=(1e-5,))
    report = scored(meta, maps, tmp_path / "s.json", "--cam-curve-interval", "0.1")
    assert_equal_to_the_reference(report, meta, maps, 0.1)


def test_a_constant_float32_map_off_the_frame_is_a_counted_constant_miss(tmp_path: Path) -> None:
    # Resized in float32, a constant 14x14 map became min-max-stretched rounding noise: at
    # tau = 0 its box covered the frame, a hit on this full-image box (MaxBoxAcc 100, 0 constant).
    images = {"a.jpg": (0, (224, 224), [(0, 0, 223, 223)])}
    meta = write_box_metadata(tmp_path / "meta", images)
    maps = write_maps(tmp_path / "maps", {"a.jpg": np.full((14, 14), 0.7, np.float32)})
    report = scored(meta, maps, tmp_path / "s.json")
    assert report["num_constant_maps"] == 1 and report["num_nonfinite_maps"] == 0
    assert report["maxboxacc"] == 0.0 and report["maxboxacc_v2"] == 0.0
    assert_equal_to_the_reference(report, meta, maps, 0.01)


def test_every_image_iou_equals_the_reference(tmp_path: Path) -> None:
    meta, maps = box_case(tmp_path, 50, (14, 14), np.float32, seed=5)
    reference = reference_evaluate(meta, maps)
    records = read_wsol_metadata(meta).records
    geometry = eval_geometry("wsoleval", 224)
    acc = LocalizationAccumulator()
    rules = FrameRules(geometry, "wsoleval", acc.settings.thresholds)
    per_image = []
    with ThreadPoolExecutor(2) as pool:
        for chunk in stream_levels(records, maps, rules, pool, in_flight=2, chunk=16):
            part = records[chunk.start : chunk.start + len(chunk.quantized.levels)]
            boxes = np.full((len(part), 2, 4), np.nan)
            for i, record in enumerate(part):
                frame = [[int(v * 224 / s) for v, s in zip(b, record.size * 2, strict=True)]
                         for b in record.boxes]
                boxes[i, : len(frame)] = frame
            np.testing.assert_array_equal(chunk.boxes, boxes[:, : chunk.boxes.shape[1]])
            labels = np.zeros(len(part), np.int64)
            per_image.append(acc.update_levels(chunk.quantized, boxes, labels, chunk.attribution))
    assert geometry.frame_size == (224, 224)
    assert np.array_equal(np.concatenate(per_image)[:, :-1], reference.best_ious["v1"])


def mask_case(root: Path, sizes_listed: bool, seed: int = 0) -> tuple[Path, Path, Path]:
    """OpenImages-style mask metadata: masks at their image's size (not 224), grey levels,
    several instances per image, the ignore mask on the first line only."""
    rng = np.random.default_rng(seed)
    meta, masks, maps = root / "meta", root / "masks", root / "maps"
    ids, sizes, lines, arrays = [], [], [], {}
    for n in range(12):
        image_id = f"test/{n % 2}/img_{n}.jpg"
        width, height = int(rng.integers(150, 400)), int(rng.integers(150, 400))
        ids.append(image_id)
        sizes.append(f"{image_id},{width},{height}")
        for k in range(int(rng.integers(1, 3))):
            grey = np.zeros((height, width), np.uint8)
            x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
            grey[y0 : y0 + height // 3, x0 : x0 + width // 3] = rng.choice([1, 60, 128, 255])
            grey[rng.random((height, width)) < 0.01] = 255
            mask = write_mask(masks / f"test/{n % 2}/img_{n}_m{k}.png", grey)
            ignore = ""
            if k == 0:
                box = np.zeros((height, width), np.uint8)
                box[: height // 2, : width // 2] = 255
                ignore = f"test/{n % 2}/" + write_mask(masks / f"test/{n % 2}/img_{n}_ig.png", box)
            lines.append(f"{image_id},test/{n % 2}/{mask},{ignore}")
        arrays[image_id] = rng.standard_normal((14, 14)).astype(np.float32)
    write_lines(meta / "image_ids.txt", ids)
    write_lines(meta / "class_labels.txt", [f"{i},0" for i in ids])
    write_lines(meta / "image_sizes.txt", sizes if sizes_listed else [])
    write_lines(meta / "localization.txt", lines)
    return meta, masks, write_maps(maps, arrays)


@pytest.mark.parametrize("sizes_listed", [True, False])
def test_pxap_of_grey_masks_off_the_frame_equals_the_reference(
    tmp_path: Path, sizes_listed: bool
) -> None:
    meta, masks, maps = mask_case(tmp_path, sizes_listed)
    report = scored(meta, maps, tmp_path / "s.json", "--masks", str(masks))
    assert report["pxap"] == reference_evaluate(meta, maps, masks).pxap
    assert report["num_images"] == 12 and report["masks"] == str(masks)
    assert "maxboxacc" not in report and "curves" not in report


def test_the_mask_rule_decides_grey_pixels(tmp_path: Path) -> None:
    # A 448x448 mask: grey 100 on the left half of a square, 255 on its right half; the map
    # scores exactly that square. The reference counts grey 100 as foreground: PxAP 100. CUB's
    # majority rule counts it as background: at every threshold precision is 1/2 at recall 1.
    grey = np.zeros((448, 448), np.uint8)
    grey[100:300, 100:200] = 100
    grey[100:300, 200:300] = 255
    write_mask(tmp_path / "masks" / "m.png", grey)
    meta = tmp_path / "meta"
    write_lines(meta / "image_ids.txt", ["a.jpg"])
    write_lines(meta / "class_labels.txt", ["a.jpg,0"])
    write_lines(meta / "image_sizes.txt", ["a.jpg,448,448"])
    write_lines(meta / "localization.txt", ["a.jpg,m.png,"])
    square = np.zeros((224, 224))
    square[50:150, 50:150] = 1.0
    maps = write_maps(tmp_path / "maps", {"a.jpg": square})
    masks = str(tmp_path / "masks")
    default = scored(meta, maps, tmp_path / "p.json", "--masks", masks)
    assert default["pxap"] == 100.0 == reference_evaluate(meta, maps, tmp_path / "masks").pxap
    majority = scored(meta, maps, tmp_path / "m.json", "--masks", masks, "--mask-rule", "majority")
    assert majority["pxap"] == pytest.approx(50.0, abs=1e-12)
