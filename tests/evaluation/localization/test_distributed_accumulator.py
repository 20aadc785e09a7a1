"""Two gloo processes, each with half of the data, all-reduce to the single-process counters."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from evaluation.localization import LocalizationAccumulator
from tests.evaluation.localization.map_strategies import smooth_map

FRAME = (24, 24)
NUM_IMAGES = 7


def dataset() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    maps = torch.from_numpy(np.stack([smooth_map(s, (4, 5), FRAME) for s in range(NUM_IMAGES)]))
    boxes = torch.tensor([[[s, 2.0, 12.0 + s, 20.0]] for s in range(NUM_IMAGES)])
    labels = torch.arange(NUM_IMAGES) % 3
    topk = (torch.arange(NUM_IMAGES)[:, None] + torch.arange(2)) % 3
    masks = (maps > 0.3).to(torch.uint8)
    return maps, boxes, labels, topk, masks


def accumulate(indices: list[int]) -> LocalizationAccumulator:
    maps, boxes, labels, topk, masks = dataset()
    acc = LocalizationAccumulator(frame_size=FRAME, thresholds=np.arange(0, 1, 0.1))
    acc.update(maps[indices], boxes[indices], labels[indices], topk[indices], masks[indices],
               positions=torch.tensor(indices))
    return acc


def worker(rank: int, port: int, output: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        acc = accumulate(list(range(rank, NUM_IMAGES, 2)))
        acc.all_reduce()
        torch.save(acc.state_dict(), Path(output) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_all_reduce_over_two_gloo_processes_equals_one_process(tmp_path: Path) -> None:
    mp.spawn(worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    single = accumulate(list(range(NUM_IMAGES)))
    expected = single.compute()
    for rank in range(2):
        reduced = LocalizationAccumulator(frame_size=FRAME, thresholds=np.arange(0, 1, 0.1))
        reduced.load_state_dict(torch.load(tmp_path / f"rank{rank}.pt", weights_only=True))
        for a, b in zip(
            reduced.counts.arrays().values(), single.counts.arrays().values(), strict=True
        ):
            assert np.array_equal(a, b)
        assert reduced.compute() == expected
        for name, array in reduced.records.arrays().items():
            assert np.array_equal(array, single.records.arrays()[name], equal_nan=True), name
    assert expected["num_images"] == NUM_IMAGES and expected["pxap"] is not None
