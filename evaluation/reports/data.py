"""What the reports say: the checked contents of a run folder, the table model, the prose.

:func:`load_results` reads ``RUN_DIR/results.json`` (written by ``wsol-bench evaluate``) and checks
every field the reports read; :func:`load_gallery` reads ``RUN_DIR/gallery.npz``. A table is a list
of rows (:func:`method_rows`, one per method, with each value's 95% interval) and a list of
:class:`Column`; which values are marked best is :mod:`evaluation.reports.significance`'s call.
The prose (how to read a report, protocol notes, the settings that change the numbers) lives here
too, so that the Markdown and the HTML reports say the same thing.

Fields read from ``results.json`` (schema version 1): ``dataset`` (``name``, ``split``,
``num_images``, ``num_classes``), ``model`` (``name``, ``checkpoint``), ``protocol`` (``name``,
``frame_size``, ``window``, ``padding``, ``convention``, ``fixed_threshold``),
``classification`` (``top1_cls``), ``environment``, ``config``, ``throughput``
(``forward_images_per_second``), ``gallery`` (``file``) and, per method, the
``LocalizationAccumulator.compute()`` dict (``thresholds``, ``curves``, ``maxboxacc``,
``best_threshold``, ``maxboxacc_v2``, ``boxacc_v2_by_iou``, ``best_threshold_by_iou``,
``fixed_threshold``, ``gt_known_loc``, ``top1_loc``, ``top5_loc``, ``gt_known_loc_best``,
``top1_loc_best``, ``top5_loc_best``, ``best_threshold_loc``, ``top1_cls``, ``pxap``,
``num_nonfinite_maps``, ``num_constant_maps``, the attribution metrics, ``intervals``) plus
``images_per_second``. Only the first seven
method fields and the sections' names are required; a missing optional value shows as ``–``.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.errors import ConfigurationError, DataFormatError, MissingFilesError
from evaluation.paths import is_file, is_folder
from evaluation.reports.figures import method_label
from evaluation.runs.schema import GALLERY_FILE, GALLERY_KEYS, RESULTS_FILE, SCHEMA_VERSION

__all__ = [
    "ATTRIBUTION_COLUMNS",
    "Column",
    "RunGroup",
    "attribution_columns",
    "best_tau_table",
    "columns_for",
    "comparability_warning",
    "describe_dataset",
    "describe_model",
    "describe_protocol",
    "fixed_threshold",
    "group_runs",
    "how_to_read",
    "load_gallery",
    "load_results",
    "map_warnings",
    "method_rows",
    "metric_paragraphs",
    "run_labels",
    "settings_facts",
    "v2_ious",
]

_METRIC_KEYS = ("thresholds", "curves", "maxboxacc", "best_threshold", "maxboxacc_v2",
                "boxacc_v2_by_iou", "best_threshold_by_iou")
_MISSING = "–"


def load_results(run_dir: str | Path) -> dict[str, Any]:
    """Read and check ``RUN_DIR/results.json``.

    Args:
        run_dir: The ``--output`` folder of ``wsol-bench evaluate``.

    Returns:
        The parsed results.

    Raises:
        ConfigurationError: ``run_dir`` does not exist or holds no ``results.json``.
        PathKindError: ``run_dir`` is a file, or ``results.json`` a folder.
        AccessError: This user may not read them.
        DataFormatError: The file is not JSON, has another schema version or lacks a field the
            report needs (the message names the field).
    """
    run = Path(run_dir)
    if not is_folder(run, "run folder"):
        raise ConfigurationError(
            f"run folder {run} does not exist; pass the --output folder of `wsol-bench evaluate`"
        )
    path = run / RESULTS_FILE
    if not is_file(path, "results of `wsol-bench evaluate`"):
        raise ConfigurationError(
            f"{run} holds no {RESULTS_FILE}: it is not a finished `wsol-bench evaluate` run "
            "(an interrupted run finishes when its command is started again)"
        )
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataFormatError(
            path, error.lineno, f"not valid JSON ({error.msg}); run `wsol-bench evaluate` again"
        ) from error
    except UnicodeDecodeError as error:
        raise DataFormatError(path, None, f"not UTF-8 text ({error.reason})") from error
    _check_results(results, path)
    return results


def _check_results(results: Any, path: Path) -> None:
    """Raise :class:`DataFormatError` unless ``results`` has every field the reports read."""

    def fail(problem: str) -> DataFormatError:
        return DataFormatError(path, None, problem)

    if not isinstance(results, dict):
        raise fail("the top level must be a JSON object")
    version = results.get("schema_version")
    if version != SCHEMA_VERSION:
        raise fail(
            f"schema_version is {version!r}, this wsol-bench reads {SCHEMA_VERSION}; "
            "re-run `wsol-bench evaluate` with this version"
        )
    for key in ("dataset", "model", "protocol"):
        section = results.get(key)
        if not isinstance(section, dict) or not isinstance(section.get("name"), str):
            raise fail(f"'{key}' must be an object with a 'name' string")
    methods = results.get("methods")
    if not isinstance(methods, dict) or not methods:
        raise fail("'methods' must be a non-empty object (method name -> metrics)")
    for name, metrics in methods.items():
        where = f"methods.{name}"
        if not isinstance(metrics, dict):
            raise fail(f"'{where}' must be an object")
        missing = [key for key in _METRIC_KEYS if key not in metrics]
        if missing:
            raise fail(f"'{where}' lacks {', '.join(missing)}")
        thresholds = metrics["thresholds"]
        if not isinstance(thresholds, list) or not thresholds:
            raise fail(f"'{where}.thresholds' must be a non-empty list")
        curves = metrics["curves"]
        if not isinstance(curves, dict) or not all(
            isinstance(curves.get(kind, {}), dict) for kind in ("v1", "v2")
        ):
            raise fail(f"'{where}.curves' must be an object with 'v1' and 'v2' objects")
        for kind in ("v1", "v2"):
            for iou, curve in curves.get(kind, {}).items():
                if not isinstance(curve, list) or len(curve) != len(thresholds):
                    raise fail(
                        f"'{where}.curves.{kind}.{iou}' must be a list of {len(thresholds)} "
                        "values (one per threshold)"
                    )
        for key in ("maxboxacc", "maxboxacc_v2", "best_threshold"):
            if not _is_number(metrics[key]):
                raise fail(f"'{where}.{key}' must be a number, got {metrics[key]!r}")
        for key in ("boxacc_v2_by_iou", "best_threshold_by_iou"):
            if not isinstance(metrics[key], dict):
                raise fail(f"'{where}.{key}' must be an object (IoU threshold -> value)")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def load_gallery(run_dir: str | Path, results: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
    """Read the run's gallery, ``None`` when the results name none.

    Args:
        run_dir: The run folder.
        results: Its results (``results["gallery"]["file"]`` names the file).

    Returns:
        The arrays of ``gallery.npz`` (keys :data:`evaluation.runs.schema.GALLERY_KEYS`), shapes
        checked.

    Raises:
        MissingFilesError: The file named in the results is absent.
        PathKindError: It is a folder.
        AccessError: This user may not read it.
        DataFormatError: The file is not an ``.npz`` archive (truncated, corrupt), lacks a key or
            has shapes that do not fit together; the message says how to write it again.
    """
    entry = results.get("gallery")
    if not entry:
        return None
    name = entry.get("file", GALLERY_FILE) if isinstance(entry, dict) else GALLERY_FILE
    path = Path(run_dir) / name
    if not is_file(path, "gallery file"):
        raise MissingFilesError("gallery file", [name], run_dir)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with loaded as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise DataFormatError(
            path,
            None,
            f"not a readable .npz archive ({reason}); delete it and {RESULTS_FILE} and run the "
            "same `wsol-bench evaluate` command again: it writes both anew from the saved state",
        ) from error
    missing = [key for key in GALLERY_KEYS if key not in arrays]
    if missing:
        raise DataFormatError(path, None, f"lacks the arrays {', '.join(missing)}")
    images = arrays["images"]
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise DataFormatError(path, None, f"'images' must be uint8 (N, H, W, 3), got "
                              f"{images.dtype} {images.shape}")
    count, methods = images.shape[0], arrays["methods"].shape[0]
    expected = {
        "image_ids": (count,), "labels": (count,), "class_names": (count,),
        "maps": (methods, count), "pred_boxes": (methods, count, 4), "ious": (methods, count),
        "roles": (methods, count),
    }
    for key, shape in expected.items():
        if arrays[key].shape[: len(shape)] != shape:
            raise DataFormatError(
                path, None, f"'{key}' has shape {arrays[key].shape}; for {count} images and "
                f"{methods} methods it must start with {shape}"
            )
    if arrays["maps"].ndim != 4:
        shape = arrays["maps"].shape
        raise DataFormatError(path, None, f"'maps' must be (M, N, H, W), got {shape}")
    boxes = arrays["gt_boxes"]
    if boxes.ndim != 3 or boxes.shape[0] != count or boxes.shape[2] != 4:
        raise DataFormatError(path, None, f"'gt_boxes' must be (N, G, 4), got {boxes.shape}")
    return arrays


@dataclass(frozen=True)
class Column:
    """One column of the results table.

    Attributes:
        key: Key of the value in a row of :func:`method_rows`.
        title: Header text.
        group: Header group in the HTML table.
        kind: ``"pct"`` (a percentage, one decimal), ``"rate"`` (images/s, one decimal),
            ``"tau"`` (a threshold, two decimals) or ``"taus"`` (several thresholds).
    """

    key: str
    title: str
    group: str
    kind: str

    @property
    def ranked(self) -> bool:
        """Whether a best value may be marked: percentages only (never speed or thresholds)."""
        return self.kind == "pct"

    def format(self, value: Any, interval: Sequence[float] | None = None) -> str:
        """The cell text of ``value`` (``–`` if missing); ``57.3 [55.1, 59.4]`` with an interval."""
        if self.kind == "taus":
            parts = [_MISSING if v is None else f"{v:.2f}" for v in value]
            return " / ".join(parts) if any(v is not None for v in value) else _MISSING
        if value is None:
            return _MISSING
        if self.kind == "tau":
            return f"{value:.2f}"
        text = f"{value:.1f}"
        if interval is not None:
            text += f" [{interval[0]:.1f}, {interval[1]:.1f}]"
        return text


def fixed_threshold(results: Mapping[str, Any]) -> float | None:
    """The fixed threshold of GT-known / Top-1 / Top-5 Loc.

    The methods' ``fixed_threshold`` (the smallest if they differ), else the protocol's.
    """
    values = {m.get("fixed_threshold") for m in results["methods"].values()}
    values.discard(None)
    return min(values) if values else results["protocol"].get("fixed_threshold")


def v2_ious(results: Mapping[str, Any]) -> list[str]:
    """The IoU thresholds (percent, as strings) of MaxBoxAccV2's parts, ascending."""
    ious = {str(iou) for m in results["methods"].values() for iou in m["boxacc_v2_by_iou"]}
    return sorted(ious, key=float)


