"""The reduction of a run over its torchrun processes (a no-op for a single process).

Counters are summed (:meth:`~evaluation.localization.LocalizationAccumulator.all_reduce`), so
the numbers equal a single process's exactly; each rank's per-image IoU tables hold its own
images and zeros elsewhere, so their sum is the whole table; the times are the slowest rank's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from evaluation.localization import LocalizationAccumulator
from evaluation.runs.loop import iou_table
from evaluation.runs.setup import RunSetup
from evaluation.runs.state import RankState


@dataclass(frozen=True)
class ReducedRun:
    """What the ranks counted, combined (the accumulators are reduced in place).

    Attributes:
        ious: method -> ``(N, T + 1)`` int32 per-image V1 IoU x ``IOU_SCALE`` of every image.
        seconds: ``"forward"``, ``"data"``, ``"loop"`` and each method's time, slowest rank.
        resumed_from: images already counted, over all ranks, when this run started.
    """

    ious: dict[str, torch.Tensor]
    seconds: dict[str, float]
    resumed_from: int


def reduce_ranks(
    setup: RunSetup,
    state: RankState,
    accumulators: dict[str, LocalizationAccumulator],
    resumed_from: int,
) -> ReducedRun:
    """Sum the counters and IoU tables over the ranks, take the slowest rank's times.

    Args:
        setup: the run.
        state: this rank's final state (its IoU tables and times).
        accumulators: this rank's accumulators; every rank ends with the global counts.
        resumed_from: images this rank had counted when it started.
    """
    context = setup.context
    if context.active:
        for accumulator in accumulators.values():
            accumulator.all_reduce()
    tables = {
        name: context.sum_(iou_table(setup, state, name, acc).to(torch.int32))
        for name, acc in accumulators.items()
    }
    keys = sorted({"forward", "data", "loop", *(m.name for m in setup.methods)})
    seconds = context.max_(
        torch.tensor([state.seconds.get(k, 0.0) for k in keys], dtype=torch.float64)
    )
    total = int(context.sum_(torch.tensor([resumed_from], dtype=torch.int64)))
    return ReducedRun(tables, dict(zip(keys, seconds.tolist(), strict=True)), total)
