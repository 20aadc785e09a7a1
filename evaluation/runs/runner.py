"""Evaluation runs: every method on a dataset split, batched, resumable, scalable with torchrun.

:func:`evaluate` is the entry point; a run goes through one module per step:

1. set-up (:mod:`evaluation.runs.setup`): methods, split, model, shard, identity;
2. the batch loop (:mod:`evaluation.runs.loop`): ONE forward pass per batch with a hook on the
   explained layer (:class:`evaluation.runs.attributor.BatchAttributor`) serves CAM, infoCAM
   and infoCAM+; the Grad-CAM family shares one backward to the layer; Score-CAM and
   dotted-path Captum methods run their own ``attribute`` call; each method feeds a
   :class:`~evaluation.localization.LocalizationAccumulator`; the state is saved as it goes;
3. the reduction over torchrun processes (:mod:`evaluation.runs.reduction`);
4. every metric's bootstrap interval from the per-image records, the gallery
   (:mod:`evaluation.runs.gallery`), the records (:mod:`evaluation.runs.records`) and
   ``results.json`` (:mod:`evaluation.runs.results`, laid out in :mod:`evaluation.runs.schema`),
   by rank 0.

Options and protocols: :mod:`evaluation.runs.options`. Resuming (:mod:`evaluation.runs.state`):
the same command restarted continues from the saved batch and ends with the same numbers; a
finished run is not redone. One process (one torchrun job) at a time works in a run folder
(:mod:`evaluation.runs.lock`); the hidden temporary files that a killed process left behind are
removed when the next one starts. torchrun (:mod:`evaluation.runs.distributed`): rank ``r`` of ``w``
evaluates ``positions[r::w]``; the counters are all-reduced, so the numbers equal a single
process's exactly; rank 0 alone writes.
"""

from __future__ import annotations

import json
from typing import Any

import torch

from evaluation.io import atomic_write_json
from evaluation.localization import LocalizationAccumulator
from evaluation.paths import check_output_folder
from evaluation.runs.attributor import BatchAttributor
from evaluation.runs.distributed import distributed_context
from evaluation.runs.gallery import write_run_gallery
from evaluation.runs.lock import run_folder_lock
from evaluation.runs.loop import box_executor, make_accumulators, run_batches
from evaluation.runs.options import EvaluateOptions, resolve_device, validate_options
from evaluation.runs.records import write_run_records
from evaluation.runs.reduction import reduce_ranks
from evaluation.runs.results import build_results
from evaluation.runs.schema import RESULTS_FILE
from evaluation.runs.setup import RunSetup, prepare_run
from evaluation.runs.state import (
    RankState,
    check_run_dir,
    clear_run_dir,
    load_state,
    remove_temporaries,
)
from evaluation.statistics.bootstrap import BootstrapSettings


def evaluate(options: EvaluateOptions) -> dict[str, Any]:
    """Run (or resume, or return the finished) evaluation described by ``options``.

    Args:
        options: the run's options.

    Returns:
        The results dict (also written to ``options.output/results.json`` by rank 0; ``{}`` on
        the other ranks).

    Raises:
        ConfigurationError: invalid options, or ``output`` holds a run with another
            configuration (without ``overwrite``).
        PathKindError, AccessError: ``output`` is a file, lies under one, or is not writable.
        RunLockedError: another process is working in ``output``.
        Interrupted: SIGINT or SIGTERM (the finished batches are saved).
        WSOLError: dataset, checkpoint or method errors (see their modules).
    """
    validate_options(options)
    check_output_folder(options.output, "--output")
    device = resolve_device(options.device)
    with distributed_context(device) as context, run_folder_lock(options.output, context):
        if context.is_main:
            remove_temporaries(options.output)
        if device.type == "cuda" and context.active:
            device = torch.device("cuda", context.local_rank)
            torch.cuda.set_device(device)
        return _Run(prepare_run(options, device, context)).execute()


class _Run:
    """One evaluation run in this process (a rank under torchrun): the steps in order."""

    def __init__(self, setup: RunSetup) -> None:
        self.setup = setup

    def execute(self) -> dict[str, Any]:
        """Start, resume or return the finished run; count the remaining batches; finish."""
        setup, options = self.setup, self.setup.options
        if options.overwrite:
            if setup.context.is_main:
                clear_run_dir(options.output)
        else:
            check_run_dir(options.output, setup.identity)
            finished = options.output / RESULTS_FILE
            if finished.is_file():
                return json.loads(finished.read_text("utf-8"))
        setup.context.barrier()
        state = None if options.overwrite else load_state(setup.state_file)
        state = state or RankState.fresh(setup.identity)
        resumed_from = min(state.next_batch * options.batch_size, len(setup.shard))
        attributor = BatchAttributor(
            setup.model, setup.methods, setup.window, setup.padding, setup.device,
            setup.classes, options.amp,
        )
        with box_executor(options.box_workers) as executor:
            accumulators = make_accumulators(setup, state, executor)
            if not state.done:
                run_batches(setup, state, accumulators, attributor)
        return self._finish(state, accumulators, attributor, resumed_from)

    def _finish(
        self,
        state: RankState,
        accumulators: dict[str, LocalizationAccumulator],
        attributor: BatchAttributor,
        resumed_from: int,
    ) -> dict[str, Any]:
        """Reduce over the ranks; on rank 0 compute, write the gallery and ``results.json``."""
        setup = self.setup
        reduced = reduce_ranks(setup, state, accumulators, resumed_from)
        results: dict[str, Any] = {}
        if setup.context.is_main:
            bootstrap = BootstrapSettings(setup.options.bootstrap_resamples, setup.options.seed)
            metrics = {name: acc.compute(bootstrap) for name, acc in accumulators.items()}
            gallery = write_run_gallery(setup, attributor, metrics, reduced.ious)
            records = write_run_records(setup, accumulators)
            results = build_results(setup, metrics, reduced, gallery, records)
            atomic_write_json(setup.options.output / RESULTS_FILE, results)
        setup.context.barrier()
        return results
