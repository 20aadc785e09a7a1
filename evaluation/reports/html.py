"""The HTML side of the reports: one self-contained page per run or per comparison.

Pages load nothing: the CSS is inline, charts are inline SVG and images base64 JPEG
(:mod:`evaluation.reports.figures`). Table cells show each value, its 95% interval and an error
bar on a scale shared by the column; a green cell marks a best value that the paired
comparisons support (:func:`evaluation.reports.significance.best_marks`). Tables group their
headers (fixed threshold, best threshold, thresholds, speed), show each method in its chart
colour and scroll sideways inside their section when the page is narrower than they are. The
settings that change the numbers stand in the summary cards; "what is significant", the rank
table and the paired differences follow the results.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

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
    metric_paragraphs,
    settings_facts,
    v2_ious,
)
from evaluation.reports.figures import (
    GT_COLOR,
    PRED_COLOR,
    bar_chart_svg,
    curves_svg,
    identical_curves,
    method_color,
    method_label,
    panel_uri,
)
from evaluation.reports.markdown import DIFFERENCE_METRICS
from evaluation.reports.significance import (
    PairedRows,
    best_marks,
    difference_rows,
    metric_name,
    rank_rows,
    significance_paragraphs,
)

__all__ = ["esc", "render_compare_html", "render_html"]

_CSS = """
:root{--fg:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--card:#fff;--accent:#2f6fde;
--best:#e3f5e9;--best-fg:#0b6b37}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.55 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1280px;margin:0 auto;padding:36px 28px 72px}
h1{font-size:27px;line-height:1.25;margin:0 0 6px;letter-spacing:-.01em}
h2{font-size:19px;margin:0 0 12px}
h3{font-size:15px;margin:18px 0 8px}
p{margin:0 0 10px}
.sub{color:var(--muted);margin:0 0 22px}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:10px 24px;
margin:0 0 8px;padding:0}
.facts div{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.facts dt{font-size:11px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.facts dd{margin:2px 0 0;font-weight:600;overflow-wrap:anywhere}
.facts div.setting{background:#fff7e6;border-color:#f0c36d}
section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:22px 26px;
margin:22px 0;min-width:0;max-width:100%}
.scroll{overflow-x:auto;max-width:100%;-webkit-overflow-scrolling:touch}
.ci{display:block;font-size:10.5px;color:var(--muted);font-weight:400}
svg.eb{display:block;margin:2px 0 0 auto}
td.sig{font-weight:700;color:var(--best-fg)}
@media (max-width:640px){main{padding:18px 10px 48px}section{padding:16px 12px}
h1{font-size:22px}}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:13.5px}
table.compact{width:auto;min-width:55%}
th,td{padding:7px 8px;text-align:right;white-space:nowrap;border-bottom:1px solid var(--line)}
th:first-child,td:first-child,th.text,td.text{text-align:left}
thead th{font-size:12px;font-weight:600;color:var(--muted);vertical-align:bottom}
thead tr.groups th{letter-spacing:.04em;font-size:11px;
border-bottom:none;padding-bottom:0;color:#9aa5b1}
thead tr.groups th.g{border-bottom:2px solid var(--line)}
tbody tr:hover{background:#fafbfc}
td.best{background:var(--best);color:var(--best-fg);font-weight:700}
.swatch{display:inline-block;width:10px;height:10px;border-radius:3px;margin-right:8px;
vertical-align:baseline}
.note{background:#eef4ff;border-left:4px solid var(--accent);border-radius:6px;padding:14px 18px;
margin-top:16px;font-size:14px}
.note p:last-child{margin:0}
.warn{background:#fff7e6;border-left:4px solid #f0a500;border-radius:6px;padding:12px 16px;
margin:14px 0;font-size:14px}
.chart svg{width:100%;height:auto}
.chart.narrow{max-width:760px;margin-top:18px}
.legend{display:flex;gap:18px;flex-wrap:wrap;font-size:13px;color:var(--muted);margin:0 0 14px}
.legend i{display:inline-block;width:16px;height:11px;margin-right:6px;vertical-align:middle;
border:2px solid;background:#3e4c59;outline:1px solid #1f2933}
.row{border-top:1px solid var(--line);padding:16px 0 6px}
.row h3{margin:0 0 10px;font-size:14px}
.row h3 small{color:var(--muted);font-weight:400;margin-left:8px}
.panels{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;width:184px;position:relative}
figure img{width:184px;height:184px;object-fit:contain;border-radius:6px;display:block;
background:#111}
figure .badge{position:absolute;top:6px;left:6px}
figcaption{font-size:12.5px;margin-top:5px;white-space:nowrap}
figcaption b{font-weight:600}
.badge{font-size:10.5px;font-weight:700;text-transform:uppercase;letter-spacing:.05em;
border-radius:4px;padding:1px 6px}
.badge.best{background:#dcfce7;color:#166534}.badge.worst{background:#fee2e2;color:#991b1b}
details{margin-top:8px}
summary{cursor:pointer;color:var(--accent)}
pre{background:#f5f7fa;border:1px solid var(--line);border-radius:6px;padding:12px;overflow:auto;
font-size:12.5px}
footer{color:var(--muted);font-size:12.5px;text-align:center;margin-top:26px}
"""


def esc(value: Any) -> str:
    """``value`` as HTML-escaped text."""
    return html.escape(str(value), quote=True)


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n"
        "<footer>Written by wsol-bench (infocam-captum). Self-contained: no external "
        "resources.</footer>\n</main>\n</body>\n</html>\n"
    )


def _facts(items: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in items)
    return f"<dl class=\"facts\">{cells}</dl>"


def _html_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    lead: Sequence[tuple[str, str]],
    order: Sequence[str],
    paired: Sequence[PairedRows] = (),
    compact: bool = False,
) -> str:
    """An HTML table with grouped headers, intervals with error bars, supported bests marked.

    ``lead`` lists the text columns before the metrics as (title, row key); the ``method`` key
    shows the method's colour swatch and display name. A ``compact`` table is only as wide as
    its content.
    """
    marks = {c.key: best_marks(len(rows), c.key, paired) if c.ranked else set() for c in columns}
    groups: list[tuple[str, int]] = []
    for column in columns:
        if groups and groups[-1][0] == column.group:
            groups[-1] = (column.group, groups[-1][1] + 1)
        else:
            groups.append((column.group, 1))
    group_cells = f"<th colspan=\"{len(lead)}\"></th>" + "".join(
        f"<th class=\"g\" colspan=\"{span}\" style=\"text-align:center\">{esc(name)}</th>"
        for name, span in groups
    )
    titles = "".join(f"<th class=\"text\">{esc(t)}</th>" for t, _ in lead)
    titles += "".join(f"<th>{esc(c.title)}</th>" for c in columns)
    scales = {c.key: _scale(rows, c.key) for c in columns}
    body = []
    for i, row in enumerate(rows):
        cells = []
        for _, key in lead:
            if key == "method":
                color = method_color(row["method"], order)
                cells.append(
                    f"<td class=\"text\"><span class=\"swatch\" style=\"background:{color}\">"
                    f"</span>{esc(method_label(row['method']))}</td>"
                )
            else:
                cells.append(f"<td class=\"text\">{esc(row[key])}</td>")
        intervals = row.get("intervals") or {}
        for column in columns:
            value, bounds = row.get(column.key), intervals.get(column.key)
            text = esc(column.format(value))
            if bounds is not None and value is not None and column.kind == "pct":
                text += (f"<span class=\"ci\">[{bounds[0]:.1f}, {bounds[1]:.1f}]</span>"
                         + _error_bar(value, bounds, scales[column.key]))
            marked = i in marks[column.key]
            cells.append(f"<td class=\"best\">{text}</td>" if marked else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    table = "<table class=\"compact\">" if compact else "<table>"
    return (
        f"<div class=\"scroll\">{table}<thead>"
        f"<tr class=\"groups\">{group_cells}</tr><tr>{titles}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _scale(rows: Sequence[Mapping[str, Any]], key: str) -> tuple[float, float] | None:
    """The range of a column's intervals (shared by its error bars), or ``None``."""
    ends = [b for r in rows for b in ((r.get("intervals") or {}).get(key) or [])]
    if not ends:
        return None
    low, high = min(ends), max(ends)
    pad = max(0.5, 0.05 * (high - low))
    return low - pad, high + pad


def _error_bar(value: float, bounds: Sequence[float], scale: tuple[float, float] | None) -> str:
    """A 64 x 8 px inline SVG: the interval as a line, the value as a dot, on the column's scale."""
    if scale is None:
        return ""
    low, high = scale

    def x(v: float) -> float:
        return round(2 + 60 * (v - low) / (high - low), 1)

    return (
        f"<svg class=\"eb\" width=\"64\" height=\"8\" viewBox=\"0 0 64 8\" role=\"img\" "
        f"aria-label=\"95% interval {bounds[0]:.1f} to {bounds[1]:.1f}\">"
        f"<line x1=\"{x(bounds[0])}\" y1=\"4\" x2=\"{x(bounds[1])}\" y2=\"4\" "
        f"stroke=\"#616e7c\" stroke-width=\"1.5\"/>"
        f"<circle cx=\"{x(value)}\" cy=\"4\" r=\"2.2\" fill=\"#1f2933\"/></svg>"
    )


def _significance_html(paired: Sequence[PairedRows], columns: Sequence[Column],
                       unpaired_note: str = "") -> str:
    """What is significant (prose), the rank table and the paired differences table."""
    parts = ["<h3>What is significant</h3>"]
    parts += [f"<p>{esc(p)}</p>" for p in significance_paragraphs(paired, unpaired_note)]
    for group in paired:
        keys = [c.key for c in columns if c.ranked and c.key in group.comparison.metrics]
        head = "".join(f"<th>{esc(metric_name(k))}</th>" for k in keys)
        body = "".join(
            "<tr><td class=\"text\">" + esc(row["label"]) + "</td>"
            + "".join(f"<td class=\"{'sig' if row[k] == 1 else ''}\">{row[k]}</td>" for k in keys)
            + "</tr>"
            for row in rank_rows(group, keys)
        )
        parts.append(
            "<h3>Ranks</h3><p>1 + the number of methods significantly better on the metric; "
            "methods whose difference is within the noise share a rank.</p>"
            f"<div class=\"scroll\"><table><thead><tr><th class=\"text\">Method</th>{head}"
            f"</tr></thead><tbody>{body}</tbody></table></div>"
        )
        metrics = [k for k in DIFFERENCE_METRICS if k in group.comparison.metrics]
        head = "".join(f"<th>{esc(metric_name(k))}</th>" for k in metrics)
        body = ""
        for row in difference_rows(group, metrics):
            cells = []
            for k in metrics:
                d = row[k]
                text = f"{d.difference:+.1f}<span class=\"ci\">[{d.low:+.1f}, {d.high:+.1f}]"
                text += f" p={d.p_value:.2g}</span>" if d.p_value is not None else "</span>"
                cells.append(f"<td class=\"{'sig' if d.significant else ''}\">{text}</td>")
            body += f"<tr><td class=\"text\">{esc(row['pair'])}</td>{''.join(cells)}</tr>"
        parts.append(
            "<h3>Paired differences</h3><p>First minus second, in percentage points, with the "
            "95% paired bootstrap interval (and McNemar's exact p for the fixed-threshold hit "
            "rates); significant differences in bold green.</p>"
            f"<div class=\"scroll\"><table><thead><tr><th class=\"text\">Pair</th>{head}</tr>"
            f"</thead><tbody>{body}</tbody></table></div>"
        )
    return "".join(parts)


def _gallery_html(gallery: Mapping[str, np.ndarray], order: Sequence[str]) -> str:
    """One row per gallery image: the input with its GT boxes, then each method's map."""
    methods = [str(m) for m in gallery["methods"]]
    gt = "#{:02x}{:02x}{:02x}".format(*GT_COLOR)
    pred = "#{:02x}{:02x}{:02x}".format(*PRED_COLOR)
    parts = [
        "<p>Each row is one image: first the input with its ground-truth box, then each "
        "method's score map (jet colours: red is high) with the box it predicts at its best "
        "threshold τ V1 and that box's IoU with the ground truth. <b>Best</b> and <b>worst</b> "
        "mark each method's best- and worst-localised images, as the evaluation run selected "
        "them.</p>",
        f"<div class=\"legend\"><span><i style=\"border-color:{gt}\"></i>ground truth</span>"
        f"<span><i style=\"border-color:{pred}\"></i>predicted box</span></div>",
    ]
    for n in range(gallery["images"].shape[0]):
        image = gallery["images"][n]
        boxes = gallery["gt_boxes"][n]
        roles = [str(gallery["roles"][m, n]) for m in range(len(methods))]
        tags = []
        for role in ("best", "worst"):
            names = [method_label(methods[m]) for m, r in enumerate(roles) if r == role]
            if names:
                tags.append(f"{role} for {', '.join(names)}")
        title = (
            f"{esc(gallery['class_names'][n])}<small>{esc(gallery['image_ids'][n])}"
            f"{' · ' + esc('; '.join(tags)) if tags else ''}</small>"
        )
        panels = [
            f"<figure><img alt=\"input {esc(gallery['image_ids'][n])}\" "
            f"src=\"{panel_uri(image, boxes)}\"><figcaption><b>Input</b></figcaption></figure>"
        ]
        for m, name in enumerate(methods):
            uri = panel_uri(image, boxes, gallery["maps"][m, n], gallery["pred_boxes"][m, n])
            iou = float(gallery["ious"][m, n])
            iou_text = f"IoU {iou:.2f}" if math.isfinite(iou) else "no box"
            role = roles[m] if roles[m] in ("best", "worst") else ""
            badge = f"<span class=\"badge {role}\">{role}</span>" if role else ""
            color = method_color(name, order)
            panels.append(
                f"<figure>{badge}<img alt=\"{esc(method_label(name))} map\" src=\"{uri}\">"
                f"<figcaption><span class=\"swatch\" style=\"background:{color}\"></span>"
                f"<b>{esc(method_label(name))}</b> {iou_text}</figcaption></figure>"
            )
        parts.append(f"<div class=\"row\"><h3>{title}</h3><div class=\"panels\">"
                     f"{''.join(panels)}</div></div>")
    return "".join(parts)


def _facts_html(facts: Sequence[tuple[str, str]], settings: Sequence[tuple[str, str]]) -> str:
    """The summary cards; the settings that change the numbers stand out."""
    cells = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts)
    cells += "".join(f"<div class=\"setting\"><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>"
                     for k, v in settings)
    return f"<dl class=\"facts\">{cells}</dl>"


def _curves_section(methods: Mapping[str, Mapping[str, Any]]) -> str:
    """The BoxAcc curves with their bands, and a note on curves hidden under identical ones."""
    curves = curves_svg(methods)
    if not curves:
        return ""
    repeats = identical_curves(methods)
    note = "".join(
        f"<p><b>{esc(method_label(name))}'s curves coincide with "
        f"{esc(method_label(earlier))}'s</b> (no point differs by more than {gap:.2f} "
        f"percentage points): its dashed line lies on top of {esc(method_label(earlier))}'s, "
        "which it would otherwise hide.</p>"
        for name, (earlier, gap) in repeats.items()
    )
    return (
        "<section><h2>BoxAcc against the threshold</h2><p>How the share of well-localised "
        "images changes with the threshold τ; the dots mark each curve's maximum (the best τ) "
        f"and the shaded bands are pointwise 95% intervals.</p>{note}"
        f"<div class=\"chart\">{curves}</div></section>"
    )


def render_html(
    results: Mapping[str, Any],
    gallery: Mapping[str, np.ndarray] | None,
    paired: Sequence[PairedRows] = (),
) -> str:
    """The self-contained HTML report of one run (tables, significance, curves, gallery)."""
    order = list(results["methods"])
    rows = method_rows(results)
    tau = fixed_threshold(results)
    title = f"WSOL report: {results['model']['name']} on {results['dataset']['name']}"
    methods = ", ".join(method_label(m) for m in order)
    facts = [
        ("Dataset", describe_dataset(results)),
        ("Model", describe_model(results)),
        ("Protocol", describe_protocol(results)),
        ("Fixed threshold", f"τ = {tau:g}" if tau is not None else "not reported"),
    ]
    forward = (results.get("throughput") or {}).get("forward_images_per_second")
    if forward is not None:
        facts.append(("Plain forward pass", f"{forward:.1f} img/s"))
    note = "".join(f"<p>{esc(p)}</p>" for p in how_to_read(results))
    warnings = "".join(f"<div class=\"warn\">{esc(n)}</div>" for n in map_warnings(results))
    columns = columns_for(results)
    attribution = attribution_columns(results)
    body = [
        f"<h1>{esc(title)}</h1><p class=\"sub\">Weakly-supervised object localisation of "
        f"{esc(methods)}.</p>",
        _facts_html(facts, settings_facts(results)),
        "<section><h2>Results</h2>"
        + _html_table(rows, columns, [("Method", "method")], order, paired)
        + warnings + f"<div class=\"note\"><p><b>How to read this.</b></p>{note}</div></section>",
    ]
    if attribution:
        body.append(
            "<section><h2>Attribution metrics</h2><p>Per-image localisation metrics of XAI "
            "evaluation on the raw maps (Quantus' definitions), means over the images in %.</p>"
            + _html_table(rows, attribution, [("Method", "method")], order, paired)
            + "</section>"
        )
    body.append("<section><h2>What the differences mean</h2>"
                + _significance_html(paired, [*columns, *attribution]) + "</section>")
    tau_columns, tau_rows = best_tau_table(rows)
    if tau_rows:
        body.append(
            "<section><h2>Classical metrics at the best threshold</h2><p>GT-known, Top-1 and "
            "Top-5 Loc at each method's own best threshold (the τ of MaxBoxAcc) instead of the "
            "fixed one.</p>"
            + _html_table(tau_rows, tau_columns, [("Method", "method")], order, paired,
                          compact=True)
            + "</section>"
        )
    body.append(_curves_section(results["methods"]))
    if gallery is not None:
        body.append(f"<section><h2>Gallery</h2>{_gallery_html(gallery, order)}</section>")
    details = {key: results.get(key) for key in ("environment", "config", "throughput")}
    body.append(
        "<section><h2>Run details</h2>"
        + _facts([(k, v) for k, v in (results.get("environment") or {}).items()])
        + "<details><summary>Full configuration</summary><pre>"
        + esc(json.dumps(details, indent=2, sort_keys=True))
        + "</pre></details></section>"
    )
    return _page(title, "\n".join(body))


def render_compare_html(
    runs: Sequence[Mapping[str, Any]],
    paths: Sequence[Path],
    labels: Sequence[str],
    groups: Sequence[RunGroup],
    columns: Sequence[Column],
    paired: Sequence[Sequence[PairedRows]],
    unpaired_notes: Sequence[str],
) -> str:
    """The self-contained HTML comparison: per group the tables, a chart and the paired tests."""
    order: list[str] = []
    for results in runs:
        order += [m for m in results["methods"] if m not in order]
    lead = [("Run", "run"), ("Model", "model"), ("Method", "method")]
    attribution = attribution_columns(runs)
    sections = []
    for number, group in enumerate(groups, start=1):
        heading = f"Group {number}: " if len(groups) > 1 else ""
        chart = bar_chart_svg(
            [f"{r['run']} · {r['label']}" for r in group.rows],
            [r["maxboxacc_v2"] for r in group.rows],
            [method_color(r["method"], order) for r in group.rows], "MaxBoxAccV2 (%)",
            [(r.get("intervals") or {}).get("maxboxacc_v2") for r in group.rows],
        )
        extra = ""
        if attribution:
            extra = ("<h3>Attribution metrics</h3>"
                     + _html_table(group.rows, attribution, lead, order, paired[number - 1]))
        sections.append(
            f"<section><h2>{esc(heading + group.title)}</h2>"
            f"<p class=\"sub\">{esc(group.detail)}</p>"
            + _html_table(group.rows, columns, lead, order, paired[number - 1]) + extra
            + f"<div class=\"chart narrow\">{chart}</div>"
            + _significance_html(paired[number - 1], [*columns, *attribution],
                                 unpaired_notes[number - 1])
            + "</section>"
        )
    run_list = "".join(
        f"<li><b>{esc(label)}</b>: {esc(path)} · {esc(describe_model(results))} · "
        f"{esc(describe_dataset(results))} · protocol {esc(describe_protocol(results))}"
        + _facts_html([], settings_facts(results)) + "</li>"
        for label, path, results in zip(labels, paths, runs, strict=True)
    )
    ious = sorted({iou for run in runs for iou in v2_ious(run)}, key=float)
    taus = {fixed_threshold(run) for run in runs}
    notes = metric_paragraphs(taus.pop() if len(taus) == 1 else None, ious, "each run's images")
    warning = comparability_warning(runs, groups)
    plural = "s" if len(groups) > 1 else ""
    body = [
        f"<h1>WSOL comparison</h1><p class=\"sub\">{len(runs)} runs, {len(groups)} comparable "
        f"group{plural}; a best value is marked within a group only where the paired "
        "comparisons support it.</p>",
        f"<div class=\"warn\"><b>Not comparable across groups.</b> {esc(warning)}</div>"
        if warning else "",
        *sections,
        f"<section><h2>Runs</h2><ul>{run_list}</ul><div class=\"note\"><p><b>How to read "
        f"this.</b></p>{''.join(f'<p>{esc(p)}</p>' for p in notes)}</div></section>",
    ]
    return _page("WSOL comparison", "\n".join(body))
