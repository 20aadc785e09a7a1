"""Faults during `wsol-bench evaluate`: a corrupt image, signals, kills, a second process.

Each keeps the run's state up to its last finished batch, and the same command then ends with
the numbers of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from evaluation.cli import main
from evaluation.datasets import SyntheticSpec, make_synthetic, read_index
from evaluation.runs import loop
from evaluation.runs.state import load_state, state_path

PROJECT = Path(__file__).resolve().parents[3]
METHODS = "cam,infocam"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data") / "synthetic"
    return make_synthetic(root, SyntheticSpec(classes=4, images_per_class=10, size=48, seed=1))


def _args(root: Path, output: Path, *extra: str, size: str | None = "32") -> list[str]:
    """Evaluate the untrained small CNN (``size``: the frame side, ``None`` the default)."""
    return [
        "evaluate", "--dataset", "synthetic", "--data-root", str(root), "--model", "small-cnn",
        "--random-init", *(["--image-size", size] if size else []), "--batch-size", "2",
        "--methods", METHODS, "--save-every", "1000", "--gallery", "0", "--output", str(output),
        *extra,
    ]


def _numbers(run: Path) -> dict:
    """What must not depend on interruptions: every method's metrics and the accuracy."""
    results = json.loads((run / "results.json").read_text())
    methods = {
        name: {k: v for k, v in values.items() if k != "images_per_second"}
        for name, values in results["methods"].items()
    }
    return {"methods": methods, "classification": results["classification"]}


def _resumed_from(run: Path) -> int:
    return json.loads((run / "results.json").read_text())["run"]["resumed_from_images"]


