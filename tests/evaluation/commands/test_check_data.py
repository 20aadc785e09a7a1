"""``wsol-bench check-data``: every unreadable image listed with its reason, exit 1; else 0."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.cli import main
from tests.evaluation.datasets.conftest import build_cub


@pytest.fixture
def cub(tmp_path: Path) -> Path:
    return build_cub(tmp_path / "CUB_200_2011")


def _check(root: Path, split: str, workers: int = 2) -> list[str]:
    return ["check-data", "--dataset", "cub", "--data-root", str(root), "--split", split,
            "--num-workers", str(workers)]


def test_a_readable_split_exits_0(cub: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_check(cub, "all")) == 0
    captured = capsys.readouterr()
    assert captured.out == "checked 7 images of cub all: every image decodes\n"
    assert captured.err == ""


def test_every_unreadable_image_is_listed_and_the_exit_status_is_1(
    cub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truncated = cub / "images/001.Alpha_bird/a_1.jpg"
    truncated.write_bytes(truncated.read_bytes()[:400])
    no_header = cub / "images/003.Gamma_bird/c_1.jpg"
    no_header.write_bytes(b"GIF89a, or so it says")
    train_only = cub / "images/001.Alpha_bird/a_2.jpg"  # a training image: not checked
    train_only.write_bytes(b"")
    assert main(_check(cub, "test")) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "checked 5 images of cub test: 2 unreadable"
    assert sorted(lines[:-1]) == sorted([
        f"{no_header}: not a readable image (cannot identify image file '{no_header}')",
        next(line for line in lines if line.startswith(f"{truncated}: cannot decode the image")),
    ])


def test_missing_annotations_are_the_usual_one_line_error(
    cub: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cub / "train_test_split.txt").unlink()
    assert main(_check(cub, "test", workers=0)) == 2
    assert capsys.readouterr().err == (
        f"wsol-bench: error: 1 annotation files missing under {cub}: train_test_split.txt\n"
    )
