"""The batch loop of a run: one forward pass per batch feeds every method's accumulator.

Images are decoded in DataLoader worker processes; the model runs on the device. For each batch
:class:`~evaluation.runs.attributor.BatchAttributor` gives every method's maps (of the
ground-truth class) and the logits (top-1/top-5 predictions); each method's
:class:`~evaluation.localization.LocalizationAccumulator` counts them, records each image at its
dataset position (for the intervals), and returns every image's V1 IoU per threshold, kept as
``round(IoU * IOU_SCALE)`` in int16 (the gallery ranks images by it). The rank's state is saved
atomically every ``save_every`` batches, at least every :data:`SAVE_SECONDS`, and when its shard
is done; a run interrupted inside a batch keeps no part of it (nothing is saved on errors). A
tqdm bar on stderr shows images/s when stderr is a terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset

from evaluation.datasets import collate_wsol
from evaluation.localization import LocalizationAccumulator
from evaluation.runs.attributor import BatchAttributor
from evaluation.runs.options import FIXED_THRESHOLD
from evaluation.runs.setup import RunSetup
from evaluation.runs.state import IOU_SCALE, RankState, save_state

SAVE_SECONDS = 60.0
"""The resumable state is also saved when this much time has passed since the last save."""


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
    """Count the rank's remaining batches, saving ``state`` as it goes and when done."""
    from tqdm.auto import tqdm

    options, seconds = setup.options, state.seconds
    bar = tqdm(
        total=len(setup.shard),
        initial=min(state.next_batch * options.batch_size, len(setup.shard)),
        unit="img",
        desc=f"evaluate {options.model}",
        file=sys.stderr,
        disable=None if (options.progress and setup.context.is_main) else True,
        dynamic_ncols=True,
    )
    loop_start = time.perf_counter()
    wait_start = last_save = loop_start
    try:
        for batch in _batches(setup, state.next_batch):
            _add(seconds, "data", time.perf_counter() - wait_start)
            result = attributor(batch["image"], batch["label"])
            _add(seconds, "forward", result.seconds["forward"])
            topk = result.logits.topk(min(5, result.logits.shape[1]), dim=1).indices
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
            bar.update(len(batch["label"]))
            now = time.perf_counter()
            _add(seconds, "loop", now - loop_start)
            loop_start = now
            if now - last_save >= SAVE_SECONDS or state.next_batch % options.save_every == 0:
                save(setup, state, accumulators)
                last_save = time.perf_counter()
            wait_start = time.perf_counter()
    finally:
        bar.close()
    state.done = True
    save(setup, state, accumulators)


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
        Subset(setup.dataset, setup.shard[start_batch * size :]),
        batch_size=size,
        shuffle=False,
        num_workers=setup.options.num_workers,
        collate_fn=collate_wsol,
        pin_memory=setup.device.type == "cuda",
    )
    yield from loader


def _add(seconds: dict[str, float], key: str, value: float) -> None:
    seconds[key] = seconds.get(key, 0.0) + value