def columns_for(results: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> list[Column]:
    """The table columns for one run's results (or several runs').

    Each method's cost, img/s, sits right beside its threshold-free accuracy (MaxBoxAcc,
    MaxBoxAccV2, PxAP), so that localisation per second reads off one row. The V2 per-IoU
    columns follow the runs' IoU thresholds; PxAP appears when any method has it.
    """
    runs = [results] if isinstance(results, Mapping) else list(results)
    tau = fixed_threshold(runs[0]) if len(runs) == 1 else None
    fixed = "Fixed τ" if tau is None else f"Fixed τ = {tau:g}"
    ious = sorted({iou for run in runs for iou in v2_ious(run)}, key=float)
    columns = [
        Column("top1_cls", "Top-1 Cls", "Classification", "pct"),
        Column("gt_known_loc", "GT-known Loc", fixed, "pct"),
        Column("top1_loc", "Top-1 Loc", fixed, "pct"),
        Column("top5_loc", "Top-5 Loc", fixed, "pct"),
        Column("maxboxacc", "MaxBoxAcc", "Best τ", "pct"),
        Column("maxboxacc_v2", "MaxBoxAccV2", "Best τ", "pct"),
    ]
    if any(m.get("pxap") is not None for run in runs for m in run["methods"].values()):
        columns.append(Column("pxap", "PxAP", "Best τ", "pct"))
    columns.append(Column("images_per_second", "img/s", "Speed", "rate"))
    columns += [Column(f"v2_{iou}", f"V2 @{iou}", "MaxBoxAccV2 parts", "pct") for iou in ious]
    v2_title = "τ V2 @" + "/".join(ious)
    columns += [
        Column("best_threshold", "τ V1", "Thresholds", "tau"),
        Column("best_threshold_v2", v2_title, "Thresholds", "taus"),
    ]
    return columns


def method_rows(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per method: ``method`` (its name) and a value per :func:`columns_for` key.

    ``top1_cls`` falls back to ``results["classification"]["top1_cls"]`` when the method has none.
    """
    classification = results.get("classification") or {}
    ious = v2_ious(results)
    rows = []
    for name, metrics in results["methods"].items():
        v2 = {str(k): v for k, v in metrics["boxacc_v2_by_iou"].items()}
        taus = {str(k): v for k, v in metrics["best_threshold_by_iou"].items()}
        top1_cls = metrics.get("top1_cls")
        row = {
            "method": name,
            "top1_cls": top1_cls if top1_cls is not None else classification.get("top1_cls"),
            "best_threshold_v2": tuple(taus.get(iou) for iou in ious),
        }
        for key in ("gt_known_loc", "top1_loc", "top5_loc", "maxboxacc", "maxboxacc_v2", "pxap",
                    "best_threshold", "images_per_second", "gt_known_loc_best", "top1_loc_best",
                    "top5_loc_best", "best_threshold_loc", "num_nonfinite_maps"):
            row[key] = metrics.get(key)
        row.update({f"v2_{iou}": v2.get(iou) for iou in ious})
        row.update({key: metrics.get(key) for key, _ in ATTRIBUTION_COLUMNS})
        row["intervals"] = _row_intervals(metrics, ious)
        rows.append(row)
    return rows


def _row_intervals(metrics: Mapping[str, Any], ious: Sequence[str]) -> dict[str, list[float]]:
    """Column key -> ``[low, high]`` of a method's values (only where results hold one)."""
    intervals = metrics.get("intervals") or {}
    found = {key: value for key, value in intervals.items()
             if isinstance(value, list) and len(value) == 2}
    parts = intervals.get("boxacc_v2_by_iou") or {}
    found.update({f"v2_{iou}": parts[iou] for iou in ious if parts.get(iou)})
    if found.get("top1_cls") is None and metrics.get("top1_cls") is None:
        found.pop("top1_cls", None)
    return found


ATTRIBUTION_COLUMNS = (
    ("pointing_game", "Pointing game"),
    ("pointing_game_tolerant", "± tolerance"),
    ("energy_pointing_game", "Energy PG"),
    ("relevance_mass_accuracy", "Rel. mass"),
    ("relevance_rank_accuracy", "Rel. rank"),
    ("top_k_intersection", "Top-k ∩"),
    ("auc", "AUC"),
)
"""(key, title) of the per-image attribution metrics' columns."""


def attribution_columns(
    results: Sequence[Mapping[str, Any]] | Mapping[str, Any],
) -> list[Column]:
    """The attribution metrics' columns (``[]`` when no method of the runs has them)."""
    runs = [results] if isinstance(results, Mapping) else list(results)
    present = [
        (key, title) for key, title in ATTRIBUTION_COLUMNS
        if any(m.get(key) is not None for run in runs for m in run["methods"].values())
    ]
    first = next(iter(runs[0]["methods"].values()))
    tolerance, top_k = first.get("pointing_tolerance"), first.get("top_k")
    titles = {
        "pointing_game_tolerant": f"PG ≤{tolerance} px" if tolerance is not None else "PG tol.",
        "top_k_intersection": f"Top-{top_k} ∩" if top_k is not None else "Top-k ∩",
    }
    return [Column(key, titles.get(key, title), "Attribution (per image, mean)", "pct")
            for key, title in present]


# --------------------------------------------------------------------------- Markdown


def describe_dataset(results: Mapping[str, Any]) -> str:
    """``"<name>, split <split>, <N> images, <K> classes"`` (missing parts left out)."""
    dataset = results["dataset"]
    parts = [str(dataset["name"])]
    if dataset.get("split"):
        parts.append(f"split {dataset['split']}")
    count = dataset.get("num_images", results.get("num_images"))
    if count is not None:
        parts.append(f"{count} images")
    if dataset.get("num_classes") is not None:
        parts.append(f"{dataset['num_classes']} classes")
    return ", ".join(parts)


def describe_model(results: Mapping[str, Any]) -> str:
    """``"<name> (checkpoint <path>)"``, ``"<name> (weights <name>)"`` or just the name.

    A run of randomly initialised weights (``model.random_init``) is
    ``"<name> (RANDOM INITIALISATION: a smoke test, the numbers mean nothing)"``.
    """
    model = results["model"]
    if model.get("random_init"):
        return f"{model['name']} (RANDOM INITIALISATION: a smoke test, the numbers mean nothing)"
    if model.get("checkpoint"):
        return f"{model['name']} (checkpoint {model['checkpoint']})"
    if model.get("weights"):
        return f"{model['name']} (weights {model['weights']})"
    return str(model["name"])


def describe_protocol(results: Mapping[str, Any]) -> str:
    """``"<name> (frame HxW, box convention C, infoCAM window k, padding P)"``."""
    protocol = results["protocol"]
    parts = []
    frame = protocol.get("frame_size")
    if frame:
        parts.append(f"frame {frame[0]}×{frame[1]}")
    if protocol.get("convention"):
        parts.append(f"box convention {protocol['convention']}")
    if protocol.get("window") is not None:
        parts.append(f"infoCAM window {protocol['window']}")
    if protocol.get("padding"):
        parts.append(f"padding {protocol['padding']}")
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{protocol['name']}{detail}"


def settings_facts(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(title, text) of each setting of the run that changes the numbers, for the summary cards.

    ``--limit`` (a subset of the split), ``--class-map`` (an ImageNet-1k head on the dataset's
    classes), the model's initialisation when it is random, and ``--window``, ``--padding`` or
    ``--image-size`` given instead of the protocol's defaults.
    """
    config = results.get("config") or {}
    facts = []
    if config.get("limit") is not None:
        count = results["dataset"].get("num_images")
        facts.append(("Subset (--limit)", f"the first {count} images of the split"))
    if config.get("class_map"):
        facts.append(("Class map", f"{config['class_map']}: the model's own head, restricted to "
                                   "the dataset's classes"))
    initialisation = (results.get("model") or {}).get("initialisation")
    if initialisation and initialisation.startswith("random"):
        facts.append(("Weights", f"{initialisation}: an untrained model"))
    overrides = [f"--{key.replace('_', '-')} {config[key]}"
                 for key in ("window", "padding", "image_size") if config.get(key) is not None]
    if overrides:
        facts.append(("Protocol overrides", ", ".join(overrides)))
    return facts


_PROTOCOL_NOTES = {
    "wsoleval": "Protocol wsoleval (Choe et al., CVPR 2020, clovaai/wsolevaluation): images are "
                "resized to the frame without cropping and ground-truth boxes scaled with it.",
    "paper": "Protocol paper (the infoCAM authors' code): CUB-style images are resized to 256 and "
             "centre-cropped to 224, Tiny-ImageNet stays at 64×64, and ground-truth boxes are "
             "mapped as the authors' loaders map them (their one-pixel quirks included); numbers "
             "are comparable with the paper, not with wsoleval ones.",
    "exact": "Protocol exact: images are resized to the frame without cropping; ground-truth boxes "
             "map to the smallest frame box covering the resized pixels.",
}


def metric_paragraphs(tau: float | None, ious: Sequence[str], over: str) -> list[str]:
    """Plain-text paragraphs defining the metrics (``over``: which images the % refer to)."""
    tau_text = "a fixed threshold" if tau is None else f"the fixed threshold τ = {tau:g}"
    return [
        f"GT-known Loc is the share of images whose box reaches IoU ≥ 50% at {tau_text}. Top-1 "
        f"Loc also needs the top-1 prediction to be right, Top-5 Loc the true label among the "
        f"top five. Top-1 Cls is the classification accuracy, the same for every method.",
        f"MaxBoxAcc is the best BoxAcc over all thresholds (V1, IoU ≥ 50%), reached at τ V1. "
        f"MaxBoxAccV2 averages the best BoxAcc of the V2 boxes at IoU ≥ {', '.join(ious)}% "
        f"(each at its own best τ, listed under τ V2). They do not depend on a threshold "
        f"choice, which makes them the fairer comparison between methods.",
        f"Numbers are percentages over {over}, each with its 95% interval in brackets (a "
        f"percentile bootstrap over the images; MaxBoxAcc and the other best-threshold metrics "
        f"re-select their threshold in every resample, so their interval carries the "
        f"selection's optimism and can lie above the value itself). A value is marked best "
        f"only when no "
        f"other method is significantly better and it is significantly better than at least "
        f"one (paired bootstrap over the same images; McNemar's exact test for the "
        f"fixed-threshold hit rates); speed is never marked. img/s, beside the "
        f"accuracy, is each method's evaluation throughput: the shared forward pass plus the "
        f"method's own work (none for CAM, infoCAM and infoCAM+; a share of one backward pass "
        f"to the layer for the Grad-CAM family; a masked forward pass per channel for "
        f"Score-CAM; their own passes for input-level methods) and its box evaluation.",
        "The attribution metrics score the raw map (upsampled to the frame, not normalised) "
        "against the ground-truth boxes (or masks) per image, as Quantus defines them: the "
        "pointing game (the map's maximum inside a box; with a tolerance, within that many "
        "pixels, as TorchRay), the energy-based pointing game (share of positive attribution "
        "inside), relevance mass and rank accuracy (Arras et al.), the top-k intersection and "
        "the AUC of the map against the box mask; each is a mean over the images in %.",
    ]


def how_to_read(results: Mapping[str, Any]) -> list[str]:
    """Plain-text paragraphs explaining the protocol and the metrics of ``results``."""
    protocol = results["protocol"]
    frame = protocol.get("frame_size") or ["S", "S"]
    count = results["dataset"].get("num_images", results.get("num_images"))
    paragraphs = [
        f"Each method turns the model's evidence for the true class into a score map. The map "
        f"is upsampled to the {frame[0]}×{frame[1]} evaluation frame, min-max normalised to "
        f"[0, 1] and thresholded at τ; the box around the largest region (V1), or around every "
        f"region (V2), is compared with the ground-truth boxes by intersection over union (IoU).",
    ]
    note = _PROTOCOL_NOTES.get(protocol["name"])
    if note:
        paragraphs.insert(0, note)
    over = f"all {count} images" if count is not None else "all images"
    return paragraphs + metric_paragraphs(fixed_threshold(results), v2_ious(results), over)


def best_tau_table(rows: Sequence[Mapping[str, Any]]) -> tuple[list[Column], list[dict]]:
    """Columns and rows of the classical metrics at each method's best threshold.

    Rows without any of those values are left out (an empty list: no such table).
    """
    columns = [
        Column("best_threshold_loc", "τ", "At the best τ", "tau"),
        Column("gt_known_loc_best", "GT-known Loc", "At the best τ", "pct"),
        Column("top1_loc_best", "Top-1 Loc", "At the best τ", "pct"),
        Column("top5_loc_best", "Top-5 Loc", "At the best τ", "pct"),
    ]
    kept = [r for r in rows if any(r.get(c.key) is not None for c in columns)]
    return columns, [{**r, "label": method_label(r["method"])} for r in kept]


def map_warnings(results: Mapping[str, Any]) -> list[str]:
    """One sentence per method with non-finite or constant maps (both are scored as zeros)."""
    notes = []
    for name, metrics in results["methods"].items():
        nonfinite = metrics.get("num_nonfinite_maps") or 0
        constant = metrics.get("num_constant_maps") or 0
        parts = [f"{nonfinite} maps were not finite (NaN/Inf)"] if nonfinite else []
        parts += [f"{constant} maps were constant"] if constant else []
        if parts:
            notes.append(
                f"{method_label(name)}: {' and '.join(parts)}; they were scored as all-zero "
                "maps (no box above any threshold but 0)."
            )
    return notes


@dataclass(frozen=True)
class RunGroup:
    """Runs whose numbers are comparable, as one table.

    Attributes:
        title: Dataset, split and protocol names.
        detail: Everything the runs share (image and class counts, frame, convention, ...).
        runs: Indices of the runs in the order given.
        rows: One row per (run, method): :func:`method_rows` plus ``run`` (the run's label),
            ``model`` (its model name) and ``label`` (the method's display name).
    """

    title: str
    detail: str
    runs: tuple[int, ...]
    rows: tuple[dict[str, Any], ...]


_GROUP_FIELDS = (
    "dataset", "split", "protocol", "box convention", "frame", "image count", "fixed threshold",
    "threshold grid", "IoU thresholds",
)


def _group_key(results: Mapping[str, Any]) -> tuple:
    """What must agree for two runs' numbers to be comparable (one value per _GROUP_FIELDS)."""
    dataset, protocol = results["dataset"], results["protocol"]
    return (
        dataset["name"], dataset.get("split"), protocol["name"], protocol.get("convention"),
        tuple(protocol.get("frame_size") or ()),
        dataset.get("num_images", results.get("num_images")),
        *_metric_settings(results),
    )


def _metric_settings(results: Mapping[str, Any]) -> tuple:
    """The fixed threshold, the threshold grid and the IoU thresholds the metrics used."""
    first = next(iter(results["methods"].values()))
    fixed = first.get("fixed_threshold", results["protocol"].get("fixed_threshold"))
    return fixed, tuple(first["thresholds"]), tuple(first.get("iou_thresholds") or ())


def _group_title(key: tuple) -> str:
    """``"<dataset> · <split> · <protocol> · <H>×<W> · <N> images"`` (missing parts left out)."""
    name, split, protocol, _, frame, count = key[:6]
    parts = [str(name), str(split) if split else "", f"protocol {protocol}",
             "×".join(str(v) for v in frame), f"{count} images" if count is not None else ""]
    return " · ".join(part for part in parts if part)


def group_runs(runs: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> list[RunGroup]:
    """Split runs into comparable groups, in order of first appearance.

    Comparable runs share the dataset, split, protocol, box convention, frame and image count.

    Args:
        runs: Results of each run.
        labels: A label per run (:func:`run_labels`).

    Returns:
        The groups.
    """
    members: dict[tuple, list[int]] = {}
    for i, results in enumerate(runs):
        members.setdefault(_group_key(results), []).append(i)
    groups = []
    for key, indices in members.items():
        rows = [
            {**row, "run": labels[i], "model": runs[i]["model"]["name"],
             "label": method_label(row["method"])}
            for i in indices for row in method_rows(runs[i])
        ]
        first = runs[indices[0]]
        detail = f"{describe_dataset(first)}; protocol {describe_protocol(first)}"
        groups.append(RunGroup(_group_title(key), detail, tuple(indices), tuple(rows)))
    return groups


def comparability_warning(runs: Sequence[Mapping[str, Any]], groups: Sequence[RunGroup]) -> str:
    """A sentence saying the groups are not comparable and why ("" for a single group)."""
    if len(groups) < 2:
        return ""
    keys = [_group_key(runs[group.runs[0]]) for group in groups]
    differ = [name for i, name in enumerate(_GROUP_FIELDS) if len({k[i] for k in keys}) > 1]
    return (
        f"These runs fall into {len(groups)} groups whose numbers are not comparable with each "
        f"other (they differ in {' and '.join(differ)}): each group has its own table and its "
        "own best values."
    )


def run_labels(run_dirs: Sequence[Path]) -> list[str]:
    """Short unique labels: the folder names, or the full paths where names repeat."""
    labels = [p.name or str(p) for p in run_dirs]
    if len(set(labels)) == len(labels):
        return labels
    return [str(p) for p in run_dirs]
