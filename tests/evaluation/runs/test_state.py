"""Run directories: state files, identity checks, cleaning; torchrun environment parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from evaluation.errors import ConfigurationError
from evaluation.runs.distributed import DistContext, context_from_env
from evaluation.runs.state import (
    RankState,
    check_run_dir,
    clear_run_dir,
    load_state,
    save_state,
    state_path,
)


def _state(identity: dict) -> RankState:
    return RankState(
        identity=identity,
        next_batch=3,
        done=False,
        accumulators={"cam": {"version": 1, "totals": torch.arange(4)}},
        ious={"cam": torch.tensor([0.5, float("nan")])},
        seconds={"forward": 1.5},
    )


def test_state_round_trip_and_identity_check(tmp_path: Path) -> None:
    identity = {"model": "small-cnn", "limit": 2}
    path = state_path(tmp_path, 1, 2)
    assert path == tmp_path / "state" / "rank1-of-2.pt"
    save_state(path, _state(identity))
    loaded = load_state(path)
    assert loaded is not None and loaded.identity == identity and loaded.next_batch == 3
    assert torch.equal(loaded.accumulators["cam"]["totals"], torch.arange(4))
    assert torch.allclose(loaded.ious["cam"], torch.tensor([0.5, float("nan")]), equal_nan=True)
    assert load_state(tmp_path / "state" / "absent.pt") is None
    check_run_dir(tmp_path, identity)
    with pytest.raises(ConfigurationError, match=r"limit: 2 -> 3.*--overwrite"):
        check_run_dir(tmp_path, {"model": "small-cnn", "limit": 3})


def test_results_identity_is_checked(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps({"run": {"identity": {"seed": 0}}}))
    check_run_dir(tmp_path, {"seed": 0})
    with pytest.raises(ConfigurationError, match="seed: 0 -> 1"):
        check_run_dir(tmp_path, {"seed": 1})
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(ConfigurationError, match="not a results file"):
        check_run_dir(tmp_path, {"seed": 0})


def test_unreadable_state_suggests_overwrite(tmp_path: Path) -> None:
    path = state_path(tmp_path, 0, 1)
    path.parent.mkdir()
    path.write_bytes(b"garbage")
    with pytest.raises(ConfigurationError, match="--overwrite"):
        load_state(path)


def test_clear_run_dir_removes_only_run_files(tmp_path: Path) -> None:
    names = ("results.json", "gallery.npz", "report.md", "report.html", "notes.txt",
             ".results.json.x7.tmp", ".notes.txt.x8.tmp")
    for name in names:
        (tmp_path / name).write_text("x")
    save_state(state_path(tmp_path, 0, 1), _state({}))
    (tmp_path / "state" / ".rank0-of-1.pt.x9.tmp").write_bytes(b"half a state")
    clear_run_dir(tmp_path)  # --overwrite
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes.txt.x8.tmp", "notes.txt"]


def test_torchrun_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    context = context_from_env()
    assert context == DistContext(rank=2, world_size=3, local_rank=0)
    assert context.active and not context.is_main
    shards = [DistContext(r, 3).shard(range(8)) for r in range(3)]
    assert shards == [[0, 3, 6], [1, 4, 7], [2, 5]]
    monkeypatch.setenv("RANK", "3")
    with pytest.raises(ConfigurationError, match=r"outside 0\.\.WORLD_SIZE-1"):
        context_from_env()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ConfigurationError, match="must be integers"):
        context_from_env()
