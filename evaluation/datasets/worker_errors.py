"""A dataset error met in a DataLoader worker process reaches the main process as itself.

torch re-raises a worker's exception by calling its type with the worker's traceback text as the
only argument; :class:`~evaluation.errors.DataFormatError` takes ``(path, line, problem)``, so
torch raises a ``RuntimeError`` holding the whole worker traceback instead, and the user sees a
traceback where one line was due. Here the worker catches :class:`~evaluation.errors.WSOLError`
and returns it as a value (:class:`SampleFailure`; the errors pickle), the collate function passes
it on as the batch, and :func:`raise_failures` raises the original error in the main process::

    loader = DataLoader(CarryErrors(dataset), collate_fn=CollateCarryingErrors(collate), ...)
    for batch in raise_failures(loader):
        ...

With ``num_workers=0`` the same code raises the same error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from torch.utils.data import Dataset

from evaluation.errors import WSOLError

Batch = TypeVar("Batch")


@dataclass(frozen=True)
class SampleFailure:
    """The error that sample ``position`` of a dataset raised (a picklable value)."""

    position: int
    error: WSOLError


class CarryErrors(Dataset):
    """``dataset`` whose :class:`WSOLError` are returned as :class:`SampleFailure` values."""

    def __init__(self, dataset: Dataset) -> None:
        """Wrap ``dataset`` (any map-style dataset with ``len``)."""
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, position: int) -> Any:
        """The sample, or the :class:`SampleFailure` of its error."""
        try:
            return self.dataset[position]
        except WSOLError as error:
            return SampleFailure(position, error)


class CollateCarryingErrors:
    """A collate function that returns a batch's first :class:`SampleFailure` instead of a batch.

    A class rather than a closure, so that DataLoader workers started by ``spawn`` can pickle it.
    """

    def __init__(self, collate: Callable[[Sequence[Any]], Any]) -> None:
        """Wrap ``collate`` (called on batches without failures)."""
        self.collate = collate

    def __call__(self, samples: Sequence[Any]) -> Any:
        """``collate(samples)``, or the first failure among them."""
        for sample in samples:
            if isinstance(sample, SampleFailure):
                return sample
        return self.collate(samples)


def raise_failures(batches: Iterable[Batch]) -> Iterator[Batch]:
    """Yield ``batches``; raise the original error of the first :class:`SampleFailure`."""
    for batch in batches:
        if isinstance(batch, SampleFailure):
            raise batch.error
        yield batch
