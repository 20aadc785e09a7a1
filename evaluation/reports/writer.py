"""Report files: ``report.md`` and ``report.html`` of a run, ``compare.md`` and ``.html`` of runs.

:func:`write_reports` reads ``RUN_DIR/results.json`` (and ``RUN_DIR/gallery.npz`` when the results
name one), both written by ``wsol-bench evaluate``, and writes ``RUN_DIR/report.md``
(:mod:`evaluation.reports.markdown`) and ``RUN_DIR/report.html`` (:mod:`evaluation.reports.html`)
atomically. :func:`compare` puts several runs in one report; runs that differ in dataset, split,
protocol, box convention, frame or image count are not comparable and get separate tables, each
with its own best values. The fields read are listed in :mod:`evaluation.reports.data`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from evaluation.errors import ConfigurationError
from evaluation.io import atomic_write_text
from evaluation.reports.data import columns_for, group_runs, load_gallery, load_results, run_labels
from evaluation.reports.html import render_compare_html, render_html
from evaluation.reports.markdown import render_compare_markdown, render_markdown
from evaluation.runs.schema import REPORT_FILES


def write_reports(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``run_dir`` (atomically).

    Args:
        run_dir: A ``wsol-bench evaluate`` output folder (``results.json``, ``gallery.npz``).

    Returns:
        The paths of ``report.md`` and ``report.html``.

    Raises:
        ConfigurationError, DataFormatError, MissingFilesError: See
            :func:`~evaluation.reports.data.load_results` and
            :func:`~evaluation.reports.data.load_gallery`.
    """
    run = Path(run_dir)
    results = load_results(run)
    gallery = load_gallery(run, results)
    markdown_path, html_path = (run / name for name in REPORT_FILES)
    atomic_write_text(markdown_path, render_markdown(results))
    atomic_write_text(html_path, render_html(results, gallery))
    return markdown_path, html_path


def compare(run_dirs: Sequence[str | Path], output_dir: str | Path) -> tuple[Path, Path]:
    """Write ``compare.md`` and ``compare.html`` for several runs into ``output_dir``.

    One row per (run, method). Runs are grouped by what makes numbers comparable (dataset, split,
    protocol, box convention, frame, image count); each group has its own table, with the best
    value per column marked within it, and the report says when there is more than one group.

    Args:
        run_dirs: ``wsol-bench evaluate`` output folders (at least one).
        output_dir: Where to write (created).

    Returns:
        The paths of ``compare.md`` and ``compare.html``.

    Raises:
        ConfigurationError: No run folder given, or one is not a run (see :func:`load_results`).
        DataFormatError: A ``results.json`` is malformed.
    """
    paths = [Path(p) for p in run_dirs]
    if not paths:
        raise ConfigurationError("compare needs at least one run folder")
    runs = [load_results(p) for p in paths]
    labels = run_labels(paths)
    groups = group_runs(runs, labels)
    columns = [c for c in columns_for(runs) if c.ranked]
    output = Path(output_dir)
    markdown_path, html_path = output / "compare.md", output / "compare.html"
    atomic_write_text(markdown_path, render_compare_markdown(runs, paths, labels, groups, columns))
    atomic_write_text(html_path, render_compare_html(runs, paths, labels, groups, columns))
    return markdown_path, html_path
