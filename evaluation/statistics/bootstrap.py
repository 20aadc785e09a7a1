"""Seeded bootstrap resamples of images and percentile intervals.

Resample ``b = 0, 1, ..., B - 1`` draws ``N`` image positions with replacement,
``rng.integers(0, N, size=N)`` with ``rng = numpy.random.default_rng(seed)``, in that order;
it enters the computations as its weight vector ``w_b[n]`` = how often image ``n`` was drawn
(:func:`resample_weights`, in blocks of resamples, so that a statistic of a resample is a matrix
product ``w_b @ values``: no Python loop over images). The same seed gives the same resamples,
so two methods measured on the same images are resampled together (a paired bootstrap).

The interval at level ``L`` is the percentile interval: the ``(1 - L) / 2`` and ``(1 + L) / 2``
quantiles of the ``B`` resampled statistics (numpy's default linear interpolation).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluation.errors import ConfigurationError

WEIGHT_BUDGET = 8_000_000
"""Entries of one block of resample weights (``resamples x images``): 32 MB as float32."""


@dataclass(frozen=True)
class BootstrapSettings:
    """How intervals are drawn.

    Attributes:
        resamples: ``B``, the number of resamples (>= 1).
        seed: Seed of ``numpy.random.default_rng``.
        level: Coverage of the percentile interval, in (0, 1).
    """

    resamples: int = 1000
    seed: int = 0
    level: float = 0.95

    def __post_init__(self) -> None:
        """Check the values.

        Raises:
            ConfigurationError: ``resamples < 1`` or ``level`` outside (0, 1).
        """
        if int(self.resamples) < 1:
            raise ConfigurationError(f"bootstrap resamples must be >= 1, got {self.resamples}")
        if not 0 < float(self.level) < 1:
            raise ConfigurationError(f"interval level must lie in (0, 1), got {self.level}")

    def describe(self) -> dict[str, Any]:
        """The ``interval`` entry of ``results.json``."""
        return {"method": "percentile bootstrap", "resamples": int(self.resamples),
                "seed": int(self.seed), "level": float(self.level), "unit": "images"}


def resample_weights(
    count: int, settings: BootstrapSettings, budget: int = WEIGHT_BUDGET
) -> Iterator[np.ndarray]:
    """The resamples' weights, block by block, in resample order.

    Args:
        count: ``N``, the number of images.
        settings: Resamples and seed.
        budget: Largest number of entries of one block.

    Yields:
        ``(b, N)`` float32 blocks: entry ``[i, n]`` is how often resample ``i`` of the block drew
        image ``n`` (exact integers; every row sums to ``N``).
    """
    rng = np.random.default_rng(settings.seed)
    per_block = max(1, min(settings.resamples, budget // max(count, 1)))
    done = 0
    while done < settings.resamples:
        rows = min(per_block, settings.resamples - done)
        block = np.empty((rows, count), dtype=np.float32)
        for row in block:  # one resample's draws at a time: the block is the only big array
            row[:] = np.bincount(rng.integers(0, count, size=count), minlength=count)
        yield block
        done += rows


def percentile_interval(samples: np.ndarray, level: float) -> np.ndarray:
    """The percentile interval of resampled statistics along the first axis.

    Args:
        samples: ``(B, ...)`` statistics of the resamples (NaN where undefined).
        level: Coverage in (0, 1).

    Returns:
        ``(2, ...)``: low and high ends; NaN where every resample is NaN. NaN resamples are left
        out (a statistic that is undefined on some resamples, such as PxAP without positive
        pixels).
    """
    tail = (1.0 - level) / 2.0 * 100.0
    samples = np.asarray(samples, dtype=np.float64)
    defined = ~np.isnan(samples)
    if defined.all():
        return np.percentile(samples, [tail, 100.0 - tail], axis=0)
    out = np.full((2, *samples.shape[1:]), np.nan)
    usable = defined.any(axis=0)
    if usable.any():
        with np.errstate(all="ignore"):
            out[:, usable] = np.nanpercentile(samples[:, usable], [tail, 100.0 - tail], axis=0)
    return out
