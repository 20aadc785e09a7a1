"""Uncertainty of the benchmark's numbers: per-image records, bootstrap intervals, paired tests.

:mod:`~evaluation.statistics.records` holds what an evaluation keeps per image (exact hit bits per
threshold and IoU threshold, top-k correctness, the label, the per-image attribution metrics,
PxAP's pixel histograms) so that every reported accuracy can be recomputed on a resample of the
images; :mod:`~evaluation.statistics.bootstrap` draws the seeded resamples and turns them into
percentile intervals; :mod:`~evaluation.statistics.estimates` recomputes every metric for many
resamples at once (matrix products, no loop over images); :mod:`~evaluation.statistics.intervals`
writes the ``intervals`` of ``results.json``; :mod:`~evaluation.statistics.paired` compares
methods evaluated on the same images (paired bootstrap, McNemar's exact test, ranks with ties).

May import: :mod:`evaluation.errors` and numpy. Nothing else of :mod:`evaluation` (no torch):
:mod:`evaluation.localization` and :mod:`evaluation.reports` both build on it.
"""
