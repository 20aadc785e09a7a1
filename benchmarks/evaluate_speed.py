"""Images/s of ``wsol-bench evaluate`` (CAM, Grad-CAM, infoCAM, infoCAM+) vs the plain forward pass.

Two cases, each over the same DataLoader (batch size, workers, images):

- ``tiny-lite0``: ImageNet-pretrained EfficientNet-Lite0 on the Tiny-ImageNet val images in
  ``../shared/data`` (``--class-map imagenet1k``, protocol wsoleval, 224 px);
- ``cub-resnet50``: ResNet-50 (layer4 at stride 1, random weights: speed does not depend on
  them) on a synthetic CUB-layout test split at 224 px (made once under ``benchmarks/results/``;
  the full-size set has 5,800 test images: ``--num-images 5794``).

For each case and each of ``--repeats`` rounds the script times, one after the other (round
robin, so a busy machine slows every variant alike): (1) the plain forward pass,
``model(images)`` under ``torch.inference_mode`` while iterating the loader, and (2)
:func:`evaluation.runs.runner.evaluate` with the four methods on the same images (its loop
time: data, forward, Grad-CAM backward, maps and every accumulator update) once per
``--box-workers`` setting: ``0`` is the sequential loop (each batch counted after its forward
pass), ``N >= 1`` the pipeline (batch ``i`` counted in ``N`` threads while batch ``i + 1`` runs
forward). The figure of merit is evaluate / forward (medians over the rounds; the issue's goal:
>= 0.95 on a CPU, >= 0.98 for the FC-weight methods on a GPU). Every setting must give the same
metrics as the first, or the script fails. ``counting`` is the four updates' own seconds per
image (summed over methods; in the pipeline they overlap the forward pass). It prints a table
and writes JSON (``--output``, default ``benchmarks/results/evaluate_speed.json``), which says
``"gpu": null`` when it ran without one.

Example (CPU, short)::

    .venv/bin/python benchmarks/evaluate_speed.py --num-images 64 --batch-size 32 --repeats 3
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
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
    case: dict[str, Any], args: argparse.Namespace, device: torch.device, box_workers: int
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
                box_workers=box_workers,
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


def numbers(results: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on the loop's threads: every method's metrics and the accuracy."""
    methods = {
        name: {k: v for k, v in values.items() if k != "images_per_second"}
        for name, values in results["methods"].items()
    }
    return {"methods": methods, "classification": results["classification"]}


def measure_case(
    name: str, case: dict[str, Any], args: argparse.Namespace, device: torch.device
) -> dict[str, Any]:
    """``--repeats`` rounds of the forward pass and of evaluate at every ``--box-workers``."""
    settings = [int(w) for w in args.box_workers.split(",")]
    forward: list[float] = []
    runs: dict[int, list[dict[str, Any]]] = {w: [] for w in settings}
    expected = None
    for _ in range(args.repeats):
        forward.append(plain_forward(case, args, device))
        for workers in settings:
            results = run_evaluate(case, args, device, workers)
            if expected is None:
                expected = numbers(results)
            elif numbers(results) != expected:
                raise SystemExit(f"{name}: --box-workers {workers} changed the metrics")
            runs[workers].append(results)
    forward_rate = statistics.median(forward)
    images = runs[settings[0]][0]["dataset"]["num_images"]
    rows = []
    for workers in settings:
        rates = [r["throughput"]["evaluation_images_per_second"] for r in runs[workers]]
        counting = [sum(r["throughput"]["seconds"][m] for m in METHODS) for r in runs[workers]]
        rate = statistics.median(rates)
        rows.append({
            "case": name,
            "model": case["model"],
            "images": images,
            "box_workers": workers,
            "forward_images_per_second": forward_rate,
            "evaluate_images_per_second": rate,
            "ratio": rate / forward_rate,
            "round_ratios": [e / f for e, f in zip(rates, forward, strict=True)],
            "counting_ms_per_image": 1000 * statistics.median(counting) / images,
            "methods": {
                m: statistics.median(r["methods"][m]["images_per_second"] for r in runs[workers])
                for m in METHODS
            },
            "seconds": runs[workers][-1]["throughput"]["seconds"],
            "top1_cls": runs[workers][0]["classification"]["top1_cls"],
        })
    return {"rows": rows, "forward_rounds": forward}


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's with its core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default="tiny-lite0,cub-resnet50", help="comma-separated")
    parser.add_argument("--num-images", type=int, default=64, help="images per case")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument(
        "--box-workers", default="0,2", help="comma-separated settings of wsol-bench evaluate's "
        "--box-workers, each timed (0: the sequential loop)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds; medians are reported")
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
    rows, forward_rounds = [], {}
    for name in args.cases.split(","):
        case = cases[name]
        if case["root"] is None:
            case["root"] = synthetic_cub(args.num_images)
        measured = measure_case(name, case, args, device)
        rows.extend(measured["rows"])
        forward_rounds[name] = measured["forward_rounds"]
    print(f"images/s on {device} ({device_name(device)}; batch {args.batch_size}, "
          f"{args.num_workers} data workers, amp={args.amp}), medians of {args.repeats} rounds; "
          "evaluate = the four methods in one run; box = --box-workers (0: sequential)")
    if device.type != "cuda":
        print("no GPU: these are CPU figures only (the GPU goals are not measured here)")
    print(
        f"{'case':<13} {'images':>6} {'box':>3} {'forward':>8} {'evaluate':>8} {'ratio':>6} "
        f"{'count ms/img':>12} " + " ".join(f"{m:>8}" for m in METHODS)
    )
    for row in rows:
        print(
            f"{row['case']:<13} {row['images']:>6} {row['box_workers']:>3} "
            f"{row['forward_images_per_second']:>8.2f} {row['evaluate_images_per_second']:>8.2f} "
            f"{row['ratio']:>6.2f} {row['counting_ms_per_image']:>12.1f} "
            + " ".join(f"{row['methods'][m]:>8.2f}" for m in METHODS)
        )
    atomic_write_json(
        args.output,
        {
            "device": str(device),
            "device_name": device_name(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "torch": torch.__version__,
            "num_threads": torch.get_num_threads(),
            "batch_size": args.batch_size,
            "num_workers": args.num_workers,
            "repeats": args.repeats,
            "amp": args.amp,
            "forward_rounds": forward_rounds,
            "rows": rows,
        },
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
