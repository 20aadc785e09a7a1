"""The Tiny-ImageNet-200 reader on a hand-written tree in the raw layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.datasets import read_tiny_imagenet
from evaluation.errors import ConfigurationError, DataFormatError, MissingFilesError
from tests.evaluation.datasets.conftest import write_image


def test_val_split(tiny_root: Path) -> None:
    index = read_tiny_imagenet(tiny_root, "val")
    assert index.name == "tiny-imagenet"
    assert [r.image_id for r in index.records] == [
        "val/images/val_0.JPEG", "val/images/val_1.JPEG", "val/images/val_2.JPEG"
    ]
    # wnids.txt lists n00000002 first: it is class 0.
    assert [r.label for r in index.records] == [1, 0, 1]
    assert [r.boxes for r in index.records] == [
        ((0, 12, 0, 20),),  # one pixel wide, kept
        ((0, 0, 63, 63),),  # full image, touches every border
        ((10, 10, 20, 30),),
    ]
    assert all(r.size == (64, 64) for r in index.records)
    assert index.records[0].path == tiny_root / "val" / "images" / "val_0.JPEG"
    assert index.class_ids == ["n00000002", "n00000001"]
    assert index.class_names == ["reel", "goldfish"]


def test_train_split(tiny_root: Path) -> None:
    index = read_tiny_imagenet(tiny_root, "train")
    assert [r.image_id for r in index.records] == [
        "train/n00000002/images/n00000002_0.JPEG",
        "train/n00000002/images/n00000002_1.JPEG",
        "train/n00000001/images/n00000001_0.JPEG",
    ]
    assert [r.label for r in index.records] == [0, 0, 1]
    boxes = [r.boxes for r in index.records]
    assert boxes == [((1, 0, 53, 63),), ((0, 0, 63, 63),), ((5, 7, 9, 7),)]
    assert index.records[2].path == tiny_root / "train/n00000001/images/n00000001_0.JPEG"


def test_segmentations_attach_masks(tiny_root: Path) -> None:
    for name in ("val_0", "val_1", "val_2"):
        path = tiny_root / "segmentations" / "val" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    index = read_tiny_imagenet(tiny_root, "val")
    assert index.records[1].mask_path == tiny_root / "segmentations/val/val_1.png"
    (tiny_root / "segmentations/val/val_2.png").unlink()
    with pytest.raises(MissingFilesError, match=r"1 masks missing .*val_2\.png"):
        read_tiny_imagenet(tiny_root, "val")


def test_test_split_is_refused(tiny_root: Path) -> None:
    with pytest.raises(ConfigurationError, match="test images carry no labels"):
        read_tiny_imagenet(tiny_root, "test")


def test_missing_images_are_listed(tiny_root: Path) -> None:
    (tiny_root / "val/images/val_0.JPEG").unlink()
    (tiny_root / "val/images/val_2.JPEG").unlink()
    with pytest.raises(MissingFilesError, match=r"^2 images missing .*images/val_0\.JPEG"):
        read_tiny_imagenet(tiny_root, "val")


def test_unannotated_image_is_an_error(tiny_root: Path) -> None:
    write_image(tiny_root / "train/n00000001/images/n00000001_9.JPEG", (64, 64))
    with pytest.raises(DataFormatError, match=r"n00000001_boxes\.txt: 1 images .*n00000001_9"):
        read_tiny_imagenet(tiny_root, "train")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


VAL = "val/val_annotations.txt"
BOXES = "train/n00000002/n00000002_boxes.txt"


@pytest.mark.parametrize(
    ("name", "split", "old", "new", "where", "problem"),
    [
        (VAL, "val", "n00000002", "n00000009", "annotations.txt:2", "unknown wnid n00000009"),
        (VAL, "val", "val_2.JPEG", "val_0.JPEG", "annotations.txt:3", "duplicate image val_0"),
        (VAL, "val", "\t30", "", "annotations.txt:3", "expected 6 fields"),
        (VAL, "val", "\t30", "\tthirty", "annotations.txt:3", "y1 must be a number"),
        (VAL, "val", "\t30", "\t64", "annotations.txt:3", "outside the 64x64 image"),
        (VAL, "val", "10\t10\t20", "21\t10\t20", "annotations.txt:3", "inverted box"),
        (BOXES, "train", "_1.JPEG", "_0.JPEG", "boxes.txt:2", "duplicate image"),
        (BOXES, "train", "\t53", "\t-1", "boxes.txt:1", "outside the 64x64 image"),
        ("wnids.txt", "val", "n00000001", "n00000002", "wnids.txt:2", "duplicate wnid"),
        ("wnids.txt", "val", "n00000001", "n00000001 x", "wnids.txt:2", "expected 1 fields"),
        ("words.txt", "val", "n00000002\treel", "n00000004\treel", "words.txt", "no entry for 1"),
    ],
)
def test_bad_input(
    tiny_root: Path, name: str, split: str, old: str, new: str, where: str, problem: str
) -> None:
    edit(tiny_root / name, old, new)
    with pytest.raises(DataFormatError) as error:
        read_tiny_imagenet(tiny_root, split)
    assert where in str(error.value)
    assert problem in str(error.value)


@pytest.mark.parametrize("split", ["train", "val"])
@pytest.mark.parametrize(
    ("name", "old", "new", "where", "problem"),
    [
        (VAL, "\t30", "\tthirty", "annotations.txt:3", "y1 must be a number"),
        (VAL, "\t30", "", "annotations.txt:3", "expected 6 fields"),
        (VAL, "n00000002", "n00000009", "annotations.txt:2", "unknown wnid n00000009"),
        (VAL, "10\t10\t20", "21\t10\t20", "annotations.txt:3", "inverted box"),
        (BOXES, "\t53", "\tabc", "boxes.txt:1", "x1 must be a number"),
        (BOXES, "_1.JPEG", "_0.JPEG", "boxes.txt:2", "duplicate image"),
        (BOXES, "\t1\t0", "\t-1\t0", "boxes.txt:1", "x0"),
        ("wnids.txt", "n00000001", "n00000001 x", "wnids.txt:2", "expected 1 fields"),
        ("words.txt", "n00000002\treel", "n00000002 reel", "words.txt:3", "found no tab"),
    ],
)
def test_every_annotation_file_is_checked_whatever_the_split(
    tiny_root: Path, split: str, name: str, old: str, new: str, where: str, problem: str
) -> None:
    edit(tiny_root / name, old, new)
    with pytest.raises(DataFormatError) as error:
        read_tiny_imagenet(tiny_root, split)
    assert where in str(error.value) and problem in str(error.value)


def test_the_other_split_needs_no_images(tiny_root: Path) -> None:
    for path in (tiny_root / "val" / "images").iterdir():
        path.unlink()
    write_image(tiny_root / "val/images/unlisted.JPEG", (64, 64))  # not listed, not looked at
    edit(tiny_root / VAL, "\t30", "\t300")  # beyond 63: only its image would tell
    assert len(read_tiny_imagenet(tiny_root, "train")) == 3
    with pytest.raises(DataFormatError, match=r"unlisted\.JPEG"):
        read_tiny_imagenet(tiny_root, "val")


def test_absent_annotation_files_of_the_other_split_are_skipped(tiny_root: Path) -> None:
    (tiny_root / VAL).unlink()
    assert len(read_tiny_imagenet(tiny_root, "train")) == 3
    with pytest.raises(MissingFilesError, match=r"val_annotations\.txt"):
        read_tiny_imagenet(tiny_root, "val")
    (tiny_root / BOXES).unlink()
    with pytest.raises(MissingFilesError, match=r"n00000002_boxes\.txt"):
        read_tiny_imagenet(tiny_root, "train")
