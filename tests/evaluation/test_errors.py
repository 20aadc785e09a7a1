"""Typed errors carry where and what, and the CLI turns them into one line and exit status 2."""

from __future__ import annotations

import argparse
import errno
import pickle
import signal
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from evaluation import cli
from evaluation.errors import (
    AccessError,
    DataFormatError,
    Interrupted,
    MissingFilesError,
    PathKindError,
    WSOLError,
    WSOLWarning,
)


def test_data_format_error_names_file_and_line() -> None:
    error = DataFormatError(Path("meta/image_sizes.txt"), 7, "expected 3 columns, got 2")
    assert str(error) == "meta/image_sizes.txt:7: expected 3 columns, got 2"
    assert isinstance(error, ValueError)
    assert error.line == 7


def test_missing_files_error_lists_the_first_few_and_the_count() -> None:
    error = MissingFilesError("score maps", [f"id{i}.npy" for i in range(8)], "maps", shown=3)
    assert str(error) == "8 score maps missing under maps: id0.npy, id1.npy, id2.npy and 5 more"
    assert isinstance(error, FileNotFoundError)


def _with_command(
    monkeypatch: pytest.MonkeyPatch, func: Callable[[argparse.Namespace], int]
) -> None:
    """Add a ``try-it`` subcommand that runs ``func``."""
    real_build = cli.build_parser

    def build_parser() -> argparse.ArgumentParser:
        parser = real_build()
        subparsers = next(
            action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
        )
        subparsers.add_parser("try-it").set_defaults(func=func)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_parser)


def test_cli_prints_user_errors_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(_: argparse.Namespace) -> int:
        raise WSOLError("bad thing\nwith a second line")

    _with_command(monkeypatch, fail)
    assert cli.main(["try-it"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "wsol-bench: error: bad thing with a second line\n"
    assert captured.out == ""


def test_a_closed_output_pipe_exits_quietly() -> None:
    import subprocess
    import sys

    code = (
        "import argparse, sys\n"
        "from evaluation import cli\n"
        "real = cli.build_parser\n"
        "def build():\n"
        "    parser = real()\n"
        "    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))\n"
        "    def flood(_):\n"
        "        for i in range(200000):\n"
        "            print('row', i)\n"
        "        return 0\n"
        "    sub.add_parser('flood').set_defaults(func=flood)\n"
        "    return parser\n"
        "cli.build_parser = build\n"
        "sys.exit(cli.main(['flood']))\n"
    )
    producer = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert producer.stdout is not None
    assert producer.stdout.readline() == b"row 0\n"
    producer.stdout.close()  # the reader goes away, like `| head -1`
    _, stderr = producer.communicate(timeout=60)
    assert producer.returncode == 141
    assert b"Traceback" not in stderr


@pytest.mark.parametrize(
    "error",
    [
        DataFormatError(Path("a/b.txt"), 3, "expected 2 fields"),
        DataFormatError(Path("a/b.jpg"), None, "cannot decode the image"),
        MissingFilesError("images", ["x.jpg", "y.jpg"], "root", shown=1),
        AccessError(Path("/data/images.txt"), "read this file"),
        PathKindError("x is a folder, expected a file (checkpoint)"),
        Interrupted(signal.SIGTERM, "saved"),
    ],
)
def test_errors_survive_a_trip_between_processes(error: BaseException) -> None:
    # a DataLoader worker sends its error to the main process by pickling it
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def test_interrupted_exits_like_the_signal() -> None:
    assert Interrupted(signal.SIGINT).exit_status == 130
    assert Interrupted(signal.SIGTERM).exit_status == 143
    assert str(Interrupted(signal.SIGTERM, "resume with the same command")) == (
        "interrupted by SIGTERM; resume with the same command"
    )
    assert isinstance(Interrupted(signal.SIGINT), KeyboardInterrupt)


def test_cli_prints_benchmark_warnings_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def warn(_: argparse.Namespace) -> int:
        warnings.warn(WSOLWarning("frame 64x64\n is not 224x224"), stacklevel=1)
        warnings.warn(WSOLWarning("frame 64x64\n is not 224x224"), stacklevel=1)
        return 0

    _with_command(monkeypatch, warn)
    assert cli.main(["try-it"]) == 0
    assert capsys.readouterr().err == "wsol-bench: warning: frame 64x64 is not 224x224\n" * 2


def test_cli_turns_file_errors_of_the_system_into_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def disk_full(_: argparse.Namespace) -> int:
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/results.json")

    _with_command(monkeypatch, disk_full)
    assert cli.main(["try-it"]) == 2
    assert capsys.readouterr().err == (
        "wsol-bench: error: /runs/x/results.json: No space left on device\n"
    )


def test_cli_exits_with_the_signal_status_of_an_interrupted_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def stopped(_: argparse.Namespace) -> int:
        raise Interrupted(signal.SIGTERM, "4 of 12 images are counted and saved")

    _with_command(monkeypatch, stopped)
    assert cli.main(["try-it"]) == 143
    assert capsys.readouterr().err == (
        "wsol-bench: interrupted by SIGTERM; 4 of 12 images are counted and saved\n"
    )
