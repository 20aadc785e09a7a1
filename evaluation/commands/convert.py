"""``wsol-bench convert``: write a raw-layout dataset split in the reference metadata format.

The output folder gets ``image_ids.txt``, ``class_labels.txt``, ``image_sizes.txt`` and
``localization.txt`` (boxes), each written atomically, so that score maps evaluated elsewhere and
``wsol-bench score`` share one ground truth. Image ids are paths relative to the image root: CUB's
``images/`` folder (``001.Black_footed_Albatross/...jpg``, as wsolevaluation's metadata) or the
Tiny-ImageNet root (``val/images/val_0.JPEG``). CUB boxes follow the field's rule
``x1 = min(int(x + w), W - 1)`` (see :mod:`evaluation.datasets.records`).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``convert`` subcommand."""
    parser = subparsers.add_parser(
        "convert",
        help="write a dataset split in the reference (wsolevaluation) metadata format",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument(
        "--dataset",
        required=True,
        choices=("cub", "tiny-imagenet", "synthetic"),
        help="raw layout of --data-root (synthetic: a make-synthetic tree of either layout)",
    )
    parser.add_argument(
        "--data-root",
        required=True,
        type=Path,
        help="dataset folder as distributed (CUB_200_2011/ or tiny-imagenet-200/)",
    )
    parser.add_argument(
        "--split",
        required=True,
        help="split to convert: cub train|test|all|paper-val|paper-test, tiny-imagenet train|val",
    )
    parser.add_argument(
        "--output", required=True, type=Path, help="folder to write the four metadata files into"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read the split, write the metadata, print what was written and the image root."""
    from evaluation.datasets.cub import read_cub
    from evaluation.datasets.tiny_imagenet import read_tiny_imagenet
    from evaluation.datasets.wsol_metadata import write_wsol_metadata
    from evaluation.errors import ConfigurationError
    from evaluation.paths import check_output_folder, is_file, is_folder
    from evaluation.progress import Progress

    root: Path = args.data_root
    if not is_folder(root, "--data-root"):
        raise ConfigurationError(f"--data-root {root} is not a folder")
    check_output_folder(args.output, "--output")
    layout = args.dataset
    if layout == "synthetic":
        layout = "cub" if is_file(root / "images.txt", "annotation files") else "tiny-imagenet"
    with Progress(None, "convert: image sizes", "images", "img") as progress:
        if layout == "cub":
            index, image_root = read_cub(root, args.split, progress), root / "images"
        else:
            index, image_root = read_tiny_imagenet(root, args.split, progress), root
    write_wsol_metadata(index, args.output, image_root)
    boxes = sum(len(record.boxes) for record in index.records)
    print(
        f"wrote {len(index.records)} images, {boxes} boxes, {index.num_classes} classes of "
        f"{args.dataset} {args.split} to {args.output} (image root: {image_root})"
    )
    return 0
