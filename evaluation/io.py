"""Atomic file writes: a reader never sees a half-written file, an interrupted run loses nothing.

Each writer writes to a hidden temporary file ``.<name>.<random>.tmp`` in the destination folder,
flushes it to disk and renames it over the destination (``os.replace`` is atomic on POSIX and
Windows). A process killed by SIGKILL mid-write leaves its temporary file behind;
:func:`remove_stale_temporaries` removes such files.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

_TMP_SUFFIX = ".tmp"


@contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open supports modes 'w' and 'wb', not {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=_TMP_SUFFIX, dir=target.parent
    )
    try:
        os.chmod(tmp_name, _default_file_mode())
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _default_file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 less the umask; mkstemp gives 0o600)."""
    return 0o666 & ~_umask()


def default_folder_mode() -> int:
    """The mode ``mkdir`` would give a new folder (0o777 less the umask; mkdtemp gives 0o700)."""
    return 0o777 & ~_umask()


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically (NaN is refused: use ``None``)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def atomic_save(path: str | Path, save: Callable[[IO[bytes]], None]) -> None:
    """Call ``save(handle)`` on a binary temporary file, then move it to ``path`` atomically.

    Example: ``atomic_save(path, lambda f: torch.save(state, f))``.
    """
    with atomic_open(path, "wb") as handle:
        save(handle)


def remove_stale_temporaries(folder: str | Path, names: tuple[str, ...]) -> list[Path]:
    """Delete the temporary files that atomic writes of ``names`` left in ``folder``.

    Only call it when no live process writes there (e.g. under the run folder's lock).

    Args:
        folder: The destination folder (absent: nothing to do).
        names: Destination file names or glob patterns (``"rank*-of-*.pt"``).

    Returns:
        The removed files.
    """
    base = Path(folder)
    removed = []
    if base.is_dir():
        for name in names:
            for path in base.glob(f".{name}.*{_TMP_SUFFIX}"):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
