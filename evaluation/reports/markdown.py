"""The Markdown side of the reports: the results tables, a run's report, a comparison.

The table of a run has one row per method (Top-1 Cls, GT-known / Top-1 / Top-5 Loc at the fixed
threshold, MaxBoxAcc, MaxBoxAccV2 and its per-IoU parts, the best thresholds, images/s), each
value with its 95% interval; a value is in bold when the paired comparisons support it as the
best (:func:`evaluation.reports.significance.best_marks`). The attribution metrics have their own
table. The report adds what was measured, the settings that change the numbers, what is
significant, the ranks and the paired differences, a note on how to read it, warnings and the
environment. A comparison has the same per group of comparable runs. The prose is shared with
the HTML (:mod:`evaluation.reports.data`, :mod:`evaluation.reports.significance`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.reports.data import (
    Column,
    RunGroup,
    attribution_columns,
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
    settings_facts,
)
from evaluation.reports.figures import method_label
from evaluation.reports.significance import (
    PairedRows,
    best_marks,
    difference_rows,
    metric_name,
    rank_rows,
    significance_paragraphs,
)
from evaluation.statistics.paired import PairedDifference

__all__ = ["format_table", "render_compare_markdown", "render_markdown"]

DIFFERENCE_METRICS = ("maxboxacc_v2", "maxboxacc", "gt_known_loc", "top1_loc", "top1_cls", "pxap",
                      "pointing_game", "energy_pointing_game", "relevance_mass_accuracy", "auc")
"""The metrics of the paired-differences tables."""


def _markdown_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    lead: Sequence[tuple[str, str]],
    paired: Sequence[PairedRows] = (),
) -> str:
    """A Markdown table: ``lead`` = (title, row key) text columns, then ``columns``.

    Values show their interval where the row has one; supported best values are in bold.
    """
    marks = {c.key: best_marks(len(rows), c.key, paired) if c.ranked else set() for c in columns}
    header = [title for title, _ in lead] + [c.title for c in columns]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---"] * len(lead) + ["---:"] * len(columns)) + "|",
    ]
    for i, row in enumerate(rows):
        cells = [str(row[key]) for _, key in lead]
        intervals = row.get("intervals") or {}
        for column in columns:
            text = column.format(row.get(column.key), intervals.get(column.key))
            cells.append(f"**{text}**" if i in marks[column.key] else text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _labelled(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{**row, "label": method_label(row["method"])} for row in method_rows(results)]


def format_table(results: Mapping[str, Any], paired: Sequence[PairedRows] = ()) -> str:
    """The Markdown results table of one run (method x metrics, intervals, supported bests)."""
    return _markdown_table(_labelled(results), columns_for(results), [("Method", "label")], paired)


def _difference_cell(found: PairedDifference | None) -> str:
    """``+1.2 [0.4, 2.0]`` (``p = ...`` for McNemar), in bold when significant."""
    if found is None:
        return "–"
    text = f"{found.difference:+.1f} [{found.low:+.1f}, {found.high:+.1f}]"
    if found.p_value is not None:
        text += f" p={found.p_value:.2g}"
    return f"**{text}**" if found.significant else text


def _significance_sections(paired: Sequence[PairedRows], columns: Sequence[Column],
                           unpaired_note: str = "") -> list[str]:
    """What is significant, the rank table and the paired differences, as Markdown lines."""
    lines = ["### What is significant", ""]
    for paragraph in significance_paragraphs(paired, unpaired_note):
        lines += [paragraph, ""]
    for group in paired:
        keys = [c.key for c in columns if c.ranked and c.key in group.comparison.metrics]
        ranks = rank_rows(group, keys)
        lines += ["### Ranks (1 = best; ties share a rank)", "",
                  _plain_table(ranks, [("Method", "label")] + [(metric_name(k), k)
                                                                for k in keys]), ""]
        metrics = [k for k in DIFFERENCE_METRICS if k in group.comparison.metrics]
        differences = difference_rows(group, metrics)
        table = [{"pair": row["pair"], **{k: _difference_cell(row[k]) for k in metrics}}
                 for row in differences]
        lines += ["### Paired differences (percentage points, 95% interval; bold: significant)",
                  "", _plain_table(table, [("Pair", "pair")] + [(metric_name(k), k)
                                                                for k in metrics]), ""]
    return lines


def _plain_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """A Markdown table of ready-made cell texts (``None`` shows ``–``)."""
    lines = ["| " + " | ".join(title for title, _ in columns) + " |",
             "|:---|" + "|".join(["---:"] * (len(columns) - 1)) + "|"]
    for row in rows:
        cells = ["–" if row.get(key) is None else str(row[key]) for _, key in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(results: Mapping[str, Any], paired: Sequence[PairedRows] = ()) -> str:
    """The Markdown report of one run: what was measured, the tables, what is significant."""
    tau = fixed_threshold(results)
    lines = [
        f"# WSOL report: {results['model']['name']} on {results['dataset']['name']}",
        "",
        f"- Dataset: {describe_dataset(results)}",
        f"- Model: {describe_model(results)}",
        f"- Protocol: {describe_protocol(results)}",
        f"- Fixed threshold: τ = {tau:g} (GT-known, Top-1 and Top-5 Loc)"
        if tau is not None else "- Fixed threshold: not reported",
        *[f"- **{title}**: {text}" for title, text in settings_facts(results)],
        "",
        format_table(results, paired),
        "",
        "Values in % with their 95% interval (img/s: images per second); bold: the best value "
        "where the paired comparisons support it. τ V1: the threshold of MaxBoxAcc; τ V2: the "
        "thresholds of MaxBoxAccV2's parts. BoxAcc-vs-threshold curves and a gallery of maps "
        "and boxes: report.html.",
    ]
    rows = _labelled(results)
    attribution = attribution_columns(results)
    if attribution:
        lines += ["", "## Attribution metrics (per image, as Quantus defines them)", "",
                  _markdown_table(rows, attribution, [("Method", "label")], paired)]
    lines += ["", *_significance_sections(paired, columns_for(results) + attribution)]
    columns, tau_rows = best_tau_table(method_rows(results))
    if tau_rows:
        lines += ["## Classical metrics at the best threshold", "",
                  _markdown_table(tau_rows, columns, [("Method", "label")], paired), ""]
    lines += ["## How to read this", ""]
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
    paired: Sequence[Sequence[PairedRows]],
    unpaired_notes: Sequence[str],
) -> str:
    """The Markdown comparison: per group of comparable runs, the tables and paired tests."""
    lines = ["# WSOL comparison", "", f"{len(runs)} runs: " + ", ".join(labels), ""]
    warning = comparability_warning(runs, groups)
    if warning:
        lines += [f"> **Not comparable across groups.** {warning}", ""]
    lead = [("Run", "run"), ("Model", "model"), ("Method", "label")]
    attribution = attribution_columns(runs)
    for number, group in enumerate(groups, start=1):
        heading = f"Group {number}: " if len(groups) > 1 else ""
        lines += [f"## {heading}{group.title}", "", group.detail, "",
                  _markdown_table(group.rows, columns, lead, paired[number - 1]), ""]
        if attribution:
            lines += [_markdown_table(group.rows, attribution, lead, paired[number - 1]), ""]
        lines += _significance_sections(paired[number - 1], [*columns, *attribution],
                                        unpaired_notes[number - 1])
    lines += ["Values in % with their 95% interval; bold: the best value (within a group) where "
              "the paired comparisons support it. Speed is never marked.", "",
              "## Runs", ""]
    for label, path, results in zip(labels, paths, runs, strict=True):
        settings = "; ".join(f"{title}: {text}" for title, text in settings_facts(results))
        lines.append(f"- {label}: {path} · {describe_model(results)}"
                     + (f" · **{settings}**" if settings else ""))
    return "\n".join(lines) + "\n"
