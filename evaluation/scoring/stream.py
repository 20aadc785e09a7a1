"""Saved maps to quantised frame levels and per-image values, chunk by chunk on a thread pool.

Each task takes :data:`CHUNK` records and, per map: reads it
(:func:`~evaluation.datasets.score_maps.read_score_map`), moves it into the frame the reference's
way (float64, ``cv2.resize(INTER_CUBIC)``: :func:`evaluation.localization.frame.to_frame`),
quantises it (:func:`evaluation.localization.levels.quantize_frame_maps`), scores the raw frame
map against its ground-truth region (:func:`evaluation.localization.attribution.
attribution_metrics`: the union of its frame boxes, :func:`~evaluation.scoring.boxes.frame_boxes`,
or its foreground mask) and, when PxAP is measured, histograms its normalised scores over its
label mask (:func:`evaluation.datasets.masks.frame_label_mask`,
:func:`evaluation.localization.pxap.image_pixel_histograms`). ``np.load``, OpenCV, numpy's sorts
and the compiled quantiser release the GIL, so threads run maps in parallel. :func:`stream_levels`
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
from evaluation.datasets.score_maps import map_path, read_score_map
from evaluation.datasets.transforms import Geometry
from evaluation.localization.attribution import (
    DEFAULT_POINTING_TOLERANCE,
    DEFAULT_TOP_K,
    attribution_metrics,
    region_masks,
)
from evaluation.localization.frame import nonfinite, normalize_frame_map, to_frame
from evaluation.localization.levels import QuantizedMaps, quantize_frame_maps
from evaluation.localization.pxap import histogram_edges, image_pixel_histograms
from evaluation.scoring.boxes import frame_boxes
from evaluation.statistics.records import ATTRIBUTION_METRICS

CHUNK = 64
"""Maps per task."""


@dataclass(frozen=True)
class FrameRules:
    """What every map of a run goes through.

    Attributes:
        geometry: The evaluation frame and how boxes and masks map into it.
        convention: The box convention (its quantisation).
        thresholds: ``(T,)`` float64 grid, the PxAP histogram edges' start.
        pointing_tolerance: Distance in frame pixels of the tolerant pointing game.
        top_k: ``k`` of the top-k intersection.
        masks: Measure PxAP against each record's masks (which are then the attribution
            metrics' region too); ``False``: no PxAP, the region is the union of the boxes.
        mask_rule: The grey threshold of the masks (:mod:`evaluation.datasets.masks`).
    """

    geometry: Geometry
    convention: str
    thresholds: np.ndarray
    pointing_tolerance: int = DEFAULT_POINTING_TOLERANCE
    top_k: int = DEFAULT_TOP_K
    masks: bool = False
    mask_rule: str = "positive"

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of the evaluation frame."""
        return self.geometry.frame_size


@dataclass(frozen=True)
class LevelChunk:
    """Consecutive records' maps in the frame, ready for ``update_levels``.

    Attributes:
        start: Position of the first record.
        quantized: Their ``(n, H, W)`` levels and zeroing flags.
        boxes: ``(n, G, 4)`` float64 ground-truth boxes in the frame, NaN padding.
        attribution: ``(n, A)`` float64 attribution metrics, NaN where undefined.
        histograms: Their ``(n, 2, T + 2)`` PxAP histograms, or ``None`` without masks.
    """

    start: int
    quantized: QuantizedMaps
    boxes: np.ndarray
    attribution: np.ndarray
    histograms: np.ndarray | None


def chunk_levels(
    start: int, records: Sequence[ImageRecord], scoremaps: Path, rules: FrameRules
) -> LevelChunk:
    """Read, frame, quantise and score the maps of ``records`` (and histogram them for PxAP).

    Raises:
        ScoreMapError: A map is unreadable or no score map.
        AccessError: This user may not read a map or a mask.
        DataFormatError: A mask cannot be read or has another size than its image.
    """
    count = len(records)
    levels = np.empty((count, *rules.frame_size), dtype=np.uint8)
    flags = np.zeros((2, count), dtype=bool)
    boxes = frame_boxes(records, rules.geometry)
    attribution = np.empty((count, len(ATTRIBUTION_METRICS)))
    histograms = None
    if rules.masks:
        bins = len(histogram_edges(rules.thresholds)) - 1
        histograms = np.zeros((count, 2, bins), dtype=np.int64)
    for i, record in enumerate(records):
        raw = read_score_map(map_path(scoremaps, record.image_id))
        framed = to_frame(raw, rules.frame_size)
        hidden = raw.shape != framed.shape and nonfinite(raw)
        if hidden:
            framed = np.zeros(framed.shape)
        one = quantize_frame_maps(framed[None], rules.convention)
        levels[i] = one.levels[0]
        flags[:, i] = (one.nonfinite[0] or hidden, one.constant[0] and not hidden)
        labels = None
        if histograms is not None and record.mask_paths:
            labels = frame_label_mask(
                record.mask_paths, record.ignore_path, rules.geometry, rules.mask_rule,
                record.size,
            )[None]
            scores = normalize_frame_map(framed)[None]
            histograms[i] = image_pixel_histograms(scores, labels, rules.thresholds)[0]
        region = region_masks(boxes[i : i + 1], rules.frame_size, labels)
        attribution[i] = attribution_metrics(
            framed[None], region, rules.pointing_tolerance, rules.top_k
        )[0]
    quantized = QuantizedMaps(levels, flags[0], flags[1])
    return LevelChunk(start, quantized, boxes, attribution, histograms)


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
