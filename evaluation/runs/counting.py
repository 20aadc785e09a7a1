"""The counting stage of a run: every method's accumulator update, beside the next forward pass.

A run is a two-stage pipeline. The main thread decodes (DataLoader worker processes), runs the
forward pass and the Grad-CAM backward of batch ``i + 1`` while :class:`CountingStage` counts
the maps of batch ``i`` (quantise, sweep, attribution metrics, records:
:meth:`~evaluation.localization.LocalizationAccumulator.update`) in its own threads.

Threads, not processes: the maps are small and already on the CPU side of the model, the
accumulators' counters and records must stay in this process (they are saved with the run's
state), and the expensive parts of an update run outside the GIL (the compiled quantiser and
sweeps are ``nogil``; torch's resize and numpy's sorts release it). Each counting thread (a
*lane*) owns a fixed set of methods (``methods[j]`` goes to lane ``j % lanes``) and updates
their accumulators in batch order, so every accumulator sees exactly the calls of the
sequential loop in the same order: the numbers are the same bit for bit. With ``workers=0``
the update runs at once in the calling thread (the sequential loop).

At most :data:`PENDING_BATCHES` batches are in flight: :meth:`CountingStage.submit` blocks on
the oldest until fewer are, so memory stays flat when counting is slower than the forward pass.
Counted batches come back in batch order (:meth:`CountingStage.counted`,
:meth:`CountingStage.drain`), each with every method's per-image IoU and counting time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

from torch import Tensor

from evaluation.localization import LocalizationAccumulator

PENDING_BATCHES = 2
"""Batches handed to the counting threads and not yet returned, at most (then submit waits)."""


@dataclass(frozen=True)
class BatchTargets:
    """What every method's update of one batch needs besides its maps.

    Attributes:
        boxes: ``(B, G, 4)`` ground-truth boxes in frame pixels (NaN rows pad).
        labels: ``(B,)`` dataset labels.
        topk: ``(B, k)`` predicted labels, best first.
        masks: ``(B, H, W)`` uint8 frame masks for PxAP, or ``None``.
        positions: ``(B,)`` the images' positions in the evaluated set.
    """

    boxes: Tensor
    labels: Tensor
    topk: Tensor
    masks: Tensor | None
    positions: Tensor


@dataclass(frozen=True)
class CountedBatch:
    """One batch counted by every method.

    Attributes:
        positions: ``(B,)`` the images' positions in the evaluated set.
        ious: method -> ``(B, T + 1)`` float64 V1 IoU per threshold and at the fixed one
            (:meth:`~evaluation.localization.LocalizationAccumulator.update`'s return value).
        seconds: method -> seconds its update took.
    """

    positions: Tensor
    ious: dict[str, Tensor]
    seconds: dict[str, float]


class CountingStage:
    """Counts batches of maps into the accumulators, in ``workers`` threads or inline.

    Args:
        accumulators: method -> its accumulator (updated in place, in batch order).
        workers: counting threads; ``min(workers, methods)`` lanes are started. ``0``: each
            :meth:`submit` counts the batch in the calling thread before it returns.

    Use it as a context manager: leaving it stops the threads, dropping batches not yet begun.
    """

    def __init__(self, accumulators: dict[str, LocalizationAccumulator], workers: int) -> None:
        self.accumulators = accumulators
        lanes = min(workers, len(accumulators))
        self._lanes = [
            ThreadPoolExecutor(1, thread_name_prefix=f"counting-{lane}") for lane in range(lanes)
        ]
        self._lane_of = {
            name: self._lanes[index % lanes] for index, name in enumerate(accumulators)
        } if lanes else {}
        self._pending: deque[tuple[Tensor, dict[str, Future[tuple[Tensor, float]]]]] = deque()

    def __enter__(self) -> CountingStage:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for lane in self._lanes:
            lane.shutdown(wait=True, cancel_futures=True)

    @property
    def pending(self) -> int:
        """Batches submitted and not yet returned by :meth:`counted` or :meth:`drain`."""
        return len(self._pending)

    def submit(self, maps: dict[str, Tensor], targets: BatchTargets) -> None:
        """Hand over one batch: every method's maps (``maps[name]`` for each accumulator).

        Blocks while :data:`PENDING_BATCHES` batches are in flight and the oldest is still
        being counted. Inline (``workers=0``) the batch is counted before this returns, and an
        error of an update is raised here.
        """
        futures = {name: self._count(name, maps[name], targets) for name in self.accumulators}
        self._pending.append((targets.positions, futures))
        if len(self._pending) > PENDING_BATCHES:
            _, oldest = self._pending[0]
            for future in oldest.values():
                future.exception()  # waits; the error is raised by counted()

    def counted(self) -> Iterator[CountedBatch]:
        """The oldest batches whose every update is done, in batch order (does not wait).

        Raises:
            Exception: the error of an update, as it was raised in its counting thread.
        """
        while self._pending and all(f.done() for f in self._pending[0][1].values()):
            yield self._pop()

    def drain(self) -> Iterator[CountedBatch]:
        """Every submitted batch, in batch order, waiting for each to be counted.

        Raises:
            Exception: the error of an update, as it was raised in its counting thread.
        """
        while self._pending:
            yield self._pop()

    def _pop(self) -> CountedBatch:
        positions, futures = self._pending[0]
        results = {name: future.result() for name, future in futures.items()}
        self._pending.popleft()
        return CountedBatch(
            positions=positions,
            ious={name: ious for name, (ious, _) in results.items()},
            seconds={name: seconds for name, (_, seconds) in results.items()},
        )

    def _count(
        self, name: str, maps: Tensor, targets: BatchTargets
    ) -> Future[tuple[Tensor, float]]:
        lane = self._lane_of.get(name)
        if lane is not None:
            return lane.submit(_update, self.accumulators[name], maps, targets)
        future: Future[tuple[Tensor, float]] = Future()
        future.set_result(_update(self.accumulators[name], maps, targets))
        return future


def _update(
    accumulator: LocalizationAccumulator, maps: Tensor, targets: BatchTargets
) -> tuple[Tensor, float]:
    """One method's update of one batch: its per-image IoU and the seconds it took."""
    start = time.perf_counter()
    ious = accumulator.update(
        maps, targets.boxes, targets.labels, topk_predictions=targets.topk,
        masks=targets.masks, positions=targets.positions,
    )
    return ious, time.perf_counter() - start
