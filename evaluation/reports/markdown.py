"""Reports of evaluation runs: ``report.md`` + ``report.html`` per run, ``compare.*`` for several.

:func:`write_reports` reads ``RUN_DIR/results.json`` (and ``RUN_DIR/gallery.npz`` when the results
name one), both written by ``wsol-bench evaluate``, and writes ``RUN_DIR/report.md`` and
``RUN_DIR/report.html``: a table of every method (Top-1 Cls, GT-known / Top-1 / Top-5 Loc at the
fixed threshold, MaxBoxAcc, MaxBoxAccV2 and its per-IoU parts, the best thresholds, images/s) with
the best value per column marked, a note on how to read it, BoxAcc-vs-threshold curves and a
gallery of maps and boxes (HTML only). :func:`compare` puts several runs in one report; runs that
differ in dataset, split, protocol, box convention, frame or image count are not comparable and
get separate tables, each with its own best values. The fields read are listed in
:mod:`evaluation.reports.data`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.errors import ConfigurationError
from evaluation.io import atomic_write_text
from evaluation.reports.data import (
    Column,
    RunGroup,
    best_rows,
    best_tau_table,
    columns_for,
    comparability_warning,
    describe_dataset,
    describe_model,
    describe_protocol,
    fixed_threshold,
    group_runs,
    how_to_read,
    load_gallery,
    load_results,
    map_warnings,
    method_rows,
    run_labels,
)
from evaluation.reports.figures import method_label
from evaluation.reports.html import render_compare_html, render_html

__all__ = [
    "compare",
    "format_table",
    "load_results",
    "render_compare_markdown",
    "render_markdown",
    "write_reports",
]


def _markdown_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], lead: Sequence[tuple[str, str]]
) -> str:
    """A Markdown table: ``lead`` = (title, row key) text columns, then ``columns``."""
    best = {c.key: best_rows(rows, c) for c in columns}
    header = [title for title, _ in lead] + [c.title for c in columns]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---"] * len(lead) + ["---:"] * len(columns)) + "|",
    ]
    for i, row in enumerate(rows):
        cells = [str(row[key]) for _, key in lead]
        for column in columns:
            text = column.format(row.get(column.key))
            cells.append(f"**{text}**" if i in best[column.key] else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_table(results: Mapping[str, Any]) -> str:
    """The Markdown results table of one run (method x metrics, best per column in bold)."""
    rows = [{**row, "label": method_label(row["method"])} for row in method_rows(results)]
    return _markdown_table(rows, columns_for(results), [("Method", "label")])


def render_markdown(results: Mapping[str, Any]) -> str:
    """The Markdown report of one run: what was measured, the table, the notes."""
    tau = fixed_threshold(results)
    lines = [
        f"# WSOL report: {results['model']['name']} on {results['dataset']['name']}",
        "",
        f"- Dataset: {describe_dataset(results)}",
        f"- Model: {describe_model(results)}",
        f"- Protocol: {describe_protocol(results)}",
        f"- Fixed threshold: τ = {tau:g} (GT-known, Top-1 and Top-5 Loc)"
        if tau is not None else "- Fixed threshold: not reported",
        "",
        format_table(results),
        "",
        "Values in % (img/s: images per second); the best value per column in bold. τ V1: the "
        "threshold of MaxBoxAcc; τ V2: the thresholds of MaxBoxAccV2's parts. "
        "BoxAcc-vs-threshold curves and a gallery of maps and boxes: report.html.",
    ]
    columns, rows = best_tau_table(method_rows(results))
    if rows:
        lines += ["", "## Classical metrics at the best threshold", "",
                  _markdown_table(rows, columns, [("Method", "label")])]
    lines += ["", "## How to read this", ""]
    for paragraph in how_to_read(results):
        lines += [paragraph, ""]
    notes = map_warnings(results)
    if notes:
        lines += ["## Warnings", ""] + [f"- {note}" for note in notes] + [""]
    environment = results.get("environment") or {}
    if environment:
        lines += ["## Environment", ""]
        lines += [f"- {key}: {value}" for key, value in environment.items()]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_reports(run_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``run_dir`` (atomically).

    Args:
        run_dir: A ``wsol-bench evaluate`` output folder (``results.json``, ``gallery.npz``).

    Returns:
        The paths of ``report.md`` and ``report.html``.

    Raises:
        ConfigurationError, DataFormatError, MissingFilesError: See :func:`load_results` and
            :func:`load_gallery`.
    """
    run = Path(run_dir)
    results = load_results(run)
    gallery = load_gallery(run, results)
    markdown_path, html_path = run / "report.md", run / "report.html"
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


def render_compare_markdown(
    runs: Sequence[Mapping[str, Any]],
    paths: Sequence[Path],
    labels: Sequence[str],
    groups: Sequence[RunGroup],
    columns: Sequence[Column],
) -> str:
    """The Markdown comparison: a warning when groups are not comparable, a table per group."""
    lines = ["# WSOL comparison", "", f"{len(runs)} runs: " + ", ".join(labels), ""]
    warning = comparability_warning(runs, groups)
    if warning:
        lines += [f"> **Not comparable across groups.** {warning}", ""]
    lead = [("Run", "run"), ("Model", "model"), ("Method", "label")]
    for number, group in enumerate(groups, start=1):
        heading = f"Group {number}: " if len(groups) > 1 else ""
        lines += [f"## {heading}{group.title}", "", group.detail, "",
                  _markdown_table(group.rows, columns, lead), ""]
    lines += ["Values in % (img/s: images per second); the best value per column (within a "
              "group) in bold.", "",
              "## Runs", ""]
    lines += [f"- {label}: {path} · {describe_model(results)}"
              for label, path, results in zip(labels, paths, runs, strict=True)]
    return "\n".join(lines) + "\n"
