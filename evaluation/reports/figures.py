"""Figures of the reports: BoxAcc-vs-threshold curves, bar charts and gallery panels.

Everything is returned ready to inline into a self-contained HTML page: charts as ``<svg>`` markup
(matplotlib's SVG output, text as paths, no external references; figures are built without pyplot,
so no global backend state is touched), gallery panels as
``data:image/jpeg;base64,...`` URIs (OpenCV). Colours follow :func:`method_color`, so a method has
the same colour in every chart and in the tables.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "GT_COLOR",
    "PRED_COLOR",
    "bar_chart_svg",
    "curves_svg",
    "identical_curves",
    "method_color",
    "method_label",
    "panel_uri",
]

GT_COLOR = (46, 204, 64)
"""RGB of ground-truth boxes in the gallery."""

PRED_COLOR = (255, 255, 255)
"""RGB of predicted boxes in the gallery (drawn over a dark outline)."""

_LABELS = {"cam": "CAM", "gradcam": "Grad-CAM", "infocam": "infoCAM", "infocam+": "infoCAM+",
           "gradcam++": "Grad-CAM++", "xgradcam": "XGrad-CAM", "layercam": "LayerCAM",
           "scorecam": "Score-CAM"}
_PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#9d755d",
            "#eeca3b", "#17becf", "#ff9da6", "#393b79", "#8c6d31", "#843c39", "#7b4173",
            "#637939", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363")
_FIXED_COLORS = {"cam": 0, "gradcam": 1, "infocam": 2, "infocam+": 3, "gradcam++": 4,
                 "xgradcam": 5, "layercam": 6, "scorecam": 7}
_LEGEND_COLUMNS = 6
_PANEL_MIN_SIDE = 192


def method_label(name: str) -> str:
    """Display name of a method: ``CAM``, ``Grad-CAM``, ``Grad-CAM++``, ``Score-CAM``, ...

    A dotted path shows its last component (``captum.attr.LayerGradientXActivation`` ->
    ``LayerGradientXActivation``, ``captum.attr.Saliency+smoothgrad`` ->
    ``Saliency+smoothgrad``).
    """
    return _LABELS.get(name, name.rsplit(".", 1)[-1])


def method_color(name: str, order: Sequence[str] = ()) -> str:
    """Hex colour of a method: fixed for the built-in eight, else by its place in ``order``.

    Twenty colours: a run of up to twelve further methods gets distinct ones.
    """
    if name in _FIXED_COLORS:
        return _PALETTE[_FIXED_COLORS[name]]
    others = [n for n in order if n not in _FIXED_COLORS]
    position = others.index(name) if name in others else len(others)
    return _PALETTE[(len(_FIXED_COLORS) + position) % len(_PALETTE)]


def _svg(figure: Any) -> str:
    """The figure as inline ``<svg>`` markup (XML prologue and comments removed)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    text = re.sub(r"<!--.*?-->", "", text[text.index("<svg"):], flags=re.DOTALL)
    return text.strip()


def _style(axis: Any) -> None:
    axis.spines[["top", "right"]].set_visible(False)
    axis.grid(True, color="#e4e7eb", linewidth=0.8)
    axis.set_axisbelow(True)
    axis.tick_params(labelsize=9, colors="#3e4c59")


COINCIDENT_POINTS = 0.5
"""Curves closer than this (percentage points) everywhere are drawn on top of each other."""


def identical_curves(methods: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, float]]:
    """Method -> (the earlier method whose curves it covers, their largest gap in points).

    Two methods' curves coincide when they have the same thresholds and every (kind, IoU)
    curve differs by at most :data:`COINCIDENT_POINTS` at every threshold: drawn later, the one
    would hide the other. (CAM and Grad-CAM do, for a GAP + Linear head: their maps are equal up
    to a positive factor and float rounding, which moves a rare image across a threshold.)
    """
    names = list(methods)
    found: dict[str, tuple[str, float]] = {}
    for k, name in enumerate(names):
        for earlier in names[:k]:
            gap = _largest_gap(methods[name], methods[earlier])
            if earlier not in found and gap is not None and gap <= COINCIDENT_POINTS:
                found[name] = (earlier, gap)
                break
    return found


def _largest_gap(first: Mapping[str, Any], second: Mapping[str, Any]) -> float | None:
    """The largest difference between two methods' curves (``None``: not the same curves)."""
    if first["thresholds"] != second["thresholds"]:
        return None
    gaps = [0.0]
    for kind in ("v1", "v2"):
        mine, theirs = first["curves"].get(kind, {}), second["curves"].get(kind, {})
        if set(mine) != set(theirs):
            return None
        gaps += [float(np.max(np.abs(np.subtract(mine[iou], theirs[iou])))) for iou in mine]
    return max(gaps)


