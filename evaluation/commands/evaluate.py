"""``wsol-bench evaluate``: localisation and classification metrics of attribution methods.

Evaluates every method (the CAM family built in, or any Captum attribution by dotted path) on a
dataset split with one forward pass per batch shared by the CAM family, writes
RUN_DIR/results.json and gallery.npz, then report.md and report.html, and prints the table and the
paths. The same command restarted after an interruption resumes the run (Ctrl-C and SIGTERM save
the finished batches first; a kill loses at most the last 10 s); one process at a time works in a
RUN_DIR. Under "torchrun --nproc_per_node N -m evaluation evaluate ..." every process takes a
shard. Progress goes to stderr: a bar on a terminal, a line every 30 s in a log file.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evaluation.runs.options import EvaluateOptions

DEFAULT_METHODS = "cam,gradcam,infocam,infocam+"
_DEFAULT_SPLITS = {"cub": "test", "tiny-imagenet": "val", "wsol-metadata": "test",
                   "synthetic": "test"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand."""
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate infoCAM, the CAM family and any Captum attribution on a dataset",
        description=__doc__.split("\n\n")[1],
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``evaluate`` (shared with the speed benchmark)."""
    _data_arguments(parser.add_argument_group("data"))
    _model_arguments(parser.add_argument_group("model"))
    _method_arguments(parser.add_argument_group("methods and protocol"))
    _run_arguments(parser.add_argument_group("run"))


def _data_arguments(data: argparse._ArgumentGroup) -> None:
    """Which dataset, split and images."""
    data.add_argument(
        "--dataset",
        required=True,
        choices=("cub", "tiny-imagenet", "wsol-metadata", "synthetic"),
        help="dataset layout",
    )
    data.add_argument(
        "--data-root",
        required=True,
        type=Path,
        help="dataset folder (wsol-metadata: the folder with one metadata folder per split)",
    )
    data.add_argument(
        "--split",
        help="split to evaluate (default: test; val for tiny-imagenet)",
    )
    data.add_argument(
        "--image-root", type=Path, help="image folder of the wsol-metadata layout"
    )
    data.add_argument("--limit", type=int, help="evaluate only the first N images")


def _model_arguments(model: argparse._ArgumentGroup) -> None:
    """Which model and weights."""
    model.add_argument(
        "--model",
        required=True,
        help="resnet50, vgg16-gap, efficientnet-lite0, small-cnn, or a torchvision classifier "
        "with a GAP -> Linear head (densenet121, efficientnet_b0, mobilenet_v2, ...)",
    )
    model.add_argument("--checkpoint", type=Path, help="weights: a `wsol-bench train` checkpoint")
    model.add_argument(
        "--weights", help="torchvision published weights (IMAGENET1K_V1, DEFAULT); downloads"
    )
    model.add_argument(
        "--random-init",
        action="store_true",
        help="evaluate randomly initialised weights, a smoke test whose numbers mean nothing "
        "(without --checkpoint or --weights, every model but efficientnet-lite0 needs it); the "
        "results and the report say so",
    )
    model.add_argument(
        "--class-map",
        choices=("imagenet1k",),
        help="evaluate an ImageNet-1k classifier on a dataset of ImageNet-1k classes "
        "(Tiny-ImageNet): predictions and maps use the mapped logits only",
    )


def _method_arguments(method: argparse._ArgumentGroup) -> None:
    """Which methods, under which protocol."""
    method.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help="comma-separated: cam, infocam, infocam+ (one forward pass); gradcam, gradcam++, "
        "xgradcam, layercam (+ one shared backward); scorecam (masked forward passes); or a "
        "dotted path package.module.Class to a Captum attribution, layer level "
        "(captum.attr.LayerGradientXActivation) or input level (captum.attr.IntegratedGradients, "
        "Saliency, InputXGradient, GuidedBackprop, GuidedGradCam, Occlusion, DeepLift, "
        "GradientShap); NAME+smoothgrad, NAME+smoothgrad_sq or NAME+vargrad wraps a class in "
        f"Captum's NoiseTunnel (default: {DEFAULT_METHODS})",
    )
    method.add_argument(
        "--method-option",
        action="append",
        default=[],
        metavar="NAME.KEY=VALUE",
        help="an option of one method's constructor or attribute() call, NAME written as in "
        "--methods; VALUE is an int, float, true/false/none, a tuple 3,32,32 or text "
        "(repeatable; e.g. scorecam.batch_size=64, captum.attr.IntegratedGradients.n_steps=32, "
        "captum.attr.Saliency+smoothgrad.nt_samples=8). Defaults: IntegratedGradients and "
        "DeepLift baselines zeros, GradientShap baselines zeros and the batch's mean image, "
        "Occlusion window (C, H/7, W/7) with stride (C, H/14, W/14), NoiseTunnel "
        "nt_samples_batch_size 1, IntegratedGradients internal_batch_size = --batch-size",
    )
    method.add_argument(
        "--input-reduction",
        default="sum-abs",
        choices=("sum-abs", "sum", "max-abs", "l2"),
        help="how an input-level attribution (B, 3, H, W) becomes one map per image, over the "
        "colour channels: sum of absolute values (default, as usual for saliency maps), sum, "
        "max of absolute values, or L2 norm",
    )
    method.add_argument(
        "--protocol",
        default="wsoleval",
        choices=("wsoleval", "paper", "exact"),
        help="wsoleval: Choe et al. 2020 (224 px resize, many thresholds); paper: the infoCAM "
        "authors' code (256 -> crop 224, or Tiny-ImageNet at 64 px); exact: wsoleval with "
        "pixel-exact box mapping (default: wsoleval)",
    )
    method.add_argument(
        "--image-size",
        type=int,
        help="frame side in pixels (default: the model's input size, 224 for the standard "
        "backbones, 64 for small-cnn; under --protocol paper the protocol's)",
    )
    method.add_argument(
        "--window",
        type=int,
        help="infoCAM region size (default: wsoleval 3; paper 4 on CUB, 3 on Tiny-ImageNet)",
    )
    method.add_argument(
        "--padding",
        choices=("same", "full"),
        help="infoCAM region padding (default: wsoleval same, paper full)",
    )


def _run_arguments(run_group: argparse._ArgumentGroup) -> None:
    """How the run executes: batches, workers, device, saving, gallery, output."""
    run_group.add_argument("--batch-size", type=int, default=32, help="images per batch")
    run_group.add_argument(
        "--num-workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="data-loading worker processes (default: min(4, CPUs))",
    )
    run_group.add_argument(
        "--box-workers",
        type=int,
        default=0,
        help="threads for the box sweeps of the metrics, one CPU core each "
        "(default: 0, in the main thread)",
    )
    run_group.add_argument("--amp", action="store_true", help="autocast the forward pass")
    run_group.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    run_group.add_argument("--seed", type=int, default=0, help="seed before building the model")
    run_group.add_argument(
        "--save-every",
        type=int,
        default=50,
        help="save the resumable state every N batches, and whenever 10 s have passed since the "
        "last save (default: 50)",
    )
    run_group.add_argument(
        "--gallery", type=int, default=4, help="sample images in the report gallery (0: none)"
    )
    run_group.add_argument(
        "--bootstrap-resamples", type=int, default=1000, metavar="B",
        help="resamples of the images for the 95%% intervals (seeded with --seed; default 1000)",
    )
    run_group.add_argument(
        "--overwrite", action="store_true", help="replace a run of another configuration"
    )
    run_group.add_argument("--output", required=True, type=Path, help="run folder (RUN_DIR)")


def options_from_args(args: argparse.Namespace) -> EvaluateOptions:
    """Build :class:`evaluation.runs.options.EvaluateOptions` from parsed arguments."""
    from evaluation.runs.options import EvaluateOptions

    return EvaluateOptions(
        dataset=args.dataset,
        data_root=args.data_root,
        split=args.split or _DEFAULT_SPLITS[args.dataset],
        model=args.model,
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
        output=args.output,
        method_options=tuple(args.method_option),
        input_reduction=args.input_reduction,
        protocol=args.protocol,
        checkpoint=args.checkpoint,
        weights=args.weights,
        random_init=args.random_init,
        image_root=args.image_root,
        image_size=args.image_size,
        class_map=args.class_map,
        limit=args.limit,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        box_workers=args.box_workers,
        amp=args.amp,
        device=args.device,
        window=args.window,
        padding=args.padding,
        seed=args.seed,
        overwrite=args.overwrite,
        save_every=args.save_every,
        gallery_samples=args.gallery,
        gallery_extremes=1 if args.gallery > 0 else 0,
        bootstrap_resamples=args.bootstrap_resamples,
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate, write the reports and print the table (rank 0 only under torchrun)."""
    from evaluation.reports.markdown import format_table
    from evaluation.reports.writer import paired_methods, write_reports
    from evaluation.runs.runner import evaluate

    options = options_from_args(args)
    results = evaluate(options)
    if not results:
        return 0
    markdown, html = write_reports(options.output)
    print(format_table(results, paired_methods(options.output, results)))
    print(f"results: {options.output / 'results.json'}")
    print(f"reports: {markdown}  {html}")
    return 0
