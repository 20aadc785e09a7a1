"""Saved score maps -> metrics without torch: the engine of ``wsol-bench score``.

Modules, in the order a map travels: :mod:`~evaluation.scoring.boxes` (each record's boxes in the
frame), :mod:`~evaluation.scoring.stream` (chunks of maps read with
:func:`evaluation.datasets.score_maps.read_score_map`, resized to the frame the reference's way,
quantised, scored by the per-image attribution metrics and, with masks, histogrammed for PxAP, on
a thread pool with a bounded number of chunks in flight, handed over in order to
:meth:`evaluation.localization.LocalizationAccumulator.update_levels`),
:mod:`~evaluation.scoring.predictions` (the optional top-k CSV).

May import: :mod:`evaluation.localization`, :mod:`evaluation.datasets`,
:mod:`evaluation.statistics`, :mod:`evaluation.errors`, :mod:`evaluation.io`, numpy, OpenCV,
numba. Never torch (scoring ``.npy`` maps must not need it; ``tests/evaluation/scoring`` checks it
in a fresh process), ``runs``, ``reports``, ``models`` or ``commands``.
"""
