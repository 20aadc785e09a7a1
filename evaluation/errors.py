"""Typed exceptions and warnings raised by the WSOL benchmark.

The ``wsol-bench`` command catches :class:`WSOLError` (and :class:`infocam_captum.exceptions.
InfoCamError`) and prints the message on one line, exiting with status 2. Messages name the file
and line, or the argument, and say what to do. Every error pickles to an equal error, so that one
raised in a DataLoader worker process reaches the main process as itself
(:mod:`evaluation.datasets.worker_errors`). :class:`Interrupted` is how a long command stops on
SIGINT or SIGTERM after saving its finished work; :class:`WSOLWarning` is printed by the command as
one line, ``wsol-bench: warning: <message>``.
"""

from __future__ import annotations

import signal
from pathlib import Path


class WSOLError(Exception):
    """Base class of every error raised by the evaluation package."""


class DataFormatError(WSOLError, ValueError):
    """A dataset or metadata file is malformed; the message names ``file:line``."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        """Build ``"<path>:<line>: <problem>"`` (the line is omitted when ``None``)."""
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type, tuple[Path, int | None, str]]:
        return (type(self), (self.path, self.line, self.problem))


class MissingFilesError(WSOLError, FileNotFoundError):
    """Files that a dataset or a score-map folder should contain are absent."""

    def __init__(self, what: str, missing: list[str], root: str | Path, shown: int = 5) -> None:
        """Summarise ``missing`` (the first ``shown`` names and the total count) under ``root``."""
        self.what = what
        self.missing = list(missing)
        self.root = Path(root)
        self.shown = shown
        head = ", ".join(self.missing[:shown])
        more = f" and {len(self.missing) - shown} more" if len(self.missing) > shown else ""
        super().__init__(
            f"{len(self.missing)} {what} missing under {self.root}: {head}{more}"
        )

    def __reduce__(self) -> tuple[type, tuple[str, list[str], Path, int]]:
        return (type(self), (self.what, self.missing, self.root, self.shown))


class AccessError(WSOLError, PermissionError):
    """A file or folder exists, but this user may not read, search or write it."""

    def __init__(self, path: str | Path, action: str) -> None:
        """Build ``"<path>: permission denied: cannot <action> as this user; ..."``.

        Args:
            path: The file or folder.
            action: What was refused, e.g. ``"read this file"`` or ``"write into this folder"``.
        """
        self.path = Path(path)
        self.action = action
        super().__init__(
            f"{self.path}: permission denied: cannot {action} as this user; change its "
            "permissions (chmod, chown) or use another path"
        )

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:
        return (type(self), (self.path, self.action))


class PathKindError(WSOLError, ValueError):
    """A folder where a file is expected, or a file where a folder is expected."""


class RunLockedError(WSOLError):
    """Another live process holds the run folder's lock (``RUN_DIR/.lock``)."""


class ScoreMapError(WSOLError, ValueError):
    """A score map has the wrong shape or type."""


class ConfigurationError(WSOLError, ValueError):
    """An option or argument value is invalid (unknown method, model, protocol, ...)."""


class CheckpointError(WSOLError, ValueError):
    """A checkpoint cannot be loaded into the requested model."""


class ClassMapError(WSOLError, ValueError):
    """A dataset class has no counterpart in a classifier's class list (e.g. an unknown wnid)."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a long command after it saved its finished work.

    The command exits with status ``128 + signum`` (130 for SIGINT, 143 for SIGTERM), as a shell
    expects of a process ended by that signal.
    """

    def __init__(self, signum: int, detail: str = "") -> None:
        """Record the signal and what was saved (``detail``, e.g. how to resume)."""
        self.signum = signum
        self.detail = detail
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}" + (f"; {detail}" if detail else ""))

    @property
    def exit_status(self) -> int:
        """``128 + signum``."""
        return 128 + self.signum

    def __reduce__(self) -> tuple[type, tuple[int, str]]:
        return (type(self), (self.signum, self.detail))


class WSOLWarning(UserWarning):
    """Something the user should know, not an error (``wsol-bench`` prints it on one line)."""
