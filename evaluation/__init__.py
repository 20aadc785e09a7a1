"""WSOL benchmark: the localisation maths, evaluation runs, models and training, reports, a CLI.

Packages, and the direction their imports flow (``tests/evaluation/test_layout.py`` checks it)::

    datasets/       raw-layout readers, protocol transforms, the loader, synthetic data
    statistics/     per-image records, bootstrap intervals, paired tests and ranks (numpy only)
    localization/   raw maps -> uint8 levels -> best IoU per threshold -> counts -> metrics
    models/         CAM-ready backbones, checkpoints, the fine-tuning recipe
    runs/           evaluate(): set-up, batch loop, resumable state, torchrun, results.json
    scoring/        saved .npy maps -> levels, streamed on threads, without torch (score)
    reports/        report.md, report.html and comparisons, from a run folder's files
    commands/ cli   the ``wsol-bench`` command (nothing else imports them)
    errors io       typed errors and atomic writes, for everyone
    paths progress  checks of user-given paths, progress bars and lines, for everyone

    commands -> runs -> localization, models, datasets;  commands -> reports -> runs.schema
    commands -> scoring -> localization, datasets;  localization, reports -> statistics

This package builds on :mod:`infocam_captum`; the reverse import never happens.
"""

__version__ = "0.1.0"
