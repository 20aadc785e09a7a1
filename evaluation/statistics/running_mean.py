"""The infoCAM authors' reported localisation accuracy: a mean of running ratios.

Their ``evaluate_loc`` (inherited from ADL) counts hits image by image and, after every batch
``b`` of ``n_b`` images, feeds the running ratio ``H_b / N_b * 100`` (``H_b`` hits among the
``N_b`` images seen so far) into an ``AverageEpochMeter`` weighted by ``n_b``; the reported value
is that meter's average::

    published = sum_b (H_b / N_b * 100) * n_b / N

not the final ratio ``H_B / N * 100``. Early batches weigh more: on a class-ordered list the
first classes' accuracy leaks into every later term. Hits ``[1, 1 | 0, 0]`` in two batches of
two give ``(100 * 2 + 50 * 2) / 4 = 75.0``, the final ratio 50.0. The meters treated this way are
GT-known Loc and Top-1 Loc (at the fixed threshold, V1 box, IoU >= 50%); their classification
meters average each batch's own accuracy weighted by its size, which equals the final ratio.

The value is computed here from the per-image records in dataset order, with the batches of the
authors' loader (``shuffle=False``, consecutive positions ``0 .. N - 1``), so it does not depend
on how the evaluation itself was batched, sharded or resumed.
"""

from __future__ import annotations

import numpy as np

from evaluation.errors import ConfigurationError
from evaluation.statistics.records import ImageRecords

LOC_IOU = 50
"""The IoU threshold (percent) of GT-known and Top-1 Loc."""


def running_mean_accuracy(hits: np.ndarray, batch_size: int) -> float:
    """``sum_b (H_b / N_b * 100) * n_b / N`` over consecutive batches of ``batch_size``.

    The terms are added in batch order in float64, as the authors' meter adds them.

    Args:
        hits: ``(N,)`` bool or 0/1, one per image in dataset order (``N >= 1``).
        batch_size: Images per batch; the last batch holds the remainder.

    Raises:
        ConfigurationError: No image, or a batch size below 1.
    """
    flags = np.asarray(hits, dtype=np.int64).reshape(-1)
    if len(flags) == 0:
        raise ConfigurationError("no image: the running mean of an empty list is undefined")
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
    ends = np.minimum(np.arange(batch_size, len(flags) + batch_size, batch_size), len(flags))
    seen_hits = np.cumsum(flags)[ends - 1]
    sizes = np.diff(np.concatenate([[0], ends]))
    weighted = 0.0
    seen = 0
    for hit_count, size in zip(seen_hits.tolist(), sizes.tolist(), strict=True):
        seen += size
        weighted += hit_count / seen * 100 * size
    return weighted / seen


def published_accuracies(records: ImageRecords, batch_size: int) -> dict[str, float]:
    """GT-known Loc and Top-1 Loc as the authors' code reports them (module doc).

    Args:
        records: One method's complete records (every position ``0 .. N - 1``) with top-1
            predictions.
        batch_size: The authors' batch size (128 in their scripts).

    Returns:
        ``{"gt_known_loc": ..., "top1_loc": ...}`` in percent.

    Raises:
        ConfigurationError: Positions are missing, the records hold no predictions, or IoU 50
            was not counted.
    """
    complete = records.checked_complete()
    if not complete.has_predictions:
        raise ConfigurationError("Top-1 Loc needs the top-1 predictions of every image")
    if LOC_IOU not in complete.deltas:
        raise ConfigurationError(f"the records do not hold hits at IoU >= {LOC_IOU}%")
    fixed = complete.hit_flags()[:, 0, complete.deltas.index(LOC_IOU), -1]
    return {
        "gt_known_loc": running_mean_accuracy(fixed, batch_size),
        "top1_loc": running_mean_accuracy(fixed & complete.column("top1"), batch_size),
    }
