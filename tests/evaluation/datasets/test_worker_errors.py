"""A sample's error in a DataLoader worker process reaches the main process as itself."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from evaluation.datasets.worker_errors import (
    CarryErrors,
    CollateCarryingErrors,
    SampleFailure,
    raise_failures,
)
from evaluation.errors import DataFormatError


class Unreadable(Dataset):
    """Sample 5 is a truncated image."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> torch.Tensor:
        if i == 5:
            raise DataFormatError(Path("images/b_2.jpg"), None, "cannot decode the image")
        return torch.full((2,), float(i))


def stack(samples: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(samples)


@pytest.mark.parametrize("workers", [0, 2])
def test_the_original_error_is_raised_after_the_good_batches(workers: int) -> None:
    loader = DataLoader(
        CarryErrors(Unreadable()), batch_size=2, num_workers=workers,
        collate_fn=CollateCarryingErrors(stack),
    )
    seen = []
    with pytest.raises(DataFormatError) as error:
        for batch in raise_failures(loader):
            seen.append(batch[:, 0].tolist())
    assert seen == [[0.0, 1.0], [2.0, 3.0]]
    assert str(error.value) == "images/b_2.jpg: cannot decode the image"
    assert error.value.path == Path("images/b_2.jpg") and error.value.line is None


def test_without_carrying_torch_wraps_the_error_in_a_traceback() -> None:
    # the reason for this module: torch cannot rebuild DataFormatError from the traceback text
    loader = DataLoader(Unreadable(), batch_size=2, num_workers=1, collate_fn=stack)
    with pytest.raises(RuntimeError, match="Caught DataFormatError in DataLoader worker"):
        list(loader)


def test_a_failure_is_a_value_in_the_worker() -> None:
    failure = CarryErrors(Unreadable())[5]
    assert isinstance(failure, SampleFailure) and failure.position == 5
    assert CollateCarryingErrors(stack)([torch.zeros(2), failure]) is failure
