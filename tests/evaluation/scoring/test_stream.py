"""The streaming score path: bounded, in order, the same numbers whatever the threads, no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from evaluation.datasets.transforms import eval_geometry
from evaluation.datasets.wsol_metadata import read_wsol_metadata
from evaluation.errors import ScoreMapError
from evaluation.localization.levels import quantize_frame_maps
from evaluation.scoring.stream import FrameRules, chunk_levels, stream_levels
from tests.evaluation.scoring.folders import random_boxes, score, write_box_metadata, write_maps

ROOT = Path(__file__).resolve().parents[3]
RULES = FrameRules(eval_geometry("wsoleval", 224), "wsoleval", np.arange(0, 1, 0.01))


def small_case(root: Path, count: int = 23) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    images = {f"i{n}.jpg": (n % 2, (64, 48), random_boxes(rng, (64, 48))) for n in range(count)}
    maps = {i: rng.standard_normal((7, 7)).astype(np.float32) for i in images}
    return write_box_metadata(root / "meta", images), write_maps(root / "maps", maps)


class CountingPool(ThreadPoolExecutor):
    """A thread pool that records how many of its tasks were submitted."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.submitted = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_chunks_come_in_order_with_a_bounded_number_in_flight(tmp_path: Path) -> None:
    meta, maps = small_case(tmp_path)
    records = read_wsol_metadata(meta).records
    with CountingPool(3) as pool:
        starts = []
        for chunk in stream_levels(records, maps, RULES, pool, in_flight=2, chunk=5):
            # Taken so far: len(starts) + 1 (this one); submitted and not taken: at most 2.
            assert pool.submitted - (len(starts) + 1) <= 2
            starts.append(chunk.start)
            assert len(chunk.quantized.levels) == min(5, len(records) - chunk.start)
    assert starts == [0, 5, 10, 15, 20]


def test_a_chunk_quantises_each_map_like_the_whole_batch(tmp_path: Path) -> None:
    meta, maps = small_case(tmp_path, 4)
    records = read_wsol_metadata(meta).records
    chunk = chunk_levels(0, records, maps, RULES)
    framed = np.stack([
        cv2.resize(np.load(maps / f"{r.image_id}.npy").astype(np.float64), (224, 224),
                   interpolation=cv2.INTER_CUBIC)
        for r in records
    ])
    assert np.array_equal(chunk.quantized.levels, quantize_frame_maps(framed).levels)
    assert chunk.histograms is None


def test_a_nonfinite_value_hidden_by_a_downsizing_resize_still_zeroes_the_map(
    tmp_path: Path,
) -> None:
    meta, maps = small_case(tmp_path, 2)
    big = np.random.default_rng(0).standard_normal((1000, 1000))
    big[4, 4] = np.nan  # no tap of the 1000 -> 224 bicubic resize reads pixel 4
    assert np.isfinite(cv2.resize(big, (224, 224), interpolation=cv2.INTER_CUBIC)).all()
    np.save(maps / "i0.jpg.npy", big)
    chunk = chunk_levels(0, read_wsol_metadata(meta).records, maps, RULES)
    assert chunk.quantized.nonfinite.tolist() == [True, False]
    assert chunk.quantized.constant.tolist() == [False, False]
    assert not chunk.quantized.levels[0].any()


def test_an_unreadable_map_stops_the_stream_with_its_path(tmp_path: Path) -> None:
    meta, maps = small_case(tmp_path, 7)
    (maps / "i6.jpg.npy").write_bytes(b"not an array")
    records = read_wsol_metadata(meta).records
    with ThreadPoolExecutor(2) as pool, pytest.raises(ScoreMapError, match=r"i6\.jpg\.npy"):
        list(stream_levels(records, maps, RULES, pool, in_flight=2, chunk=3))


def test_the_numbers_do_not_depend_on_the_threads(tmp_path: Path) -> None:
    meta, maps = small_case(tmp_path, 150)
    reports = []
    for workers in ("1", "3"):
        out = tmp_path / f"{workers}.json"
        assert score(["--metadata", str(meta), "--scoremaps", str(maps), "--output", str(out),
                      "--workers", workers]) == 0
        reports.append(json.loads(out.read_text()))
    assert reports[0] == reports[1]


def test_scoring_saved_maps_never_imports_torch(tmp_path: Path) -> None:
    meta, maps = small_case(tmp_path)
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("".join(f"i{n}.jpg,{n % 2},1\n" for n in range(23)))
    out = tmp_path / "s.json"
    code = (
        "import sys\n"
        "from evaluation.cli import main\n"
        f"status = main(['score', '--metadata', {str(meta)!r}, '--scoremaps', {str(maps)!r}, "
        f"'--output', {str(out)!r}, '--predictions', {str(predictions)!r}, '--workers', '2'])\n"
        "print(status, sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))\n"
    )
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": path},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []"
    assert json.loads(out.read_text())["num_images"] == 23