@pytest.fixture(scope="module")
def uninterrupted(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("runs") / "uninterrupted"
    assert main(_args(data, output, "--num-workers", "0")) == 0
    return output


def _saved_batches(run: Path) -> int:
    state = load_state(state_path(run, 0, 1))
    assert state is not None
    return state.next_batch


def test_a_corrupt_image_stops_the_run_which_resumes_once_the_file_is_fixed(
    data: Path, uninterrupted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(shutil.copytree(data, tmp_path / "data"))
    image = read_index("synthetic", root, "test").records[7].path  # in batch 3 (images 6, 7)
    original = image.read_bytes()
    image.write_bytes(original[: len(original) // 3])
    output = tmp_path / "run"
    args = _args(root, output, "--num-workers", "2")  # the error comes from a worker process
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"wsol-bench: error: {image}: cannot decode the image (")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert _saved_batches(output) == 3  # batches 0-2 are kept
    assert not (output / "results.json").exists()
    image.write_bytes(original)  # fixed
    assert main(args) == 0
    assert _resumed_from(output) == 6
    assert _numbers(output) == _numbers(uninterrupted)


_STOPPER = """
import os, signal, sys
import {module} as patched
original = patched.{name}.{method}
calls = [0]
def stop(self, *args, **kwargs):
    calls[0] += 1
    if calls[0] == {at}:
        os.kill(os.getpid(), signal.{signal})
    return original(self, *args, **kwargs)
patched.{name}.{method} = stop
from evaluation.cli import main
sys.exit(main({args!r}))
"""


@pytest.mark.parametrize(
    ("module", "name", "method", "at", "signum", "status", "saved"),
    [
        # SIGTERM while the 3rd batch runs through the model: it is not counted
        ("evaluation.runs.attributor", "BatchAttributor", "__call__", 3, "SIGTERM", 143, 2),
        # Ctrl-C while the 3rd batch is being counted (its 1st method): it is finished first
        ("evaluation.localization.accumulator", "LocalizationAccumulator", "update", 5,
         "SIGINT", 130, 3),
    ],
    ids=["sigterm-in-forward", "sigint-in-counting"],
)
def test_a_signal_saves_the_finished_batches_and_exits_with_its_status(
    data: Path, uninterrupted: Path, tmp_path: Path, module: str, name: str, method: str,
    at: int, signum: str, status: int, saved: int,
) -> None:
    output = tmp_path / "run"
    args = _args(data, output, "--num-workers", "0")
    code = _STOPPER.format(module=module, name=name, method=method, at=at, signal=signum,
                           args=args)
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, env=ENV,
                          capture_output=True, text=True, check=False)
    assert done.returncode == status, done.stderr[-2000:]
    assert done.stderr == (
        f"wsol-bench: interrupted by {signum}; {2 * saved} of 12 images are counted and saved "
        f"in {state_path(output, 0, 1)}; run the same command to resume\n"
    )
    assert _saved_batches(output) == saved
    assert main(args) == 0
    assert _resumed_from(output) == 2 * saved
    assert _numbers(output) == _numbers(uninterrupted)


_SLOW = """
import sys, time
import evaluation.localization.accumulator as accumulator
import evaluation.runs.loop as loop
loop.SAVE_SECONDS = {save_seconds}
original = accumulator.LocalizationAccumulator.update
def slow(self, *args, **kwargs):
    time.sleep({seconds})
    return original(self, *args, **kwargs)
accumulator.LocalizationAccumulator.update = slow
from evaluation.cli import main
sys.exit(main({args!r}))
"""


def _start_slow_run(
    args: list[str], seconds: float, save_seconds: float = loop.SAVE_SECONDS
) -> subprocess.Popen:
    """``evaluate`` in a child whose accumulator updates take ``seconds`` more each."""
    code = _SLOW.format(seconds=seconds, save_seconds=save_seconds, args=args)
    return subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_lock(output: Path, process: subprocess.Popen) -> None:
    lock = output / ".lock"
    deadline = time.monotonic() + 60
    while not (lock.is_file() and lock.read_text().startswith(f"{process.pid} ")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)


def test_a_second_process_on_the_same_run_folder_is_refused(
    data: Path, uninterrupted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "run"
    args = _args(data, output, "--num-workers", "0")
    first = _start_slow_run(args, seconds=0.2)
    _wait_for_lock(output, first)
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"wsol-bench: error: {output} is in use by process {first.pid} on host "
        f"{socket.gethostname()} (lock file {output / '.lock'}); wait for it to finish, stop "
        "it, or choose another --output\n"
    )
    assert main([*args, "--overwrite"]) == 2  # not even to replace it
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr[-2000:]
    assert _numbers(output) == _numbers(uninterrupted)  # the first run's, untouched
    assert _resumed_from(output) == 0


def test_the_lock_of_a_killed_process_is_taken_over_and_its_run_resumed(
    data: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    output = tmp_path / "run"
    args = _args(data, output, "--num-workers", "0")
    killed = _start_slow_run(args, seconds=0.4, save_seconds=1.0)
    _wait_for_lock(output, killed)
    while not state_path(output, 0, 1).is_file():  # --save-every 1000: a time-based save
        assert killed.poll() is None, killed.communicate()
        time.sleep(0.05)
    killed.kill()  # SIGKILL: no handler runs, the lock file stays with the dead pid in it
    killed.communicate(timeout=60)
    assert (output / ".lock").read_text().startswith(f"{killed.pid} ")
    saved = _saved_batches(output)
    assert 1 <= saved < 6
    assert main(args) == 0
    assert _resumed_from(output) == 2 * saved
    assert _numbers(output) == _numbers(uninterrupted)


def test_stale_temporaries_are_removed_when_a_run_starts(data: Path, tmp_path: Path) -> None:
    output = tmp_path / "run"
    (output / "state").mkdir(parents=True)
    stale = [output / ".results.json.k2x.tmp", output / "state" / ".rank0-of-1.pt.q9.tmp"]
    for path in [*stale, output / ".mine.txt.tmp"]:
        path.write_text("left by a killed process")
    assert main(_args(data, output, "--num-workers", "0", "--limit", "2")) == 0
    assert not any(path.exists() for path in stale)
    assert (output / ".mine.txt.tmp").exists()  # not a file of the run


class _FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_saves_wait_for_the_interval_or_for_fifty_times_their_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _FakeClock()
    saves: list[float] = []

    def save(setup: object, state: object, accumulators: object) -> None:
        saves.append(clock.now)
        clock.now += cost[0]  # the save itself takes time

    cost = [0.01]
    monkeypatch.setattr(loop.time, "perf_counter", clock)
    monkeypatch.setattr(loop, "save", save)
    setup = SimpleNamespace(options=SimpleNamespace(save_every=1000))
    state = SimpleNamespace(next_batch=1)
    saver = loop._Saver(setup, state, {})  # type: ignore[arg-type]
    for now in (4.0, 9.9, 10.0, 15.0, 20.05):
        clock.now = now
        saver.after_batch()
    assert saves == [10.0, 20.05]  # every SAVE_SECONDS = 10 s
    cost[0] = 1.0  # a slow disk: one save costs a second
    saver.save()  # at 20.06 (the last one took 0.01 s), ends at 21.06
    for now in (40.0, 71.0, 71.1):  # 40 s would be due after 10 s; 50 x 1 s is the rule now
        clock.now = now
        saver.after_batch()
    assert saves == pytest.approx([10.0, 20.05, 20.06, 71.1])
    state.next_batch = 1000
    clock.now = 72.2
    saver.after_batch()  # --save-every
    assert saves[-1] == 72.2


def test_a_randomly_initialised_run_is_refused_unless_asked_and_then_marked(
    uninterrupted: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(data, tmp_path / "run")
    args.remove("--random-init")
    assert main([*args, "--model", "resnet50"]) == 2
    assert capsys.readouterr().err == (
        "wsol-bench: error: --model resnet50 without --checkpoint or --weights is a randomly "
        "initialised network, whose numbers mean nothing: pass --checkpoint FILE or --weights "
        "NAME, or --random-init for a smoke test\n"
    )
    assert not (tmp_path / "run").exists()
    results = json.loads((uninterrupted / "results.json").read_text())
    assert results["model"]["random_init"] is True
    assert main(["report", str(uninterrupted)]) == 0
    marked = "small-cnn (RANDOM INITIALISATION: a smoke test, the numbers mean nothing)"
    assert f"- Model: {marked}" in (uninterrupted / "report.md").read_text()
    assert marked in (uninterrupted / "report.html").read_text()


def test_a_protocol_frame_off_the_models_input_size_is_warned_about(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ("--protocol", "paper", "--limit", "2", "--num-workers", "0")
    assert main(_args(data, tmp_path / "paper", *extra, size=None)) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [
        "wsol-bench: warning: --protocol paper evaluates synthetic at 224x224 px, but small-cnn "
        "expects 64x64 px inputs: its accuracy and maps differ from those at its native size "
        "(--image-size 64 evaluates at that size)"
    ]
    assert main(_args(data, tmp_path / "native", *extra, size="64")) == 0
    assert "warning" not in capsys.readouterr().err


def test_a_truncated_gallery_is_written_again_as_the_report_error_says(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "run"
    args = _args(data, output, "--num-workers", "0", "--limit", "4", "--gallery", "1")
    assert main(args) == 0
    gallery = output / "gallery.npz"
    with np.load(gallery) as archive:
        before = {key: archive[key] for key in archive.files}
    gallery.write_bytes(gallery.read_bytes()[:300])
    capsys.readouterr()
    assert main(["report", str(output)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"wsol-bench: error: {gallery}: not a readable .npz archive (")
    assert err.endswith("delete it and results.json and run the same `wsol-bench evaluate` "
                        "command again: it writes both anew from the saved state\n")
    gallery.unlink()
    (output / "results.json").unlink()
    assert main(args) == 0
    with np.load(gallery) as archive:
        assert sorted(archive.files) == sorted(before)
        for key, values in before.items():
            np.testing.assert_array_equal(archive[key], values)
    assert main(["report", str(output)]) == 0
