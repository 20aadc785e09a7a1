"""Image files: the pixel size from the header alone, RGB decoding.

Readers need every image's size to check and map its boxes. Opening 10,000 files with PIL costs
about 150 us each; :func:`read_image_size` reads the JPEG SOF or PNG IHDR fields directly (a few
us) and falls back to PIL for other formats.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from evaluation.errors import AccessError, DataFormatError, WSOLError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers carry the size; 0xC4 (DHT), 0xC8 (JPG) and 0xCC (DAC) do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


def read_image_size(path: Path) -> tuple[int, int]:
    """Return the size ``(W, H)`` of an image file from its header.

    Raises:
        DataFormatError: The file is not a readable image.
        AccessError: This user may not read the file.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(26)
            if head[:2] == b"\xff\xd8":
                handle.seek(2)
                size = _jpeg_size(handle)
            elif head[:8] == _PNG_SIGNATURE and head[12:16] == b"IHDR" and len(head) >= 24:
                size = struct.unpack(">II", head[16:24])
            else:
                size = None
    except PermissionError:
        raise AccessError(path, "read this image") from None
    if size is None:
        try:
            with Image.open(path) as image:
                return image.size
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise DataFormatError(path, None, f"not a readable image ({error})") from None
    if size[0] < 1 or size[1] < 1:
        raise DataFormatError(path, None, f"image header gives an empty size {size}")
    return size


def image_size(
    path: Path, on_unreadable: Callable[[WSOLError], None] | None
) -> tuple[int, int] | None:
    """:func:`read_image_size`, or ``None`` after passing its error to ``on_unreadable``.

    Without ``on_unreadable`` the error is raised.
    """
    try:
        return read_image_size(path)
    except (DataFormatError, AccessError) as error:
        if on_unreadable is None:
            raise
        on_unreadable(error)
        return None


def _jpeg_size(handle: BinaryIO) -> tuple[int, int] | None:
    """Walk the JPEG segments to the first start-of-frame marker; ``None`` when it is absent."""
    read = handle.read
    while True:
        byte = read(1)
        if not byte:
            return None
        if byte != b"\xff":
            continue
        marker = read(1)
        while marker == b"\xff":
            marker = read(1)
        if not marker:
            return None
        code = marker[0]
        if code in _STANDALONE or code == 0x00:
            continue
        length_bytes = read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        if code in _SOF_MARKERS:
            fields = read(5)
            if len(fields) < 5:
                return None
            height, width = struct.unpack(">HH", fields[1:5])
            return (width, height)
        handle.seek(length - 2, 1)


def load_rgb(path: Path, size: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image as 8-bit RGB (greyscale, palette, CMYK and alpha images are converted).

    Args:
        path: Image file.
        size: Expected ``(W, H)``; a different decoded size raises.

    Raises:
        DataFormatError: The file cannot be decoded (truncated, corrupt, not an image, too many
            pixels for PIL's decompression-bomb limit) or has another size than expected.
        AccessError: This user may not read the file.
    """
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except PermissionError:
        raise AccessError(path, "read this image") from None
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise DataFormatError(path, None, f"cannot decode the image ({error})") from None
    if size is not None and rgb.size != tuple(size):
        raise DataFormatError(
            path,
            None,
            f"image is {rgb.size[0]}x{rgb.size[1]}, the annotations say {size[0]}x{size[1]}",
        )
    return rgb
