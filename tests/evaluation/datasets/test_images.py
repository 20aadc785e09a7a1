"""Header-only image sizes, RGB decoding and mask reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluation.datasets.images import load_rgb, read_image_size
from evaluation.errors import DataFormatError


def save(path: Path, image: Image.Image, fmt: str, **options: object) -> Path:
    image.save(path, fmt, **options)
    return path


@pytest.mark.parametrize(
    ("mode", "fmt", "options"),
    [
        ("RGB", "JPEG", {}),
        ("L", "JPEG", {}),
        ("CMYK", "JPEG", {}),
        ("RGB", "JPEG", {"progressive": True}),
        ("RGB", "JPEG", {"exif": b"Exif\x00\x00" + bytes(3000)}),
        ("RGBA", "PNG", {}),
        ("P", "PNG", {}),
        ("RGB", "BMP", {}),
    ],
)
def test_size_from_header_matches_pil(
    tmp_path: Path, mode: str, fmt: str, options: dict[str, object]
) -> None:
    path = save(tmp_path / f"x.{fmt.lower()}", Image.new(mode, (37, 21)), fmt, **options)
    assert read_image_size(path) == (37, 21)


def test_unreadable_image(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(DataFormatError, match="not a readable image"):
        read_image_size(path)
    path.write_bytes(b"plain text")
    with pytest.raises(DataFormatError, match="not a readable image"):
        read_image_size(path)


@pytest.mark.parametrize("mode", ["L", "CMYK", "P", "RGBA", "LA", "I;16"])
def test_load_rgb_converts_every_mode(tmp_path: Path, mode: str) -> None:
    fmt = "JPEG" if mode in ("L", "CMYK") else "PNG"
    path = save(tmp_path / f"x.{fmt.lower()}", Image.new(mode, (5, 4)), fmt)
    image = load_rgb(path, (5, 4))
    assert image.mode == "RGB"
    assert image.size == (5, 4)


def test_load_rgb_greyscale_values_are_copied_to_three_channels(tmp_path: Path) -> None:
    grey = np.arange(20, dtype=np.uint8).reshape(4, 5) * 10
    path = save(tmp_path / "g.png", Image.fromarray(grey, "L"), "PNG")
    rgb = np.asarray(load_rgb(path))
    assert (rgb == grey[..., None]).all()


def test_load_rgb_size_mismatch_and_garbage(tmp_path: Path) -> None:
    path = save(tmp_path / "x.png", Image.new("RGB", (5, 4)), "PNG")
    with pytest.raises(DataFormatError, match="image is 5x4, the annotations say 4x5"):
        load_rgb(path, (4, 5))
    path.write_bytes(b"nothing")
    with pytest.raises(DataFormatError, match="cannot decode the image"):
        load_rgb(path)
