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
            "one row per (run, method), the best value per column marked. Runs that differ in "
            "dataset, split, protocol, box convention, frame or image count are not comparable: "
            "they get separate tables, and the report says so."
        ),
    )
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR",
                        help="output folders of wsol-bench evaluate")
    parser.add_argument("--output", type=Path, default=Path("."),
                        help="folder for compare.md and compare.html (default: the current one)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the comparison, print the Markdown and both paths."""
    from evaluation.reports.writer import compare

    markdown_path, html_path = compare(args.run_dirs, args.output)
    print(markdown_path.read_text(encoding="utf-8").rstrip())
    print(f"report: {markdown_path}")
    print(f"report: {html_path}")
    return 0
