"""``wsol-bench convert`` and ``wsol-bench make-synthetic``."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.cli import main
from evaluation.datasets import read_cub, read_tiny_imagenet, read_wsol_metadata


def test_convert_cub_round_trips(
    cub_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "meta" / "test"
    argv = ["convert", "--dataset", "cub", "--data-root", str(cub_root), "--split", "test"]
    assert main([*argv, "--output", str(out)]) == 0
    assert "wrote 5 images, 5 boxes, 3 classes of cub test" in capsys.readouterr().out
    assert (out / "localization.txt").read_text().splitlines()[:2] == [
        "001.Alpha_bird/a_1.jpg,5,6,15,14",
        "001.Alpha_bird/a_3.jpg,2,3,6,9",
    ]
    original = read_cub(cub_root, "test")
    back = read_wsol_metadata(out, cub_root / "images")
    # One id everywhere: the reader's record ids are the ids convert writes.
    assert [(r.image_id, r.path, r.label, r.boxes, r.size) for r in back.records] == [
        (r.image_id, r.path, r.label, r.boxes, r.size) for r in original.records
    ]


def test_convert_tiny_train(tiny_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "meta"
    argv = ["convert", "--dataset", "tiny-imagenet", "--data-root", str(tiny_root)]
    assert main([*argv, "--split", "train", "--output", str(out)]) == 0
    assert (out / "image_ids.txt").read_text().splitlines()[0] == (
        "train/n00000002/images/n00000002_0.JPEG"
    )
    back = read_wsol_metadata(out, tiny_root)
    original = read_tiny_imagenet(tiny_root, "train")
    assert [(r.image_id, r.path, r.label, r.boxes) for r in back.records] == [
        (r.image_id, r.path, r.label, r.boxes) for r in original.records
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "cub", "--split", "val"], "unknown CUB split 'val'"),
        (["--dataset", "tiny-imagenet", "--split", "val"], "annotation files missing"),
    ],
)
def test_convert_errors_are_one_line(
    cub_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    argv = ["convert", *args, "--data-root", str(cub_root), "--output", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("wsol-bench: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_convert_needs_an_existing_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["convert", "--dataset", "cub", "--data-root", str(tmp_path / "nope"), "--split", "test"]
    assert main([*argv, "--output", str(tmp_path / "o")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_make_synthetic_then_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "syn"
    argv = ["make-synthetic", "--layout", "tiny-imagenet", "--out", str(out), "--classes", "3"]
    assert main([*argv, "--images-per-class", "4", "--size", "32", "--seed", "7"]) == 0
    assert "wrote 12 images (3 classes, 1 per class in val)" in capsys.readouterr().out
    assert len(read_tiny_imagenet(out, "val")) == 3
    meta = tmp_path / "meta"
    argv = ["convert", "--dataset", "synthetic", "--data-root", str(out), "--split", "train"]
    assert main([*argv, "--output", str(meta)]) == 0
    assert len(read_wsol_metadata(meta, out)) == 9


def test_make_synthetic_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "syn"
    assert main(["make-synthetic", "--out", str(out), "--classes", "0"]) == 2
    assert "classes must be 1..288" in capsys.readouterr().err
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["make-synthetic", "--out", str(out)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
