"""The reference metadata reader and writer on small hand-written trees."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from evaluation.datasets import read_wsol_metadata, write_wsol_metadata
from evaluation.datasets.records import DatasetIndex, ImageRecord
from evaluation.errors import ConfigurationError, DataFormatError, MissingFilesError

IDS = "a/1.jpg\na/2.jpg\nb/3.jpg\n"
LABELS = "a/1.jpg,0\na/2.jpg,0\nb/3.jpg,2\n"
SIZES = "a/1.jpg,10,20\na/2.jpg,5,5\nb/3.jpg,64,64\n"
BOXES = "a/1.jpg,0,0,9,19\na/2.jpg,2,1,2,4\nb/3.jpg,1,2,3,4\nb/3.jpg,10,10,63,63\n"


def write(folder: Path, **files: str) -> Path:
    contents = {
        "image_ids": IDS,
        "class_labels": LABELS,
        "image_sizes": SIZES,
        "localization": BOXES,
    }
    contents.update(files)
    folder.mkdir(parents=True, exist_ok=True)
    for stem, text in contents.items():
        (folder / f"{stem}.txt").write_text(text)
    return folder


def test_reads_boxes_labels_sizes_in_id_order(tmp_path: Path) -> None:
    index = read_wsol_metadata(write(tmp_path / "test"))
    assert index.name == "wsol-metadata"
    assert index.split == "test"
    assert [r.image_id for r in index.records] == ["a/1.jpg", "a/2.jpg", "b/3.jpg"]
    assert [r.label for r in index.records] == [0, 0, 2]
    assert [r.size for r in index.records] == [(10, 20), (5, 5), (64, 64)]
    assert index.records[0].boxes == ((0, 0, 9, 19),)
    assert index.records[1].boxes == ((2, 1, 2, 4),)  # one pixel wide: valid
    assert index.records[2].boxes == ((1, 2, 3, 4), (10, 10, 63, 63))
    assert index.records[0].path == Path("a/1.jpg")  # no image root: relative, unchecked
    assert index.class_ids == ["0", "1", "2"]
    assert index.num_classes == 3
    assert all(r.mask_path is None for r in index.records)


def test_image_root_makes_paths_absolute_and_checks_them(tmp_path: Path) -> None:
    meta = write(tmp_path / "meta")
    images = tmp_path / "images"
    for relpath in IDS.split():
        (images / relpath).parent.mkdir(parents=True, exist_ok=True)
        (images / relpath).write_bytes(b"")
    index = read_wsol_metadata(meta, images)
    assert index.records[2].path == images / "b/3.jpg"
    (images / "a/2.jpg").unlink()
    (images / "b/3.jpg").unlink()
    with pytest.raises(MissingFilesError, match=r"2 images missing .*a/2\.jpg, b/3\.jpg"):
        read_wsol_metadata(meta, images)


def test_mask_variant(tmp_path: Path) -> None:
    masks = (
        "a/1.jpg,m/1.png,m/1_ignore.png\na/2.jpg,m/2.png\nb/3.jpg,m/3a.png,\nb/3.jpg,m/3b.png,\n"
    )
    mask_root = tmp_path / "masks"
    for name in ("1.png", "1_ignore.png", "2.png", "3a.png", "3b.png"):
        (mask_root / "m").mkdir(parents=True, exist_ok=True)
        (mask_root / "m" / name).write_bytes(b"")
    index = read_wsol_metadata(write(tmp_path / "meta", localization=masks), mask_root=mask_root)
    first, second, third = index.records
    assert first.mask_paths == (mask_root / "m/1.png",)
    assert first.ignore_path == mask_root / "m/1_ignore.png"
    assert second.mask_path == mask_root / "m/2.png"
    assert second.ignore_path is None
    assert third.mask_paths == (mask_root / "m/3a.png", mask_root / "m/3b.png")
    assert third.boxes == ()


def png(path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (width, height)).save(path)


def test_an_empty_sizes_file_reads_the_sizes_from_the_first_masks(tmp_path: Path) -> None:
    # The reference's OpenImages metadata: image_sizes.txt is empty.
    masks = (
        "a/1.jpg,m/1.png,m/1_ignore.png\na/2.jpg,m/2.png,\nb/3.jpg,m/3a.png,\nb/3.jpg,m/3b.png,\n"
    )
    root = tmp_path / "masks"
    for name, size in (("1.png", (30, 20)), ("1_ignore.png", (30, 20)), ("2.png", (7, 9)),
                       ("3a.png", (64, 48)), ("3b.png", (64, 48))):
        png(root / "m" / name, *size)
    meta = write(tmp_path / "meta", image_sizes="", localization=masks)
    index = read_wsol_metadata(meta, mask_root=root)
    assert [r.size for r in index.records] == [(30, 20), (7, 9), (64, 48)]
    with pytest.raises(DataFormatError, match=r"image_sizes\.txt: the file is empty .* no image"):
        read_wsol_metadata(meta)


def test_an_empty_sizes_file_reads_the_sizes_from_the_images(tmp_path: Path) -> None:
    images = tmp_path / "images"
    for relpath, size in zip(IDS.split(), ((10, 20), (5, 5), (64, 64)), strict=True):
        png(images / relpath, *size)
    index = read_wsol_metadata(write(tmp_path / "meta", image_sizes=""), images)
    assert [r.size for r in index.records] == [(10, 20), (5, 5), (64, 64)]
    assert index.records[2].boxes == ((1, 2, 3, 4), (10, 10, 63, 63))
    with pytest.raises(DataFormatError, match=r"image_sizes\.txt: the file is empty: boxes need"):
        read_wsol_metadata(write(tmp_path / "meta", image_sizes=""))
    partial = write(tmp_path / "meta", image_sizes="a/1.jpg,10,20\n")
    with pytest.raises(DataFormatError, match=r"no line for image id 'a/2\.jpg'"):
        read_wsol_metadata(partial, images)


def test_mask_files_checked_when_a_root_is_given(tmp_path: Path) -> None:
    meta = write(tmp_path / "meta", localization="a/1.jpg,m1.png\na/2.jpg,m2.png\nb/3.jpg,m3.png\n")
    (tmp_path / "masks").mkdir()
    (tmp_path / "masks" / "m2.png").write_bytes(b"")
    with pytest.raises(MissingFilesError, match=r"2 mask files missing .*m1\.png, m3\.png"):
        read_wsol_metadata(meta, mask_root=tmp_path / "masks")


@pytest.mark.parametrize(
    ("files", "where", "problem"),
    [
        ({"image_ids": "a/1.jpg\na/2.jpg\na/1.jpg\n"}, "image_ids.txt:3", "duplicate image id"),
        ({"class_labels": "a/1.jpg,0\na/2.jpg\nb/3.jpg,2\n"}, "class_labels.txt:2", "expected 2"),
        ({"class_labels": "a/1.jpg,0\na/2.jpg,x\nb/3.jpg,2\n"}, "class_labels.txt:2", "integer"),
        ({"class_labels": "a/1.jpg,0\na/2.jpg,-1\nb/3.jpg,2\n"}, "class_labels.txt:2", ">= 0"),
        ({"class_labels": "a/1.jpg,0\nb/3.jpg,2\nb/3.jpg,2\n"}, "class_labels.txt:3", "duplicate"),
        ({"class_labels": "a/1.jpg,0\nb/3.jpg,2\n"}, "class_labels.txt", "no line for image id"),
        ({"class_labels": LABELS + "c/4.jpg,1\n"}, "class_labels.txt:4", "not in image_ids"),
        ({"image_sizes": "a/1.jpg,10,20\na/2.jpg,5,0\nb/3.jpg,64,64\n"}, "sizes.txt:2", ">= 1"),
        ({"image_sizes": "a/1.jpg,10,20\na/2.jpg,5.5,5\nb/3.jpg,64,64\n"}, "sizes.txt:2", "int"),
        ({"localization": BOXES + "b/3.jpg,1,2,3\n"}, "localization.txt:5", "found 4"),
        ({"localization": BOXES + "b/3.jpg,1,2,x,4\n"}, "localization.txt:5", "x1 must be a num"),
        ({"localization": BOXES + "b/3.jpg,1,2,nan,4\n"}, "localization.txt:5", "finite"),
        ({"localization": BOXES + "b/3.jpg,3,2,1,4\n"}, "localization.txt:5", "inverted box"),
        ({"localization": BOXES + "b/3.jpg,1,5,3,4\n"}, "localization.txt:5", "inverted box"),
        ({"localization": BOXES + "b/3.jpg,1,2,64,4\n"}, "localization.txt:5", "outside the 64x64"),
        ({"localization": BOXES + "b/3.jpg,-1,2,3,4\n"}, "localization.txt:5", "outside"),
        ({"localization": "a/1.jpg,0,0,9,20\n"}, "localization.txt:1", "outside the 10x20"),
        ({"localization": BOXES + "z.jpg,1,2,3,4\n"}, "localization.txt:5", "not in image_ids"),
        ({"localization": "a/1.jpg,0,0,1,1\nb/3.jpg,1,2,3,4\n"}, "localization.txt", "a/2.jpg"),
        ({"localization": BOXES + "b/3.jpg,m.png,\n"}, "localization.txt:5", "mixes box and mask"),
        (
            {"localization": "a/1.jpg,m,i\na/1.jpg,m2,i2\na/2.jpg,m\nb/3.jpg,m\n"},
            "localization.txt:2",
            "ignore mask given on a later line",
        ),
    ],
)
def test_bad_input_names_file_and_line(
    tmp_path: Path, files: dict[str, str], where: str, problem: str
) -> None:
    with pytest.raises(DataFormatError) as error:
        read_wsol_metadata(write(tmp_path / "meta", **files))
    message = str(error.value)
    assert where in message
    assert problem in message


def test_missing_metadata_file(tmp_path: Path) -> None:
    meta = write(tmp_path / "meta")
    (meta / "image_sizes.txt").unlink()
    with pytest.raises(MissingFilesError, match=r"1 metadata files missing .*image_sizes\.txt"):
        read_wsol_metadata(meta)


def test_blank_lines_and_crlf_are_tolerated(tmp_path: Path) -> None:
    meta = write(tmp_path / "meta", image_ids="a/1.jpg\r\n\r\na/2.jpg\r\nb/3.jpg\r\n\r\n")
    assert len(read_wsol_metadata(meta)) == 3


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    root = tmp_path / "root"
    records = [
        ImageRecord("x", root / "c1/x.jpg", 1, ((0, 0, 4, 4), (1.0, 1.0, 1.0, 3.0)), (5, 6)),
        ImageRecord("y", root / "c0/y.jpg", 0, ((2.0, 3.0, 9.0, 3.0),), (10, 4)),
    ]
    index = DatasetIndex("cub", "test", records, ["n0", "n1"], ["c0", "c1"])
    write_wsol_metadata(index, tmp_path / "meta", root)
    assert (tmp_path / "meta" / "localization.txt").read_text() == (
        "c1/x.jpg,0,0,4,4\nc1/x.jpg,1,1,1,3\nc0/y.jpg,2,3,9,3\n"
    )
    back = read_wsol_metadata(tmp_path / "meta")
    assert [(r.image_id, r.label, r.boxes, r.size) for r in back.records] == [
        ("c1/x.jpg", 1, records[0].boxes, (5, 6)),
        ("c0/y.jpg", 0, records[1].boxes, (10, 4)),
    ]


def test_writer_refuses_what_the_format_cannot_hold(tmp_path: Path) -> None:
    root = tmp_path / "root"
    fractional = ImageRecord("x", root / "x.jpg", 0, ((0.5, 0.0, 4.0, 4.0),), (5, 6))
    boxless = ImageRecord("x", root / "x.jpg", 0, (), (5, 6))
    outside = ImageRecord("x", tmp_path / "x.jpg", 0, ((0, 0, 1, 1),), (5, 6))
    cases = [(fractional, "non-integer"), (boxless, "no box"), (outside, "not under")]
    for record, problem in cases:
        index = DatasetIndex("d", "s", [record], ["n"], ["c"])
        with pytest.raises(ConfigurationError, match=problem):
            write_wsol_metadata(index, tmp_path / "m", root)
