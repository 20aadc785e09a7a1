"""The CUB-200-2011 reader on a hand-written tree in the raw layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.datasets import read_cub
from evaluation.datasets.cub import cub_box
from evaluation.errors import ConfigurationError, DataFormatError, MissingFilesError
from tests.evaluation.datasets.conftest import CUB_IMAGES, write_image

RELPATH = {str(number): relpath for number, relpath, *_ in CUB_IMAGES}


def ids(*numbers: str) -> list[str]:
    """The record ids of CUB's numeric image ids: their paths under images/."""
    return [RELPATH[n] for n in numbers]


def test_test_split_labels_boxes_sizes(cub_root: Path) -> None:
    index = read_cub(cub_root, "test")
    assert index.name == "cub"
    assert index.split == "test"
    assert [r.image_id for r in index.records] == ids("1", "3", "5", "6", "7")
    assert index.records[0].image_id == "001.Alpha_bird/a_1.jpg"
    assert [r.label for r in index.records] == [0, 0, 1, 2, 0]
    assert [r.size for r in index.records] == [(40, 30), (20, 20), (25, 20), (20, 20), (20, 20)]
    # Field rule: x0=int(x), y0=int(y), x1=min(int(x+w), W-1), y1=min(int(y+h), H-1).
    assert [r.boxes for r in index.records] == [
        ((5, 6, 15, 14),),
        ((2, 3, 6, 9),),
        ((1, 1, 2, 2),),
        ((0, 0, 5, 5),),
        ((3, 3, 7, 7),),
    ]
    assert index.records[0].path == cub_root / "images" / "001.Alpha_bird" / "a_1.jpg"
    assert index.class_ids == ["001.Alpha_bird", "002.Beta_bird", "003.Gamma_bird"]
    assert index.class_names == ["Alpha bird", "Beta bird", "Gamma bird"]
    assert index.num_classes == 3
    assert all(r.mask_path is None for r in index.records)


def test_train_split_clips_boxes_and_keeps_one_pixel_boxes(cub_root: Path) -> None:
    index = read_cub(cub_root, "train")
    assert [r.image_id for r in index.records] == ids("2", "4")
    assert index.records[0].boxes == ((0, 0, 29, 39),)  # x+w = 30 clipped to W-1 = 29
    assert index.records[1].boxes == ((19, 0, 19, 19),)  # one pixel wide


def test_all_and_paper_halves(cub_root: Path) -> None:
    all_ids = ids(*(str(i) for i in range(1, 8)))
    assert [r.image_id for r in read_cub(cub_root, "all").records] == all_ids
    # Per class, test images in images.txt order: class 1 -> 1, 3, 7; class 2 -> 5; class 3 -> 6.
    assert [r.image_id for r in read_cub(cub_root, "paper-val").records] == ids("1", "5", "6", "7")
    assert [r.image_id for r in read_cub(cub_root, "paper-test").records] == ids("3")


def test_boxes_match_every_expected_conversion(cub_root: Path) -> None:
    records = {r.image_id: r for r in read_cub(cub_root, "all").records}
    for _, relpath, *_, expected, _ in CUB_IMAGES:
        assert records[relpath].boxes == (expected,)


def test_cub_box_reference_example() -> None:
    # Reference §2.12: "60 27 325 304" becomes 60,27,385,331 (image large enough).
    assert cub_box(60.0, 27.0, 325.0, 304.0, (500, 400)) == (60, 27, 385, 331)
    assert cub_box(60.0, 27.0, 325.0, 304.0, (380, 300)) == (60, 27, 379, 299)


def test_segmentations_attach_masks(cub_root: Path) -> None:
    for _, relpath, *_ in CUB_IMAGES:
        path = cub_root / "segmentations" / Path(relpath).with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    index = read_cub(cub_root, "test")
    assert index.records[0].mask_path == cub_root / "segmentations/001.Alpha_bird/a_1.png"
    (cub_root / "segmentations/002.Beta_bird/b_2.png").unlink()
    with pytest.raises(MissingFilesError, match=r"1 segmentations missing .*b_2\.png"):
        read_cub(cub_root, "test")


