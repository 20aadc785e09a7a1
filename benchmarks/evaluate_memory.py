"""Peak memory of ``wsol-bench evaluate`` over 1/4, 1/2 and all of a CUB-sized split (streaming).

A synthetic CUB-layout set (200 classes, at least ``--num-images`` test images, default CUB's
5,794, at ``--size`` px; made once under ``benchmarks/results/``) is evaluated with CAM,
Grad-CAM, infoCAM and infoCAM+ on the untrained ``small-cnn`` (memory does not depend on the
weights) three times, with ``--limit`` at 1/4, 1/2 and all of the images, each run in a fresh
process. Each process reports its peak resident memory (``VmHWM``: its own pages, not the
DataLoader workers') at the end of the batch loop and at the end of the run (after the bootstrap
intervals, the gallery and the records), and the per-image records' bytes on disk. The batch
loop streams: only the per-image records (and the per-image IoU table) grow with the images,
by design; the growth per image is printed beside them. It prints a table and writes JSON
(``--output``, default ``benchmarks/results/evaluate_memory.json``).

Usage: ``python benchmarks/evaluate_memory.py [--num-images N] [--size S] [--box-workers W]``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from evaluation.datasets import SyntheticSpec, make_synthetic
from evaluation.io import atomic_write_json

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "benchmarks" / "results"
METHODS = ("cam", "gradcam", "infocam", "infocam+")

_CHILD = """
import json, sys
from pathlib import Path
from evaluation.runs import runner
from evaluation.runs.options import EvaluateOptions

def peak_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

loop_peak = []
run_batches = runner.run_batches
def measured(*args):
    run_batches(*args)
    loop_peak.append(peak_kib())
runner.run_batches = measured
raw = json.loads(sys.argv[1])
options = EvaluateOptions(**{**raw, "data_root": Path(raw["data_root"]),
                             "output": Path(raw["output"]), "methods": tuple(raw["methods"])})
results = runner.evaluate(options)
print(json.dumps({"images": results["dataset"]["num_images"], "loop_peak_kib": loop_peak[0],
                  "run_peak_kib": peak_kib(), "wall_seconds": results["run"]["wall_seconds"]}))
"""


def synthetic_cub(num_images: int, size: int) -> Path:
    """A synthetic CUB-layout set with at least ``num_images`` test images (cached)."""
    per_class = max(2, math.ceil(num_images / 200 / 0.3))
    root = RESULTS / f"synthetic-cub-{size}-{per_class}"
    if not (root / "synthetic.json").is_file():
        spec = SyntheticSpec(layout="cub", classes=200, images_per_class=per_class, size=size)
        make_synthetic(root, spec)
    return root


def measure(root: Path, limit: int, args: argparse.Namespace) -> dict[str, Any]:
    """One evaluate run of ``limit`` images in a fresh process: its peaks and records' bytes."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "run"
        options = {
            "dataset": "synthetic", "data_root": str(root), "split": "test",
            "model": "small-cnn", "random_init": True, "methods": list(METHODS),
            "output": str(output), "image_size": args.size, "limit": limit,
            "batch_size": args.batch_size, "num_workers": args.num_workers,
            "box_workers": args.box_workers, "progress": False,
        }
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(options)], cwd=PROJECT,
            capture_output=True, text=True, check=True,
        )
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["records_bytes"] = (output / "records.npz").stat().st_size
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-images", type=int, default=5794)
    parser.add_argument("--size", type=int, default=64, help="image and frame side in px")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--box-workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS / "evaluate_memory.json")
    args = parser.parse_args()
    root = synthetic_cub(args.num_images, args.size)
    limits = [args.num_images // 4, args.num_images // 2, args.num_images]
    rows = [measure(root, limit, args) for limit in limits]
    first, last = rows[0], rows[-1]
    extra = last["images"] - first["images"]
    growth = {
        key: 1024 * (last[key] - first[key]) / extra for key in ("loop_peak_kib", "run_peak_kib")
    }
    records = (last["records_bytes"] - first["records_bytes"]) / extra
    print(f"evaluate, {len(METHODS)} methods, small-cnn at {args.size} px, batch "
          f"{args.batch_size}, {args.box_workers} box workers: peak resident memory (VmHWM)")
    print(f"{'images':>6} {'loop peak MiB':>13} {'run peak MiB':>12} {'records KiB':>11} "
          f"{'seconds':>8}")
    for row in rows:
        print(f"{row['images']:>6} {row['loop_peak_kib'] / 1024:>13.1f} "
              f"{row['run_peak_kib'] / 1024:>12.1f} {row['records_bytes'] / 1024:>11.1f} "
              f"{row['wall_seconds']:>8.1f}")
    print(f"growth per image from {first['images']} to {last['images']}: loop peak "
          f"{growth['loop_peak_kib']:.0f} B, run peak {growth['run_peak_kib']:.0f} B; the "
          f"records on disk {records:.0f} B ({len(METHODS)} methods)")
    atomic_write_json(args.output, {
        "size": args.size, "batch_size": args.batch_size, "num_workers": args.num_workers,
        "box_workers": args.box_workers, "rows": rows, "growth_bytes_per_image": growth,
        "records_bytes_per_image": records,
    })
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