def curves_svg(methods: Mapping[str, Mapping[str, Any]]) -> str:
    """BoxAcc (%) against the threshold tau for every method, one panel per box kind and IoU.

    One row of panels for V1 (the largest box) and one for V2 (every box), one panel per IoU
    threshold; a dot marks each curve's maximum and a shaded band its pointwise 95% interval
    (where the results hold ``intervals.curves``). A method whose curves coincide with an earlier
    method's (:func:`identical_curves`) is drawn dashed on top of it and labelled so.

    Args:
        methods: Method name -> ``LocalizationAccumulator.compute()`` dict (``thresholds`` and
            ``curves`` = ``{"v1": {iou: [...]}, "v2": {iou: [...]}}``).

    Returns:
        ``<svg>`` markup, or ``""`` when no method has a curve.
    """
    from matplotlib.figure import Figure

    kinds = [kind for kind in ("v1", "v2")
             if any(metrics["curves"].get(kind) for metrics in methods.values())]
    if not kinds:
        return ""
    ious = {kind: sorted({iou for m in methods.values() for iou in m["curves"].get(kind, {})},
                         key=float) for kind in kinds}
    columns = max(len(v) for v in ious.values())
    figure = Figure(figsize=(3.7 * columns, 2.9 * len(kinds)))
    axes = figure.subplots(len(kinds), columns, squeeze=False, sharey=True)
    panels = [(axes[row, col], kind, iou) for row, kind in enumerate(kinds)
              for col, iou in enumerate(ious[kind])]
    first_column = {id(axes[row, 0]) for row in range(len(kinds))}
    order = list(methods)
    repeats = identical_curves(methods)
    for axis, kind, iou in panels:
        _style(axis)
        for name, metrics in methods.items():
            curve = metrics["curves"].get(kind, {}).get(iou)
            if curve is None:
                continue
            taus = np.asarray(metrics["thresholds"], dtype=float)
            values = np.asarray(curve, dtype=float)
            color = method_color(name, order)
            band = ((metrics.get("intervals") or {}).get("curves") or {}).get(kind, {}).get(iou)
            if band and name not in repeats:
                axis.fill_between(taus, band["low"], band["high"], color=color, alpha=0.15,
                                  linewidth=0)
            label = method_label(name)
            style = "-"
            if name in repeats:
                label = f"{label} (on {method_label(repeats[name][0])}'s curve)"
                style = (0, (4, 3))
            axis.plot(taus, values, color=color, linewidth=1.8, label=label, linestyle=style)
            best = int(np.argmax(values))
            axis.plot(taus[best], values[best], "o", color=color, markersize=5)
        title = "largest box (V1)" if kind == "v1" else "all boxes (V2)"
        axis.set_title(f"{title}, IoU ≥ {iou}%", fontsize=10, color="#1f2933", loc="left")
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 100)
        axis.set_xlabel("threshold τ", fontsize=9, color="#3e4c59")
        if id(axis) in first_column:
            axis.set_ylabel("BoxAcc (%)", fontsize=9, color="#3e4c59")
    used = {id(axis) for axis, _, _ in panels}
    for axis in axes.flat:
        axis.set_visible(id(axis) in used)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), _LEGEND_COLUMNS),
                  frameon=False, fontsize=9, bbox_to_anchor=(0.5, 1.0))
    figure.tight_layout()
    return _svg(figure)


