"""The batch loop of a run: one forward pass per batch feeds every method's accumulator.

A two-stage pipeline. Images are decoded in DataLoader worker processes; in the main thread the
model runs on the device and :class:`~evaluation.runs.attributor.BatchAttributor` gives every
method's maps (of the ground-truth class) and the logits (top-1/top-5 predictions). The batch is
then handed to the counting stage (:class:`~evaluation.runs.counting.CountingStage`): with
``box_workers >= 1`` its threads count batch ``i`` while the main thread decodes and runs batch
``i + 1``; with ``box_workers = 0`` each batch is counted in the main thread before the next one
(the sequential loop). Either way each method's
:class:`~evaluation.localization.LocalizationAccumulator` sees the same batches in the same
order (the same numbers, bit for bit), counts them, records each image at its dataset position
(for the intervals), and returns every image's V1 IoU per threshold, kept as
``round(IoU * IOU_SCALE)`` in int16 (the gallery ranks images by it). A counted batch is booked
into the state (IoU tables, times, ``next_batch``) in batch order, whole.

Saving (:class:`_Saver`): the rank's state is saved atomically when a multiple of ``save_every``
batches has been booked or the last save is older than ``max(SAVE_SECONDS, SAVE_COST_RATIO x the
last save's duration)`` (so saving stays under 2% of the run), and when its shard is done; every
save first waits for the batches being counted and books them (the saved counters hold whole
batches only). When the loop stops between batches (a corrupt image, an error in the forward
pass, SIGINT or SIGTERM, see :mod:`~evaluation.runs.interrupts`) every batch already handed to
the counting stage is counted and the state saved before the error propagates; a batch
interrupted in its forward pass is not counted. Only SIGKILL (or a power cut) loses finished
batches: at most those of the last ``SAVE_SECONDS``. An error raised while a batch is being
counted saves nothing (the counts would be partial). Progress (a bar on a terminal, a line every
30 s otherwise) goes to stderr (:mod:`evaluation.progress`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
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
from evaluation.runs.attributor import BatchAttributor, BatchResult
from evaluation.runs.counting import BatchTargets, CountedBatch, CountingStage
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
        Interrupted: SIGINT or SIGTERM (after saving the batches whose forward pass was done).
        WSOLError: a sample could not be read (after saving the batches before it).
    """
    options, seconds = setup.options, state.seconds
    progress = Progress(
        len(setup.shard), f"evaluate {options.model}", "images", "img",
        initial=min(state.next_batch * options.batch_size, len(setup.shard)),
        enabled=options.progress and setup.context.is_main,
    )
    with (
        progress,
        StopSignals() as signals,
        CountingStage(accumulators, options.box_workers) as stage,
    ):
        books = _Books(setup, state, stage, signals, progress)
        saver = _Saver(setup, state, accumulators, books.settle)
        with _saved_when_stopped(setup, saver, signals):
            wait_start = time.perf_counter()
            for batch in raise_failures(_batches(setup, state.next_batch)):
                _add(seconds, "data", time.perf_counter() - wait_start)
                result = attributor(batch["image"], batch["label"])
                _add(seconds, "forward", result.seconds["forward"])
                books.submit(batch, result)
                books.collect()
                saver.after_batches()
                wait_start = time.perf_counter()
            books.settle()
    state.done = True
    saver.save()


