"""torchrun scale-out: process group set-up, sharding and reductions for the evaluation runner.

Under ``torchrun --nproc_per_node N wsol-bench evaluate ...`` the launcher sets ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK``; :func:`distributed_context` then initialises the default process
group (``nccl`` on CUDA, ``gloo`` on the CPU) and tears it down on exit. Each rank takes the
disjoint shard ``positions[rank::world_size]`` (no padding duplicates, unlike
``DistributedSampler``), integer counters are all-reduced, and rank 0 alone writes files.
Without those variables (or with ``WORLD_SIZE=1``) everything is a single-process no-op.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
import torch.distributed as dist

from evaluation.errors import ConfigurationError


@dataclass(frozen=True)
class DistContext:
    """A process's place in the job.

    Attributes:
        rank: global rank (0 in a single process).
        world_size: number of processes (1 in a single process).
        local_rank: rank on this machine (selects the CUDA device).
        comm_device: where collectives run (``cuda`` under nccl, ``cpu`` under gloo).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    comm_device: str = "cpu"

    @property
    def active(self) -> bool:
        """True when several processes take part (a process group exists)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes files and prints the summary."""
        return self.rank == 0

    def shard(self, positions: Sequence[int]) -> list[int]:
        """The rank's disjoint share ``positions[rank::world_size]``."""
        return list(positions[self.rank :: self.world_size])

    def barrier(self) -> None:
        """Wait for every rank (no-op in a single process)."""
        if self.active:
            dist.barrier()

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-reduce ``tensor`` in place with SUM (no-op in a single process); return it."""
        return self._reduce(tensor, dist.ReduceOp.SUM)

    def max_(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-reduce ``tensor`` in place with MAX (no-op in a single process); return it."""
        return self._reduce(tensor, dist.ReduceOp.MAX)

    def _reduce(self, tensor: torch.Tensor, op: dist.ReduceOp.RedOpType) -> torch.Tensor:
        if self.active:
            buffer = tensor.to(self.comm_device)
            dist.all_reduce(buffer, op=op)
            tensor.copy_(buffer)
        return tensor


def context_from_env() -> DistContext:
    """Read ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` as set by torchrun (defaults 1, 0, 0).

    Raises:
        ConfigurationError: the variables are not integers or the rank is out of range.
    """
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as error:
        raise ConfigurationError(
            f"WORLD_SIZE/RANK/LOCAL_RANK must be integers (as torchrun sets them): {error}"
        ) from error
    if world < 1 or not 0 <= rank < world:
        raise ConfigurationError(f"RANK={rank} is outside 0..WORLD_SIZE-1 (WORLD_SIZE={world})")
    return DistContext(rank=rank, world_size=world, local_rank=local)


@contextmanager
def distributed_context(device: torch.device) -> Iterator[DistContext]:
    """Initialise the process group when launched by torchrun with several processes.

    Args:
        device: the evaluation device; CUDA selects ``nccl`` (and the rank's local device must
            be set by the caller), anything else ``gloo``.

    Yields:
        The :class:`DistContext`; the process group (if this call created it) is destroyed on
        exit, also after an exception.
    """
    context = context_from_env()
    created = False
    if device.type == "cuda":
        context = replace(context, comm_device=str(device))
    if context.active and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        created = True
    try:
        yield context
    finally:
        if created:
            dist.destroy_process_group()
