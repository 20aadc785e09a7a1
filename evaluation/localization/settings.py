"""What a localisation evaluation counts: the frame, the thresholds, the IoU thresholds, the rules.

Two accumulators can be added only when their :class:`LocalizationSettings` agree
(:meth:`LocalizationSettings.config` is the comparable, JSON-serialisable form).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluation.errors import ConfigurationError
from evaluation.localization.attribution import DEFAULT_POINTING_TOLERANCE, DEFAULT_TOP_K
from evaluation.localization.conventions import check_convention


@dataclass(frozen=True, eq=False)
class LocalizationSettings:
    """Validated settings of a localisation evaluation (build them with :meth:`checked`).

    Attributes:
        frame_size: ``(H, W)`` of the evaluation frame; maps are resized to it.
        thresholds: ``(T,)`` float64 strictly increasing map thresholds ``tau`` in [0, 1].
        iou_thresholds: IoU thresholds ``delta`` in percent (0 < delta <= 100) of the
            MaxBoxAccV2 mean.
        fixed_threshold: The threshold of GT-known / Top-1 / Top-5 Loc, in [0, 1].
        convention: One of :data:`~evaluation.localization.conventions.CONVENTIONS`.
        pointing_tolerance: Distance in frame pixels of the tolerant pointing game (>= 0).
        top_k: ``k`` of the top-k intersection (>= 1).
    """

    frame_size: tuple[int, int]
    thresholds: np.ndarray
    iou_thresholds: list[int]
    fixed_threshold: float
    convention: str
    pointing_tolerance: int = DEFAULT_POINTING_TOLERANCE
    top_k: int = DEFAULT_TOP_K

    @classmethod
    def checked(
        cls,
        frame_size: tuple[int, int],
        thresholds: Sequence[float] | np.ndarray | None,
        iou_thresholds: Sequence[int],
        fixed_threshold: float,
        convention: str,
        pointing_tolerance: int = DEFAULT_POINTING_TOLERANCE,
        top_k: int = DEFAULT_TOP_K,
    ) -> LocalizationSettings:
        """Validate the accumulator's arguments (``thresholds=None``: 0, 0.01, ..., 0.99).

        Raises:
            ConfigurationError: An argument is out of range.
        """
        check_convention(convention)
        if len(frame_size) != 2 or min(int(v) for v in frame_size) < 1:
            raise ConfigurationError(f"frame_size must be two positive ints, got {frame_size}")
        taus = np.arange(0, 1, 0.01) if thresholds is None else thresholds
        grid = np.array(taus, dtype=np.float64).reshape(-1)
        if len(grid) == 0 or not bool(np.isfinite(grid).all()):
            raise ConfigurationError("thresholds must be a non-empty list of finite numbers")
        if grid.min() < 0 or grid.max() > 1:
            raise ConfigurationError("thresholds must lie in [0, 1]")
        if len(grid) > 1 and not bool((np.diff(grid) > 0).all()):
            raise ConfigurationError("thresholds must be strictly increasing")
        deltas = [int(d) for d in iou_thresholds]
        if not deltas or any(not 0 < d <= 100 for d in deltas):
            raise ConfigurationError(
                f"IoU thresholds are percentages in (0, 100], got {list(iou_thresholds)}"
            )
        if len(set(deltas)) != len(deltas):
            raise ConfigurationError(f"IoU thresholds repeat: {deltas}")
        if not 0 <= float(fixed_threshold) <= 1:
            raise ConfigurationError(f"fixed_threshold must lie in [0, 1], got {fixed_threshold}")
        if int(pointing_tolerance) < 0 or int(top_k) < 1:
            raise ConfigurationError(
                f"pointing_tolerance must be >= 0 and top_k >= 1, got {pointing_tolerance} and "
                f"{top_k}"
            )
        size = (int(frame_size[0]), int(frame_size[1]))
        return cls(size, grid, deltas, float(fixed_threshold), convention,
                   int(pointing_tolerance), int(top_k))

    @property
    def counted_deltas(self) -> list[int]:
        """The IoU thresholds counted: :attr:`iou_thresholds` and 50 (MaxBoxAcc, Loc), sorted."""
        return sorted(set(self.iou_thresholds) | {50})

    @property
    def counted_thresholds(self) -> np.ndarray:
        """``(T + 1,)`` float64: the grid, then the fixed threshold, never rounded to float32.

        ``int(tau * max S)`` is taken in float64, as the reference does. A float32 ``tau`` would
        move the level of some pairs (``tau = 0.01``, ``max S = 100``: level 0 instead of 1); none
        on the 0.001 grid at ``max S = 255``, the maximum of every map min-max leaves non-zero.
        """
        return np.append(self.thresholds, np.float64(self.fixed_threshold))

    def config(self) -> dict[str, Any]:
        """The settings as JSON-serialisable values (what two accumulators must share)."""
        return {
            "frame_size": list(self.frame_size),
            "thresholds": self.thresholds.tolist(),
            "iou_thresholds": list(self.iou_thresholds),
            "fixed_threshold": self.fixed_threshold,
            "convention": self.convention,
            "pointing_tolerance": self.pointing_tolerance,
            "top_k": self.top_k,
        }

    def check_compatible(self, config: dict[str, Any], what: str) -> None:
        """Refuse a :meth:`config` other than this one.

        Raises:
            ConfigurationError: Names the differing settings.
        """
        mine = self.config()
        if config != mine:
            diff = [key for key in mine if config.get(key) != mine[key]]
            raise ConfigurationError(
                f"cannot combine with {what}: settings differ in {', '.join(diff) or 'keys'}"
            )
