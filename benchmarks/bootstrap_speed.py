"""Seconds and memory of the bootstrap intervals and the paired comparison, by image count.

For each N in --images, random per-image records of --methods methods (100 thresholds, IoU
thresholds 30/50/70, predictions, no masks) are built; the script times
``metric_intervals`` of one method and ``compare_methods`` of all of them with B = --resamples,
and reports the records' bytes per method. Prints a table and writes JSON.

Usage: .venv/bin/python benchmarks/bootstrap_speed.py [--images 5000 50000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from evaluation.io import atomic_write_json
from evaluation.statistics.bootstrap import BootstrapSettings
from evaluation.statistics.intervals import metric_intervals
from evaluation.statistics.paired import compare_methods
from evaluation.statistics.records import ATTRIBUTION_METRICS, ImageRecords

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = np.round(np.arange(0, 1, 0.01), 2)
DELTAS = (30, 50, 70)


def random_records(rng: np.random.Generator, count: int, labels: np.ndarray) -> ImageRecords:
    flags = rng.random((count, 2, len(DELTAS), len(THRESHOLDS) + 1)) < 0.5
    records = ImageRecords.empty(THRESHOLDS, 0.2, DELTAS, DELTAS)
    top1 = rng.random(count) < 0.7
    records.add(np.arange(count), flags, top1, top1 | (rng.random(count) < 0.5), labels,
                rng.random((count, len(ATTRIBUTION_METRICS))), None)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--methods", type=int, default=2)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "bootstrap_speed.json")
    args = parser.parse_args()
    settings = BootstrapSettings(args.resamples, seed=0)
    rows = []
    print(f"{'images':>8} {'bytes/method':>13} {'intervals s':>12} "
          f"{'paired s (' + str(args.methods) + ' methods)':>24}")
    for count in args.images:
        rng = np.random.default_rng(count)
        labels = rng.integers(0, 200, count)
        methods = [random_records(rng, count, labels) for _ in range(args.methods)]
        size = sum(a.nbytes for a in methods[0].arrays().values())
        start = time.perf_counter()
        metric_intervals(methods[0], settings)
        intervals = time.perf_counter() - start
        start = time.perf_counter()
        compare_methods(methods, settings)
        paired = time.perf_counter() - start
        rows.append({"images": count, "bytes_per_method": size, "intervals_seconds": intervals,
                     "paired_seconds": paired})
        print(f"{count:>8} {size:>13,} {intervals:>12.2f} {paired:>24.2f}")
    atomic_write_json(args.output, {"resamples": args.resamples, "methods": args.methods,
                                    "machine": platform.machine(), "rows": rows})
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
