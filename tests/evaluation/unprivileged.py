"""Run ``wsol-bench`` in a child process on which file permissions bind, even under root.

The superuser reads and writes any file whatever its mode (the capabilities CAP_DAC_OVERRIDE
and CAP_DAC_READ_SEARCH), so ``chmod 000`` proves nothing in a test run as root. The child drops
both capabilities from its bounding set before it starts Python: it is still root and owns the
interpreter's files, but a file's or folder's mode bits now apply to it as to any owner (mode 000
denies, mode 0555 makes a read-only folder). Under another user the child runs as it is.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_file_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _preexec() -> Callable[[], None] | None:
    return _drop_file_capabilities if os.geteuid() == 0 else None


@cache
def _permissions_bind() -> str | None:
    """``None`` when a child can be denied a file by its mode, else why not."""
    if sys.platform != "linux" and os.geteuid() == 0:
        return "dropping root's file capabilities needs Linux"
    handle, name = tempfile.mkstemp(prefix="wsol-permission-probe-")
    os.close(handle)
    probe = Path(name)
    try:
        probe.chmod(0)
        done = subprocess.run(
            [sys.executable, "-c", f"open({str(probe)!r}).read()"], preexec_fn=_preexec(),
            capture_output=True, check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return f"cannot start a child without file capabilities ({error})"
    finally:
        probe.unlink(missing_ok=True)
    return None if b"PermissionError" in done.stderr else "file modes do not bind here"


def run_cli(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """``python -m evaluation <argv>`` in a child on which file modes bind (skip where none)."""
    reason = _permissions_bind()
    if reason is not None:
        pytest.skip(reason)
    paths = [str(PROJECT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [sys.executable, "-m", "evaluation", *argv], cwd=PROJECT, env=env,
        preexec_fn=_preexec(), capture_output=True, text=True, check=False,
    )
