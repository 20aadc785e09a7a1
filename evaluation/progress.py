"""Progress of long work: a tqdm bar on a terminal, a plain line every ~30 s in a log file.

When the stream (stderr by default) is a terminal, a tqdm bar shows the count, the rate and the
time left. Otherwise (stderr redirected to a log file, a batch job) a line such as ::

    evaluate: 1,234/5,794 images (21%), 45.6 img/s, eta 1m40s

is written every ``interval`` seconds (:data:`LOG_INTERVAL`), and one last line when the work ends
if any was written before (and the count moved since): a 14-minute run is never silent and a
short one prints nothing.

May import: nothing of :mod:`evaluation` (every package may import it).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

LOG_INTERVAL = 30.0
"""Seconds between two progress lines when the stream is not a terminal."""


class Progress:
    """Count work done and show it (see the module docstring); a context manager.

    Example::

        with Progress(len(paths), "check-data", "images", "img") as progress:
            for path in paths:
                decode(path)
                progress.update()
    """

    def __init__(
        self,
        total: int | None,
        label: str,
        noun: str = "images",
        unit: str = "img",
        *,
        initial: int = 0,
        enabled: bool = True,
        transient: bool = False,
        stream: TextIO | None = None,
        interval: float = LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start counting.

        Args:
            total: Units of work in all (``None``: unknown, no percentage or eta); see
                :meth:`set_total`.
            label: What is working, the line's prefix (``"evaluate"``).
            noun: What is counted, plural (``"images"``).
            unit: Short unit of the rate (``"img"`` -> ``img/s``).
            initial: Units already done before (a resumed run); not part of the rate.
            enabled: ``False`` shows nothing.
            transient: Remove the terminal bar when done (the plain lines stay).
            stream: Where to write (default: ``sys.stderr`` at construction).
            interval: Seconds between plain lines.
            clock: Monotonic seconds (injectable for tests).
        """
        self.total = total
        self.label = label
        self.noun = noun
        self.unit = unit
        self.done = initial
        self.postfix = ""
        self._initial = initial
        self._stream = sys.stderr if stream is None else stream
        self._interval = interval
        self._clock = clock
        self._started = self._last_line = clock()
        self._lines = 0
        self._last_written = initial
        self._bar: Any = None
        self._enabled = enabled
        if enabled and _is_terminal(self._stream):
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total, initial=initial, unit=unit, desc=label, file=self._stream,
                dynamic_ncols=True, leave=not transient,
            )

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def set_total(self, total: int) -> None:
        """Set the total once it is known."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def set_postfix(self, text: str) -> None:
        """Show ``text`` after the counts (e.g. ``"loss 0.412"``)."""
        self.postfix = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    def update(self, count: int = 1) -> None:
        """Add ``count`` units of work done; write a line when one is due."""
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
        elif self._enabled and self._clock() - self._last_line >= self._interval:
            self._write_line()

    def close(self) -> None:
        """Close the bar, or write the final line if lines were written and the count moved."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._lines and self.done != self._last_written:
            self._write_line()

    def line(self) -> str:
        """``"<label>: <done>/<total> <noun> (<pct>%), <rate> <unit>/s, eta <time>"``."""
        now = self._clock()
        elapsed = now - self._started
        rate = (self.done - self._initial) / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.label}: {self.done:,}"]
        if self.total:
            parts[0] += f"/{self.total:,} {self.noun} ({100 * self.done / self.total:.0f}%)"
        else:
            parts[0] += f" {self.noun}"
        parts.append(f"{rate:.1f} {self.unit}/s")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"eta {format_duration((self.total - self.done) / rate)}")
        elif self.total and self.done >= self.total:
            parts.append(f"done in {format_duration(elapsed)}")
        if self.postfix:
            parts.append(self.postfix)
        return ", ".join(parts)

    def _write_line(self) -> None:
        print(self.line(), file=self._stream, flush=True)
        self._last_line = self._clock()
        self._last_written = self.done
        self._lines += 1


def format_duration(seconds: float) -> str:
    """``"45s"``, ``"1m40s"``, ``"2h03m"``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
