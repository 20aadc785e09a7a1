"""Report files: ``report.md`` and ``report.html`` of a run, ``compare.md`` and ``.html`` of runs.

:func:`write_reports` reads ``RUN_DIR/results.json`` (and ``RUN_DIR/gallery.npz`` and
``RUN_DIR/records.npz`` when the results name them), all written by ``wsol-bench evaluate``, pairs
the run's methods on its images (:mod:`evaluation.reports.significance`) and writes
``RUN_DIR/report.md`` (:mod:`evaluation.reports.markdown`) and ``RUN_DIR/report.html``
(:mod:`evaluation.reports.html`) atomically. :func:`compare` puts several runs in one report;
runs that differ in dataset, split, protocol, box convention, frame or image count are not
comparable and get separate tables; within a table, rows are paired (and their differences
tested) only where their runs evaluated the same images. The fields read are listed in
:mod:`evaluation.reports.data`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigurationError
from evaluation.io import atomic_write_text
from evaluation.reports.data import (
    columns_for,
    group_runs,
    load_gallery,
    load_results,
    method_rows,
    run_labels,
)
from evaluation.reports.html import render_compare_html, render_html
from evaluation.reports.markdown import render_compare_markdown, render_markdown
from evaluation.reports.significance import PairedRows, pair_rows, read_records
from evaluation.runs.schema import REPORT_FILES
from evaluation.statistics.bootstrap import BootstrapSettings
from evaluation.statistics.records import ImageRecords


def run_bootstrap(results: Mapping[str, Any]) -> BootstrapSettings:
    """The resamples and seed the run's own intervals used (1000 and seed 0 if it names none)."""
    for metrics in results["methods"].values():
        drawn = metrics.get("interval")
        if isinstance(drawn, dict) and "resamples" in drawn:
            return BootstrapSettings(int(drawn["resamples"]), int(drawn.get("seed", 0)),
                                     float(drawn.get("level", 0.95)))
    return BootstrapSettings()


def _images_key(results: Mapping[str, Any]) -> str | None:
    entry = results.get("records")
    return entry.get("image_ids_sha256") if isinstance(entry, dict) else None


def paired_methods(run_dir: str | Path, results: Mapping[str, Any]) -> list[PairedRows]:
    """The run's methods compared on its images (``[]`` without records or with one method)."""
    records = read_records(run_dir, results)
    rows = [{**row, "label": None} for row in method_rows(results)]
    return pair_rows(
        rows, [records.get(row["method"]) for row in rows],
        [_images_key(results) or "run"] * len(rows), run_bootstrap(results),
    )


def write_reports(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``run_dir`` (atomically).

    Args:
        run_dir: A ``wsol-bench evaluate`` output folder (``results.json``, ``gallery.npz``,
            ``records.npz``).

    Returns:
        The paths of ``report.md`` and ``report.html``.

    Raises:
        ConfigurationError, DataFormatError, MissingFilesError: See
            :func:`~evaluation.reports.data.load_results`,
            :func:`~evaluation.reports.data.load_gallery` and
            :func:`~evaluation.reports.significance.read_records`.
    """
    run = Path(run_dir)
    results = load_results(run)
    gallery = load_gallery(run, results)
    paired = paired_methods(run, results)
    markdown_path, html_path = (run / name for name in REPORT_FILES)
    atomic_write_text(markdown_path, render_markdown(results, paired))
    atomic_write_text(html_path, render_html(results, gallery, paired))
    return markdown_path, html_path


def compare(
    run_dirs: Sequence[str | Path],
    output_dir: str | Path,
    bootstrap: BootstrapSettings | None = None,
) -> tuple[Path, Path]:
    """Write ``compare.md`` and ``compare.html`` for several runs into ``output_dir``.

    One row per (run, method). Runs are grouped by what makes numbers comparable (dataset, split,
    protocol, box convention, frame, image count); each group has its own table. Within a group,
    rows whose runs evaluated the same images (the same ``image_ids_sha256``) are compared in
    pairs: paired bootstrap intervals of their differences, McNemar's test for fixed-threshold
    hit rates, ranks; runs on other images are never paired, and the report says so.

    Args:
        run_dirs: ``wsol-bench evaluate`` output folders (at least one).
        output_dir: Where to write (created).
        bootstrap: Resamples, seed and level of the paired comparisons (default: 1000, 0, 95%).

    Returns:
        The paths of ``compare.md`` and ``compare.html``.

    Raises:
        ConfigurationError: No run folder given, or one is not a run (see :func:`load_results`).
        DataFormatError: A ``results.json`` or ``records.npz`` is malformed.
    """
    paths = [Path(p) for p in run_dirs]
    if not paths:
        raise ConfigurationError("compare needs at least one run folder")
    settings = bootstrap or BootstrapSettings()
    runs = [load_results(p) for p in paths]
    records = [read_records(p, r) for p, r in zip(paths, runs, strict=True)]
    labels = run_labels(paths)
    groups = group_runs(runs, labels)
    columns = [c for c in columns_for(runs) if c.kind != "taus" and c.kind != "tau"]
    paired, notes = [], []
    for group in groups:
        by_label = {labels[i]: i for i in group.runs}
        row_records: list[ImageRecords | None] = []
        keys: list[str | None] = []
        for row in group.rows:
            index = by_label[row["run"]]
            row_records.append(records[index].get(row["method"]))
            keys.append(_images_key(runs[index]))
        paired.append(pair_rows(group.rows, row_records, keys, settings))
        notes.append(_unpaired_note([labels[i] for i in group.runs],
                                    [_images_key(runs[i]) for i in group.runs],
                                    [bool(records[i]) for i in group.runs]))
    output = Path(output_dir)
    markdown_path, html_path = output / "compare.md", output / "compare.html"
    atomic_write_text(markdown_path,
                      render_compare_markdown(runs, paths, labels, groups, columns, paired, notes))
    atomic_write_text(html_path,
                      render_compare_html(runs, paths, labels, groups, columns, paired, notes))
    return markdown_path, html_path


def _unpaired_note(labels: Sequence[str], keys: Sequence[str | None],
                   has_records: Sequence[bool]) -> str:
    """A sentence naming the runs of a group that cannot be paired with the others ("" if none)."""
    without = [label for label, ok in zip(labels, has_records, strict=True) if not ok]
    sets = {key for key, ok in zip(keys, has_records, strict=True) if ok}
    parts = []
    if without:
        parts.append(f"{', '.join(without)} kept no per-image records (a run of an older "
                     "wsol-bench): its rows are not tested against the others")
    if len(sets) > 1:
        parts.append("these runs evaluated different images (their image lists differ), so "
                     "rows of different runs are never paired: only methods of runs on the same "
                     "images are compared, and no best value is marked across them")
    return ("Not paired: " + "; ".join(parts) + ".") if parts else ""
