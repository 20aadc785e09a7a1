"""Evaluation runs: a model's maps on a dataset split, counted, saved, reduced, written.

:func:`evaluation.runs.runner.evaluate` is the entry point and calls one module per step:
:mod:`~evaluation.runs.options` (:class:`~evaluation.runs.options.EvaluateOptions`, protocol
defaults) -> :mod:`~evaluation.runs.lock` (one process per run folder) ->
:mod:`~evaluation.runs.setup` (methods, data, model, shard) -> :mod:`~evaluation.runs.loop` (the
batches: :mod:`~evaluation.runs.attributor` computes every method's maps from one forward pass,
:mod:`~evaluation.runs.methods` names them with their options
(:mod:`~evaluation.runs.method_options`; Captum classes are built and called by
:mod:`~evaluation.runs.attribution_calls`), the accumulators of :mod:`evaluation.localization`
count them; :mod:`~evaluation.runs.state` saves and resumes, :mod:`~evaluation.runs.interrupts`
turns SIGINT/SIGTERM into a saved stop) -> :mod:`~evaluation.runs.reduction` (torchrun,
:mod:`~evaluation.runs.distributed`) -> :mod:`~evaluation.runs.gallery`,
:mod:`~evaluation.runs.records` (the per-image records) and
:mod:`~evaluation.runs.results`, laid out as :mod:`~evaluation.runs.schema` says.

May import: :mod:`evaluation.localization`, :mod:`evaluation.datasets`, :mod:`evaluation.models`,
:mod:`evaluation.io`, :mod:`evaluation.errors`, :mod:`evaluation.paths`,
:mod:`evaluation.progress` and :mod:`infocam_captum`. Never ``reports`` or
``commands``. Of this package, ``reports`` imports :mod:`~evaluation.runs.schema` alone (which
imports nothing), so this ``__init__`` imports nothing either: reading a report loads no torch.
"""
