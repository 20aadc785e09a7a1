"""Metadata folders, score maps and masks on disk, in the reference's layout, for score tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from evaluation.cli import main


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))


def write_box_metadata(
    folder: Path, images: dict[str, tuple[int, tuple[int, int], list[tuple[int, ...]]]]
) -> Path:
    """``images``: id -> (label, (W, H), boxes); the box variant of the four files."""
    ids = list(images)
    write_lines(folder / "image_ids.txt", ids)
    write_lines(folder / "class_labels.txt", [f"{i},{images[i][0]}" for i in ids])
    sizes = [f"{i},{images[i][1][0]},{images[i][1][1]}" for i in ids]
    write_lines(folder / "image_sizes.txt", sizes)
    write_lines(
        folder / "localization.txt",
        [f"{i},{','.join(map(str, box))}" for i in ids for box in images[i][2]],
    )
    return folder


def write_maps(folder: Path, maps: dict[str, np.ndarray]) -> Path:
    for image_id, values in maps.items():
        path = folder / f"{image_id}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, values)
    return folder


def write_mask(path: Path, grey: np.ndarray) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), grey)
    return path.name


def random_boxes(rng: np.random.Generator, size: tuple[int, int]) -> list[tuple[int, ...]]:
    """One or two inclusive boxes inside a ``(W, H)`` image."""
    width, height = size
    boxes = []
    for _ in range(int(rng.integers(1, 3))):
        x0, x1 = sorted(rng.integers(0, width, 2).tolist())
        y0, y1 = sorted(rng.integers(0, height, 2).tolist())
        boxes.append((x0, y0, x1, y1))
    return boxes


def score(args: list[str]) -> int:
    """Run ``wsol-bench score`` in this process."""
    return main(["score", *args])
