"""The run folder's lock: one process (one torchrun job) at a time works in a run folder.

``RUN_DIR/.lock`` holds a POSIX record lock (``fcntl.lockf``) and the pid and host of its
holder. The kernel releases the lock when its process ends, however it ends (finished, killed,
crashed), so the lock of a dead process is taken over at once and no stale lock ever needs
removing by hand. A record lock belongs to the process alone: unlike ``flock``, the DataLoader
workers it forks do not inherit it, so a run that stopped on an error frees its folder at once,
even while its workers wind down. A second process finds the lock held and stops with
:class:`~evaluation.errors.RunLockedError` naming the holder, before it reads or writes anything
of the run; a second run in the same process (which record locks cannot exclude) is refused by
the process's own list of held folders. The file stays in the folder (removing it could let two
processes lock two different files). Under torchrun, the ranks of one job share the folder:
rank 0 takes the lock for all of them and tells the other ranks whether it got it. POSIX only.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from evaluation.errors import AccessError, RunLockedError
from evaluation.runs.distributed import DistContext

LOCK_FILE = ".lock"
_HELD: set[Path] = set()  # run folders locked by this process
_HELD_GUARD = threading.Lock()


@contextmanager
def run_folder_lock(run_dir: Path, context: DistContext) -> Iterator[None]:
    """Hold ``run_dir``'s lock for the block (the folder is created if needed).

    Args:
        run_dir: The run folder.
        context: The process's place in a torchrun job; rank 0 alone locks.

    Raises:
        RunLockedError: Another live process holds the lock.
        AccessError: The folder or its lock file cannot be created or opened by this user.
    """
    handle = None
    refusal: RunLockedError | None = None
    if context.is_main:
        try:
            handle = _acquire(run_dir)
        except RunLockedError as error:
            refusal = error
    failed = context.sum_(torch.tensor([0 if refusal is None else 1], dtype=torch.int64))
    try:
        if refusal is not None:
            raise refusal
        if int(failed):
            raise RunLockedError(f"{run_dir} is in use by another process (see rank 0)")
        yield
    finally:
        if handle is not None:
            _release(run_dir, handle)


def _acquire(run_dir: Path) -> int:
    """Lock ``run_dir/.lock`` without waiting, write our pid and host; return the descriptor."""
    path = run_dir / LOCK_FILE
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        key = run_dir.resolve()
    except PermissionError as error:
        raise AccessError(Path(error.filename or run_dir), "create the run folder") from None
    with _HELD_GUARD:
        if key in _HELD:
            raise RunLockedError(_in_use(run_dir, f"this process ({os.getpid()})", path))
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except PermissionError:
            raise AccessError(run_dir, "create the run folder's lock file") from None
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            holder = os.pread(handle, 200, 0).decode("utf-8", "replace").split()
            os.close(handle)
            who = f"process {holder[0]} on host {holder[1]}" if len(holder) >= 2 else (
                "another process"
            )
            raise RunLockedError(_in_use(run_dir, who, path)) from None
        _HELD.add(key)
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
    return handle


def _release(run_dir: Path, handle: int) -> None:
    """Close the lock file (which releases the lock) and forget the folder."""
    with _HELD_GUARD:
        os.close(handle)
        _HELD.discard(run_dir.resolve())


def _in_use(run_dir: Path, who: str, path: Path) -> str:
    return (
        f"{run_dir} is in use by {who} (lock file {path}); wait for it to finish, stop it, or "
        "choose another --output"
    )
