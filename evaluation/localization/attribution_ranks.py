"""The compiled ranking part of the attribution metrics: exact, one sort of the pixels per map.

:mod:`evaluation.localization.attribution` defines the metrics; these kernels (numba, ``nogil``,
so a thread pool runs maps in parallel) compute the ones that order the pixels of one map ``a``
of ``n`` pixels against its region ``s`` of ``K`` pixels, without a ``(n,)`` temporary per step:

- :func:`split_by_region` copies the values inside and outside the region, each in pixel order,
  in one pass. Sorting the two parts (numpy's sort, which releases the GIL) costs one sort of
  ``n`` values in all, and their merge is the whole map's order.
- :func:`ranking_from_sorted`: the cut ``t`` of the ``k`` highest pixels is the ``k``-th highest
  value of the merge; the pixels above ``t`` inside the region and outside it are counted in the
  sorted parts, the tied ones taken by one scan in pixel order (the first ones, as a stable
  descending sort takes them). The AUC's ``2 U`` counts, for every region value, the outside
  values below it plus those at most it, in one merge walk: an exact integer.

Every count is an exact integer and every share one IEEE division of two of them, the same
division as the formulas' (so the values do not depend on the kernels).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def split_by_region(
    values: np.ndarray, region: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """The ``(n,)`` float64 ``values`` inside and outside the ``(n,)`` bool region, in order."""
    size = 0
    for i in range(region.shape[0]):
        if region[i]:
            size += 1
    inside = np.empty(size, dtype=np.float64)
    outside = np.empty(region.shape[0] - size, dtype=np.float64)
    k = o = 0
    for i in range(values.shape[0]):
        if region[i]:
            inside[k] = values[i]
            k += 1
        else:
            outside[o] = values[i]
            o += 1
    return inside, outside


@njit(cache=True, nogil=True)
def _kth_highest(
    inside: np.ndarray, outside: np.ndarray, k: int
) -> float:  # pragma: no cover - compiled
    """The ``k``-th highest value of the merge of two ascending arrays (``1 <= k <= n``)."""
    i, o = inside.shape[0] - 1, outside.shape[0] - 1
    value = 0.0
    for _ in range(k):
        if o < 0 or (i >= 0 and inside[i] >= outside[o]):
            value = inside[i]
            i -= 1
        else:
            value = outside[o]
            o -= 1
    return value


@njit(cache=True, nogil=True)
def _count_above(ascending: np.ndarray, cut: float) -> int:  # pragma: no cover - compiled
    """How many values of an ascending array exceed ``cut``."""
    return ascending.shape[0] - np.searchsorted(ascending, cut, side="right")


@njit(cache=True, nogil=True)
def _share_of_top(
    values: np.ndarray, region: np.ndarray, inside: np.ndarray, outside: np.ndarray, k: int
) -> float:  # pragma: no cover - compiled
    """Share of the ``k`` highest pixels in the region (ties: the first ones in pixel order)."""
    cut = _kth_highest(inside, outside, k)
    above_inside = _count_above(inside, cut)
    wanted = k - above_inside - _count_above(outside, cut)
    tied_inside = 0
    for i in range(values.shape[0]):
        if wanted == 0:
            break
        if values[i] == cut:
            wanted -= 1
            if region[i]:
                tied_inside += 1
    return (above_inside + tied_inside) / k


@njit(cache=True, nogil=True)
def ranking_from_sorted(
    values: np.ndarray, region: np.ndarray, inside: np.ndarray, outside: np.ndarray, top_k: int
) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """Relevance rank accuracy, top-k intersection and ROC AUC of one map.

    Args:
        values: ``(n,)`` float64 finite values in pixel order.
        region: ``(n,)`` bool region, at least one pixel.
        inside: The region's values, ascending.
        outside: The other values, ascending.
        top_k: ``k`` of the top-k intersection, ``1 <= k <= n``.

    Returns:
        ``K``-top share, ``k``-top share and ``AUC = 2U / (2 K (n - K))``; the AUC is NaN when
        the region is the whole map.
    """
    size, others = inside.shape[0], outside.shape[0]
    rank = _share_of_top(values, region, inside, outside, size)
    top = _share_of_top(values, region, inside, outside, top_k)
    if others == 0:
        return rank, top, np.nan
    twice_u = 0
    below = up_to = 0
    for i in range(size):
        value = inside[i]
        while below < others and outside[below] < value:
            below += 1
        up_to = max(up_to, below)
        while up_to < others and outside[up_to] <= value:
            up_to += 1
        twice_u += below + up_to
    return rank, top, twice_u / (2.0 * size * others)


def warm_up() -> None:
    """Compile the kernels now (or load them from numba's cache)."""
    values = np.array([0.0, 1.0])
    region = np.array([True, False])
    inside, outside = split_by_region(values, region)
    ranking_from_sorted(values, region, inside, outside, 1)
