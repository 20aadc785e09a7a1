"""``wsol-bench score``: box metrics of score maps saved in the reference evaluation's format.

Inputs are those of ``clovaai/wsolevaluation``'s ``evaluation.py``: a metadata folder
(``image_ids.txt``, ``class_labels.txt``, ``image_sizes.txt``, ``localization.txt``, read by
:func:`evaluation.datasets.wsol_metadata.read_wsol_metadata`) and one ``<image_id>.npy`` per image
under the score-map folder (``np.save`` appends ``.npy`` to the id, ``.jpg`` included).

Each map is 2-D (a leading axis of length 1 is dropped; integer maps such as uint8 heat maps are
accepted, boolean masks and other shapes refused: :mod:`evaluation.datasets.score_maps`) and may
have any size: it is resized to
the 224x224 evaluation frame with bicubic interpolation (``torch`` ``bicubic``,
``align_corners=False``, the kernel of the reference's ``cv2.resize(INTER_CUBIC)``; it matches to
float rounding, so maps saved at 224x224, as the reference expects, are the bit-exact input), then
min-max normalised. Ground-truth boxes map into the frame with the reference's truncation
``int(x * 224 / W)`` (``"wsoleval"`` and ``"paper"``) or pixel-exact edges (``"strict"``).
Predictions are an optional CSV ``image_id,top1,top2,...`` (best first, an optional header line
starting with ``image_id``), one line per image.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

FRAME_SIDE = 224
BATCH_SIZE = 64


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``score`` subcommand."""
    parser = subparsers.add_parser(
        "score",
        help="compute MaxBoxAcc, MaxBoxAccV2 and Loc metrics of saved score maps",
        description=(
            "Evaluate <image_id>.npy score maps against a wsolevaluation metadata folder. Maps of "
            "any size are resized to 224x224 (bicubic) and min-max normalised. A map is a 2-D "
            "(H, W) array of floats or integers (uint8 heat maps are fine: min-max normalisation "
            "makes them scores); a (1, H, W) array is read as (H, W); boolean masks, other 3-D "
            "shapes and .npz archives are refused."
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
        help="threads for the box sweeps, one CPU core each (default: all CPUs)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Score the maps, print a table, write the JSON report atomically."""
    import numpy as np
    import torch

    from evaluation.datasets.transforms import eval_geometry, map_boxes
    from evaluation.datasets.wsol_metadata import read_wsol_metadata
    from evaluation.errors import ConfigurationError, MissingFilesError
    from evaluation.io import atomic_write_json
    from evaluation.localization import LocalizationAccumulator
    from evaluation.paths import check_output_file, is_file, is_folder
    from evaluation.progress import Progress
    from evaluation.statistics.bootstrap import BootstrapSettings

    if not 0 < args.cam_curve_interval <= 1:
        raise ConfigurationError(
            f"--cam-curve-interval must lie in (0, 1], got {args.cam_curve_interval}"
        )
    if args.workers < 1:
        raise ConfigurationError(f"--workers must be at least 1, got {args.workers}")
    bootstrap = BootstrapSettings(args.bootstrap_resamples, args.seed)
    check_output_file(args.output, "--output")
    if not is_folder(args.scoremaps, "--scoremaps"):
        raise ConfigurationError(f"--scoremaps {args.scoremaps} is not a folder")
    index = read_wsol_metadata(args.metadata)
    records = index.records
    missing = [
        r.image_id
        for r in records
        if not is_file(_map_path(args.scoremaps, r.image_id), "score maps")
    ]
    if missing:
        raise MissingFilesError("score maps (<image_id>.npy)", missing, args.scoremaps)
    predictions = None
    if args.predictions is not None:
        predictions = _read_predictions(args.predictions, [r.image_id for r in records])

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
        frame = geometry.frame_size
        for start in range(0, len(records), BATCH_SIZE):
            batch = records[start : start + BATCH_SIZE]
            maps = torch.stack([_load_map(args.scoremaps, r.image_id, frame) for r in batch])
            most = max(len(r.boxes) for r in batch)
            gt = torch.full((len(batch), most, 4), float("nan"), dtype=torch.float64)
            for i, record in enumerate(batch):
                if record.boxes:
                    sizes = np.tile(
                        np.asarray(record.size, dtype=np.float64), (len(record.boxes), 1)
                    )
                    mapped = map_boxes(np.asarray(record.boxes), sizes, geometry)
                    gt[i, : len(record.boxes)] = torch.from_numpy(mapped.astype(np.float64))
            labels = torch.tensor([r.label for r in batch], dtype=torch.long)
            topk = None if predictions is None else predictions[start : start + len(batch)]
            accumulator.update(maps, gt, labels, topk)
            progress.update(len(batch))

    result = accumulator.compute(bootstrap)
    report = {
        **result,
        "metadata": str(args.metadata),
        "scoremaps": str(args.scoremaps),
    }
    atomic_write_json(args.output, report)
    _print_table(result, args.output)
    return 0


def _map_path(root: Path, image_id: str) -> Path:
    return root / f"{image_id}.npy"


def _load_map(root: Path, image_id: str, frame: tuple[int, int]) -> Any:
    """One score map as a ``(H, W)`` float tensor in the frame (resized when needed)."""
    import numpy as np
    import torch

    from evaluation.datasets.score_maps import read_score_map
    from evaluation.localization.quantization import resize_score_maps

    array = read_score_map(_map_path(root, image_id))
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return resize_score_maps(tensor[None], frame)[0]


def _read_predictions(path: Path, image_ids: list[str]) -> Any:
    """Top-k predictions ``(N, k)`` in ``image_ids`` order from a CSV ``image_id,top1,...``."""
    import torch

    from evaluation.datasets.parsing import read_text
    from evaluation.errors import DataFormatError

    wanted = set(image_ids)
    rows: dict[str, list[int]] = {}
    width = None
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if not rows and width is None and fields[0] == "image_id":
            continue
        if len(fields) < 2:
            raise DataFormatError(path, number, "expected 'image_id,top1[,top2,...]'")
        image_id, classes = fields[0], fields[1:]
        if image_id not in wanted:
            raise DataFormatError(path, number, f"image id {image_id!r} is not in the metadata")
        if image_id in rows:
            raise DataFormatError(path, number, f"duplicate image id {image_id!r}")
        if width is not None and len(classes) != width:
            raise DataFormatError(
                path, number, f"{len(classes)} predictions where earlier lines have {width}"
            )
        try:
            rows[image_id] = [int(c) for c in classes]
        except ValueError:
            raise DataFormatError(path, number, "predicted classes must be integers") from None
        width = len(classes)
    absent = [i for i in image_ids if i not in rows]
    if absent:
        shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
        raise DataFormatError(path, None, f"no prediction for {len(absent)} image ids: {shown}")
    return torch.tensor([rows[i] for i in image_ids], dtype=torch.long)


def _print_table(result: dict[str, Any], output: Path) -> None:
    intervals = result["intervals"]

    def fmt(value: float | None, key: str | None = None) -> str:
        if value is None:
            return "-"
        bounds = intervals.get(key) if key else None
        return f"{value:6.2f}" + (f" [{bounds[0]:.2f}, {bounds[1]:.2f}]" if bounds else "")

    lines = [
        f"convention {result['convention']}, {result['num_images']} images, "
        f"{result['num_nonfinite_maps']} non-finite maps zeroed",
        f"{'MaxBoxAcc (V1, IoU 50)':<28}{fmt(result['maxboxacc'], 'maxboxacc')}"
        f"   tau* {result['best_threshold']:.3f}",
        f"{'MaxBoxAccV2':<28}{fmt(result['maxboxacc_v2'], 'maxboxacc_v2')}",
    ]
    for delta, value in result["boxacc_v2_by_iou"].items():
        tau = result["best_threshold_by_iou"][delta]
        bounds = intervals["boxacc_v2_by_iou"].get(delta)
        text = fmt(value) + (f" [{bounds[0]:.2f}, {bounds[1]:.2f}]" if bounds else "")
        lines.append(f"{'  V2 @ IoU ' + delta:<28}{text}   tau* {tau:.3f}")
    tau = result["fixed_threshold"]
    tolerance, top_k, drawn = result["pointing_tolerance"], result["top_k"], result["interval"]
    lines += [
        f"{f'GT-known Loc @ tau {tau:g}':<28}{fmt(result['gt_known_loc'], 'gt_known_loc')}",
        f"{f'Top-1 Loc @ tau {tau:g}':<28}{fmt(result['top1_loc'], 'top1_loc')}",
        f"{f'Top-5 Loc @ tau {tau:g}':<28}{fmt(result['top5_loc'], 'top5_loc')}",
        f"{'Top-1 Cls':<28}{fmt(result['top1_cls'], 'top1_cls')}",
        f"{'Pointing game':<28}{fmt(result['pointing_game'], 'pointing_game')}",
        f"{f'  within {tolerance} px':<28}"
        f"{fmt(result['pointing_game_tolerant'], 'pointing_game_tolerant')}",
        f"{'Energy pointing game':<28}"
        f"{fmt(result['energy_pointing_game'], 'energy_pointing_game')}",
        f"{'Relevance mass accuracy':<28}"
        f"{fmt(result['relevance_mass_accuracy'], 'relevance_mass_accuracy')}",
        f"{'Relevance rank accuracy':<28}"
        f"{fmt(result['relevance_rank_accuracy'], 'relevance_rank_accuracy')}",
        f"{f'Top-{top_k} intersection':<28}"
        f"{fmt(result['top_k_intersection'], 'top_k_intersection')}",
        f"{'AUC':<28}{fmt(result['auc'], 'auc')}",
        f"values in %; [low, high]: {drawn['level']:.0%} percentile bootstrap over images "
        f"({drawn['resamples']} resamples, seed {drawn['seed']}; best tau re-selected in each)",
        f"written to {output}",
    ]
    print("\n".join(lines), file=sys.stdout)
