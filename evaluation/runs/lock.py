"""The run folder's lock: one process (one torchrun job) at a time works in a run folder.

``RUN_DIR/.lock`` is locked with ``fcntl.flock`` and holds the pid and host of its holder. The
kernel releases the lock when its process ends, however it ends (finished, killed, crashed), so
the lock of a dead process is taken over at once and no stale lock ever needs removing by hand.
A second process finds the lock held and stops with
:class:`~evaluation.errors.RunLockedError` naming the holder, before it reads or writes anything
of the run. The file stays in the folder (removing it could let two processes lock two different
files). Under torchrun, the ranks of one job share the folder: rank 0 takes the lock for all of
them and tells the other ranks whether it got it. POSIX only (``fcntl``).
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from evaluation.errors import AccessError, RunLockedError
from evaluation.runs.distributed import DistContext

LOCK_FILE = ".lock"


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
            os.close(handle)


def _acquire(run_dir: Path) -> int:
    """Lock ``run_dir/.lock`` without waiting, write our pid and host; return the descriptor."""
    path = run_dir / LOCK_FILE
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError as error:
        raise AccessError(Path(error.filename or run_dir), "create the run folder's lock") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(handle, 200, 0).decode("utf-8", "replace").split()
        os.close(handle)
        who = f"process {holder[0]} on host {holder[1]}" if len(holder) >= 2 else "another process"
        raise RunLockedError(
            f"{run_dir} is in use by {who} (lock file {path}); wait for it to finish, stop it, "
            "or choose another --output"
        ) from None
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
    return handle
