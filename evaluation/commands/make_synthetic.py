"""``wsol-bench make-synthetic``: write a synthetic WSOL dataset in the CUB or Tiny-ImageNet layout.

Objects whose class is their shape, texture and colour, a context object shared by all classes
beside each object, cluttered backgrounds and some greyscale images, with tight boxes and per-image
masks (``segmentations/``); see :mod:`evaluation.datasets.synthetic`. The same arguments write the
same files.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``make-synthetic`` subcommand (defaults: those of :class:`SyntheticSpec`)."""
    from evaluation.datasets.synthetic import SyntheticSpec

    defaults = SyntheticSpec()
    parser = subparsers.add_parser(
        "make-synthetic",
        help="write a synthetic WSOL dataset in the CUB or Tiny-ImageNet layout",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument(
        "--layout", choices=("cub", "tiny-imagenet"), default=defaults.layout, help="on-disk layout"
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="new (or empty) folder to write the dataset into"
    )
    parser.add_argument(
        "--classes", type=int, default=defaults.classes, help="number of classes (1-288)"
    )
    parser.add_argument(
        "--images-per-class",
        type=int,
        default=defaults.images_per_class,
        help="images per class over both splits",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=defaults.size,
        help="image side in pixels (CUB: the longer side)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=defaults.test_fraction,
        help="share of each class's images in the test (CUB) or val (Tiny) split",
    )
    parser.add_argument(
        "--greyscale-fraction",
        type=float,
        default=defaults.greyscale_fraction,
        help="share of greyscale images",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate the tree and print a one-line summary."""
    import time

    from evaluation.datasets.synthetic import SyntheticSpec, make_synthetic
    from evaluation.paths import check_output_folder

    check_output_folder(args.out, "--out")
    spec = SyntheticSpec(
        layout=args.layout,
        classes=args.classes,
        images_per_class=args.images_per_class,
        size=args.size,
        seed=args.seed,
        test_fraction=args.test_fraction,
        greyscale_fraction=args.greyscale_fraction,
    )
    started = time.perf_counter()
    out = make_synthetic(args.out, spec)
    test = "val" if spec.layout == "tiny-imagenet" else "test"
    print(
        f"wrote {spec.classes * spec.images_per_class} images ({spec.classes} classes, "
        f"{spec.test_per_class} per class in {test}) in the {spec.layout} layout to {out} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0
