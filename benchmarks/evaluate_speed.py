"""Images/s of ``wsol-bench evaluate`` (CAM, Grad-CAM, infoCAM, infoCAM+) vs the plain forward pass.

Two cases, each over the same DataLoader (batch size, workers, images):

- ``tiny-lite0``: ImageNet-pretrained EfficientNet-Lite0 on the Tiny-ImageNet val images in
  ``../shared/data`` (``--class-map imagenet1k``, protocol wsoleval, 224 px);
- ``cub-resnet50``: ResNet-50 (layer4 at stride 1, random weights: speed does not depend on
  them) on a synthetic CUB-layout test split at 224 px (made once under ``benchmarks/results/``;
  the full-size set has 5,800 test images: ``--num-images 5794``).

For each case the script times (1) the plain forward pass, ``model(images)`` under
``torch.inference_mode`` while iterating the loader, and (2) :func:`evaluation.runs.runner.evaluate`
with the four methods on the same images (its loop time: data, forward, Grad-CAM backward, maps
and every accumulator update). The ratio (2)/(1) is the figure of merit (target on a GPU:
>= 0.8). It prints a table and writes JSON (``--output``, default
``benchmarks/results/evaluate_speed.json``).

Example (CPU, short)::

    .venv/bin/python benchmarks/evaluate_speed.py --num-images 64 --batch-size 32
"""

from __future__ import annotations

import argparse
import math
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset

from evaluation.datasets import SyntheticSpec, WSOLDataset, collate_wsol, make_synthetic, read_index
from evaluation.io import atomic_write_json
from evaluation.models.backbones import build_model, starts_random
from evaluation.runs.options import EvaluateOptions
from evaluation.runs.runner import evaluate

PROJECT = Path(__file__).resolve().parents[1]
RESULTS = PROJECT / "benchmarks" / "results"
METHODS = ("cam", "gradcam", "infocam", "infocam+")


def synthetic_cub(num_images: int) -> Path:
    """A synthetic CUB-layout set with at least ``num_images`` test images at 224 px (cached)."""
    per_class = max(2, math.ceil(num_images / 200 / 0.3))
    root = RESULTS / f"synthetic-cub-224-{per_class}"
    if not (root / "synthetic.json").is_file():
        spec = SyntheticSpec(layout="cub", classes=200, images_per_class=per_class, size=224)
        make_synthetic(root, spec)
    return root


def plain_forward(
    case: dict[str, Any], args: argparse.Namespace, device: torch.device
) -> float:
    """Images/s of the model's forward pass over the loader (data loading included)."""
    index = read_index(case["dataset"], case["root"], case["split"])
    torch.manual_seed(0)
    model = build_model(case["model"], case["num_classes"])
    module = model.module.to(device).eval()
    dataset = WSOLDataset(index, "wsoleval", (model.mean, model.std))
    count = min(args.num_images, len(dataset))
    loader = DataLoader(
        Subset(dataset, range(count)),
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        collate_fn=collate_wsol,
        pin_memory=device.type == "cuda",
    )
    autocast = torch.autocast(device.type, enabled=args.amp)
    with torch.inference_mode(), autocast:
        module(next(iter(loader))["image"][:2].to(device))  # warm-up
        _sync(device)
        start = time.perf_counter()
        for batch in loader:
            module(batch["image"].to(device, non_blocking=True))
        _sync(device)
    return count / (time.perf_counter() - start)


def run_evaluate(
    case: dict[str, Any], args: argparse.Namespace, device: torch.device
) -> dict[str, Any]:
    """The four methods through :func:`evaluate` into a temporary run folder."""
    with tempfile.TemporaryDirectory() as folder:
        results = evaluate(
            EvaluateOptions(
                dataset=case["dataset"],
                data_root=case["root"],
                split=case["split"],
                model=case["model"],
                random_init=starts_random(case["model"], None, None),
                methods=METHODS,
                output=Path(folder) / "run",
                class_map=case.get("class_map"),
                limit=args.num_images,
                batch_size=args.batch_size,
                num_workers=args.num_workers,
                box_workers=args.box_workers,
                amp=args.amp,
                device=str(device),
                progress=False,
                gallery_samples=0,
                gallery_extremes=0,
            )
        )
    return results


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="tiny-lite0,cub-resnet50", help="comma-separated")
    parser.add_argument("--num-images", type=int, default=64, help="images per case")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--box-workers", type=int, default=0, help="see wsol-bench evaluate")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--amp", action="store_true", help="autocast both passes")
    parser.add_argument(
        "--tiny-root", type=Path, default=PROJECT.parent / "shared" / "data" / "tiny-imagenet-200"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "evaluate_speed.json")
    args = parser.parse_args()
    device = torch.device(args.device)
    cases = {
        "tiny-lite0": {
            "dataset": "tiny-imagenet", "root": args.tiny_root, "split": "val",
            "model": "efficientnet-lite0", "num_classes": 1000, "class_map": "imagenet1k",
        },
        "cub-resnet50": {
            "dataset": "synthetic", "root": None, "split": "test", "model": "resnet50",
            "num_classes": 200,
        },
    }
    rows = []
    for name in args.cases.split(","):
        case = cases[name]
        if case["root"] is None:
            case["root"] = synthetic_cub(args.num_images)
        forward = plain_forward(case, args, device)
        results = run_evaluate(case, args, device)
        evaluation = results["throughput"]["evaluation_images_per_second"]
        rows.append(
            {
                "case": name,
                "model": case["model"],
                "images": results["dataset"]["num_images"],
                "forward_images_per_second": forward,
                "evaluate_images_per_second": evaluation,
                "ratio": evaluation / forward,
                "methods": {m: results["methods"][m]["images_per_second"] for m in METHODS},
                "seconds": results["throughput"]["seconds"],
                "top1_cls": results["classification"]["top1_cls"],
            }
        )
    header = (
        f"{'case':<13} {'images':>6} {'forward':>9} {'evaluate':>9} {'ratio':>6} "
        + " ".join(f"{m:>9}" for m in METHODS)
    )
    print(f"images/s on {device} (batch {args.batch_size}, {args.num_workers} data workers, "
          f"{args.box_workers} box workers, amp={args.amp}); evaluate = the four methods in one "
          "run")
    print(header)
    for row in rows:
        print(
            f"{row['case']:<13} {row['images']:>6} {row['forward_images_per_second']:>9.1f} "
            f"{row['evaluate_images_per_second']:>9.1f} {row['ratio']:>6.2f} "
            + " ".join(f"{row['methods'][m]:>9.1f}" for m in METHODS)
        )
    atomic_write_json(
        args.output,
        {
            "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
            else platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "num_threads": torch.get_num_threads(),
            "batch_size": args.batch_size,
            "num_workers": args.num_workers,
            "box_workers": args.box_workers,
            "amp": args.amp,
            "rows": rows,
        },
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
