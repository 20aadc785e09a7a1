"""Images per second of CAM, infoCAM, infoCAM+ and Grad-CAM next to the plain forward pass.

ResNet-50 (``weights=None``, ``layer4``, 224 x 224 inputs, fp32), batch 64 on CUDA when present and
batch 8 on the CPU (override with --batch-size). Every method explains one target class per image
and returns maps for the whole batch:

- ``forward``: ``model(x)`` under ``torch.no_grad`` (the reference);
- ``cam``, ``infocam``, ``infocam+``: this package's attribution classes (``attribute``, default
  window 3 / ``"same"``; the head is verified on every call);
- ``fc_weight_maps (3 methods)``: the benchmark-runner path, one hooked forward and all three
  maps from :func:`infocam_captum.maps.fc_weight_maps`;
- ``captum LayerGradCam + interpolate``: Captum's Grad-CAM, upsampled bilinearly to the input;
- ``torchcam CAM`` and ``pytorch-grad-cam GradCAM`` when the ``compare`` extra is installed.

Methods are timed round-robin (one call of each per repeat, after --warmup rounds) so that
machine noise hits them alike; the table shows the median, the quartiles, images/s from the
median, the ratio of medians to the forward pass (``x forward``) and the median over rounds of
the ratio to that round's forward pass (``paired``, robust to a shared, drifting machine). The
target for the FC-weight methods is >= 0.95.

Usage: .venv/bin/python benchmarks/attribution_speed.py [--repeats 20] [--output PATH]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

import infocam_captum
from evaluation.io import atomic_write_json
from infocam_captum import (
    LayerClassActivationMap,
    LayerGradCam,
    LayerInfoCam,
    LayerInfoCamPlus,
    fc_weight_maps,
    find_classifier,
)

ROOT = Path(__file__).resolve().parents[1]


def runner_path(
    model: nn.Module, layer: nn.Module, x: Tensor, target: Tensor
) -> Callable[[], None]:
    head = find_classifier(model, layer, x)

    def run() -> None:
        recorded: list[Tensor] = []
        handle = layer.register_forward_hook(lambda _m, _i, out: recorded.append(out))
        try:
            with torch.no_grad():
                logits = model(x)
                fc_weight_maps(
                    head.features_from(recorded[0]),
                    logits,
                    head.weight,
                    target,
                    ("cam", "infocam", "infocam+"),
                )
        finally:
            handle.remove()

    return run


def optional_peers(model: nn.Module, x: Tensor, target: Tensor) -> dict[str, Callable[[], None]]:
    peers: dict[str, Callable[[], None]] = {}
    try:
        from torchcam.methods import CAM
    except ImportError:
        print("torchcam not installed: skipped (pip install '.[compare]')")
    else:
        extractor = CAM(model, target_layer="layer4", fc_layer="fc", enable_hooks=False)
        classes = target.tolist()

        def torchcam_cam() -> None:  # its hooks stay registered: enabled only while it runs
            extractor.enable_hooks()
            try:
                with torch.no_grad():
                    scores = model(x)
                extractor(classes, scores, normalized=False)
            finally:
                extractor.disable_hooks()

        peers["torchcam CAM"] = torchcam_cam
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError:
        print("pytorch-grad-cam not installed: skipped (pip install '.[compare]')")
    else:
        targets = [ClassifierOutputTarget(int(t)) for t in target]

        def pytorch_grad_cam() -> None:  # its hooks live as long as the object: one per call
            with GradCAM(model=model, target_layers=[model.layer4]) as grad_cam:
                grad_cam(input_tensor=x, targets=targets)
            model.zero_grad(set_to_none=True)

        peers["pytorch-grad-cam GradCAM"] = pytorch_grad_cam
    return peers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=None, help="64 on CUDA, 8 on CPU")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "benchmarks" / "results" / "attribution_speed.json"
    )
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batch = args.batch_size or (64 if device.type == "cuda" else 8)
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval().to(device)
    x = torch.randn(batch, 3, args.image_size, args.image_size, device=device)
    target = torch.randint(0, 1000, (batch,), device=device)
    size = (args.image_size, args.image_size)

    def attribution(method: type) -> Callable[[], None]:
        explainer = method(model, model.layer4)
        return lambda: explainer.attribute(x, target=target)

    grad_cam = LayerGradCam(model, model.layer4)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def captum_grad_cam() -> None:
        maps = grad_cam.attribute(x, target=target)
        F.interpolate(maps.detach(), size, mode="bilinear")

    methods: dict[str, Callable[[], None]] = {
        "forward": forward,
        "cam": attribution(LayerClassActivationMap),
        "infocam": attribution(LayerInfoCam),
        "infocam+": attribution(LayerInfoCamPlus),
        "captum LayerGradCam + interpolate": captum_grad_cam,
    }
    methods.update(optional_peers(model, x, target))
    methods["fc_weight_maps (3 methods)"] = runner_path(model, model.layer4, x, target)

    def timed(run: Callable[[], None]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - started

    seconds: dict[str, list[float]] = {name: [] for name in methods}
    for round_index in range(args.warmup + args.repeats):
        for name, run in methods.items():
            elapsed = timed(run)
            if round_index >= args.warmup:
                seconds[name].append(elapsed)

    forward_median = statistics.median(seconds["forward"])
    rows = []
    for name, values in seconds.items():
        median = statistics.median(values)
        quartiles = statistics.quantiles(values, n=4) if len(values) > 1 else [median] * 3
        rows.append(
            {
                "method": name,
                "median_ms": 1000 * median,
                "q1_ms": 1000 * quartiles[0],
                "q3_ms": 1000 * quartiles[2],
                "images_per_second": batch / median,
                "ratio_to_forward": forward_median / median,
                "paired_ratio_to_forward": statistics.median(
                    f / v for f, v in zip(seconds["forward"], values, strict=True)
                ),
            }
        )
    device_name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    )
    print(
        f"resnet50, {device.type} ({device_name or platform.machine()}), batch {batch}, "
        f"{args.image_size}px, {torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(
        f"{'method':34s} {'median ms':>10s} {'IQR ms':>15s} {'images/s':>9s} "
        f"{'x forward':>9s} {'paired':>7s}"
    )
    for row in rows:
        iqr = f"{row['q1_ms']:.1f}-{row['q3_ms']:.1f}"
        print(
            f"{row['method']:34s} {row['median_ms']:10.1f} {iqr:>15s} "
            f"{row['images_per_second']:9.1f} {row['ratio_to_forward']:9.3f} "
            f"{row['paired_ratio_to_forward']:7.3f}"
        )
    atomic_write_json(
        args.output,
        {
            "benchmark": "attribution_speed",
            "model": "resnet50 (weights=None), layer4",
            "device": device.type,
            "device_name": device_name,
            "batch_size": batch,
            "image_size": args.image_size,
            "threads": torch.get_num_threads(),
            "repeats": args.repeats,
            "warmup": args.warmup,
            "versions": {
                "torch": torch.__version__,
                "torchvision": torchvision.__version__,
                "infocam_captum": infocam_captum.__version__,
                "python": platform.python_version(),
            },
            "rows": rows,
        },
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
