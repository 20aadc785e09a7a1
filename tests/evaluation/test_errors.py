"""Typed errors carry where and what, and the CLI turns them into one line and exit status 2."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from evaluation import cli
from evaluation.errors import DataFormatError, MissingFilesError, WSOLError


def test_data_format_error_names_file_and_line() -> None:
    error = DataFormatError(Path("meta/image_sizes.txt"), 7, "expected 3 columns, got 2")
    assert str(error) == "meta/image_sizes.txt:7: expected 3 columns, got 2"
    assert isinstance(error, ValueError)
    assert error.line == 7


def test_missing_files_error_lists_the_first_few_and_the_count() -> None:
    error = MissingFilesError("score maps", [f"id{i}.npy" for i in range(8)], "maps", shown=3)
    assert str(error) == "8 score maps missing under maps: id0.npy, id1.npy, id2.npy and 5 more"
    assert isinstance(error, FileNotFoundError)


def test_cli_prints_user_errors_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(_: argparse.Namespace) -> int:
        raise WSOLError("bad thing\nwith a second line")

    real_build = cli.build_parser

    def build_parser() -> argparse.ArgumentParser:
        parser = real_build()
        subparsers = next(
            action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
        )
        subparsers.add_parser("fail-now").set_defaults(func=fail)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_parser)
    assert cli.main(["fail-now"]) == 2
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
