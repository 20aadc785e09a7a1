"""The ``wsol-bench`` command: one subcommand per module of :mod:`evaluation.commands`.

User errors (:class:`evaluation.errors.WSOLError`, :class:`infocam_captum.exceptions.InfoCamError`)
are printed on one line, ``wsol-bench: error: <message>``, with exit status 2 and no traceback.
An interrupt exits with status 130; a closed output pipe (``wsol-bench compare ... | head``)
exits quietly with status 141, as a shell pipeline expects.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from evaluation import __version__, commands
from evaluation.errors import WSOLError
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
        return int(args.func(args) or 0)
    except (WSOLError, InfoCamError) as error:
        message = " ".join(str(error).split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _discard_stdout()
        return 141


def _discard_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured, closed)
        pass


if __name__ == "__main__":
    raise SystemExit(main())
