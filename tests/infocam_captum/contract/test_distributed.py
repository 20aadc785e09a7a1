"""DistributedDataParallel (gloo, CPU): two spawned processes explain their shard of the batch
through the DDP-wrapped model; each map equals the map of the plain model on that shard."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from .cases import CONV
from .registry import WITH_CONTROL

WORLD_SIZE = 2


def explain_shard(rank: int, init_file: str, out_dir: str) -> None:
    """Worker: explain rank's half of CONV through DDP, twice; save the maps."""
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE
    )
    try:
        built = CONV.build()  # same seed on every rank: the same weights
        shard = slice(2 * rank, 2 * rank + 2)
        wrapped = DistributedDataParallel(built.model)
        maps = {}
        for method in WITH_CONTROL:
            attribution = method.build(wrapped, built.layer, None)
            for call in range(2):  # a second call after the first one's forward pass
                maps[f"{method.name}/{call}"] = attribution.attribute(
                    built.inputs[shard], target=built.target[shard], **method.kwargs
                ).detach()
        torch.save(maps, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_distributed_data_parallel_with_gloo(tmp_path):
    mp.spawn(explain_shard, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD_SIZE)
    built = CONV.build()
    for rank in range(WORLD_SIZE):
        shard = slice(2 * rank, 2 * rank + 2)
        maps = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        for method in WITH_CONTROL:
            expected = method.build(built.model, built.layer, None).attribute(
                built.inputs[shard], target=built.target[shard], **method.kwargs
            )
            for call in range(2):
                torch.testing.assert_close(maps[f"{method.name}/{call}"], expected.detach())
