"""The counting stage: batches counted in threads give the sequential numbers, in batch order."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from evaluation.localization import LocalizationAccumulator
from evaluation.runs.counting import PENDING_BATCHES, BatchTargets, CountingStage

METHODS = ("cam", "gradcam", "infocam")
FRAME = (16, 16)


def _batches(count: int, size: int = 3) -> list[tuple[dict[str, torch.Tensor], BatchTargets]]:
    """Random 4x4 maps of every method and random boxes, labels and predictions."""
    generator = torch.Generator().manual_seed(7)
    batches = []
    for index in range(count):
        corner = torch.randint(0, 8, (size, 1, 2), generator=generator).double()
        boxes = torch.cat([corner, corner + 6], dim=2)
        targets = BatchTargets(
            boxes=boxes,
            labels=torch.randint(0, 3, (size,), generator=generator),
            topk=torch.randint(0, 3, (size, 2), generator=generator),
            masks=None,
            positions=torch.arange(index * size, (index + 1) * size),
        )
        maps = {name: torch.randn(size, 1, 4, 4, generator=generator) for name in METHODS}
        batches.append((maps, targets))
    return batches


def _accumulators() -> dict[str, LocalizationAccumulator]:
    return {name: LocalizationAccumulator(frame_size=FRAME) for name in METHODS}


def _state(accumulators: dict[str, LocalizationAccumulator]) -> dict[str, dict]:
    return {name: acc.state_dict() for name, acc in accumulators.items()}


def _equal_states(left: dict, right: dict) -> bool:
    """Exact equality of nested dicts of tensors, arrays and plain values (NaN equals NaN)."""
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_equal_states(left[k], right[k]) for k in left)
    if isinstance(left, torch.Tensor):
        left, right = left.numpy(), right.numpy()
    if isinstance(left, np.ndarray):
        return np.array_equal(left, right, equal_nan=left.dtype.kind == "f")
    return left == right


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
def test_threads_count_what_the_sequential_updates_count(workers: int) -> None:
    batches = _batches(6)
    sequential = _accumulators()
    expected_ious = []
    for maps, targets in batches:
        expected_ious.append({
            name: acc.update(maps[name], targets.boxes, targets.labels,
                             topk_predictions=targets.topk, positions=targets.positions)
            for name, acc in sequential.items()
        })
    threaded = _accumulators()
    counted = []
    with CountingStage(threaded, workers) as stage:
        for maps, targets in batches:
            stage.submit(maps, targets)
            assert stage.pending <= PENDING_BATCHES + 1
            counted.extend(stage.counted())
        counted.extend(stage.drain())
        assert stage.pending == 0
    assert [c.positions.tolist() for c in counted] == [t.positions.tolist() for _, t in batches]
    for batch, expected in zip(counted, expected_ious, strict=True):
        assert batch.ious.keys() == expected.keys()
        for name in METHODS:
            assert torch.equal(batch.ious[name], expected[name])
            assert batch.seconds[name] > 0
    assert _equal_states(_state(threaded), _state(sequential))
    for name in METHODS:
        assert threaded[name].compute() == sequential[name].compute()


def test_inline_stage_counts_on_submit_in_the_calling_thread() -> None:
    (maps, targets), = _batches(1)
    accumulators = _accumulators()
    with CountingStage(accumulators, 0) as stage:
        stage.submit(maps, targets)
        assert all(acc.num_images == 3 for acc in accumulators.values())
        (counted,) = list(stage.counted())
    assert counted.ious["cam"].shape == (3, 101)


class _GatedAccumulator:
    """Counts calls; each update waits for ``gate`` (a slow accumulator)."""

    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate
        self.seen: list[int] = []

    def update(self, maps: torch.Tensor, *args: object, positions: torch.Tensor,
               **kwargs: object) -> torch.Tensor:
        assert self.gate.wait(timeout=30)
        self.seen.append(int(positions[0]))
        return torch.zeros((len(positions), 2), dtype=torch.float64)


def test_submit_waits_while_too_many_batches_are_in_flight() -> None:
    gate = threading.Event()
    slow = _GatedAccumulator(gate)
    batches = _batches(PENDING_BATCHES + 1)
    with CountingStage({"cam": slow}, 1) as stage:  # type: ignore[dict-item]
        for maps, targets in batches[:PENDING_BATCHES]:
            stage.submit(maps, targets)  # returns at once: the lane is still blocked
        assert slow.seen == [] and list(stage.counted()) == []
        timer = threading.Timer(0.2, gate.set)
        timer.start()
        maps, targets = batches[-1]
        stage.submit(maps, targets)  # waits for the oldest batch: only the gate lets it go
        assert slow.seen[0] == 0
        assert [c.positions[0].item() for c in stage.drain()] == [0, 3, 6]
    assert slow.seen == [0, 3, 6]


class _FailingAccumulator:
    """Raises on the batch at position ``fail_at``."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at

    def update(self, maps: torch.Tensor, *args: object, positions: torch.Tensor,
               **kwargs: object) -> torch.Tensor:
        if int(positions[0]) == self.fail_at:
            raise ValueError(f"cannot count position {self.fail_at}")
        return torch.zeros((len(positions), 2), dtype=torch.float64)


def test_an_error_of_a_counting_thread_is_raised_in_batch_order() -> None:
    with CountingStage({"cam": _FailingAccumulator(3)}, 1) as stage:  # type: ignore[dict-item]
        for maps, targets in _batches(2):
            stage.submit(maps, targets)
        batches = stage.drain()
        assert next(batches).positions.tolist() == [0, 1, 2]  # the batch before it is whole
        with pytest.raises(ValueError, match="cannot count position 3"):
            next(batches)
        assert stage.pending == 1  # the failed batch is never returned
