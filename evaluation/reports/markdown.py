"""The Markdown side of the reports: the results table, a run's report, a comparison.

The table of a run has one row per method (Top-1 Cls, GT-known / Top-1 / Top-5 Loc at the fixed
threshold, MaxBoxAcc, MaxBoxAccV2, images/s beside them, MaxBoxAccV2's per-IoU parts, the best
thresholds) with the best value per column in bold (:func:`evaluation.reports.data.best_rows`);
the report adds what was measured, a note on how to read it, warnings and the environment. A
comparison has one table per group of comparable runs. The prose is shared with the HTML
(:mod:`evaluation.reports.data`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

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
    how_to_read,
    map_warnings,
    method_rows,
)
from evaluation.reports.figures import method_label

__all__ = ["format_table", "render_compare_markdown", "render_markdown"]


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
