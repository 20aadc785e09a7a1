"""``wsol-bench demo``: the whole benchmark on synthetic data in about two minutes on a CPU.

Makes a synthetic CUB-layout dataset, trains the small CNN on it, evaluates CAM, Grad-CAM,
infoCAM and infoCAM+ (protocol wsoleval at 64 px), writes the reports and prints the table and
the report paths. No download, no GPU. Re-running it reuses what an identical earlier run made
(dataset, checkpoint, results) and replaces what a different one made.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigurationError

DEMO_FILE = "demo.json"
_PARTS = ("data", "train", "run")


@dataclass(frozen=True)
class DemoSpec:
    """Sizes of the demo (the defaults keep it under three minutes on two CPU cores).

    Attributes:
        classes: synthetic classes.
        images_per_class: images per class over both splits (30% go to the test split).
        image_size: longer side of the generated images; the frame and input side is 64 px.
        epochs: training epochs of the small CNN.
        batch_size: training and evaluation batch size.
        num_workers: data-loading worker processes.
        seed: seed of the data, the initial weights and the training.
    """

    classes: int = 10
    images_per_class: int = 130
    image_size: int = 80
    epochs: int = 8
    batch_size: int = 32
    num_workers: int = 2
    seed: int = 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="synthetic data -> train a small CNN -> 4 methods -> reports (CPU, about 30 s)",
        description=__doc__.split("\n\n")[1],
    )
    defaults = DemoSpec()
    parser.add_argument(
        "--output", type=Path, default=Path("wsol-demo"), help="demo folder (default: ./wsol-demo)"
    )
    parser.add_argument("--classes", type=int, default=defaults.classes, help="classes")
    parser.add_argument(
        "--images-per-class",
        type=int,
        default=defaults.images_per_class,
        help="images per class (70%% train, 30%% test)",
    )
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="training epochs")
    parser.add_argument(
        "--num-workers", type=int, default=defaults.num_workers, help="data-loading processes"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print the table and the paths."""
    spec = DemoSpec(
        classes=args.classes,
        images_per_class=args.images_per_class,
        epochs=args.epochs,
        num_workers=args.num_workers,
    )
    started = time.perf_counter()
    results, reports = run_demo(args.output, spec)
    from evaluation.reports.markdown import format_table

    accuracy = results["classification"]["top1_cls"]
    print(
        f"\nsmall-cnn on {results['dataset']['num_images']} synthetic test images "
        f"({spec.classes} classes, chance {100 / spec.classes:.1f}%): top-1 accuracy "
        f"{accuracy:.1f}%; protocol wsoleval at 64 px"
    )
    print(format_table(results))
    print(f"results: {args.output / 'run' / 'results.json'}")
    print(f"reports: {reports[0]}  {reports[1]}")
    print(f"demo finished in {time.perf_counter() - started:.0f} s")
    return 0


def run_demo(output: Path, spec: DemoSpec) -> tuple[dict[str, Any], tuple[Path, Path]]:
    """Make the data, train, evaluate and write the reports under ``output``.

    Args:
        output: the demo folder; its ``data``, ``train`` and ``run`` subfolders are the demo's.
        spec: the sizes.

    Returns:
        The results dict and the paths of ``report.md`` and ``report.html``.

    Raises:
        ConfigurationError: ``output`` is a file.
    """
    import torch

    from evaluation.datasets import SyntheticSpec, load_dataset, make_synthetic
    from evaluation.models.backbones import build_model
    from evaluation.models.training import TrainOptions, train
    from evaluation.reports.writer import write_reports
    from evaluation.runs.options import EvaluateOptions
    from evaluation.runs.runner import evaluate

    if output.exists() and not output.is_dir():
        raise ConfigurationError(f"{output} is a file; pass a folder with --output")
    _reset_if_changed(output, spec)
    data, train_dir, run_dir = (output / part for part in _PARTS)
    if not (data / "synthetic.json").is_file():
        shutil.rmtree(data, ignore_errors=True)
        print(f"making a synthetic CUB-layout dataset in {data} ...", flush=True)
        make_synthetic(
            data,
            SyntheticSpec(
                layout="cub",
                classes=spec.classes,
                images_per_class=spec.images_per_class,
                size=spec.image_size,
                seed=spec.seed,
            ),
        )
    torch.manual_seed(spec.seed)
    model = build_model("small-cnn", spec.classes)
    train_data = load_dataset(
        "synthetic", data, "train", normalization=(model.mean, model.std), image_size=64,
        train=True,
    )
    options = TrainOptions(
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        lr=0.02,
        lr_decay_epochs=max(spec.epochs - 2, 1),
        num_workers=spec.num_workers,
        seed=spec.seed,
        checkpoint_every=0,
    )
    print(f"training small-cnn for {spec.epochs} epochs on {len(train_data)} images ...",
          flush=True)
    checkpoint = train(
        model, train_data, options, train_dir, resume=True, device="cpu",
        on_epoch=lambda record: print(
            f"  epoch {record['epoch']}: loss {record['loss']:.3f}, "
            f"train accuracy {record['accuracy']:.1f}%, {record['seconds']:.1f} s",
            flush=True,
        ),
    )
    print("evaluating cam, gradcam, infocam, infocam+ ...", flush=True)
    results = evaluate(
        EvaluateOptions(
            dataset="synthetic",
            data_root=data,
            split="test",
            model="small-cnn",
            methods=("cam", "gradcam", "infocam", "infocam+"),
            output=run_dir,
            checkpoint=checkpoint,
            image_size=64,
            batch_size=64,
            num_workers=spec.num_workers,
            device="cpu",
            seed=spec.seed,
        )
    )
    return results, write_reports(run_dir)


def _reset_if_changed(output: Path, spec: DemoSpec) -> None:
    """Remove the demo's subfolders when they were made with other sizes; record the sizes."""
    from evaluation import __version__
    from evaluation.io import atomic_write_json

    record = {"version": __version__, **asdict(spec)}
    marker = output / DEMO_FILE
    try:
        previous = json.loads(marker.read_text("utf-8")) if marker.is_file() else None
    except ValueError:
        previous = None
    if previous != record:
        for part in _PARTS:
            shutil.rmtree(output / part, ignore_errors=True)
    atomic_write_json(marker, record)
