"""The batch loop of a run: one forward pass per batch feeds every method's accumulator.

Images are decoded in DataLoader worker processes; the model runs on the device. For each batch
:class:`~evaluation.runs.attributor.BatchAttributor` gives every method's maps (of the
ground-truth class) and the logits (top-1/top-5 predictions); each method's
:class:`~evaluation.localization.LocalizationAccumulator` counts them, records each image at its
dataset position (for the intervals), and returns every image's V1 IoU per threshold, kept as
``round(IoU * IOU_SCALE)`` in int16 (the gallery ranks images by it).

Saving (:class:`_Saver`): the rank's state is saved atomically after a batch when ``save_every``
batches have passed or the last save is older than ``max(SAVE_SECONDS, SAVE_COST_RATIO x the
last save's duration)`` (so saving stays under 2% of the run), and when its shard is done. When
the loop stops between batches (a corrupt image, an error in the forward pass, SIGINT or SIGTERM,
see :mod:`~evaluation.runs.interrupts`) the state of the last finished batch is saved before the
error propagates; a batch interrupted midway is not counted. Only SIGKILL (or a power cut) loses
finished batches: at most those of the last ``SAVE_SECONDS``. An error raised while a batch is
being counted saves nothing (the counts would be partial). Progress (a bar on a terminal, a line
every 30 s otherwise) goes to stderr (:mod:`evaluation.progress`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset

from evaluation.datasets import collate_wsol
from evaluation.datasets.worker_errors import CarryErrors, CollateCarryingErrors, raise_failures
from evaluation.errors import Interrupted
from evaluation.localization import LocalizationAccumulator
from evaluation.progress import Progress
from evaluation.runs.attributor import BatchAttributor
from evaluation.runs.interrupts import StopSignals
from evaluation.runs.options import FIXED_THRESHOLD
from evaluation.runs.setup import RunSetup
from evaluation.runs.state import IOU_SCALE, RankState, save_state

SAVE_SECONDS = 10.0
"""The resumable state is saved when this much time has passed since the last save (at least)."""
SAVE_COST_RATIO = 50
"""A save waits at least this many times the last save's duration, so saving costs <= 2%."""


@contextmanager
def box_executor(workers: int) -> Iterator[Executor | None]:
    """A pool of ``workers`` threads for the accumulators' box sweeps (``None`` for 0)."""
    if not workers:
        yield None
        return
    with ThreadPoolExecutor(workers) as executor:
        yield executor


def make_accumulators(
    setup: RunSetup, state: RankState, executor: Executor | None
) -> dict[str, LocalizationAccumulator]:
    """One accumulator per method, holding the counts saved in ``state``."""
    accumulators = {}
    for method in setup.methods:
        accumulator = LocalizationAccumulator(
            frame_size=setup.dataset.frame_size,
            fixed_threshold=FIXED_THRESHOLD,
            convention=setup.convention,
            executor=executor,
        )
        if method.name in state.accumulators:
            accumulator.load_state_dict(state.accumulators[method.name])
        accumulators[method.name] = accumulator
    return accumulators


def run_batches(
    setup: RunSetup,
    state: RankState,
    accumulators: dict[str, LocalizationAccumulator],
    attributor: BatchAttributor,
) -> None:
    """Count the rank's remaining batches, saving ``state`` as it goes, when stopped and when done.

    Raises:
        Interrupted: SIGINT or SIGTERM (after saving the last finished batch).
        WSOLError: a sample could not be read (after saving the last finished batch).
    """
    options, seconds = setup.options, state.seconds
    progress = Progress(
        len(setup.shard), f"evaluate {options.model}", "images", "img",
        initial=min(state.next_batch * options.batch_size, len(setup.shard)),
        enabled=options.progress and setup.context.is_main,
    )
    saver = _Saver(setup, state, accumulators)
    loop_start = time.perf_counter()
    wait_start = loop_start
    with progress, StopSignals() as signals, _saved_when_stopped(setup, saver, signals):
        for batch in raise_failures(_batches(setup, state.next_batch)):
            _add(seconds, "data", time.perf_counter() - wait_start)
            result = attributor(batch["image"], batch["label"])
            _add(seconds, "forward", result.seconds["forward"])
            topk = result.logits.topk(min(5, result.logits.shape[1]), dim=1).indices
            signals.hold()  # from here to release(), the batch is counted whole or not at all
            for name, maps in result.maps.items():
                start = time.perf_counter()
                accumulator = accumulators[name]
                ious = accumulator.update(
                    maps, batch["boxes"], batch["label"], topk_predictions=topk,
                    masks=batch.get("mask"), positions=batch["index"],
                )
                iou_table(setup, state, name, accumulator)[batch["index"]] = torch.round(
                    ious * IOU_SCALE
                ).to(torch.int16)
                _add(seconds, name, result.seconds[name] + time.perf_counter() - start)
            state.next_batch += 1
            signals.release()
            progress.update(len(batch["label"]))
            now = time.perf_counter()
            _add(seconds, "loop", now - loop_start)
            loop_start = now
            saver.after_batch()
            wait_start = time.perf_counter()
    state.done = True
    saver.save()


