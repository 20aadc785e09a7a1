"""Small dataset trees in the exact raw layouts, written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# CUB: (id, relpath, class_id, is_train, (W, H), "x y w h", expected inclusive box, mode)
CUB_IMAGES = [
    (1, "001.Alpha_bird/a_1.jpg", 1, 0, (40, 30), "5.0 6.0 10.0 8.0", (5, 6, 15, 14), "RGB"),
    (2, "001.Alpha_bird/a_2.jpg", 1, 1, (30, 40), "0.0 0.0 30.0 40.0", (0, 0, 29, 39), "RGB"),
    (3, "001.Alpha_bird/a_3.jpg", 1, 0, (20, 20), "2.5 3.7 4.2 5.9", (2, 3, 6, 9), "RGB"),
    (4, "002.Beta_bird/b_1.jpg", 2, 1, (20, 20), "19.0 0.0 1.0 19.0", (19, 0, 19, 19), "RGB"),
    (5, "002.Beta_bird/b_2.jpg", 2, 0, (25, 20), "1.0 1.0 1.0 1.0", (1, 1, 2, 2), "CMYK"),
    (6, "003.Gamma_bird/c_1.jpg", 3, 0, (20, 20), "0.0 0.0 5.0 5.0", (0, 0, 5, 5), "L"),
    (7, "001.Alpha_bird/a_4.jpg", 1, 0, (20, 20), "3.0 3.0 4.0 4.0", (3, 3, 7, 7), "RGB"),
]
CUB_CLASSES = ["001.Alpha_bird", "002.Beta_bird", "003.Gamma_bird"]

# Tiny: wnids deliberately unsorted; (file, wnid, box) per split.
TINY_WNIDS = ["n00000002", "n00000001"]
TINY_TRAIN = {
    "n00000002": [("n00000002_0.JPEG", (1, 0, 53, 63)), ("n00000002_1.JPEG", (0, 0, 63, 63))],
    "n00000001": [("n00000001_0.JPEG", (5, 7, 9, 7))],
}
TINY_VAL = [
    ("val_0.JPEG", "n00000001", (0, 12, 0, 20)),
    ("val_1.JPEG", "n00000002", (0, 0, 63, 63)),
    ("val_2.JPEG", "n00000001", (10, 10, 20, 30)),
]
TINY_GREY = {"val_2.JPEG", "n00000002_1.JPEG"}


def write_image(path: Path, size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> None:
    """A random JPEG of ``size`` (W, H) in ``mode`` (RGB, L or CMYK)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGB").convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=90)


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))


def build_cub(root: Path) -> Path:
    for image_id, relpath, _, _, size, _, _, mode in CUB_IMAGES:
        write_image(root / "images" / relpath, size, mode, seed=image_id)
    write_lines(root / "classes.txt", [f"{k + 1} {n}" for k, n in enumerate(CUB_CLASSES)])
    write_lines(root / "images.txt", [f"{r[0]} {r[1]}" for r in CUB_IMAGES])
    write_lines(root / "image_class_labels.txt", [f"{r[0]} {r[2]}" for r in CUB_IMAGES])
    write_lines(root / "train_test_split.txt", [f"{r[0]} {r[3]}" for r in CUB_IMAGES])
    write_lines(root / "bounding_boxes.txt", [f"{r[0]} {r[5]}" for r in CUB_IMAGES])
    return root


def build_tiny(root: Path) -> Path:
    write_lines(root / "wnids.txt", TINY_WNIDS)
    words = ["n00000003\tother thing", "n00000001\tgoldfish, Carassius auratus", "n00000002\treel"]
    write_lines(root / "words.txt", words)
    for wnid, entries in TINY_TRAIN.items():
        for k, (name, _) in enumerate(entries):
            mode = "L" if name in TINY_GREY else "RGB"
            write_image(root / "train" / wnid / "images" / name, (64, 64), mode, seed=k)
        lines = ["\t".join([name, *map(str, box)]) for name, box in entries]
        write_lines(root / "train" / wnid / f"{wnid}_boxes.txt", lines)
    for k, (name, _, _) in enumerate(TINY_VAL):
        mode = "L" if name in TINY_GREY else "RGB"
        write_image(root / "val" / "images" / name, (64, 64), mode, seed=10 + k)
    lines = ["\t".join([name, wnid, *map(str, box)]) for name, wnid, box in TINY_VAL]
    write_lines(root / "val" / "val_annotations.txt", lines)
    return root


@pytest.fixture
def cub_root(tmp_path: Path) -> Path:
    return build_cub(tmp_path / "CUB_200_2011")


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    return build_tiny(tmp_path / "tiny-imagenet-200")