def bar_chart_svg(
    labels: Sequence[str],
    values: Sequence[float | None],
    colors: Sequence[str],
    title: str,
    intervals: Sequence[Sequence[float] | None] | None = None,
) -> str:
    """A horizontal bar chart (values in %, missing values left out), labelled at each bar.

    Args:
        labels: One label per bar, top to bottom.
        values: Bar lengths in percent; ``None`` draws no bar.
        colors: One colour per bar.
        title: Chart title.
        intervals: Optional ``[low, high]`` per bar, drawn as error bars (``None``: none).

    Returns:
        ``<svg>`` markup.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.0, 0.32 * len(labels) + 0.9))
    axis = figure.subplots()
    _style(axis)
    axis.grid(False, axis="y")
    positions = np.arange(len(labels))[::-1]
    lengths = [0.0 if v is None else float(v) for v in values]
    axis.barh(positions, lengths, color=list(colors), height=0.7)
    ends = [None] * len(values) if intervals is None else list(intervals)
    for y, value, bounds in zip(positions, values, ends, strict=True):
        text = "–" if value is None else f"{value:.1f}"
        right = value or 0.0
        if bounds is not None and value is not None:
            # the interval as drawn; it need not contain the value (a best-threshold maximum
            # is biased upwards in resamples)
            axis.plot(bounds, [y, y], color="#1f2933", linewidth=1.0)
            axis.plot([bounds[0]] * 2 + [np.nan] + [bounds[1]] * 2,
                      [y - 0.2, y + 0.2, np.nan, y - 0.2, y + 0.2], color="#1f2933",
                      linewidth=1.0)
            text += f" [{bounds[0]:.1f}, {bounds[1]:.1f}]"
            right = bounds[1]
        axis.text(right + 1.0, y, text, va="center", fontsize=8, color="#1f2933")
    axis.set_yticks(positions, labels, fontsize=8)
    axis.set_xlim(0, 125)
    axis.set_title(title, fontsize=10, color="#1f2933", loc="left")
    figure.tight_layout()
    return _svg(figure)


def _colormap() -> np.ndarray:
    """The 256-entry RGB lookup table of matplotlib's ``jet``, uint8 (256, 3)."""
    from matplotlib import colormaps

    return (colormaps["jet"](np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)


def _draw_box(image: np.ndarray, box: np.ndarray, scale: int, color: tuple[int, int, int]) -> None:
    """Draw an inclusive frame-pixel box, scaled by ``scale``, with a dark outline (in place)."""
    import cv2

    if box is None or not np.all(np.isfinite(box)):
        return
    side = image.shape[0] - 1, image.shape[1] - 1
    x0 = int(np.clip(round(box[0] * scale), 0, side[1]))
    y0 = int(np.clip(round(box[1] * scale), 0, side[0]))
    x1 = int(np.clip(round((box[2] + 1) * scale) - 1, 0, side[1]))
    y1 = int(np.clip(round((box[3] + 1) * scale) - 1, 0, side[0]))
    cv2.rectangle(image, (x0, y0), (x1, y1), (20, 20, 20), 4, lineType=cv2.LINE_AA)
    cv2.rectangle(image, (x0, y0), (x1, y1), color, 2, lineType=cv2.LINE_AA)


def panel_uri(
    image: np.ndarray,
    gt_boxes: np.ndarray,
    score_map: np.ndarray | None = None,
    pred_box: np.ndarray | None = None,
    alpha: float = 0.5,
    quality: int = 88,
) -> str:
    """One gallery panel as a JPEG data URI: the image, its map overlay and boxes.

    The panel is the image upscaled by an integer factor to at least 192 pixels; the map (values
    in [0, 1], any size) is resized to it and blended as ``(1 - alpha) * image + alpha * jet(map)``;
    ground-truth boxes are drawn in green, the predicted box in white.

    Args:
        image: uint8 (H, W, 3) RGB image in the evaluation frame.
        gt_boxes: (G, 4) inclusive ``x0, y0, x1, y1`` frame boxes, NaN rows ignored.
        score_map: Optional (h, w) map in [0, 1].
        pred_box: Optional (4,) predicted box (NaN: none).
        alpha: Opacity of the map.
        quality: JPEG quality.

    Returns:
        ``data:image/jpeg;base64,...``.
    """
    import cv2

    height, width = image.shape[:2]
    scale = max(1, math.ceil(_PANEL_MIN_SIDE / max(height, width)))
    size = (width * scale, height * scale)
    panel = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR) if scale > 1 else image.copy()
    if score_map is not None:
        values = np.nan_to_num(np.asarray(score_map, dtype=np.float32), nan=0.0)
        values = cv2.resize(np.clip(values, 0.0, 1.0), size, interpolation=cv2.INTER_LINEAR)
        heat = _colormap()[np.round(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8)]
        panel = ((1.0 - alpha) * panel + alpha * heat).round().astype(np.uint8)
    panel = np.ascontiguousarray(panel)
    for box in np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4):
        _draw_box(panel, box, scale, GT_COLOR)
    if pred_box is not None:
        _draw_box(panel, np.asarray(pred_box, dtype=np.float64), scale, PRED_COLOR)
    ok, encoded = cv2.imencode(
        ".jpg", cv2.cvtColor(panel, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError("JPEG encoding of a gallery panel failed")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")
