"""Images per second of the CAM family next to the plain forward pass, ours beside the peers'.

ResNet-50 (``weights=None``, ``layer4``, 224 x 224 inputs, fp32), batch 64 on CUDA when present and
batch 8 on the CPU (override with --batch-size). Every method explains one target class per image
and returns maps for the whole batch:

- ``forward``: ``model(x)`` under ``torch.no_grad`` (the reference);
- ``cam``, ``infocam``, ``infocam+``: this package's FC-weight classes (``attribute``, default
  window 3 / ``"same"``; the head is verified on every call);
- ``gradcam++``, ``xgradcam``, ``layercam``: this package's gradient classes (one forward, one
  backward to the layer), beside ``captum LayerGradCam`` (the ``x LayerGradCam`` column's
  reference; the goal is >= 0.9) and ``captum LayerGradCam + interpolate`` (bilinear, to the
  input);
- ``fc_weight_maps (3 methods)`` and ``gradient_weight_maps (4 methods)``: the benchmark runner's
  paths, one hooked forward (and one backward) for all the methods of the family;
- with the ``compare`` extra: torchcam's ``CAM``, ``GradCAMpp``, ``XGradCAM``, ``LayerCAM`` and
  pytorch-grad-cam's ``GradCAM``, ``GradCAMPlusPlus``, ``XGradCAM``, ``LayerCAM``, each as their
  users call it (torchcam: a forward with its hooks, then the extractor, maps at the layer's
  resolution; pytorch-grad-cam: one call, maps resized to the input as numpy).

Score-CAM runs one forward pass per channel and image (2048 for ``layer4``), so it has its own
table on --scorecam-images images of --scorecam-image-size pixels (default: 1 image at the main
size) with --scorecam-repeats rounds: ``LayerScoreCam`` against torchcam's and pytorch-grad-cam's
``ScoreCAM``, all with masked batches of --scorecam-batch-size (default 32, torchcam's), and the
number of masked passes each runs (the peers one per channel; ours one per distinct mask, which
on random weights saves only the few constant channels, on trained networks far more:
``--scorecam-model efficientnet-lite0 --scorecam-images-dir DIR`` times the ImageNet-pretrained
EfficientNet-Lite0 on real images, e.g. ``../shared/data/tiny-imagenet-200/val/images``). Each
image is explained for its predicted class.

Methods are timed round-robin (one call of each per round, after --warmup rounds) so that
machine noise hits them alike; the tables show the median, the quartiles, images/s from the
median, and the medians over rounds of the ratio to that round's forward pass (``x forward``) and
to that round's reference (``x LayerGradCam``; Score-CAM: ``x ours``), robust to a shared,
drifting machine.

Usage: .venv/bin/python benchmarks/attribution_speed.py [--repeats 20] [--output PATH]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn

import infocam_captum
from evaluation.io import atomic_write_json
from infocam_captum import (
    LayerCam,
    LayerClassActivationMap,
    LayerGradCam,
    LayerGradCamPlusPlus,
    LayerInfoCam,
    LayerInfoCamPlus,
    LayerScoreCam,
    LayerXGradCam,
    fc_weight_maps,
    find_classifier,
    gradient_weight_maps,
)
from infocam_captum.scorecam import score_cam_masks

ROOT = Path(__file__).resolve().parents[1]
Runs = dict[str, Callable[[], None]]


def fc_runner_path(model: nn.Module, layer: nn.Module, x: Tensor, target: Tensor) -> Runs:
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

    return {"fc_weight_maps (3 methods)": run}


def gradient_runner_path(model: nn.Module, layer: nn.Module, x: Tensor, target: Tensor) -> Runs:
    def run() -> None:
        recorded: list[Tensor] = []

        def keep(_module: nn.Module, _inputs: Any, output: Tensor) -> Tensor:
            leaf = output.detach().requires_grad_()
            recorded.append(leaf)
            return leaf.clone()

        handle = layer.register_forward_hook(keep)
        try:
            logits = model(x)
        finally:
            handle.remove()
        scores = logits.gather(1, target[:, None]).sum()
        (grads,) = torch.autograd.grad(scores, recorded[0])
        gradient_weight_maps(recorded[0].detach(), grads)

    return {"gradient_weight_maps (4 methods)": run}


def our_methods(model: nn.Module, x: Tensor, target: Tensor) -> Runs:
    size = tuple(x.shape[-2:])
    grad_cam = LayerGradCam(model, model.layer4)

    def attribution(method: type) -> Callable[[], None]:
        explainer = method(model, model.layer4)
        return lambda: explainer.attribute(x, target=target)

    def captum_grad_cam_interpolated() -> None:
        maps = grad_cam.attribute(x, target=target)
        F.interpolate(maps.detach(), size, mode="bilinear")

    return {
        "cam": attribution(LayerClassActivationMap),
        "infocam": attribution(LayerInfoCam),
        "infocam+": attribution(LayerInfoCamPlus),
        "captum LayerGradCam": lambda: grad_cam.attribute(x, target=target),
        "captum LayerGradCam + interpolate": captum_grad_cam_interpolated,
        "gradcam++": attribution(LayerGradCamPlusPlus),
        "xgradcam": attribution(LayerXGradCam),
        "layercam": attribution(LayerCam),
    }


def torchcam_methods(
    model: nn.Module, x: Tensor, target: Tensor, names: dict[str, str], layer_name: str = "layer4",
    **options: Any,
) -> Runs:
    """The extractors of torchcam as its users run them: a hooked forward, then the extractor."""
    try:
        from torchcam import methods
    except ImportError:
        print("torchcam not installed: skipped (pip install '.[compare]')")
        return {}
    classes = target.tolist()
    runs: Runs = {}
    for label, name in names.items():
        kwargs = {"fc_layer": "fc"} if name == "CAM" else options
        extractor = getattr(methods, name)(
            model, target_layer=layer_name, input_shape=tuple(x.shape[1:]), enable_hooks=False,
            **kwargs,
        )
        gradient_free = name in ("CAM", "ScoreCAM")

        def run(extractor: Any = extractor, gradient_free: bool = gradient_free) -> None:
            extractor.enable_hooks()  # its hooks stay registered: enabled only while it runs
            try:
                with torch.set_grad_enabled(not gradient_free):
                    scores = model(x)
                extractor(classes, scores, normalized=False)
            finally:
                extractor.disable_hooks()

        runs[f"torchcam {label}"] = run
    return runs


def pytorch_grad_cam_methods(
    model: nn.Module, x: Tensor, target: Tensor, names: list[str], batch_size: int | None = None,
    layer: nn.Module | None = None,
) -> Runs:
    """pytorch-grad-cam classes as its users run them (hooks live as long as the object)."""
    try:
        import pytorch_grad_cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError:
        print("pytorch-grad-cam not installed: skipped (pip install '.[compare]')")
        return {}
    targets = [ClassifierOutputTarget(int(t)) for t in target]
    runs: Runs = {}
    for name in names:
        cls = getattr(pytorch_grad_cam, name)

        def run(cls: type = cls) -> None:
            with cls(model=model, target_layers=[layer or model.layer4]) as cam:
                if batch_size is not None:
                    cam.batch_size = batch_size
                cam(input_tensor=x, targets=targets)
            model.zero_grad(set_to_none=True)  # it back-propagates into every parameter

        runs[f"pytorch-grad-cam {name}"] = run
    return runs


def measure(methods: Runs, device: torch.device, warmup: int, repeats: int) -> dict[str, list]:
    """Seconds of every method per round, methods interleaved round-robin."""

    def timed(run: Callable[[], None]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - started

    seconds: dict[str, list[float]] = {name: [] for name in methods}
    for round_index in range(warmup + repeats):
        for name, run in methods.items():
            elapsed = timed(run)
            if round_index >= warmup:
                seconds[name].append(elapsed)
    return seconds


def rows_of(seconds: dict[str, list[float]], images: int, reference: str) -> list[dict]:
    """Median, quartiles, images/s and the paired ratios to ``forward`` and ``reference``."""

    def paired(name: str, against: str) -> float:
        return statistics.median(
            a / v for a, v in zip(seconds[against], seconds[name], strict=True)
        )

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
                "images_per_second": images / median,
                "ratio_to_forward": paired(name, "forward"),
                "ratio_to_reference": paired(name, reference),
            }
        )
    return rows


def print_table(title: str, rows: list[dict], reference: str) -> None:
    print(title)
    print(
        f"{'method':36s} {'median ms':>10s} {'IQR ms':>17s} {'images/s':>9s} "
        f"{'x forward':>9s} {'x ' + reference:>14s}"
    )
    for row in rows:
        iqr = f"{row['q1_ms']:.1f}-{row['q3_ms']:.1f}"
        print(
            f"{row['method']:36s} {row['median_ms']:10.1f} {iqr:>17s} "
            f"{row['images_per_second']:9.2f} {row['ratio_to_forward']:9.3f} "
            f"{row['ratio_to_reference']:14.3f}"
        )


def main_table(
    model: nn.Module, device: torch.device, batch: int, size: int, args: argparse.Namespace
) -> list[dict]:
    x = torch.randn(batch, 3, size, size, device=device)
    target = torch.randint(0, 1000, (batch,), device=device)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    methods: Runs = {"forward": forward, **our_methods(model, x, target)}
    methods.update(fc_runner_path(model, model.layer4, x, target))
    methods.update(gradient_runner_path(model, model.layer4, x, target))
    methods.update(
        torchcam_methods(
            model, x, target,
            {"CAM": "CAM", "GradCAMpp": "GradCAMpp", "XGradCAM": "XGradCAM",
             "LayerCAM": "LayerCAM"},
        )
    )
    methods.update(
        pytorch_grad_cam_methods(
            model, x, target, ["GradCAM", "GradCAMPlusPlus", "XGradCAM", "LayerCAM"]
        )
    )
    seconds = measure(methods, device, args.warmup, args.repeats)
    rows = rows_of(seconds, batch, "captum LayerGradCam")
    print_table(
        f"resnet50, {device.type}, batch {batch}, {size}px, {torch.get_num_threads()} threads, "
        f"median of {args.repeats}",
        rows,
        "LayerGradCam",
    )
    return rows


def layer_output(model: nn.Module, layer: nn.Module, x: Tensor) -> Tensor:
    """The activations ``(N, C, h, w)`` of ``layer`` for ``x``."""
    recorded: list[Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: recorded.append(out))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return recorded[0]


def masked_passes(activations: Tensor) -> int:
    """The masked passes LayerScoreCam runs: one per distinct mask of each image."""
    masks = score_cam_masks(activations).flatten(2)
    return sum(torch.unique(image, dim=0).shape[0] for image in masks)


def score_cam_subject(
    args: argparse.Namespace, resnet: nn.Module, device: torch.device
) -> tuple[nn.Module, nn.Module, str, Tensor, str]:
    """Model, layer, layer name, inputs and a description for the Score-CAM table.

    ``--scorecam-model resnet50``: the main table's random-weight ResNet-50 on random inputs (few
    constant channels). ``efficientnet-lite0``: the ImageNet-pretrained model of the benchmark on
    the first ``--scorecam-images`` JPEGs of ``--scorecam-images-dir`` (e.g. the shared
    Tiny-ImageNet val images), resized to the size and normalised as the model expects: a
    trained network, whose constant channels LayerScoreCam scores once.
    """
    size = args.scorecam_image_size or args.image_size
    if args.scorecam_model == "resnet50":
        x = torch.randn(args.scorecam_images, 3, size, size, device=device)
        return resnet, resnet.layer4, "layer4", x, "resnet50 (weights=None) layer4, random inputs"
    from PIL import Image

    from evaluation.models.backbones import build_model

    if args.scorecam_images_dir is None:
        raise SystemExit("--scorecam-model efficientnet-lite0 needs --scorecam-images-dir")
    cam_model = build_model("efficientnet-lite0", num_classes=1000)
    files = sorted(args.scorecam_images_dir.glob("*.JPEG"))[: args.scorecam_images]
    images = torch.stack([
        torch.from_numpy(np.asarray(Image.open(f).convert("RGB").resize((size, size))).copy())
        .permute(2, 0, 1).float() / 255
        for f in files
    ])
    mean = torch.tensor(cam_model.mean).view(1, 3, 1, 1)
    std = torch.tensor(cam_model.std).view(1, 3, 1, 1)
    module = cam_model.module.eval().to(device)
    return (module, cam_model.layer, cam_model.layer_name, ((images - mean) / std).to(device),
            f"efficientnet-lite0 (ImageNet weights) {cam_model.layer_name}, "
            f"images of {'/'.join(args.scorecam_images_dir.parts[-3:])}")


def score_cam_table(model: nn.Module, device: torch.device, args: argparse.Namespace) -> list:
    model, layer, layer_name, x, subject = score_cam_subject(args, model, device)
    size = x.shape[-1]
    with torch.no_grad():
        logits = model(x)
    target = logits.argmax(1)  # the predicted class, as an explanation is usually asked for
    ours = LayerScoreCam(model, layer)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    methods: Runs = {
        "forward": forward,
        "scorecam (ours)": lambda: ours.attribute(x, target, batch_size=args.scorecam_batch_size),
    }
    methods.update(
        torchcam_methods(
            model, x, target, {"ScoreCAM": "ScoreCAM"}, layer_name=layer_name,
            batch_size=args.scorecam_batch_size,
        )
    )
    methods.update(
        pytorch_grad_cam_methods(
            model, x, target, ["ScoreCAM"], args.scorecam_batch_size, layer=layer
        )
    )
    seconds = measure(methods, device, 0, args.scorecam_repeats)
    rows = rows_of(seconds, args.scorecam_images, "scorecam (ours)")
    activations = layer_output(model, layer, x)
    passes = masked_passes(activations)
    peers = activations.shape[1] * args.scorecam_images  # one pass per channel and image
    print_table(
        f"Score-CAM: {subject}, {args.scorecam_images} image(s) of {size}px, masked "
        f"batches of {args.scorecam_batch_size}, median of {args.scorecam_repeats}; masked "
        f"passes: ours {passes} (one per distinct mask), peers {peers}",
        rows,
        "ours",
    )
    for row in rows:
        row["masked_passes"] = {"forward": 0, "scorecam (ours)": passes}.get(row["method"], peers)
        row["subject"] = subject
    return rows



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=None, help="64 on CUDA, 8 on CPU")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=20, help="0: no main table")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--scorecam-images", type=int, default=1)
    parser.add_argument("--scorecam-image-size", type=int, default=None)
    parser.add_argument("--scorecam-batch-size", type=int, default=32)
    parser.add_argument("--scorecam-repeats", type=int, default=3, help="0: no Score-CAM table")
    parser.add_argument(
        "--scorecam-model", choices=("resnet50", "efficientnet-lite0"), default="resnet50"
    )
    parser.add_argument("--scorecam-images-dir", type=Path, default=None,
                        help="JPEGs for --scorecam-model efficientnet-lite0")
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
    device_name = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    )
    print(f"device: {device_name or platform.machine()}")
    rows = main_table(model, device, batch, args.image_size, args) if args.repeats else []
    score_rows = score_cam_table(model, device, args) if args.scorecam_repeats else []
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
            "scorecam": {
                "images": args.scorecam_images,
                "image_size": args.scorecam_image_size or args.image_size,
                "batch_size": args.scorecam_batch_size,
                "repeats": args.scorecam_repeats,
                "rows": score_rows,
            },
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
