"""Which differences in a report are real: paired comparisons of the rows of a table.

Rows (methods of one run, or of several runs) are **paired** when they were measured on the same
images under the same protocol: the same run, or runs whose ``records.image_ids_sha256`` agree
(tables only ever hold runs of one comparable group: dataset, split, protocol, frame, image
count, thresholds). Runs on different images are never paired. The per-image records
(``RUN_DIR/records.npz``) of paired rows go to
:func:`evaluation.statistics.paired.compare_methods`: paired bootstrap intervals of every
difference, McNemar's exact test for the fixed-threshold hit rates, ranks with ties.

A value is marked **best** when no row of its table is significantly better on that metric and
it is significantly better than at least one row (so nothing is marked when no difference is
supported, and never when the table's rows are not all paired); speed and thresholds are never
marked. :func:`significance_paragraphs` writes the "what is significant" prose from the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.errors import DataFormatError, MissingFilesError
from evaluation.reports.figures import method_label
from evaluation.runs.schema import RECORDS_FILE, RECORDS_KEYS
from evaluation.statistics.bootstrap import BootstrapSettings
from evaluation.statistics.paired import PairedComparison, PairedDifference, compare_methods
from evaluation.statistics.records import ImageRecords

HEADLINE_METRICS = ("maxboxacc_v2", "maxboxacc", "gt_known_loc", "top1_loc", "pointing_game",
                    "energy_pointing_game")
"""The metrics the "what is significant" prose speaks of, in that order."""

METRIC_NAMES = {
    "top1_cls": "Top-1 Cls", "top5_cls": "Top-5 Cls", "gt_known_loc": "GT-known Loc",
    "top1_loc": "Top-1 Loc", "top5_loc": "Top-5 Loc", "maxboxacc": "MaxBoxAcc",
    "maxboxacc_v2": "MaxBoxAccV2", "gt_known_loc_best": "GT-known Loc (best τ)",
    "top1_loc_best": "Top-1 Loc (best τ)", "top5_loc_best": "Top-5 Loc (best τ)",
    "pxap": "PxAP", "pointing_game": "Pointing game",
    "pointing_game_tolerant": "Pointing game (tolerance)",
    "energy_pointing_game": "Energy pointing game", "relevance_mass_accuracy": "Relevance mass",
    "relevance_rank_accuracy": "Relevance rank", "top_k_intersection": "Top-k intersection",
    "auc": "AUC",
}
"""Display names of the metrics (``v2_<delta>`` reads ``V2 @<delta>``)."""


def metric_name(key: str) -> str:
    """The display name of a metric key."""
    if key.startswith("v2_"):
        return f"V2 @{key[3:]}"
    return METRIC_NAMES.get(key, key)


@dataclass(frozen=True)
class PairedRows:
    """Rows of one table measured on the same images, and their comparison.

    Attributes:
        rows: Indices of the rows in the table, in the comparison's method order.
        labels: A label per compared row (``run · method`` or the method).
        images: The number of images they share.
        comparison: The paired comparison of those rows.
    """

    rows: tuple[int, ...]
    labels: tuple[str, ...]
    images: int
    comparison: PairedComparison


def read_records(run_dir: str | Path, results: Mapping[str, Any]) -> dict[str, ImageRecords]:
    """Each method's per-image records from ``RUN_DIR/records.npz`` (``{}`` when none is named).

    Raises:
        MissingFilesError: The results name a records file that is absent.
        DataFormatError: The file is not a readable archive or lacks arrays.
    """
    entry = results.get("records")
    if not isinstance(entry, dict):
        return {}
    name = entry.get("file", RECORDS_FILE)
    path = Path(run_dir) / name
    if not path.is_file():
        raise MissingFilesError("per-image records file", [name], run_dir)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise DataFormatError(path, None, f"not a readable .npz archive ({error})") from error
    missing = [key for key in RECORDS_KEYS if key not in arrays]
    if missing:
        raise DataFormatError(path, None, f"lacks the arrays {', '.join(missing)}")
    shared = {k: v for k, v in arrays.items() if k not in ("hits", "attribution", "pixels")}
    records = {}
    for m, method in enumerate(arrays["methods"].tolist()):
        per_method = {"hits": arrays["hits"][m], "attribution": arrays["attribution"][m],
                      "pixels": arrays["pixels"][m]}
        records[str(method)] = ImageRecords.from_arrays({**shared, **per_method})
    return records


def pair_rows(
    rows: Sequence[Mapping[str, Any]],
    records: Sequence[ImageRecords | None],
    images: Sequence[str | None],
    settings: BootstrapSettings,
) -> list[PairedRows]:
    """Compare the rows of one table that were measured on the same images.

    Args:
        rows: The table's rows (``label`` and optionally ``run`` name them).
        records: Each row's per-image records, or ``None`` when its run kept none.
        images: Each row's image-set key (``image_ids_sha256``), or ``None``.
        settings: Resamples, seed and level of the paired bootstrap.

    Returns:
        One :class:`PairedRows` per set of at least two rows with records on the same images.
    """
    clusters: dict[str, list[int]] = {}
    for i, (record, key) in enumerate(zip(records, images, strict=True)):
        if record is not None and key is not None:
            clusters.setdefault(key, []).append(i)
    paired = []
    for members in clusters.values():
        if len(members) < 2:
            continue
        comparison = compare_methods([records[i] for i in members], settings)  # type: ignore[misc]
        labels = tuple(_row_label(rows[i], len({r.get("run") for r in rows}) > 1)
                       for i in members)
        size = records[members[0]].size  # type: ignore[union-attr]
        paired.append(PairedRows(tuple(members), labels, size, comparison))
    return paired


def _row_label(row: Mapping[str, Any], with_run: bool) -> str:
    label = row.get("label") or method_label(str(row["method"]))
    return f"{row['run']} · {label}" if with_run and row.get("run") else str(label)


def best_marks(row_count: int, key: str, paired: Sequence[PairedRows]) -> set[int]:
    """The rows whose value of ``key`` is marked best (see the module docstring)."""
    if len(paired) != 1 or len(paired[0].rows) != row_count:
        return set()
    comparison = paired[0].comparison
    if key not in comparison.metrics:
        return set()
    better = comparison.better(key)
    return {paired[0].rows[i] for i in range(len(better))
            if not better[:, i].any() and better[i].any()}


def significance_paragraphs(paired: Sequence[PairedRows], unpaired_note: str = "") -> list[str]:
    """The "what is significant" prose, written from the comparisons' numbers.

    One sentence per headline metric: each pair's difference and its test when there are at
    most three pairs; otherwise how many differences are significant, which rows rank first, and
    the difference between the two highest distinct values.
    """
    if not paired:
        return [unpaired_note or "No two rows were measured on the same images with per-image "
                "records, so no difference could be tested and nothing is marked best."]
    paragraphs = []
    for group in paired:
        comparison = group.comparison
        keys = [k for k in HEADLINE_METRICS if k in comparison.metrics]
        sentences, significant, total = [], 0, 0
        for key in keys:
            oriented = [_ahead(comparison, key, i, j) for (metric, i, j) in comparison.differences
                        if metric == key]
            significant += sum(d.significant for d in oriented)
            total += len(oriented)
            sentences.append(_metric_sentence(group, key, oriented))
        level = f"{comparison.settings.level:.0%}"
        verb = "is" if significant == 1 else "are"
        paragraphs.append(
            f"Of the {total} paired differences on {', '.join(metric_name(k) for k in keys)}, "
            f"{significant} {verb} larger than the sampling noise ({level} paired bootstrap "
            f"intervals over the {group.images} images, {comparison.settings.resamples} "
            "resamples; McNemar's exact test for the fixed-threshold hit rates)."
        )
        paragraphs.append(" ".join(sentences))
    if unpaired_note:
        paragraphs.append(unpaired_note)
    return paragraphs


def _ahead(comparison: PairedComparison, key: str, i: int, j: int) -> PairedDifference:
    """The difference of ``key`` between ``i`` and ``j``, the higher value first."""
    found = comparison.difference(key, i, j)
    return found if found.difference >= 0 else comparison.difference(key, j, i)


def _test_text(found: PairedDifference, level: float) -> str:
    if found.p_value is not None:
        return f"McNemar p = {found.p_value:.2g}"
    return f"{level:.0%} interval {found.low:+.1f} to {found.high:+.1f}"


def _metric_sentence(group: PairedRows, key: str, oriented: Sequence[PairedDifference]) -> str:
    """One metric's sentence of :func:`significance_paragraphs`."""
    comparison, labels, name = group.comparison, group.labels, metric_name(key)
    level = comparison.settings.level
    if len(oriented) <= 3:
        parts = [
            f"{labels[d.first]} is ahead of {labels[d.second]} by {d.difference:.1f} points "
            f"({_test_text(d, level)}): {'significant' if d.significant else 'within the noise'}"
            for d in oriented
        ]
        return f"{name}: " + "; ".join(parts) + "."
    values = comparison.values[key]
    order = [int(k) for k in np.argsort(-values, kind="stable")]
    first = order[0]
    shown = np.round(values, 1)  # distinct as displayed
    second = next((k for k in order[1:] if shown[k] != shown[first]), order[1])
    top = _ahead(comparison, key, first, second)
    leaders = [labels[i] for i in range(len(labels)) if comparison.ranks[key][i] == 1]
    count = sum(d.significant for d in oriented)
    verdict = "significant" if top.significant else "within the noise"
    return (
        f"{name}: {count} of {len(oriented)} differences are significant; rank 1: "
        f"{', '.join(leaders)}; the two highest distinct values, {labels[top.first]} and "
        f"{labels[top.second]}, "
        f"differ by {top.difference:.1f} points ({_test_text(top, level)}, {verdict})."
    )


def rank_rows(group: PairedRows, keys: Sequence[str]) -> list[dict[str, Any]]:
    """One row per compared row: ``label`` and its rank per metric key (``None``: not measured).

    Ranks are ``1 + the number of rows significantly better`` (ties share a rank).
    """
    comparison = group.comparison
    return [
        {"label": label, **{key: int(comparison.ranks[key][i]) if key in comparison.ranks
                            else None for key in keys}}
        for i, label in enumerate(group.labels)
    ]


def difference_rows(group: PairedRows, keys: Sequence[str]) -> list[dict[str, Any]]:
    """One row per pair ``(i, j)``: ``pair`` text and per metric the difference ``i - j``.

    Each metric value is the :class:`~evaluation.statistics.paired.PairedDifference` (``None``
    when not measured).
    """
    comparison = group.comparison
    rows = []
    count = len(group.labels)
    for i in range(count):
        for j in range(i + 1, count):
            row: dict[str, Any] = {"pair": f"{group.labels[i]} − {group.labels[j]}"}
            for key in keys:
                row[key] = comparison.difference(key, i, j) if key in comparison.metrics else None
            rows.append(row)
    return rows
