"""The ``wsol-bench`` command: one subcommand per module of :mod:`evaluation.commands`.

User errors (:class:`evaluation.errors.WSOLError`, :class:`infocam_captum.exceptions.InfoCamError`)
are printed on one line, ``wsol-bench: error: <message>``, with exit status 2 and no traceback;
so are the operating system's errors about a named file that no check caught first (a full disk,
an I/O error: ``wsol-bench: error: <file>: <reason>``). Warnings of the benchmark
(:class:`evaluation.errors.WSOLWarning`) are one line, ``wsol-bench: warning: <message>``. SIGINT
or SIGTERM during a run exits with status 130 or 143 after the run saved its finished work
(:class:`evaluation.errors.Interrupted`); a closed output pipe (``wsol-bench compare ... | head``)
exits quietly with status 141, as a shell pipeline expects.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from evaluation import __version__, commands
from evaluation.errors import Interrupted, WSOLError, WSOLWarning
from infocam_captum.exceptions import InfoCamError

PROG = "wsol-bench"


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand of :mod:`evaluation.commands`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Weakly-supervised object localisation benchmark for CAM-family methods.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the subcommand, return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", WSOLWarning)
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except (WSOLError, InfoCamError) as error:
        _print_line("error", str(error))
        return 2
    except Interrupted as interrupted:
        _print_line("", str(interrupted))
        return interrupted.exit_status
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _discard_stdout()
        return 141
    except OSError as error:
        if error.filename is None:
            raise
        _print_line("error", f"{error.filename}: {error.strerror or error}")
        return 2


def _print_line(kind: str, message: str) -> None:
    """``wsol-bench: <kind>: <message>`` on stderr, the message on one line."""
    prefix = f"{PROG}: {kind}: " if kind else f"{PROG}: "
    print(prefix + " ".join(message.split()), file=sys.stderr)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a :class:`WSOLWarning` as one line; other warnings as Python does."""
    if issubclass(category, WSOLWarning):
        _print_line("warning", str(message))
    else:
        text = warnings.formatwarning(message, category, filename, lineno, line)
        (file or sys.stderr).write(text)


def _discard_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured, closed)
        pass


if __name__ == "__main__":
    raise SystemExit(main())
