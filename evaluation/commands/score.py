"""``wsol-bench score``: box metrics, PxAP and attribution metrics of score maps saved as files.

Inputs are those of ``clovaai/wsolevaluation``'s ``evaluation.py``: a metadata folder
(``image_ids.txt``, ``class_labels.txt``, ``image_sizes.txt``, ``localization.txt``, read by
:func:`evaluation.datasets.wsol_metadata.read_wsol_metadata`) and one ``<image_id>.npy`` per image
under the score-map folder (``np.save`` appends ``.npy`` to the id, ``.jpg`` included). With mask
metadata (``localization.txt`` lines ``image_id,mask_path,ignore_path``, OpenImages' layout, whose
``image_sizes.txt`` may be empty) ``--masks DIR`` names the folder the mask paths refer to, and
PxAP is measured (the metadata has no boxes then, so box metrics are not reported).

Each map is 2-D (a leading axis of length 1 is dropped; integer maps such as uint8 heat maps are
accepted, boolean masks, other shapes and ``.npz`` archives refused:
:mod:`evaluation.datasets.score_maps`) and may have any size: as the reference's
``CAMComputer``, it is cast to float64 and resized to the 224x224 evaluation frame with
``cv2.resize(INTER_CUBIC)``, then min-max normalised, so every number equals the reference's bit
for bit (:mod:`evaluation.localization.frame`). Ground-truth boxes map into the frame with the
reference's truncation ``int(x * 224 / W)`` (``"wsoleval"`` and ``"paper"``) or pixel-exact edges
(``"strict"``). Masks are read as the reference's ``get_mask`` (:mod:`evaluation.datasets.masks`).
The attribution metrics (pointing games, relevance mass and rank, top-k, AUC:
:mod:`evaluation.localization.attribution`) score the raw map in the frame against the union of
the boxes, or the mask. Every metric gets a percentile bootstrap interval over images.
Predictions are an optional CSV ``image_id,top1,top2,...`` (best first, an optional header line
starting with ``image_id``), one line per image.

Scoring needs numpy, OpenCV and the compiled sweeps, never torch: maps stream through a thread
pool in chunks (:mod:`evaluation.scoring.stream`), so memory does not grow with their number.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from evaluation.datasets.records import ImageRecord
    from evaluation.localization import LocalizationAccumulator

FRAME_SIDE = 224
PIXEL_KEYS = (
    "convention", "frame_size", "num_images", "num_nonfinite_maps", "num_constant_maps",
    "thresholds", "top1_cls", "top5_cls", "pxap", "attribution_region", "pointing_tolerance",
    "top_k", "interval",
)
"""What a run without ground-truth boxes reports besides the attribution metrics."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``score`` subcommand."""
    parser = subparsers.add_parser(
        "score",
        help="compute MaxBoxAcc, MaxBoxAccV2, Loc, PxAP and attribution metrics of saved maps",
        description=(
            "Evaluate <image_id>.npy score maps against a wsolevaluation metadata folder. Maps of "
            "any size are resized to 224x224 (float64, OpenCV bicubic) and min-max normalised, "
            "as the reference evaluation does. A map is a 2-D (H, W) array of floats or integers "
            "(uint8 heat maps are fine: min-max normalisation makes them scores); a (1, H, W) "
            "array is read as (H, W); boolean masks, other 3-D shapes and .npz archives are "
            "refused."
        ),
    )
    parser.add_argument(
        "--metadata", required=True, type=Path, metavar="DIR",
        help="folder with image_ids.txt, class_labels.txt, image_sizes.txt, localization.txt",
    )
    parser.add_argument(
        "--scoremaps", required=True, type=Path, metavar="DIR",
        help="folder with one <image_id>.npy 2-D score map per image",
    )
    parser.add_argument(
        "--masks", type=Path, metavar="DIR",
        help="folder the mask paths of localization.txt refer to (mask metadata: adds PxAP)",
    )
    parser.add_argument(
        "--mask-rule", choices=("positive", "majority"),
        help="foreground of a grey mask: positive = grey > 0.5, the reference's (default with "
        "--convention wsoleval and paper); majority = grey > 127, CUB's (default with strict)",
    )
    parser.add_argument(
        "--output", type=Path, default=Path("score.json"), metavar="FILE",
        help="JSON file to write, replaced if it exists (default: score.json in the current "
        "folder)",
    )
    parser.add_argument(
        "--cam-threshold", type=float, default=0.2, metavar="TAU",
        help="fixed map threshold of GT-known / Top-1 / Top-5 Loc (default: 0.2)",
    )
    parser.add_argument(
        "--cam-curve-interval", type=float, default=0.01, metavar="STEP",
        help="threshold grid step: thresholds 0, STEP, ... below 1 (default: 0.01)",
    )
    parser.add_argument(
        "--iou-thresholds", type=int, nargs="+", default=[30, 50, 70], metavar="DELTA",
        help="IoU thresholds in percent averaged by MaxBoxAccV2 (default: 30 50 70)",
    )
    parser.add_argument(
        "--convention", choices=("wsoleval", "paper", "strict"), default="wsoleval",
        help="box convention (default: wsoleval, the reference evaluation bit for bit)",
    )
    parser.add_argument(
        "--predictions", type=Path, metavar="FILE",
        help="CSV 'image_id,top1,top2,...' of predicted classes, best first (adds Top-k Loc)",
    )
    parser.add_argument(
        "--bootstrap-resamples", type=int, default=1000, metavar="B",
        help="resamples of the images for every metric's 95%% interval (default: 1000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the resamples (default: 0)")
    parser.add_argument(
        "--pointing-tolerance", type=int, default=15, metavar="PX",
        help="distance in pixels of the tolerant pointing game (default: TorchRay's 15)",
    )
    parser.add_argument(
        "--top-k", type=int, default=1000, metavar="K",
        help="pixels of the top-k intersection (default: Quantus' 1000)",
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, metavar="N",
        help="threads reading, resizing and sweeping maps, one CPU core each (default: all CPUs)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score the maps, print a table, write the JSON report atomically."""
    from evaluation.io import atomic_write_json
    from evaluation.statistics.bootstrap import BootstrapSettings

    bootstrap = BootstrapSettings(args.bootstrap_resamples, args.seed)
    records, has_masks, predictions = _read_inputs(args)
    result = _accumulate(args, records, has_masks, predictions).compute(bootstrap)
    if not any(r.boxes for r in records):
        result = _without_box_metrics(result)
    report = {
        **result,
        "metadata": str(args.metadata),
        "scoremaps": str(args.scoremaps),
        "masks": None if args.masks is None else str(args.masks),
    }
    atomic_write_json(args.output, report)
    _print_table(result, args.output)
    return 0


def _read_inputs(args: argparse.Namespace) -> tuple[list[ImageRecord], bool, np.ndarray | None]:
    """The metadata's records, whether they carry masks, the predictions; checked against args.

    Raises:
        ConfigurationError: An option is out of range, a folder is missing, or the metadata and
            ``--masks`` disagree (masks need the folder, boxes refuse it).
        PathKindError: ``--output`` is a folder or lies under a file; a map path is a folder.
        AccessError: A folder or file cannot be read, or ``--output`` cannot be created.
        MissingFilesError: Score maps are absent (the message shows the paths looked for).
        DataFormatError: Malformed metadata or predictions.
    """
    from evaluation.datasets.score_maps import map_path
    from evaluation.datasets.wsol_metadata import read_wsol_metadata
    from evaluation.errors import ConfigurationError, MissingFilesError
    from evaluation.paths import check_output_file, is_file, is_folder
    from evaluation.scoring.predictions import read_predictions

    if not 0 < args.cam_curve_interval <= 1:
        raise ConfigurationError(
            f"--cam-curve-interval must lie in (0, 1], got {args.cam_curve_interval}"
        )
    if args.workers < 1:
        raise ConfigurationError(f"--workers must be at least 1, got {args.workers}")
    check_output_file(args.output, "--output")
    if not is_folder(args.scoremaps, "--scoremaps"):
        raise ConfigurationError(f"--scoremaps {args.scoremaps} is not a folder")
    if args.masks is not None and not is_folder(args.masks, "--masks"):
        raise ConfigurationError(f"--masks {args.masks} is not a folder")
    records = read_wsol_metadata(args.metadata, mask_root=args.masks).records
    has_masks = any(r.mask_path is not None for r in records)
    localization = args.metadata / "localization.txt"
    if has_masks and args.masks is None:
        raise ConfigurationError(
            f"{localization} lists masks, not boxes: give --masks DIR, the folder its mask paths "
            "refer to, to measure PxAP"
        )
    if args.masks is not None and not has_masks:
        raise ConfigurationError(f"--masks given, but {localization} lists boxes, not masks")
    paths = (map_path(args.scoremaps, r.image_id) for r in records)
    missing = [str(path) for path in paths if not is_file(path, "score maps")]
    if missing:
        raise MissingFilesError("score maps (<scoremaps>/<image_id>.npy)", missing, args.scoremaps)
    predictions = None
    if args.predictions is not None:
        predictions = read_predictions(args.predictions, [r.image_id for r in records])
    return records, has_masks, predictions


def _accumulate(
    args: argparse.Namespace,
    records: list[ImageRecord],
    has_masks: bool,
    predictions: np.ndarray | None,
) -> LocalizationAccumulator:
    """Stream every map through the accumulator on ``--workers`` threads, with progress lines."""
    import numpy as np

    from evaluation.datasets.masks import default_mask_rule
    from evaluation.datasets.transforms import eval_geometry
    from evaluation.localization import LocalizationAccumulator
    from evaluation.progress import Progress
    from evaluation.scoring.stream import FrameRules, stream_levels

    geometry = eval_geometry("exact" if args.convention == "strict" else "wsoleval", FRAME_SIDE)
    progress = Progress(len(records), "score", "maps", "maps")
    with ThreadPoolExecutor(args.workers) as pool, progress:
        accumulator = LocalizationAccumulator(
            frame_size=geometry.frame_size,
            thresholds=np.arange(0, 1, args.cam_curve_interval),
            iou_thresholds=args.iou_thresholds,
            fixed_threshold=args.cam_threshold,
            convention=args.convention,
            executor=pool if args.workers > 1 else None,
            pointing_tolerance=args.pointing_tolerance,
            top_k=args.top_k,
        )
        settings = accumulator.settings
        rules = FrameRules(
            geometry, args.convention, settings.thresholds, settings.pointing_tolerance,
            settings.top_k, has_masks, args.mask_rule or default_mask_rule(geometry.protocol),
        )
        for chunk in stream_levels(records, args.scoremaps, rules, pool, args.workers + 1):
            part = slice(chunk.start, chunk.start + len(chunk.quantized.levels))
            accumulator.update_levels(
                chunk.quantized,
                chunk.boxes,
                np.array([r.label for r in records[part]], dtype=np.int64),
                chunk.attribution,
                None if predictions is None else predictions[part],
                chunk.histograms,
            )
            progress.update(len(chunk.quantized.levels))
    return accumulator


def _without_box_metrics(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` of a run without ground-truth boxes: what needs no box (intervals too)."""
    from evaluation.statistics.records import ATTRIBUTION_METRICS

    kept = (*PIXEL_KEYS, *ATTRIBUTION_METRICS)
    reduced = {key: value for key, value in result.items() if key in kept}
    reduced["intervals"] = {
        key: value for key, value in result["intervals"].items() if key in kept
    }
    return reduced


def _print_table(result: dict[str, Any], output: Path) -> None:
    """The metrics as a table on stdout: box metrics where measured, PxAP where measured."""
    intervals = result["intervals"]

    def fmt(value: float | None, key: str | None = None) -> str:
        if value is None:
            return "-"
        bounds = intervals.get(key) if key else None
        return f"{value:6.2f}" + (f" [{bounds[0]:.2f}, {bounds[1]:.2f}]" if bounds else "")

    def row(name: str, key: str) -> str:
        return f"{name:<28}{fmt(result[key], key)}"

    lines = [
        f"convention {result['convention']}, {result['num_images']} images, "
        f"{result['num_nonfinite_maps']} non-finite and {result['num_constant_maps']} constant "
        "maps zeroed",
    ]
    if "maxboxacc" in result:
        lines += [
            row("MaxBoxAcc (V1, IoU 50)", "maxboxacc") + f"   tau* {result['best_threshold']:.3f}",
            row("MaxBoxAccV2", "maxboxacc_v2"),
        ]
        for delta, value in result["boxacc_v2_by_iou"].items():
            tau = result["best_threshold_by_iou"][delta]
            bounds = intervals["boxacc_v2_by_iou"].get(delta)
            text = fmt(value) + (f" [{bounds[0]:.2f}, {bounds[1]:.2f}]" if bounds else "")
            lines.append(f"{'  V2 @ IoU ' + delta:<28}{text}   tau* {tau:.3f}")
        tau = result["fixed_threshold"]
        lines += [
            row(f"GT-known Loc @ tau {tau:g}", "gt_known_loc"),
            row(f"Top-1 Loc @ tau {tau:g}", "top1_loc"),
            row(f"Top-5 Loc @ tau {tau:g}", "top5_loc"),
        ]
    else:
        lines.append("no ground-truth boxes in the metadata: box metrics not measured")
    lines.append(row("Top-1 Cls", "top1_cls"))
    if result["pxap"] is not None:
        lines.append(row("PxAP", "pxap"))
    tolerance, top_k, drawn = result["pointing_tolerance"], result["top_k"], result["interval"]
    lines += [
        row(f"Pointing game ({result['attribution_region']})", "pointing_game"),
        row(f"  within {tolerance} px", "pointing_game_tolerant"),
        row("Energy pointing game", "energy_pointing_game"),
        row("Relevance mass accuracy", "relevance_mass_accuracy"),
        row("Relevance rank accuracy", "relevance_rank_accuracy"),
        row(f"Top-{top_k} intersection", "top_k_intersection"),
        row("AUC", "auc"),
        f"values in %; [low, high]: {drawn['level']:.0%} percentile bootstrap over images "
        f"({drawn['resamples']} resamples, seed {drawn['seed']}; best tau re-selected in each)",
        f"written to {output}",
    ]
    print("\n".join(lines), file=sys.stdout)
