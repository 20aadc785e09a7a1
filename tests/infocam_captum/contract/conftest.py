"""One intra-op thread while the contract runs: its models are tiny, and on a loaded machine
torch's thread pool costs ~20x the work itself (the previous setting is restored afterwards)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _one_intra_op_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
