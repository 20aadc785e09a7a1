"""``wsol-bench score`` whole-process against the brute-force loop, with its peak memory.

Setup: ``--num-maps`` (default 3,000) CAM-like float32 maps saved at 224x224 (Gaussian noise on a
14x14 grid, OpenCV-bicubic upsampled, like a ResNet-50 CAM) in a temporary metadata + score-map
folder, one random box each, thresholds 0.00..0.99 step 0.01, the ``wsoleval`` convention.

- **brute force**: :func:`evaluation.localization.reference.reference_counts` (wsolevaluation's
  loop: one ``cv2.findContours`` per map per threshold) run once for V1 and once for V2, as the
  reference does, on maps read from the same files, in this process (its imports not counted).
- **score**: ``python -m evaluation score`` in a subprocess, wall time from start to exit
  (interpreter, imports, the numba cache load, reading, resizing, the per-image attribution
  metrics, sweeps, per-image records and 1,000 bootstrap resamples, the JSON), its peak RSS
  from GNU ``time`` (``/usr/bin/time``). Its curves must equal the brute force's counts exactly,
  or the script fails.

The two alternate, ``--repeats`` times each (the machine may be shared: medians, and the ratio of
the medians). Then: the compiled-code cache (a process with an empty ``NUMBA_CACHE_DIR``
compiles, the next one loads), and peak RSS for each of ``--memory-counts`` maps (ids beyond the
generated maps are symbolic links to them: same bytes read, no extra disk).

Usage: ``python benchmarks/score_speed.py [--num-maps N] [--repeats R] [--workers W]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from evaluation.io import atomic_write_json
from evaluation.localization.reference import reference_counts

ROOT = Path(__file__).resolve().parents[1]
FRAME = 224
THRESHOLDS = np.arange(0, 1, 0.01)
DELTAS = (30, 50, 70)


def make_maps(folder: Path, num_maps: int, seed: int) -> np.ndarray:
    """Write ``num_maps`` maps ``<folder>/<n>.jpg.npy``; return their ``(N, 4)`` boxes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    boxes = np.zeros((num_maps, 4), dtype=np.int64)
    for n in range(num_maps):
        coarse = rng.standard_normal((14, 14))
        fine = cv2.resize(coarse, (FRAME, FRAME), interpolation=cv2.INTER_CUBIC)
        np.save(folder / f"{n:06d}.jpg.npy", fine.astype(np.float32))
        side = rng.integers(22, FRAME + 1, 2)
        start = (rng.random(2) * (FRAME - side + 1)).astype(np.int64)
        boxes[n] = [*start, *(start + side - 1)]
    return boxes


def write_metadata(folder: Path, boxes: np.ndarray, count: int) -> Path:
    """Metadata of ``count`` images; image ``n`` has the box ``boxes[n % len(boxes)]``."""
    folder.mkdir(parents=True)
    ids = [f"{n:06d}.jpg" for n in range(count)]
    files = {
        "image_ids": ids,
        "class_labels": [f"{i},0" for i in ids],
        "image_sizes": [f"{i},{FRAME},{FRAME}" for i in ids],
        "localization": [
            f"{i},{','.join(map(str, boxes[n % len(boxes)]))}" for n, i in enumerate(ids)
        ],
    }
    for name, lines in files.items():
        (folder / f"{name}.txt").write_text("".join(f"{line}\n" for line in lines))
    return folder


def link_extra_maps(folder: Path, generated: int, count: int) -> None:
    """Maps ``generated .. count - 1`` as links to the generated ones."""
    for n in range(generated, count):
        link = folder / f"{n:06d}.jpg.npy"
        if not link.exists():
            link.symlink_to(folder / f"{n % generated:06d}.jpg.npy")