@contextmanager
def _saved_when_stopped(setup: RunSetup, saver: _Saver, signals: StopSignals) -> Iterator[None]:
    """When the loop stops between batches, save the state of its last finished batch.

    A stop while a batch is being counted (``signals.holding``) saves nothing: the counts would
    hold part of it. A signal's :class:`Interrupted` is raised again with what was saved.
    """
    try:
        yield
    except BaseException as error:
        if signals.holding:
            raise
        saver.save()
        if isinstance(error, Interrupted):
            state, options = saver.state, setup.options
            done = min(state.next_batch * options.batch_size, len(setup.shard))
            raise Interrupted(
                error.signum,
                f"{done:,} of {len(setup.shard):,} images are counted and saved in "
                f"{setup.state_file}; run the same command to resume",
            ) from None
        raise


class _Saver:
    """Saves the rank's state after batches, at most as often as its cost allows."""

    def __init__(
        self, setup: RunSetup, state: RankState, accumulators: dict[str, LocalizationAccumulator]
    ) -> None:
        self.setup = setup
        self.state = state
        self.accumulators = accumulators
        self.last_save = time.perf_counter()
        self.cost = 0.0

    def after_batch(self) -> None:
        """Save when ``save_every`` batches have passed or the last save is old enough."""
        due = max(SAVE_SECONDS, SAVE_COST_RATIO * self.cost)
        every = self.setup.options.save_every
        if time.perf_counter() - self.last_save >= due or self.state.next_batch % every == 0:
            self.save()

    def save(self) -> None:
        """Save now and measure how long it took."""
        start = time.perf_counter()
        save(self.setup, self.state, self.accumulators)
        self.last_save = time.perf_counter()
        self.cost = self.last_save - start


def iou_table(
    setup: RunSetup, state: RankState, name: str, accumulator: LocalizationAccumulator
) -> torch.Tensor:
    """The (N, T + 1) int16 table of per-image V1 IoU x IOU_SCALE of one method."""
    if name not in state.ious:
        columns = len(accumulator.settings.thresholds) + 1
        state.ious[name] = torch.zeros((setup.num_images, columns), dtype=torch.int16)
    return state.ious[name]


def save(
    setup: RunSetup, state: RankState, accumulators: dict[str, LocalizationAccumulator]
) -> None:
    """Write the rank's state with every accumulator's counts (atomically)."""
    state.accumulators = {name: acc.state_dict() for name, acc in accumulators.items()}
    save_state(setup.state_file, state)


def _batches(setup: RunSetup, start_batch: int) -> Iterator[dict[str, Any]]:
    """The rank's batches from ``start_batch`` on, decoded by DataLoader workers."""
    size = setup.options.batch_size
    loader = DataLoader(
        CarryErrors(Subset(setup.dataset, setup.shard[start_batch * size :])),
        batch_size=size,
        shuffle=False,
        num_workers=setup.options.num_workers,
        collate_fn=CollateCarryingErrors(collate_wsol),
        pin_memory=setup.device.type == "cuda",
    )
    yield from loader


def _add(seconds: dict[str, float], key: str, value: float) -> None:
    seconds[key] = seconds.get(key, 0.0) + value
