"""Images per second of the WSOL data loader, both layouts, 224x224 frames.

Layouts:
- Tiny-ImageNet: the real (reduced) tree in ../shared/data (64x64 JPEGs upsampled to 224), val;
- CUB: a synthetic tree in the CUB layout written on the fly to a temporary folder (JPEGs with the
  longer side --cub-size, default 500 like CUB's), test split.

For each layout and each ``num_workers`` in --workers, the loader is iterated once for warm-up
(--warmup batches) and then timed over up to --images images (batch size --batch-size,
``collate_wsol``, wsoleval protocol, ImageNet normalisation). Prints a table and writes JSON.

Usage: .venv/bin/python benchmarks/loader_speed.py [--workers 0 2] [--output PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset

from evaluation.datasets import SyntheticSpec, WSOLDataset, collate_wsol, make_synthetic, read_index
from evaluation.io import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT.parent / "shared" / "data" / "tiny-imagenet-200"


def time_loader(dataset: WSOLDataset, workers: int, batch: int, images: int, warmup: int) -> float:
    count = min(images, len(dataset))
    subset = Subset(dataset, range(count))
    loader = DataLoader(
        subset,
        batch_size=batch,
        num_workers=workers,
        collate_fn=collate_wsol,
        persistent_workers=workers > 0,
    )
    iterator = iter(loader)
    for _ in range(warmup):
        next(iterator)
    started = time.perf_counter()
    seen = sum(len(b["label"]) for b in iterator)
    elapsed = time.perf_counter() - started
    return seen / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--cub-size", type=int, default=500)
    parser.add_argument("--cub-images", type=int, default=1200, help="synthetic CUB images")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "loader_speed.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        classes = 20
        spec = SyntheticSpec(
            "cub",
            classes=classes,
            images_per_class=args.cub_images // classes,
            size=args.cub_size,
            test_fraction=0.5,
        )
        started = time.perf_counter()
        cub_root = make_synthetic(Path(scratch) / "cub", spec)
        made = time.perf_counter() - started
        print(f"synthetic CUB tree: {args.cub_images} images, {args.cub_size} px, {made:.1f} s")
        layouts = [("cub (synthetic)", read_index("cub", cub_root, "test"))]
        if (TINY / "wnids.txt").is_file():
            layouts.append(("tiny-imagenet (real)", read_index("tiny-imagenet", TINY, "val")))
        else:
            print(f"{TINY} is absent: Tiny-ImageNet skipped")
        for name, index in layouts:
            dataset = WSOLDataset(index, "wsoleval", image_size=224)
            for workers in args.workers:
                rate = time_loader(dataset, workers, args.batch_size, args.images, args.warmup)
                rows.append({"layout": name, "num_workers": workers, "images_per_second": rate})
                print(f"  {name:22s} workers={workers}: {rate:8.1f} images/s", flush=True)

    print()
    print("| layout | num_workers | images/s |")
    print("|---|---|---|")
    for row in rows:
        print(f"| {row['layout']} | {row['num_workers']} | {row['images_per_second']:.0f} |")
    result = {
        "benchmark": "loader_speed",
        "frame": [224, 224],
        "protocol": "wsoleval",
        "batch_size": args.batch_size,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "rows": rows,
    }
    atomic_write_json(args.output, result)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
