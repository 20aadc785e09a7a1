"""Strict line parsing shared by the dataset readers.

Every helper raises :class:`evaluation.errors.DataFormatError` naming ``file:line`` and what was
expected, :class:`evaluation.errors.MissingFilesError` for absent files, and (through
:mod:`evaluation.paths`) :class:`evaluation.errors.AccessError` for files or folders this user may
not read and :class:`evaluation.errors.PathKindError` for a folder where a file should be.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from evaluation.datasets.records import Box
from evaluation.errors import AccessError, DataFormatError, MissingFilesError
from evaluation.paths import is_file, require_file


def read_rows(
    path: Path, sep: str | None, columns: Iterable[int], layout: str
) -> list[tuple[int, list[str]]]:
    """Read a text table, one row per non-blank line.

    Args:
        path: The file.
        sep: Field separator; ``None`` splits on runs of whitespace.
        columns: Accepted field counts.
        layout: The expected line layout, quoted in error messages (e.g. ``"<id> <path>"``).

    Returns:
        ``(line_number, fields)`` per non-blank line, line numbers 1-based, fields stripped.

    Raises:
        MissingFilesError: The file does not exist.
        DataFormatError: The file is not UTF-8 text or a line has a wrong number of fields.
    """
    allowed = set(columns)
    text = read_text(path)
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(sep)] if sep else line.split()
        if len(fields) not in allowed:
            expected = " or ".join(str(c) for c in sorted(allowed))
            raise DataFormatError(
                path, number, f"expected {expected} fields '{layout}', found {len(fields)}"
            )
        rows.append((number, fields))
    return rows


def read_text(path: Path) -> str:
    """The UTF-8 text of an annotation file.

    Raises:
        MissingFilesError: The file does not exist.
        PathKindError: The path is a folder.
        AccessError: The file (or a folder above it) is not readable by this user.
        DataFormatError: The file is not UTF-8 text.
    """
    require_file(path, "annotation files")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataFormatError(path, None, f"not UTF-8 text ({error.reason})") from error
    except PermissionError:
        raise AccessError(path, "read this file") from None


def parse_int(path: Path, line: int, text: str, what: str, minimum: int | None = None) -> int:
    """Parse a decimal integer field, at least ``minimum`` when given."""
    try:
        value = int(text)
    except ValueError:
        raise DataFormatError(path, line, f"{what} must be an integer, found {text!r}") from None
    if minimum is not None and value < minimum:
        raise DataFormatError(path, line, f"{what} must be >= {minimum}, found {value}")
    return value


def parse_float(path: Path, line: int, text: str, what: str) -> float:
    """Parse a finite number field."""
    try:
        value = float(text)
    except ValueError:
        raise DataFormatError(path, line, f"{what} must be a number, found {text!r}") from None
    if not math.isfinite(value):
        raise DataFormatError(path, line, f"{what} must be finite, found {text!r}")
    return value


def parse_box(
    path: Path, line: int, fields: list[str], size: tuple[int, int] | None
) -> Box:
    """Parse inclusive ``x0 y0 x1 y1`` fields and check them against the image size.

    Args:
        path: File, for error messages.
        line: Line number, for error messages.
        fields: The four coordinate fields.
        size: Image size ``(W, H)``; ``None`` checks all but the right and bottom bounds (for
            annotations of images that are not read).

    Returns:
        The box as floats.

    Raises:
        DataFormatError: A field is not a number, the box is inverted (``x1 < x0`` or
            ``y1 < y0``; equal is a valid one-pixel box) or reaches outside ``[0, W-1] x [0, H-1]``.
    """
    names = ("x0", "y0", "x1", "y1")
    x0, y0, x1, y1 = (parse_float(path, line, f, n) for f, n in zip(fields, names, strict=True))
    check_box(path, line, (x0, y0, x1, y1), size)
    return (x0, y0, x1, y1)


def check_box(path: Path, line: int, box: Box, size: tuple[int, int] | None) -> None:
    """Raise :class:`DataFormatError` if ``box`` is inverted or outside an image of ``size``.

    With ``size=None`` only the left and top bounds (0) are checked.
    """
    x0, y0, x1, y1 = box
    width, height = size or (math.inf, math.inf)
    if min(x0, x1, y0, y1) < 0 or max(x0, x1) > width - 1 or max(y0, y1) > height - 1:
        if size is None:
            raise DataFormatError(
                path, line, f"box {_fmt(box)} has a negative coordinate: expected 0 <= x0, y0"
            )
        raise DataFormatError(
            path,
            line,
            f"box {_fmt(box)} reaches outside the {width}x{height} image: expected "
            f"0 <= x0 <= x1 <= {width - 1} and 0 <= y0 <= y1 <= {height - 1}",
        )
    if x1 < x0 or y1 < y0:
        raise DataFormatError(
            path, line, f"inverted box {_fmt(box)}: expected x0 <= x1 and y0 <= y1 (inclusive)"
        )


def require_files(paths: Iterable[Path], what: str, root: Path) -> None:
    """Raise :class:`MissingFilesError` listing (relative to ``root``) the paths that are absent.

    A path that is a folder, or that this user may not read, raises at once
    (:func:`evaluation.paths.is_file`).
    """
    missing = [_relative(p, root) for p in paths if not is_file(p, what)]
    if missing:
        raise MissingFilesError(what, missing, root)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _fmt(box: Box) -> str:
    return "(" + ", ".join(f"{v:g}" for v in box) + ")"
