"""Speed of the box evaluator against the brute-force loop (issue 3), with identical counts.

Setup: random smooth 224x224 maps (Gaussian noise on a 14x14 grid, bicubic-upsampled, like a
ResNet-50 CAM), one random box each, thresholds 0.00..0.99 step 0.01, V1 and V2, the ``wsoleval``
convention, CUB's test size (5,794) by default. The brute force is
:func:`evaluation.localization.reference.reference_counts`, wsolevaluation's loop (one
``cv2.findContours`` per map per threshold), run once for V1 and once for V2 as the reference does.
The evaluator is :class:`evaluation.localization.LocalizationAccumulator` (both variants
in one pass: the component-tree sweeps of :mod:`evaluation.localization.component_trees`), on one
thread and with a pool of ``--workers`` threads (the sweeps release the GIL); its curves must equal
the brute force's counts exactly, or the script fails. Torch runs on one intra-op thread, and the
times are medians over ``--repeats``.

Usage: ``python benchmarks/box_eval_speed.py [--num-maps N] [--repeats R] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import statistics
import time
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from evaluation.io import atomic_write_json
from evaluation.localization import LocalizationAccumulator
from evaluation.localization.reference import reference_counts

FRAME = 224
THRESHOLDS = np.arange(0, 1, 0.01)
DELTAS = (30, 50, 70)


def make_data(num_maps: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth float32 maps ``(N, 224, 224)`` and one inclusive box each ``(N, 1, 4)``."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(num_maps, 1, 14, 14, generator=generator)
    maps = F.interpolate(coarse, size=(FRAME, FRAME), mode="bicubic", align_corners=False)[:, 0]
    size = torch.randint(22, FRAME + 1, (num_maps, 2), generator=generator)
    start = (torch.rand(num_maps, 2, generator=generator) * (FRAME - size + 1)).floor()
    boxes = torch.cat([start, start + size - 1], dim=1).to(torch.float64)[:, None, :]
    return maps.contiguous(), boxes


def run_brute(maps: torch.Tensor, boxes: torch.Tensor, multi: bool) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    counts = reference_counts(
        list(maps.numpy()), list(boxes.numpy()), THRESHOLDS, DELTAS, "wsoleval", multi
    )
    return time.perf_counter() - start, counts


def run_evaluator(
    maps: torch.Tensor, boxes: torch.Tensor, batch: int, executor: Executor | None
) -> tuple[float, dict]:
    start = time.perf_counter()
    acc = LocalizationAccumulator(thresholds=THRESHOLDS, iou_thresholds=DELTAS, executor=executor)
    labels = torch.zeros(len(maps), dtype=torch.long)
    for s in range(0, len(maps), batch):
        acc.update(maps[s : s + batch], boxes[s : s + batch], labels[s : s + batch])
    result = acc.compute()
    return time.perf_counter() - start, result


def check_equal(result: dict, brute: dict[str, np.ndarray], num_maps: int) -> None:
    for variant, counts in brute.items():
        for d, delta in enumerate(DELTAS):
            expected = [float(c * 100.0 / num_maps) for c in counts[:, d]]
            if result["curves"][variant][str(delta)] != expected:
                raise SystemExit(f"counts differ from the brute force: {variant} IoU {delta}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-maps", type=int, default=5794)
    parser.add_argument("--repeats", type=int, default=3, help="evaluator repeats (median)")
    parser.add_argument("--brute-repeats", type=int, default=1, help="brute-force repeats")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2, help="threads of the pooled run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--output", type=Path, default=Path("benchmarks/results/box_eval_speed.json")
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    maps, boxes = make_data(args.num_maps, args.seed)
    n = args.num_maps

    times: dict[str, list[float]] = {"brute_v1": [], "brute_v2": []}
    brute: dict[str, np.ndarray] = {}
    for _ in range(args.brute_repeats):
        for variant, multi in (("v1", False), ("v2", True)):
            seconds, brute[variant] = run_brute(maps, boxes, multi)
            times[f"brute_{variant}"].append(seconds)
    times["evaluator"] = []
    for _ in range(args.repeats):
        seconds, result = run_evaluator(maps, boxes, args.batch_size, None)
        check_equal(result, brute, n)
        times["evaluator"].append(seconds)
    pooled = f"evaluator_{args.workers}_threads"
    times[pooled] = []
    with ThreadPoolExecutor(args.workers) as pool:
        for _ in range(args.repeats):
            seconds, result = run_evaluator(maps, boxes, args.batch_size, pool)
            check_equal(result, brute, n)
            times[pooled].append(seconds)

    median = {name: statistics.median(values) for name, values in times.items()}
    baseline = median["brute_v1"] + median["brute_v2"]
    rows = [
        ("brute force V1 (wsolevaluation loop)", median["brute_v1"]),
        ("brute force V2 (wsolevaluation loop)", median["brute_v2"]),
        ("brute force V1 + V2", baseline),
        ("evaluator V1 + V2, 1 thread", median["evaluator"]),
        (f"evaluator V1 + V2, {args.workers} threads", median[pooled]),
    ]
    print(f"{n} maps {FRAME}x{FRAME}, {len(THRESHOLDS)} thresholds, IoU {DELTAS}, wsoleval; "
          "counts identical to the brute force")
    print(f"{'run':<44}{'total s':>10}{'ms/map':>10}{'speed-up':>10}")
    for name, seconds in rows:
        print(f"{name:<44}{seconds:>10.2f}{seconds / n * 1e3:>10.3f}{baseline / seconds:>10.2f}")
    atomic_write_json(
        args.output,
        {
            "num_maps": n,
            "frame": FRAME,
            "thresholds": len(THRESHOLDS),
            "iou_thresholds": list(DELTAS),
            "convention": "wsoleval",
            "batch_size": args.batch_size,
            "workers": args.workers,
            "times_s": times,
            "median_s": median,
            "speedup_vs_brute_v1_v2": {k: baseline / v for k, v in median.items()},
            "counts_identical": True,
            "environment": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "opencv": cv2.__version__,
                "numpy": np.__version__,
                "cpu_count": multiprocessing.cpu_count(),
                "machine": platform.machine(),
            },
        },
    )
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
