"""Reports of finished runs: ``report.md`` and a self-contained ``report.html``, comparisons.

:mod:`~evaluation.reports.data` reads and checks a run folder and holds the table model and the
prose; :mod:`~evaluation.reports.significance` pairs the rows measured on the same images (their
per-image records) and says which differences are real; :mod:`~evaluation.reports.markdown` and
:mod:`~evaluation.reports.html` render it (the HTML with the charts and gallery panels of
:mod:`~evaluation.reports.figures`); :mod:`~evaluation.reports.writer` writes the files of one run
(``write_reports``) or several (``compare``).

May import: :mod:`evaluation.runs.schema` (the layout of a run folder) and nothing else of
``runs``; :mod:`evaluation.statistics` (paired comparisons of the per-image records),
:mod:`evaluation.io`, :mod:`evaluation.errors`, :mod:`evaluation.paths`, numpy, matplotlib and
OpenCV. Never ``localization``, ``models``, ``datasets`` or ``commands``: a report reads files and
computes no metric of maps; its statistics come from :mod:`evaluation.statistics`.
"""
