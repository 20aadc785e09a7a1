"""The localisation maths: raw score maps -> uint8 levels -> best IoU per threshold -> counts.

A map's trip is one way, module by module: :mod:`~evaluation.localization.levels` (min-max and
uint8 levels of maps in the frame, foreground levels per threshold; fed by
:mod:`~evaluation.localization.quantization` for tensors from a model, resized with torch, or by
:mod:`~evaluation.localization.frame` for saved maps, resized with OpenCV as the reference) ->
:mod:`~evaluation.localization.sweeps` (every threshold's best V1 and V2 IoU, resolved: the
component-tree sweeps of :mod:`~evaluation.localization.component_trees`, OpenCV's contour search of
:mod:`~evaluation.localization.contours` for the levels they leave unresolved) ->
:mod:`~evaluation.localization.counts` (integer counters) -> :mod:`~evaluation.localization.metrics`
(percentages). :class:`LocalizationAccumulator` drives it batch by batch (``update`` for tensors,
``update_levels`` for levels); PxAP is
:mod:`~evaluation.localization.pxap`. Box geometry and IoU live in
:mod:`~evaluation.localization.boxes`, the three box conventions in
:mod:`~evaluation.localization.conventions`, and :mod:`~evaluation.localization.reference` is the
brute-force oracle (wsolevaluation's loop) the tests and benchmarks check against. The per-image
localisation metrics of XAI evaluation (pointing games, relevance mass and rank, top-k, AUC) are
:mod:`~evaluation.localization.attribution`; each image's record (for intervals) is kept by
:mod:`~evaluation.localization.image_records` in :mod:`evaluation.statistics`' layout.

May import: :mod:`evaluation.errors`, :mod:`evaluation.statistics`, numpy, OpenCV, numba, and
torch only in :mod:`~evaluation.localization.quantization` and inside the methods that take or give
tensors: counting saved maps needs no torch. Never ``runs``, ``reports``, ``models``, ``datasets``
or ``commands``: it knows nothing of models, files or runs.
"""

from evaluation.localization.accumulator import LocalizationAccumulator
from evaluation.localization.conventions import CONVENTIONS

__all__ = ["CONVENTIONS", "LocalizationAccumulator"]
