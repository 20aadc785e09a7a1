"""The accumulator's per-image records: a batch's record, state files, torchrun reduction.

The records themselves are :class:`evaluation.statistics.records.ImageRecords` (numpy). This
module builds one batch's entries from what the accumulator computed (:func:`record_batch`, numpy
as the counters, so that scoring saved maps needs no torch), stores them as tensors in a state
dict (:func:`records_state`, :func:`records_from_state`) and gathers them over torchrun processes
(:func:`all_reduce_records`): each rank holds its own image positions and zeros elsewhere, so a
SUM all-reduce gathers them exactly; a position filled by two ranks is refused. Only those three
import torch, inside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from evaluation.errors import ConfigurationError
from evaluation.statistics.records import ImageRecords

if TYPE_CHECKING:
    from torch import Tensor

_TENSOR_FIELDS = ("filled", "hits", "top1", "top5", "labels", "attribution", "pixels")


def record_batch(
    records: ImageRecords,
    positions: np.ndarray | None,
    hits: np.ndarray,
    labels: np.ndarray,
    topk: np.ndarray | None,
    attribution: np.ndarray,
    pixels: np.ndarray | None,
) -> None:
    """Add one batch to ``records`` (in place).

    Args:
        records: The accumulator's records.
        positions: ``(B,)`` integer image positions, or ``None`` for the next ``B`` positions
            after the highest one recorded so far.
        hits: ``(B, 2, D, T + 1)`` bool hit flags.
        labels: ``(B,)`` int64 labels.
        topk: ``(B, k)`` int64 predictions, best first, or ``None``.
        attribution: ``(B, A)`` float64 attribution metric values.
        pixels: ``(B, 2, T + 2)`` PxAP histograms, or ``None``.

    Raises:
        ConfigurationError: See :meth:`~evaluation.statistics.records.ImageRecords.add`, or the
            positions do not fit the batch.
    """
    batch = len(labels)
    if positions is None:
        where = np.arange(records.size, records.size + batch)
    else:
        where = np.asarray(positions).reshape(-1).astype(np.int64)
        if len(where) != batch:
            raise ConfigurationError(f"positions must have shape ({batch},), got {where.shape}")
    top1 = top5 = None
    if topk is not None:
        top1 = topk[:, 0] == labels
        top5 = (topk[:, :5] == labels[:, None]).any(axis=1)
    records.add(where, hits, top1, top5, labels, attribution, pixels)


def records_state(records: ImageRecords) -> dict[str, Tensor]:
    """The records' arrays as tensors, for a ``torch.save`` state (``weights_only`` loadable)."""
    import torch

    return {name: torch.from_numpy(np.ascontiguousarray(array))
            for name, array in records.arrays().items()}


def records_from_state(state: dict[str, Any]) -> ImageRecords:
    """The inverse of :func:`records_state`.

    Raises:
        ConfigurationError: The saved records are malformed.
    """
    import torch

    return ImageRecords.from_arrays(
        {name: torch.as_tensor(value).numpy() for name, value in state.items()}
    )


def all_reduce_records(records: ImageRecords, group: Any = None) -> ImageRecords:
    """Gather every rank's records (each rank gets all of them).

    The ranks first agree on the size (MAX), then SUM each field (bool fields as integers);
    records fill disjoint positions, so the sum is the union.

    Raises:
        ConfigurationError: Two ranks recorded the same image position.
    """
    import torch
    import torch.distributed as dist

    device = torch.device("cpu")
    if dist.get_backend(group) == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())
    size = torch.tensor([records.size], dtype=torch.int64, device=device)
    dist.all_reduce(size, op=dist.ReduceOp.MAX, group=group)
    has_pixels = torch.tensor([int(records.pixels is not None)], device=device)
    dist.all_reduce(has_pixels, op=dist.ReduceOp.MAX, group=group)
    predictions = torch.tensor([int(records.has_predictions)], device=device)
    dist.all_reduce(predictions, op=dist.ReduceOp.MAX, group=group)
    arrays = records.arrays()
    total = int(size.item())
    gathered: dict[str, np.ndarray] = {}
    for name in _TENSOR_FIELDS:
        array = arrays[name]
        if name == "pixels" and has_pixels.item() and array.shape[-1] == 0:
            array = np.zeros((len(array), 2, records.num_thresholds + 2), dtype=np.int64)
        padded = np.zeros((total, *array.shape[1:]), dtype=array.dtype)
        padded[: len(array)] = array
        wide = torch.from_numpy(padded).to(device)
        wide = wide.to(torch.float64 if wide.is_floating_point() else torch.int64)
        dist.all_reduce(wide, op=dist.ReduceOp.SUM, group=group)
        gathered[name] = wide.cpu().numpy().astype(array.dtype if name != "filled" else np.int64)
    overlap = np.flatnonzero(gathered["filled"] > 1)
    if len(overlap):
        raise ConfigurationError(
            f"two processes recorded image position {int(overlap[0])}: each rank must give its "
            "own images' positions (update(..., positions=))"
        )
    gathered["filled"] = gathered["filled"].astype(bool)
    for name in ("top1", "top5"):
        gathered[name] = gathered[name].astype(bool)
    meta = {k: arrays[k] for k in ("thresholds", "fixed_threshold", "deltas", "iou_thresholds")}
    return ImageRecords.from_arrays(
        {**meta, **gathered, "has_predictions": np.bool_(predictions.item())}
    )
