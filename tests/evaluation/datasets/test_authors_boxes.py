"""The boxes as the infoCAM authors' code reads the files, and ``paper-as-published``'s mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.datasets import (
    DatasetIndex,
    ImageRecord,
    WSOLDataset,
    load_dataset,
    read_cub,
    read_tiny_imagenet,
    synthetic_layout,
)
from evaluation.datasets.cub import authors_box as cub_authors_box
from evaluation.datasets.tiny_imagenet import authors_box as tiny_authors_box
from evaluation.errors import ConfigurationError
from tests.evaluation.datasets.conftest import write_lines

PUBLISHED = "paper-as-published"


def _replace_line(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_tiny_boxes_are_misread_as_x_y_w_h(tiny_root: Path) -> None:
    _replace_line(tiny_root / "val" / "val_annotations.txt", "10\t10\t20\t30", "6\t25\t55\t51")
    record = read_tiny_imagenet(tiny_root, "val").records[2]
    assert record.boxes == ((6.0, 25.0, 55.0, 51.0),)
    assert record.authors_boxes == ((6.0, 25.0, 61.0, 76.0),)
    # x * 63 / 64 + 1 (S = 63, shift = -1): 6 -> 6.906, 25 -> 25.609, 55 -> 55.141,
    # 51 -> 51.203; the misread ends 61 -> 61.047 and 76 -> 75.812
    paper = load_dataset("tiny-imagenet", tiny_root, "val", "paper")
    assert paper.frame_boxes(2).tolist() == [[6.90625, 25.609375, 55.140625, 51.203125]]
    published = load_dataset("tiny-imagenet", tiny_root, "val", PUBLISHED)
    assert published.frame_size == (64, 64)
    assert published.frame_boxes(2).tolist() == [[6.90625, 25.609375, 61.046875, 75.8125]]


def test_tiny_authors_box_of_a_full_image_box_doubles_it() -> None:
    assert tiny_authors_box((0.0, 0.0, 63.0, 63.0)) == (0.0, 0.0, 63.0, 63.0)
    assert tiny_authors_box((5.0, 7.0, 9.0, 7.0)) == (5.0, 7.0, 14.0, 14.0)


def test_cub_boxes_are_kept_raw_and_unclipped(cub_root: Path) -> None:
    # image 1 is 40 x 30; the box ends at (42.5, 33.0), within the 5 px edge tolerance
    _replace_line(cub_root / "bounding_boxes.txt", "1 5.0 6.0 10.0 8.0", "1 5.0 6.0 37.5 27.0")
    records = read_cub(cub_root, "test").records
    assert records[0].boxes == ((5.0, 6.0, 39.0, 29.0),)  # the field's rule: clipped to W - 1
    assert records[0].authors_boxes == ((5.0, 6.0, 42.5, 33.0),)
    assert records[1].authors_boxes == ((2.5, 3.7, 2.5 + 4.2, 3.7 + 5.9),)  # not truncated
    paper = load_dataset("cub", cub_root, "test", "paper")
    published = load_dataset("cub", cub_root, "test", PUBLISHED)
    assert published.frame_size == paper.frame_size == (224, 224)
    # x / 40 * 255 - 15 and y / 30 * 255 - 15
    assert paper.frame_boxes(0)[0].tolist() == pytest.approx([16.875, 36.0, 233.625, 231.5])
    assert published.frame_boxes(0)[0].tolist() == pytest.approx([16.875, 36.0, 255.9375, 265.5])
    # image 3 is 20 x 20: 2.5 / 20 * 255 - 15 = 16.875 against int(2.5) = 2 -> 10.5
    assert published.frame_boxes(1)[0, 0] == pytest.approx(16.875)
    assert paper.frame_boxes(1)[0, 0] == pytest.approx(10.5)


def test_cub_authors_box() -> None:
    assert cub_authors_box(60.0, 27.0, 325.0, 304.0) == (60.0, 27.0, 385.0, 331.0)


def test_records_without_the_authors_reading_are_refused(tmp_path: Path) -> None:
    record = ImageRecord("a", tmp_path / "a.png", 0, ((0.0, 0.0, 3.0, 3.0),), (8, 8))
    index = DatasetIndex("wsol-metadata", "test", [record], ["a", "b"], ["0", "1"])
    assert WSOLDataset(index, "paper").frame_boxes(0).shape == (1, 4)
    with pytest.raises(ConfigurationError, match="use --protocol paper"):
        WSOLDataset(index, PUBLISHED)


def test_synthetic_layout(tmp_path: Path, cub_root: Path, tiny_root: Path) -> None:
    assert synthetic_layout(cub_root) == "cub"
    assert synthetic_layout(tiny_root) == "tiny-imagenet"
    write_lines(tmp_path / "empty" / "readme.txt", ["nothing here"])
    with pytest.raises(ConfigurationError, match="make-synthetic"):
        synthetic_layout(tmp_path / "empty")
