"""Saved maps to quantised frame levels, chunk by chunk on a thread pool, in order, bounded.

Each task takes :data:`CHUNK` records and, per map: reads it (:func:`~evaluation.scoring.maps.
load_score_map`), moves it into the frame the reference's way (float64,
``cv2.resize(INTER_CUBIC)``: :func:`evaluation.localization.frame.to_frame`), quantises it
(:func:`evaluation.localization.levels.quantize_frame_maps`) and, when PxAP is measured, adds the
histograms of its normalised scores over its label mask (:func:`evaluation.datasets.masks.
frame_label_mask`, :func:`evaluation.localization.pxap.pixel_histograms`). ``np.load``, OpenCV and
the compiled quantiser release the GIL, so threads run maps in parallel. :func:`stream_levels`
keeps at most ``in_flight`` chunks submitted and yields them in record order: memory holds
``in_flight`` chunks of uint8 levels (``64 x 224 x 224`` bytes each), whatever the number of maps.

A map of another size than the frame that holds a NaN or an infinity is zeroed and flagged even
when resizing hides it (a downsizing bicubic resize skips pixels), as ``wsol-bench evaluate`` does
(:func:`evaluation.localization.quantization.quantize_raw_maps`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.datasets.masks import frame_label_mask
from evaluation.datasets.records import ImageRecord
from evaluation.datasets.transforms import Geometry
from evaluation.localization.frame import nonfinite, normalize_frame_map, to_frame
from evaluation.localization.levels import QuantizedMaps, quantize_frame_maps
from evaluation.localization.pxap import histogram_edges, pixel_histograms
from evaluation.scoring.maps import load_score_map, map_path

CHUNK = 64
"""Maps per task."""


@dataclass(frozen=True)
class FrameRules:
    """What every map of a run goes through.

    Attributes:
        frame_size: ``(H, W)`` of the evaluation frame.
        convention: The box convention (its quantisation).
        thresholds: ``(T,)`` float64 grid, the PxAP histogram edges' start.
        mask_geometry: The frame geometry of the masks, or ``None``: no PxAP.
        mask_rule: The grey threshold of the masks (:mod:`evaluation.datasets.masks`).
    """

    frame_size: tuple[int, int]
    convention: str
    thresholds: np.ndarray
    mask_geometry: Geometry | None = None
    mask_rule: str = "positive"


@dataclass(frozen=True)
class LevelChunk:
    """Consecutive records' maps in the frame, ready for ``update_levels``.

    Attributes:
        start: Position of the first record.
        quantized: Their ``(n, H, W)`` levels and zeroing flags.
        histograms: Their pooled ``(2, T + 2)`` PxAP histograms, or ``None`` without masks.
    """

    start: int
    quantized: QuantizedMaps
    histograms: np.ndarray | None


def chunk_levels(
    start: int, records: Sequence[ImageRecord], scoremaps: Path, rules: FrameRules
) -> LevelChunk:
    """Read, frame and quantise the maps of ``records`` (and histogram them for PxAP).

    Raises:
        ScoreMapError: A map is unreadable or not a 2-D real array.
        DataFormatError: A mask cannot be read or has another size than its image.
    """
    count = len(records)
    levels = np.empty((count, *rules.frame_size), dtype=np.uint8)
    flags = np.zeros((2, count), dtype=bool)
    histograms = None
    if rules.mask_geometry is not None:
        histograms = np.zeros((2, len(histogram_edges(rules.thresholds)) - 1), dtype=np.int64)
    for i, record in enumerate(records):
        raw = load_score_map(map_path(scoremaps, record.image_id))
        framed = to_frame(raw, rules.frame_size)
        hidden = raw.shape != framed.shape and nonfinite(raw)
        one = quantize_frame_maps((np.zeros_like(framed) if hidden else framed)[None],
                                  rules.convention)
        levels[i] = one.levels[0]
        flags[:, i] = (one.nonfinite[0] or hidden, one.constant[0] and not hidden)
        if histograms is not None and record.mask_paths:
            scores = np.zeros(framed.shape) if hidden else normalize_frame_map(framed)
            labels = frame_label_mask(
                record.mask_paths, record.ignore_path, rules.mask_geometry, rules.mask_rule,
                record.size,
            )
            histograms += pixel_histograms(scores[None], labels[None], rules.thresholds)
    return LevelChunk(start, QuantizedMaps(levels, flags[0], flags[1]), histograms)


def stream_levels(
    records: Sequence[ImageRecord],
    scoremaps: Path,
    rules: FrameRules,
    pool: Executor,
    in_flight: int,
    chunk: int = CHUNK,
) -> Iterator[LevelChunk]:
    """:func:`chunk_levels` of consecutive chunks on ``pool``, yielded in record order.

    At most ``in_flight`` chunks are submitted and not yet taken; the next one is submitted as
    one is yielded. An error in a chunk is raised when that chunk's turn comes.
    """
    pending: deque[Future[LevelChunk]] = deque()
    starts = iter(range(0, len(records), chunk))
    for start in starts:
        pending.append(pool.submit(chunk_levels, start, records[start : start + chunk],
                                   scoremaps, rules))
        if len(pending) >= max(1, in_flight):
            break
    while pending:
        done = pending.popleft().result()
        following = next(starts, None)
        if following is not None:
            pending.append(pool.submit(chunk_levels, following,
                                       records[following : following + chunk], scoremaps, rules))
        yield done