def run_brute(maps: Path, boxes: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    start = time.perf_counter()
    counts = {}
    for variant, multi in (("v1", False), ("v2", True)):
        loaded = (np.load(maps / f"{n:06d}.jpg.npy") for n in range(len(boxes)))
        counts[variant] = reference_counts(
            loaded, [b[None].astype(np.float64) for b in boxes], THRESHOLDS, DELTAS,
            "wsoleval", multi,
        )
    return time.perf_counter() - start, counts


def run_score(
    metadata: Path, maps: Path, output: Path, workers: int, env: dict[str, str] | None = None
) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one ``score`` process.

    The peak comes from GNU ``time`` (``%M``): a child forked from this process would count this
    process's pages in its own ``ru_maxrss``; forked from ``time``, it counts only its own.
    """
    rss_file = output.with_suffix(".rss")
    command = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), sys.executable, "-m",
               "evaluation", "score", "--metadata", str(metadata), "--scoremaps", str(maps),
               "--output", str(output), "--workers", str(workers)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    start = time.perf_counter()
    done = subprocess.run(command, env=environment, stdout=subprocess.DEVNULL, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"score failed with status {done.returncode}")
    return seconds, int(rss_file.read_text().split()[-1]) * 1024


def check_equal(output: Path, brute: dict[str, np.ndarray], num_maps: int) -> None:
    curves = json.loads(output.read_text())["curves"]
    for variant, counts in brute.items():
        for d, delta in enumerate(DELTAS):
            expected = [float(c * 100.0 / num_maps) for c in counts[:, d]]
            if curves[variant][str(delta)] != expected:
                raise SystemExit(f"score differs from the brute force: {variant} IoU {delta}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-maps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each (median)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--memory-counts", type=int, nargs="*", default=[3000, 12000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/score_speed.json"))
    args = parser.parse_args()
    n = args.num_maps

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        maps = work / "maps"
        boxes = make_maps(maps, n, args.seed)
        metadata = write_metadata(work / "metadata", boxes, n)
        output = work / "score.json"
        run_score(metadata, maps, output, args.workers)  # fills the compiled-code cache

        times: dict[str, list[float]] = {"brute_v1_v2": [], "score": []}
        peaks: list[int] = []
        for _ in range(args.repeats):
            seconds, brute = run_brute(maps, boxes)
            times["brute_v1_v2"].append(seconds)
            seconds, peak = run_score(metadata, maps, output, args.workers)
            check_equal(output, brute, n)
            times["score"].append(seconds)
            peaks.append(peak)

        cache = work / "numba-cache"
        cold, _ = run_score(metadata, maps, output, args.workers, {"NUMBA_CACHE_DIR": str(cache)})
        warm, _ = run_score(metadata, maps, output, args.workers, {"NUMBA_CACHE_DIR": str(cache)})

        memory = {}
        for count in args.memory_counts:
            link_extra_maps(maps, n, count)
            folder = write_metadata(work / f"metadata-{count}", boxes, count)
            _, memory[count] = run_score(folder, maps, work / "m.json", args.workers)

    median = {name: statistics.median(values) for name, values in times.items()}
    ratio = median["brute_v1_v2"] / median["score"]
    print(f"{n} maps {FRAME}x{FRAME} float32, {len(THRESHOLDS)} thresholds, IoU {DELTAS}, "
          f"wsoleval, {args.workers} score workers, median of {args.repeats} alternating runs; "
          "curves identical to the brute force")
    print(f"{'run':<52}{'median s':>10}{'ms/map':>10}{'speed-up':>10}")
    for name, label in (("brute_v1_v2", "brute force V1 + V2 (wsolevaluation loop, 1 thread)"),
                        ("score", "wsol-bench score, whole process")):
        seconds = median[name]
        print(f"{label:<52}{seconds:>10.2f}{seconds / n * 1e3:>10.3f}"
              f"{median['brute_v1_v2'] / seconds:>10.2f}")
    print(f"score peak RSS (median): {statistics.median(peaks) / 2**20:.0f} MiB")
    print(f"compiled-code cache: first process {cold:.2f} s (compiles), second {warm:.2f} s")
    for count, peak in memory.items():
        print(f"score peak RSS, {count} maps: {peak / 2**20:.0f} MiB")
    atomic_write_json(
        args.output,
        {
            "num_maps": n,
            "frame": FRAME,
            "thresholds": len(THRESHOLDS),
            "iou_thresholds": list(DELTAS),
            "convention": "wsoleval",
            "workers": args.workers,
            "repeats": args.repeats,
            "times_s": times,
            "median_s": median,
            "speedup_score_vs_brute_v1_v2": ratio,
            "score_peak_rss_bytes": peaks,
            "cache_cold_s": cold,
            "cache_warm_s": warm,
            "peak_rss_bytes_by_count": {str(k): v for k, v in memory.items()},
            "curves_identical": True,
            "environment": {
                "python": platform.python_version(),
                "opencv": cv2.__version__,
                "numpy": np.__version__,
                "cpu_count": multiprocessing.cpu_count(),
                "machine": platform.machine(),
                "load_average": os.getloadavg(),
            },
        },
    )
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
