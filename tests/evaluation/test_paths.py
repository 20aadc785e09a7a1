"""Checks of user-given paths: absent, the wrong kind, under a file, not readable or writable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evaluation.errors import AccessError, MissingFilesError, PathKindError
from evaluation.paths import (
    check_output_file,
    check_output_folder,
    is_file,
    is_folder,
    path_status,
    require_file,
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("x")
    return tmp_path


def deny(monkeypatch: pytest.MonkeyPatch, denied: Path, mode: int) -> None:
    """Make ``os.access(denied, mode)`` false, as for a user without that permission."""
    real = os.access

    def access(path: str | Path, wanted: int, **kwargs: object) -> bool:
        if Path(path) == denied and wanted & mode:
            return False
        return real(path, wanted)

    monkeypatch.setattr(os, "access", access)


def test_files_and_folders_are_told_apart(tree: Path) -> None:
    assert is_file(tree / "file.txt", "notes") is True
    assert is_file(tree / "absent.txt", "notes") is False
    assert is_folder(tree / "folder", "data") is True
    assert is_folder(tree / "absent", "data") is False
    with pytest.raises(PathKindError, match=r"folder is a folder, expected a file \(notes\)"):
        is_file(tree / "folder", "notes")
    with pytest.raises(PathKindError, match=r"file\.txt is a file, expected a folder \(data\)"):
        is_folder(tree / "file.txt", "data")
    with pytest.raises(PathKindError, match=r"file\.txt is a file, not a folder"):
        path_status(tree / "file.txt" / "inside.txt")
    with pytest.raises(MissingFilesError, match=r"1 notes missing under .*: absent\.txt"):
        require_file(tree / "absent.txt", "notes")


def test_unreadable_files_and_folders(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deny(monkeypatch, tree / "file.txt", os.R_OK)
    with pytest.raises(AccessError, match=r"file\.txt: permission denied: cannot read this file"):
        is_file(tree / "file.txt", "notes")
    deny(monkeypatch, tree / "folder", os.X_OK)
    with pytest.raises(AccessError, match=r"folder: permission denied: cannot list this folder"):
        is_folder(tree / "folder", "data")


def test_a_folder_that_cannot_be_searched_is_named(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stat(self: Path, **kwargs: object) -> os.stat_result:
        raise PermissionError(13, "Permission denied", str(self))

    deny(monkeypatch, tree / "folder", os.X_OK)
    monkeypatch.setattr(Path, "stat", stat)
    with pytest.raises(AccessError) as error:
        path_status(tree / "folder" / "images.txt")
    assert error.value.path == tree / "folder"
    assert "cannot search this folder" in str(error.value)


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        ("file.txt", PathKindError, "--output {p}/file.txt is a file; pass a folder"),
        ("file.txt/run", PathKindError, "--output {p}/file.txt/run lies under the file "
                                        "{p}/file.txt"),
    ],
)
def test_output_folder_of_the_wrong_kind(
    tree: Path, target: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        check_output_folder(tree / target, "--output")
    assert message.format(p=tree) in str(raised.value)


def test_output_folders_that_may_be_written(tree: Path) -> None:
    check_output_folder(tree / "folder", "--output")  # an existing folder
    check_output_folder(tree / "new" / "deeper", "--output")  # to be created
    assert not (tree / "new").exists()  # checking creates nothing


def test_read_only_output_folders(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deny(monkeypatch, tree / "folder", os.W_OK)
    with pytest.raises(AccessError, match=r"folder: permission denied: cannot write into"):
        check_output_folder(tree / "folder", "--output")
    with pytest.raises(AccessError, match=r"folder: permission denied: cannot create --output"):
        check_output_folder(tree / "folder" / "run", "--output")
    with pytest.raises(AccessError, match=r"folder: permission denied: cannot create --output"):
        check_output_file(tree / "folder" / "score.json", "--output")
    (tree / "folder" / "score.json").write_text("{}")
    with pytest.raises(AccessError, match=r"cannot replace score\.json in this folder"):
        check_output_file(tree / "folder" / "score.json", "--output")


def test_output_files(tree: Path) -> None:
    check_output_file(tree / "file.txt", "--output")  # replaced
    check_output_file(tree / "new" / "score.json", "--output")  # created with its folder
    with pytest.raises(PathKindError, match=r"--output .*folder is a folder; pass a file path"):
        check_output_file(tree / "folder", "--output")
    with pytest.raises(PathKindError, match=r"lies under the file .*file\.txt"):
        check_output_file(tree / "file.txt" / "score.json", "--output")