class _Books:
    """Hands batches to the counting stage and books each counted one into the state.

    Between :meth:`StopSignals.hold` and :meth:`StopSignals.release` a batch is handed over
    whole (every method's maps) and a counted batch is booked whole (IoU tables, times,
    ``next_batch``, progress), so a stop never leaves a batch half in the state; an error of a
    counting thread is raised while holding (the counts may be partial: nothing is saved).
    """

    def __init__(
        self,
        setup: RunSetup,
        state: RankState,
        stage: CountingStage,
        signals: StopSignals,
        progress: Progress,
    ) -> None:
        self.setup = setup
        self.state = state
        self.stage = stage
        self.signals = signals
        self.progress = progress
        self.maps_seconds: deque[dict[str, float]] = deque()
        self.loop_start = time.perf_counter()

    def submit(self, batch: dict[str, Any], result: BatchResult) -> None:
        """Hand one batch's maps to the counting stage (inline: count them now)."""
        topk = result.logits.topk(min(5, result.logits.shape[1]), dim=1).indices
        targets = BatchTargets(
            boxes=batch["boxes"], labels=batch["label"], topk=topk, masks=batch.get("mask"),
            positions=batch["index"],
        )
        with self._held():
            self.maps_seconds.append(result.seconds)
            self.stage.submit(result.maps, targets)

    def collect(self) -> None:
        """Book the batches counted so far (without waiting)."""
        self._book(self.stage.counted)

    def settle(self) -> None:
        """Wait for every batch handed over and book them all (the state is then whole)."""
        self._book(self.stage.drain)

    def _book(self, batches: Callable[[], Iterator[CountedBatch]]) -> None:
        with self._held():
            for counted in batches():
                self._book_one(counted)

    @contextmanager
    def _held(self) -> Iterator[None]:
        """Hold the stop signals for the block (unless a caller already does: a stop's save).

        An error in the block leaves them held, so that nothing is saved.
        """
        if self.signals.holding:
            yield
            return
        self.signals.hold()
        yield
        self.signals.release()

    def _book_one(self, counted: CountedBatch) -> None:
        setup, state, seconds = self.setup, self.state, self.state.seconds
        maps_seconds = self.maps_seconds.popleft()
        for name, ious in counted.ious.items():
            table = iou_table(setup, state, name, self.stage.accumulators[name])
            table[counted.positions] = torch.round(ious * IOU_SCALE).to(torch.int16)
            _add(seconds, name, maps_seconds[name] + counted.seconds[name])
        state.next_batch += 1
        self.progress.update(len(counted.positions))
        now = time.perf_counter()
        _add(seconds, "loop", now - self.loop_start)
        self.loop_start = now


@contextmanager
def _saved_when_stopped(setup: RunSetup, saver: _Saver, signals: StopSignals) -> Iterator[None]:
    """When the loop stops between batches, save the state of every batch handed over.

    The batches already handed to the counting stage are counted first (:meth:`_Saver.save`
    settles them). A stop while a batch is being handed over or booked, or an error of a
    counting thread (``signals.holding``), saves nothing: the counts would hold part of a
    batch. A signal's :class:`Interrupted` is raised again with what was saved.
    """
    try:
        yield
    except BaseException as error:
        if signals.holding:
            raise
        signals.hold()  # a second signal must not stop the save
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
    """Saves the rank's state after batches, at most as often as its cost allows.

    ``settle`` is called before every save: it waits for the batches being counted and books
    them, so the saved counters hold whole batches only.
    """

    def __init__(
        self,
        setup: RunSetup,
        state: RankState,
        accumulators: dict[str, LocalizationAccumulator],
        settle: Callable[[], None],
    ) -> None:
        self.setup = setup
        self.state = state
        self.accumulators = accumulators
        self.settle = settle
        self.last_save = time.perf_counter()
        self.saved_batch = state.next_batch
        self.cost = 0.0

    def after_batches(self) -> None:
        """Save when a multiple of ``save_every`` batches was passed or the last save is old."""
        due = max(SAVE_SECONDS, SAVE_COST_RATIO * self.cost)
        every = self.setup.options.save_every
        crossed = self.state.next_batch // every > self.saved_batch // every
        if time.perf_counter() - self.last_save >= due or crossed:
            self.save()

    def save(self) -> None:
        """Settle the counting stage, save now and measure how long saving took."""
        self.settle()
        start = time.perf_counter()
        save(self.setup, self.state, self.accumulators)
        self.last_save = time.perf_counter()
        self.saved_batch = self.state.next_batch
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
