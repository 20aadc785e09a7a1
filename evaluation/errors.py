"""Typed exceptions raised by the WSOL benchmark.

The ``wsol-bench`` command catches :class:`WSOLError` (and :class:`infocam_captum.exceptions.
InfoCamError`) and prints the message on one line, exiting with status 2. Messages name the file
and line, or the argument, and say what to do.
"""

from __future__ import annotations

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


class MissingFilesError(WSOLError, FileNotFoundError):
    """Files that a dataset or a score-map folder should contain are absent."""

    def __init__(self, what: str, missing: list[str], root: str | Path, shown: int = 5) -> None:
        """Summarise ``missing`` (the first ``shown`` names and the total count) under ``root``."""
        self.missing = list(missing)
        self.root = Path(root)
        head = ", ".join(self.missing[:shown])
        more = f" and {len(self.missing) - shown} more" if len(self.missing) > shown else ""
        super().__init__(
            f"{len(self.missing)} {what} missing under {self.root}: {head}{more}"
        )


class ScoreMapError(WSOLError, ValueError):
    """A score map has the wrong shape or type."""


class ConfigurationError(WSOLError, ValueError):
    """An option or argument value is invalid (unknown method, model, protocol, ...)."""


class CheckpointError(WSOLError, ValueError):
    """A checkpoint cannot be loaded into the requested model."""


class ClassMapError(WSOLError, ValueError):
    """A dataset class has no counterpart in a classifier's class list (e.g. an unknown wnid)."""
