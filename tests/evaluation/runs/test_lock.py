"""The run folder's lock: one holder, named in the refusal, freed when its process ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evaluation.errors import RunLockedError
from evaluation.runs.distributed import DistContext
from evaluation.runs.lock import LOCK_FILE, run_folder_lock

PROJECT = Path(__file__).resolve().parents[3]
MAIN = DistContext()

_HOLDER = """
import sys, time
from pathlib import Path
from evaluation.runs.distributed import DistContext
from evaluation.runs.lock import run_folder_lock
with run_folder_lock(Path(sys.argv[1]), DistContext()):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_process_is_refused_until_the_holder_dies(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(run_dir)], cwd=PROJECT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(RunLockedError) as error, run_folder_lock(run_dir, MAIN):
            pass
        assert str(error.value) == (
            f"{run_dir} is in use by process {holder.pid} on host {socket.gethostname()} (lock "
            f"file {run_dir / LOCK_FILE}); wait for it to finish, stop it, or choose another "
            "--output"
        )
    finally:
        holder.send_signal(signal.SIGKILL)  # no clean-up runs: the kernel frees the lock
        holder.wait()
    with run_folder_lock(run_dir, MAIN):
        pass
    # the file stays, naming the last holder (read after the block: closing any descriptor of
    # the file would release a POSIX lock held by this process)
    assert (run_dir / LOCK_FILE).read_text() == f"{os.getpid()} {socket.gethostname()}\n"


def test_forked_children_do_not_keep_the_lock(tmp_path: Path) -> None:
    # DataLoader workers are forked while the lock is held and may outlive the run briefly
    with run_folder_lock(tmp_path, MAIN):
        child = os.fork()
        if child == 0:  # pragma: no cover - the child only waits
            time.sleep(30)
            os._exit(0)
    try:
        with run_folder_lock(tmp_path, MAIN):  # the child is alive and holds the descriptor
            pass
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_a_second_run_in_the_same_process_is_refused(tmp_path: Path) -> None:
    refused = pytest.raises(RunLockedError, match=rf"in use by this process \({os.getpid()}\)")
    with run_folder_lock(tmp_path, MAIN), refused, run_folder_lock(tmp_path / ".", MAIN):
        pass
    with run_folder_lock(tmp_path, MAIN):  # released
        pass