def test_unknown_split(cub_root: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown CUB split 'val'"):
        read_cub(cub_root, "val")


def test_missing_images_are_listed_with_a_count(cub_root: Path) -> None:
    for name in ("a_1.jpg", "a_3.jpg", "a_4.jpg"):
        (cub_root / "images" / "001.Alpha_bird" / name).unlink()
    with pytest.raises(MissingFilesError) as error:
        read_cub(cub_root, "test")
    assert str(error.value).startswith("3 images missing under")
    assert "001.Alpha_bird/a_1.jpg" in str(error.value)
    read_cub(cub_root, "train")  # the train images are all there


def test_missing_annotation_file(cub_root: Path) -> None:
    (cub_root / "bounding_boxes.txt").unlink()
    with pytest.raises(MissingFilesError, match=r"bounding_boxes\.txt"):
        read_cub(cub_root, "test")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("name", "old", "new", "where", "problem"),
    [
        ("images.txt", "2 001", "2 extra 001", "images.txt:2", "expected 2 fields"),
        ("images.txt", "3 001", "1 001", "images.txt:3", "duplicate image_id 1"),
        ("images.txt", "3 001", "x 001", "images.txt:3", "image_id must be an integer"),
        ("image_class_labels.txt", "4 2", "4 4", "labels.txt:4", "class_id 4 is not in classes"),
        ("image_class_labels.txt", "4 2", "4 0", "labels.txt:4", "class_id must be >= 1"),
        ("image_class_labels.txt", "4 2\n", "", "labels.txt", "no line for image_id 4"),
        ("image_class_labels.txt", "4 2", "9 2", "labels.txt:4", "image_id 9 is not in images"),
        ("train_test_split.txt", "2 1", "2 2", "split.txt:2", "must be 0 or 1"),
        ("bounding_boxes.txt", "5.0 6.0", "5.0 six", "boxes.txt:1", "y must be a number"),
        ("bounding_boxes.txt", "5.0 6.0 10.0", "5.0 6.0", "boxes.txt:1", "expected 5 fields"),
        ("bounding_boxes.txt", "10.0 8.0", "-1.0 8.0", "boxes.txt:1", "must be positive"),
        ("bounding_boxes.txt", "10.0 8.0", "0.0 8.0", "boxes.txt:1", "found 0 x 8"),
        ("bounding_boxes.txt", "10.0 8.0", "10.0 0", "boxes.txt:1", "found 10 x 0"),
        ("images.txt", "3 001.Alpha_bird/a_3", "3 001.Alpha_bird/a_1", "images.txt:3",
         "duplicate image path 001.Alpha_bird/a_1.jpg (first on line 1)"),
        ("bounding_boxes.txt", "1 5.0", "1 -2.0", "boxes.txt:1", "left of or above 0"),
        ("bounding_boxes.txt", "1 5.0", "1 40.0", "boxes.txt:1", "outside the 40x30 image"),
        ("bounding_boxes.txt", "1 5.0 6.0 10.0", "1 5.0 6.0 5000.0", "boxes.txt:1",
         "ends at (5005, 14), more than 5 px past the 40x30 image"),
        ("classes.txt", "2 002", "3 002", "classes.txt:2", "must run 1, 2, ..."),
    ],
)
def test_bad_input(
    cub_root: Path, name: str, old: str, new: str, where: str, problem: str
) -> None:
    edit(cub_root / name, old, new)
    with pytest.raises(DataFormatError) as error:
        read_cub(cub_root, "all")
    assert where in str(error.value)
    assert problem in str(error.value)


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize(
    ("name", "old", "new", "where"),
    [
        ("images.txt", "2 001", "2 extra 001", "images.txt:2"),
        ("image_class_labels.txt", "2 1", "2 one", "labels.txt:2"),
        ("train_test_split.txt", "2 1", "2 yes", "split.txt:2"),
        ("bounding_boxes.txt", "2 0.0 0.0", "2 abc 0.0", "boxes.txt:2"),
        ("images.txt", "1 001", "1 extra 001", "images.txt:1"),
        ("image_class_labels.txt", "1 1", "1 one", "labels.txt:1"),
        ("train_test_split.txt", "1 0", "1 yes", "split.txt:1"),
        ("bounding_boxes.txt", "1 5.0", "1 abc", "boxes.txt:1"),
    ],
)
def test_every_line_is_checked_whatever_the_split(
    cub_root: Path, split: str, name: str, old: str, new: str, where: str
) -> None:
    # image 2 is a training image, image 1 a test image: both splits see both errors
    edit(cub_root / name, old, new)
    with pytest.raises(DataFormatError, match=where.replace(".", r"\.")):
        read_cub(cub_root, split)


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ("5.0 6.0 35.0 24.0", (5, 6, 39, 29)),  # ends exactly at the edge (x + w = W): clipped 1
        ("5.0 6.0 40.0 29.0", (5, 6, 39, 29)),  # ends 5 px past: the tolerance, clipped
    ],
)
def test_boxes_within_the_edge_tolerance_are_clipped(
    cub_root: Path, box: str, expected: tuple[int, ...]
) -> None:
    edit(cub_root / "bounding_boxes.txt", "1 5.0 6.0 10.0 8.0", f"1 {box}")
    assert read_cub(cub_root, "test").records[0].boxes == (expected,)


def test_a_box_just_past_the_tolerance_is_an_error(cub_root: Path) -> None:
    edit(cub_root / "bounding_boxes.txt", "1 5.0 6.0 10.0 8.0", "1 5.0 6.0 40.5 8.0")
    with pytest.raises(DataFormatError, match=r"boxes\.txt:1: .*ends at \(45\.5, 14\)"):
        read_cub(cub_root, "test")
    read_cub(cub_root, "train")  # its image is not read for the train split: no size to check


def test_image_size_comes_from_the_file(cub_root: Path) -> None:
    write_image(cub_root / "images/001.Alpha_bird/a_1.jpg", (4, 4))  # box starts at x = 5
    with pytest.raises(DataFormatError, match="outside the 4x4 image"):
        read_cub(cub_root, "test")


def test_images_without_a_readable_size_can_be_collected(cub_root: Path) -> None:
    broken = cub_root / "images/001.Alpha_bird/a_3.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DataFormatError, match=r"a_3\.jpg: not a readable image"):
        read_cub(cub_root, "test")
    unreadable: list[Exception] = []
    index = read_cub(cub_root, "test", on_unreadable=unreadable.append)
    assert [str(e).split(":")[0] for e in unreadable] == [str(broken)]
    assert [r.image_id for r in index.records] == ids("1", "5", "6", "7")
