"""Progress: a plain line every interval in a log file, nothing for short work, a bar on a tty."""

from __future__ import annotations

import io

import pytest

from evaluation.progress import Progress, format_duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_line_every_interval_and_a_last_one() -> None:
    log, clock = io.StringIO(), Clock()
    progress = Progress(5794, "evaluate", "images", "img", stream=log, interval=30, clock=clock)
    clock.now += 29
    progress.update(1000)  # 29 s: no line yet
    assert log.getvalue() == ""
    clock.now += 1
    progress.update(234)  # 30 s, 1,234 images: 41.1 img/s, 4,560 left -> 111 s
    assert log.getvalue() == "evaluate: 1,234/5,794 images (21%), 41.1 img/s, eta 1m51s\n"
    clock.now += 20
    progress.update(1000)  # 20 s after the last line: none
    assert log.getvalue().count("\n") == 1
    clock.now += 10
    progress.update(3000)  # 60 s: a line
    clock.now += 11.5
    progress.update(560)
    progress.close()  # the last line, at 71.5 s
    assert log.getvalue().splitlines()[1:] == [
        "evaluate: 5,234/5,794 images (90%), 87.2 img/s, eta 6s",
        "evaluate: 5,794/5,794 images (100%), 81.0 img/s, done in 1m12s",
    ]
    progress.close()  # nothing moved: no repeated line
    assert log.getvalue().count("\n") == 3


def test_short_work_is_silent_and_a_resumed_count_is_not_in_the_rate() -> None:
    log, clock = io.StringIO(), Clock()
    with Progress(100, "score", "maps", "maps", initial=60, stream=log, clock=clock) as progress:
        clock.now += 10
        progress.update(40)
        assert progress.line() == "score: 100/100 maps (100%), 4.0 maps/s, done in 10s"
    assert log.getvalue() == ""


def test_unknown_totals_postfix_and_disabled_progress() -> None:
    log, clock = io.StringIO(), Clock()
    progress = Progress(None, "convert", stream=log, interval=1, clock=clock)
    clock.now += 2
    progress.set_postfix("loss 0.412")
    progress.update(7)
    assert log.getvalue() == "convert: 7 images, 3.5 img/s, loss 0.412\n"
    silent = Progress(10, "train", stream=log, interval=0, clock=clock, enabled=False)
    silent.update(10)
    silent.close()
    assert log.getvalue().count("\n") == 1


def test_a_terminal_gets_a_bar() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    with Progress(4, "check-data", stream=terminal, interval=0) as progress:
        progress.update(4)
    assert "check-data: 100%" in terminal.getvalue() and "4/4" in terminal.getvalue()


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "0s"), (45, "45s"), (100, "1m40s"), (7380, "2h03m")]
)
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
