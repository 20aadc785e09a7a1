"""``wsol-bench check-data``: decode every image of a split and list the unreadable ones.

Reads the split's annotation files (a malformed line, a missing file or image is the usual
one-line error, exit status 2), then decodes every image (and mask) in DataLoader worker
processes, as evaluate and train would, with a progress bar on stderr. Prints one line per
unreadable image, "<path>: <reason>" (truncated, corrupt, not an image, another size than
annotated, not readable by this user), then a summary; exits with status 0 when every image
decodes and 1 when some do not. Run it before a long evaluation so that it does not stop at
image 5,000.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``check-data`` subcommand."""
    parser = subparsers.add_parser(
        "check-data",
        help="decode every image of a split; list the unreadable ones (exit 1 if any)",
        description=__doc__.split("\n\n")[1],
    )
    parser.add_argument(
        "--dataset",
        required=True,
        choices=("cub", "tiny-imagenet", "wsol-metadata", "synthetic"),
        help="dataset layout",
    )
    parser.add_argument("--data-root", required=True, type=Path, help="dataset folder")
    parser.add_argument(
        "--split",
        required=True,
        help="split: cub train|test|all|paper-val|paper-test, tiny-imagenet train|val, "
        "wsol-metadata: a metadata folder under --data-root",
    )
    parser.add_argument("--image-root", type=Path, help="image folder (wsol-metadata only)")
    parser.add_argument(
        "--num-workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="decoding processes (default: min(4, CPUs))",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check the split; print the unreadable images and a summary; 0 if none, else 1."""
    from torch.utils.data import DataLoader

    from evaluation.datasets.check import DecodeCheck
    from evaluation.datasets.loader import read_index
    from evaluation.errors import ConfigurationError, WSOLError
    from evaluation.progress import Progress

    if args.num_workers < 0:
        raise ConfigurationError(f"--num-workers must be >= 0, got {args.num_workers}")
    unreadable: list[str] = []

    def report(message: str) -> None:
        unreadable.append(message)
        print(message, flush=True)

    def unreadable_header(error: WSOLError) -> None:
        report(str(error))

    with Progress(None, "check-data: sizes", "images", "img", transient=True) as sizes:
        index = read_index(
            args.dataset, args.data_root, args.split, args.image_root, sizes, unreadable_header
        )
    left_out = len(unreadable)  # images whose header could not be read are not in the index
    loader = DataLoader(
        DecodeCheck(index), batch_size=16, num_workers=args.num_workers, collate_fn=list
    )
    with Progress(len(index), "check-data", "images", "img") as progress:
        for results in loader:
            for _, message in results:
                if message is not None:
                    report(message)
            progress.update(len(results))
    outcome = f"{len(unreadable):,} unreadable" if unreadable else "every image decodes"
    print(f"checked {len(index) + left_out:,} images of {args.dataset} {args.split}: {outcome}")
    return 1 if unreadable else 0
