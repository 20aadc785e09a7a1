"""Checks of the paths a user gives: files and folders to read, outputs to write.

Python's own tests blur the cases a user needs told apart: ``Path.is_file()`` is ``False`` for a
folder as for an absent file, and raises a bare ``PermissionError`` when a parent folder cannot be
searched. Each function here raises one typed error naming the path:

- :class:`~evaluation.errors.MissingFilesError`: the path does not exist;
- :class:`~evaluation.errors.PathKindError`: a folder where a file is expected, a file where a
  folder is expected, or a path under a file;
- :class:`~evaluation.errors.AccessError`: this user may not search, read or write it.

The permission tests use ``os.access`` (the real uid), so the superuser passes them where the
kernel would let it through anyway.

May import: :mod:`evaluation.errors` only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from evaluation.errors import AccessError, MissingFilesError, PathKindError


def path_status(path: Path) -> os.stat_result | None:
    """The status of ``path`` (links followed); ``None`` when it does not exist.

    Raises:
        PathKindError: a parent of ``path`` is a file.
        AccessError: a parent folder of ``path`` cannot be searched by this user.
    """
    try:
        return path.stat()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise PathKindError(
            f"{path}: {_file_ancestor(path)} is a file, not a folder; check the path"
        ) from None
    except PermissionError:
        raise AccessError(_blocked_ancestor(path), "search this folder") from None


def is_file(path: Path, what: str) -> bool:
    """``True`` for a file this user may read, ``False`` when ``path`` does not exist.

    Args:
        path: The path.
        what: What the file is, for messages (``"annotation files"``, ``"checkpoint"``).

    Raises:
        PathKindError: ``path`` is a folder (or lies under a file).
        AccessError: ``path`` or a parent folder is not readable by this user.
    """
    status = path_status(path)
    if status is None:
        return False
    if stat.S_ISDIR(status.st_mode):
        raise PathKindError(f"{path} is a folder, expected a file ({what})")
    if not os.access(path, os.R_OK):
        raise AccessError(path, "read this file")
    return True


def require_file(path: Path, what: str) -> None:
    """Raise unless ``path`` is a file this user may read (errors as :func:`is_file`).

    Raises:
        MissingFilesError: ``path`` does not exist.
    """
    if not is_file(path, what):
        raise MissingFilesError(what, [path.name], path.parent)


def is_folder(path: Path, what: str) -> bool:
    """``True`` for a folder this user may list, ``False`` when ``path`` does not exist.

    Raises:
        PathKindError: ``path`` is a file (or lies under one).
        AccessError: ``path`` or a parent folder cannot be listed or searched by this user.
    """
    status = path_status(path)
    if status is None:
        return False
    if not stat.S_ISDIR(status.st_mode):
        raise PathKindError(f"{path} is a file, expected a folder ({what})")
    if not os.access(path, os.R_OK | os.X_OK):
        raise AccessError(path, "list this folder")
    return True


def check_output_folder(path: Path, option: str) -> None:
    """Raise unless ``path`` is a folder this user may write into, or can be created as one.

    Args:
        path: The folder to write into (created later by the caller).
        option: The argument that named it, for messages (``"--output"``).

    Raises:
        PathKindError: ``path`` is a file or lies under a file.
        AccessError: ``path`` (or, for a new folder, its nearest existing parent) is not
            writable by this user.
    """
    status = _output_status(path, option, "folder")
    if status is not None:
        if not stat.S_ISDIR(status.st_mode):
            raise PathKindError(
                f"{option} {path} is a file; pass a folder (a new or an existing one)"
            )
        if not os.access(path, os.W_OK | os.X_OK):
            raise AccessError(path, f"write into this folder ({option})")
        return
    _check_creatable(path, option)


def check_output_file(path: Path, option: str) -> None:
    """Raise unless ``path`` can be written (replaced, or created) as a file by this user.

    Args:
        path: The file to write (atomically: a temporary file beside it is renamed over it).
        option: The argument that named it, for messages.

    Raises:
        PathKindError: ``path`` is a folder or lies under a file.
        AccessError: the folder that holds ``path`` (or would) is not writable by this user.
    """
    status = _output_status(path, option, "file")
    if status is None:
        _check_creatable(path, option)
        return
    if stat.S_ISDIR(status.st_mode):
        raise PathKindError(
            f"{option} {path} is a folder; pass a file path, e.g. {path / 'score.json'}"
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise AccessError(path.parent, f"replace {path.name} in this folder ({option})")


def _output_status(path: Path, option: str, kind: str) -> os.stat_result | None:
    """:func:`path_status`, with a message for an output path that lies under a file."""
    try:
        return path_status(path)
    except PathKindError:
        raise PathKindError(
            f"{option} {path} lies under the file {_file_ancestor(path)}; pass a {kind} path "
            "in a folder"
        ) from None


def _check_creatable(path: Path, option: str) -> None:
    """Raise unless the nearest existing parent of the absent ``path`` is a writable folder.

    (``path`` is absent and no parent is a file: :func:`_output_status` said so.)
    """
    parent = path.parent
    while path_status(parent) is None and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise AccessError(parent, f"create {option} {path} in this folder")


def _blocked_ancestor(path: Path) -> Path:
    """The outermost parent folder of ``path`` that this user cannot search."""
    for ancestor in reversed(path.absolute().parents):
        if not os.access(ancestor, os.X_OK):
            return ancestor
    return path.parent


def _file_ancestor(path: Path) -> Path:
    """The outermost parent of ``path`` that is not a folder."""
    for ancestor in reversed(path.absolute().parents):
        if ancestor.exists() and not ancestor.is_dir():
            return ancestor
    return path.parent
