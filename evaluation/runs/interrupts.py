"""SIGINT and SIGTERM during a run's batches: stop at a batch boundary, never inside a count.

While :class:`StopSignals` is installed, SIGINT (Ctrl-C) and SIGTERM (``kill``, a scheduler's
time limit, torchrun stopping its workers) raise :class:`~evaluation.errors.Interrupted` at once,
wherever the loop is (waiting for data, in the forward pass), except between
:meth:`StopSignals.hold` and :meth:`StopSignals.release` (a batch being counted into the
accumulators), which finishes first. The loop then saves the state of its last finished batch
and lets the error propagate: the command exits with 130 (SIGINT) or 143 (SIGTERM). Handlers are
installed in the main thread only (Python runs signal handlers there) and the previous ones are
restored on exit.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

from evaluation.errors import Interrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """SIGINT/SIGTERM -> :class:`Interrupted`, held between :meth:`hold` and :meth:`release`."""

    def __init__(self) -> None:
        """Nothing is installed before ``__enter__``."""
        self.received: int | None = None
        self.holding = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def hold(self) -> None:
        """Let a signal wait until :meth:`release` (``holding`` is true until then)."""
        self.holding = True

    def release(self) -> None:
        """Stop holding; raise :class:`Interrupted` if a signal came meanwhile."""
        self.holding = False
        if self.received is not None:
            raise Interrupted(self.received)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        if not self.holding:
            raise Interrupted(signum)
