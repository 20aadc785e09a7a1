"""``wsol-bench report``: write report.md and report.html of an evaluation run."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="write RUN_DIR/report.md and a self-contained RUN_DIR/report.html",
        description=(
            "Read RUN_DIR/results.json (and gallery.npz) of `wsol-bench evaluate` and write "
            "RUN_DIR/report.md (the metrics table) and RUN_DIR/report.html (the table, "
            "BoxAcc-vs-threshold curves and a gallery of maps and boxes; no external "
            "resources). `evaluate` writes both itself; use this to rewrite them."
        ),
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="output folder of wsol-bench evaluate")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the reports, print the table and both paths."""
    from evaluation.reports.data import load_results
    from evaluation.reports.markdown import format_table
    from evaluation.reports.writer import paired_methods, write_reports

    markdown_path, html_path = write_reports(args.run_dir)
    results = load_results(args.run_dir)
    print(format_table(results, paired_methods(args.run_dir, results)))
    print(f"report: {markdown_path}")
    print(f"report: {html_path}")
    return 0
