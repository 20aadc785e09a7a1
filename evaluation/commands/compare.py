"""``wsol-bench compare``: several evaluation runs in one report."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``compare`` subcommand."""
    parser = subparsers.add_parser(
        "compare",
        help="put several runs in one report (compare.md, compare.html)",
        description=(
            "Put several `wsol-bench evaluate` runs (models, datasets, protocols) in one report: "
            "one row per (run, method), every value with its 95%% interval. Methods evaluated "
            "on the same images are compared in pairs: the difference with its paired bootstrap "
            "interval (McNemar's exact test for fixed-threshold hit rates), the significant "
            "ones marked, and ranks with ties. Runs that differ in dataset, split, protocol, "
            "box convention, frame or image count are not comparable: they get separate "
            "tables, and the report says so; runs on different images are never paired."
        ),
    )
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR",
                        help="output folders of wsol-bench evaluate")
    parser.add_argument("--output", type=Path, default=Path("."),
                        help="folder for compare.md and compare.html (default: the current one)")
    parser.add_argument("--bootstrap-resamples", type=int, default=1000, metavar="B",
                        help="resamples of the paired bootstrap (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the resamples (default: 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the comparison, print the Markdown and both paths."""
    from evaluation.reports.writer import compare
    from evaluation.statistics.bootstrap import BootstrapSettings

    bootstrap = BootstrapSettings(args.bootstrap_resamples, args.seed)
    markdown_path, html_path = compare(args.run_dirs, args.output, bootstrap)
    print(markdown_path.read_text(encoding="utf-8").rstrip())
    print(f"report: {markdown_path}")
    print(f"report: {html_path}")
    return 0
