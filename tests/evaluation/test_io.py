"""Atomic writes: the destination is either the old or the new content, never a partial file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from evaluation.io import (
    atomic_open,
    atomic_save,
    atomic_write_json,
    atomic_write_text,
    default_folder_mode,
    remove_stale_temporaries,
)


def test_text_and_json_round_trip(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "sub" / "a.txt", "héllo\n")
    assert (tmp_path / "sub" / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    atomic_write_json(tmp_path / "b.json", {"x": [1, 2.5, None]})
    assert json.loads((tmp_path / "b.json").read_text()) == {"x": [1, 2.5, None]}


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "c.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError, match="boom"), atomic_open(target) as handle:
        handle.write("partial")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]


def test_json_refuses_nan(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "d.json", {"x": float("nan")})
    assert not (tmp_path / "d.json").exists()


def test_atomic_save_with_a_binary_writer(tmp_path: Path) -> None:
    atomic_save(tmp_path / "e.bin", lambda handle: handle.write(b"\x00\x01"))
    assert (tmp_path / "e.bin").read_bytes() == b"\x00\x01"


def test_unsupported_mode_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="modes"), atomic_open(tmp_path / "f", "a"):
        pass


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    import os

    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "g.txt", "x")
    finally:
        os.umask(umask)
    assert (tmp_path / "g.txt").stat().st_mode & 0o777 == 0o644


def test_stale_temporaries_of_the_named_files_are_removed(tmp_path: Path) -> None:
    for name in (".results.json.k3j2.tmp", ".rank0-of-2.pt.x1.tmp", ".notes.txt.a.tmp",
                 "results.json", ".results.json"):
        (tmp_path / name).write_text("x")
    removed = remove_stale_temporaries(tmp_path, ("results.json", "rank*-of-*.pt"))
    assert sorted(p.name for p in removed) == [".rank0-of-2.pt.x1.tmp", ".results.json.k3j2.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".notes.txt.a.tmp", ".results.json", "results.json"
    ]
    assert remove_stale_temporaries(tmp_path / "absent", ("results.json",)) == []


def test_the_pattern_matches_the_temporaries_of_atomic_writes(tmp_path: Path) -> None:
    # what SIGKILL mid-write leaves behind: the temporary of a write that never finished
    with pytest.raises(FileNotFoundError), atomic_open(tmp_path / "results.json") as handle:
        handle.write("partial")
        (temporary,) = tmp_path.iterdir()
        assert remove_stale_temporaries(tmp_path, ("results.json",)) == [temporary]
    assert list(tmp_path.iterdir()) == []


def test_new_folders_get_the_umask_mode() -> None:
    umask = os.umask(0o027)
    try:
        assert default_folder_mode() == 0o750
    finally:
        os.umask(umask)
