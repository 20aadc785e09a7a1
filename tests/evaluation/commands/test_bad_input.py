"""Bad input through the `wsol-bench` command: every case one line, exit status 2, no traceback.

The cases of issue 11: malformed annotation lines of either split, unreadable images met by
DataLoader workers, score maps that are no maps, outputs that cannot be written, files and
folders this user may not read, checkpoints that are no checkpoints, broken run folders. Cases
that need file permissions to bind run in a child process without root's file capabilities
(:mod:`tests.evaluation.unprivileged`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from evaluation.cli import main
from tests.evaluation.datasets.conftest import CUB_IMAGES, build_cub, build_tiny
from tests.evaluation.reports.report_fixtures import make_run
from tests.evaluation.unprivileged import run_cli


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def assert_one_line(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert err.startswith("wsol-bench: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, path)
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def cub(tmp_path: Path) -> Path:
    return build_cub(tmp_path / "CUB_200_2011")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return build_tiny(tmp_path / "tiny-imagenet-200")


def _convert(dataset: str, root: Path, split: str, output: Path) -> list[str]:
    return ["convert", "--dataset", dataset, "--data-root", str(root), "--split", split,
            "--output", str(output)]


# --------------------------------------------------------------------------- annotation files

_CUB_LINE = {  # file -> (image id -> its line, the same line made malformed)
    "images.txt": lambda r: (f"{r[0]} {r[1]}", f"{r[0]} {r[1]} extra"),
    "image_class_labels.txt": lambda r: (f"{r[0]} {r[2]}", f"{r[0]} abc"),
    "train_test_split.txt": lambda r: (f"{r[0]} {r[3]}", f"{r[0]} maybe"),
    "bounding_boxes.txt": lambda r: (f"{r[0]} {r[5]}", f"{r[0]} abc {r[5].split(' ', 1)[1]}"),
}


@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("name", [*_CUB_LINE, "classes.txt"])
def test_a_bad_cub_line_of_the_other_split_is_reported(
    cub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, split: str
) -> None:
    # image 2 is a training image, image 1 a test image: the line belongs to the other split
    record = CUB_IMAGES[1] if split == "test" else CUB_IMAGES[0]
    if name == "classes.txt":
        line, (old, new) = 2, ("2 002.Beta_bird", "2")
    else:
        line, (old, new) = record[0], _CUB_LINE[name](record)
    edit(cub / name, old, new)
    code, err = run(_convert("cub", cub, split, tmp_path / "meta"), capsys)
    assert_one_line(code, err, f"{cub / name}:{line}: ")
    assert not (tmp_path / "meta").exists()


@pytest.mark.parametrize("split", ["train", "val"])
@pytest.mark.parametrize(
    ("name", "old", "new", "line"),
    [
        ("wnids.txt", "n00000001", "n00000001 extra", 2),
        ("words.txt", "n00000002\treel", "n00000002 reel", 3),
        ("train/n00000002/n00000002_boxes.txt", "\t53", "\tabc", 1),
        ("val/val_annotations.txt", "\t30", "\tthirty", 3),
    ],
)
def test_a_bad_tiny_imagenet_line_is_reported_in_either_split(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    name: str, old: str, new: str, line: int, split: str,
) -> None:
    edit(tiny / name, old, new)
    code, err = run(_convert("tiny-imagenet", tiny, split, tmp_path / "meta"), capsys)
    assert_one_line(code, err, f"{tiny / name}:{line}: ")


@pytest.fixture
def metadata(cub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    folder = tmp_path / "metadata" / "test"
    assert main(_convert("cub", cub, "test", folder)) == 0
    capsys.readouterr()
    return folder


@pytest.mark.parametrize("command", ["score", "check-data"])
@pytest.mark.parametrize(
    ("name", "old", "new", "line"),
    [
        ("image_ids.txt", "001.Alpha_bird/a_3.jpg", "001.Alpha_bird/a_3.jpg,extra", 2),
        ("class_labels.txt", "a_3.jpg,0", "a_3.jpg,zero", 2),
        ("image_sizes.txt", "a_3.jpg,20,20", "a_3.jpg,wide,20", 2),
        ("localization.txt", "a_3.jpg,2,3,6,9", "a_3.jpg,2,3,6,nine", 2),
    ],
)
def test_a_bad_metadata_line_is_reported(
    metadata: Path, cub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    command: str, name: str, old: str, new: str, line: int,
) -> None:
    edit(metadata / name, old, new)
    if command == "score":
        argv = ["score", "--metadata", str(metadata), "--scoremaps", str(tmp_path),
                "--output", str(tmp_path / "score.json")]
    else:
        argv = ["check-data", "--dataset", "wsol-metadata", "--data-root",
                str(metadata.parent), "--split", "test", "--image-root", str(cub / "images")]
    code, err = run(argv, capsys)
    assert_one_line(code, err, f"{metadata / name}:{line}: ")


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ("5.0 6.0 4000.0 8.0", "ends at (4005, 14), more than 5 px past the 40x30 image"),
        ("5.0 6.0 0.0 8.0", "width and height must be positive, found 0 x 8"),
        ("45.0 6.0 2.0 8.0", "box corner (45, 6) lies outside the 40x30 image"),
    ],
)
def test_corrupt_cub_boxes_are_reported(
    cub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], box: str, message: str
) -> None:
    edit(cub / "bounding_boxes.txt", "1 5.0 6.0 10.0 8.0", f"1 {box}")
    code, err = run(_convert("cub", cub, "test", tmp_path / "meta"), capsys)
    assert_one_line(code, err, f"{cub / 'bounding_boxes.txt'}:1: ", message)


# --------------------------------------------------------------------------- images


def _truncate(path: Path, header_only: bool) -> None:
    data = path.read_bytes()
    if header_only:  # everything up to the scan's header: the size reads, no pixel decodes
        start = data.index(b"\xff\xda")
        path.write_bytes(data[: start + 2 + int.from_bytes(data[start + 2 : start + 4], "big")])
    else:
        path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("header_only", [False, True], ids=["truncated", "header-only"])
@pytest.mark.parametrize(
    ("dataset", "split", "image"),
    [("cub", "test", "images/001.Alpha_bird/a_3.jpg"), ("tiny-imagenet", "val",
                                                         "val/images/val_1.JPEG")],
)
def test_an_unreadable_image_met_by_a_data_worker_is_one_line(
    cub: Path, tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    dataset: str, split: str, image: str, header_only: bool,
) -> None:
    root = cub if dataset == "cub" else tiny
    _truncate(root / image, header_only)
    argv = ["evaluate", "--dataset", dataset, "--data-root", str(root), "--split", split,
            "--model", "small-cnn", "--random-init", "--image-size", "32", "--batch-size", "1",
            "--num-workers", "1", "--methods", "cam", "--output", str(tmp_path / "run")]
    code, err = run(argv, capsys)
    assert_one_line(code, err, f"{root / image}: cannot decode the image")


# --------------------------------------------------------------------------- score maps


@pytest.fixture
def maps(metadata: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "maps"
    rng = np.random.default_rng(0)
    for relpath in (metadata / "image_ids.txt").read_text().split():
        path = folder / f"{relpath}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, rng.integers(0, 256, (7, 9)).astype(np.float32))
    return folder


def _score(metadata: Path, maps: Path, output: Path) -> list[str]:
    return ["score", "--metadata", str(metadata), "--scoremaps", str(maps), "--output",
            str(output), "--workers", "1"]


def _savez(path: Path) -> None:
    with path.open("wb") as handle:
        np.savez(handle, scores=np.zeros((7, 9)))


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:100]), "not a readable .npy array"),
        (lambda p: p.write_bytes(b""), "not a readable .npy array"),
        (_savez, "an .npz archive, not one .npy array"),
        (lambda p: np.save(p, np.ones((7, 9), bool)), "a boolean mask is not a score map"),
        (lambda p: np.save(p, np.ones((3, 7, 9), np.float32)),
         "shape (3, 7, 9); expected a 2-D (H, W) array of numbers, or (1, H, W)"),
    ],
    ids=["truncated", "empty", "npz", "bool", "3-D"],
)
def test_a_file_that_is_no_score_map_is_one_line(
    metadata: Path, maps: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    write: object, message: str,
) -> None:
    path = maps / "002.Beta_bird/b_2.jpg.npy"
    write(path)  # type: ignore[operator]
    code, err = run(_score(metadata, maps, tmp_path / "score.json"), capsys)
    assert_one_line(code, err, f"{path}: ", message)


def test_integer_maps_and_a_leading_axis_of_one_score_like_the_float_maps(
    metadata: Path, maps: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_score(metadata, maps, tmp_path / "float.json")) == 0
    for i, path in enumerate(sorted(maps.rglob("*.npy"))):
        values = np.load(path)
        np.save(path, values.astype(np.uint8)[None] if i % 2 else values.astype(np.int32))
    assert main(_score(metadata, maps, tmp_path / "int.json")) == 0
    capsys.readouterr()
    floats, ints = (json.loads((tmp_path / n).read_text()) for n in ("float.json", "int.json"))
    for key in ("scoremaps", "metadata"):
        floats.pop(key), ints.pop(key)
    assert ints == floats


# --------------------------------------------------------------------------- outputs


def _evaluate_cub(cub: Path, output: Path) -> list[str]:
    return ["evaluate", "--dataset", "cub", "--data-root", str(cub), "--model", "small-cnn",
            "--random-init", "--image-size", "32", "--num-workers", "0", "--methods", "cam",
            "--output", str(output)]


@pytest.mark.parametrize(
    ("command", "target", "message"),
    [
        ("score", "folder", "--output {t} is a folder; pass a file path"),
        ("score", "file/score.json", "--output {t} lies under the file {p}/file"),
        ("evaluate", "file", "--output {t} is a file; pass a folder"),
        ("evaluate", "file/run", "--output {t} lies under the file {p}/file"),
        ("convert", "file", "--output {t} is a file; pass a folder"),
        ("make-synthetic", "file/data", "--out {t} lies under the file {p}/file"),
        ("train", "file", "--output {t} is a file; pass a folder"),
    ],
)
def test_an_output_of_the_wrong_kind_is_one_line(
    metadata: Path, maps: Path, cub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    command: str, target: str, message: str,
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("keep me")
    output = tmp_path / target
    argv = {
        "score": _score(metadata, maps, output),
        "evaluate": _evaluate_cub(cub, output),
        "convert": _convert("cub", cub, "test", output),
        "make-synthetic": ["make-synthetic", "--out", str(output)],
        "train": ["train", "--dataset", "cub", "--data-root", str(cub), "--model", "small-cnn",
                  "--output", str(output)],
    }[command]
    code, err = run(argv, capsys)
    assert_one_line(code, err, message.format(t=output, p=tmp_path))
    assert (tmp_path / "file").read_text() == "keep me"


@pytest.mark.parametrize(
    ("command", "new"), [("evaluate", False), ("score", True)],
    ids=["evaluate-into-a-read-only-folder", "score-to-a-new-folder-inside-one"],
)
def test_an_output_in_a_read_only_folder_is_one_line(
    metadata: Path, maps: Path, cub: Path, tmp_path: Path, command: str, new: bool
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    output = locked / ("new" if new else "") / ("score.json" if command == "score" else "run")
    argv = _score(metadata, maps, output) if command == "score" else _evaluate_cub(cub, output)
    done = run_cli(argv)
    assert_one_line(done.returncode, done.stderr, f"{locked}: permission denied: cannot ",
                    "this folder")
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize(
    ("command", "denied", "message"),
    [
        ("convert", ".", "cannot list this folder"),  # --data-root itself
        ("evaluate", ".", "cannot search this folder"),
        ("convert", "images.txt", "cannot read this file"),
        ("evaluate", "images/002.Beta_bird/b_2.jpg", "cannot read this file"),
        ("score", "metadata/test/image_ids.txt", "cannot read this file"),
        ("score", "metadata/test", "cannot search this folder"),
    ],
)
def test_a_file_or_folder_this_user_cannot_read_is_one_line(
    metadata: Path, maps: Path, cub: Path, tmp_path: Path, command: str, denied: str,
    message: str,
) -> None:
    target = ((tmp_path if denied.startswith("metadata") else cub) / denied).resolve()
    mode = target.stat().st_mode
    argv = {
        "convert": _convert("cub", cub, "test", tmp_path / "meta"),
        "evaluate": _evaluate_cub(cub, tmp_path / "run"),
        "score": _score(metadata, maps, tmp_path / "score.json"),
    }[command]
    target.chmod(0o000)
    try:
        done = run_cli(argv)
    finally:
        target.chmod(mode)
    assert_one_line(done.returncode, done.stderr, f"{target}: permission denied: {message}")


def test_a_text_file_given_as_checkpoint_is_one_line(
    cub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello world this is text\n")
    argv = _evaluate_cub(cub, tmp_path / "run")
    argv.remove("--random-init")
    code, err = run([*argv, "--checkpoint", str(text)], capsys)
    assert_one_line(code, err, f"{text} cannot be read as a PyTorch checkpoint with "
                               "weights_only=True (KeyError: ")


# --------------------------------------------------------------------------- run folders


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("truncated-gallery", "{r}/gallery.npz: not a readable .npz archive ("),
        ("gallery-folder", "{r}/gallery.npz is a folder, expected a file (gallery file)"),
        ("results-folder", "{r}/results.json is a folder, expected a file (results of"),
        ("run-file", "{r} is a file, expected a folder (run folder)"),
    ],
)
def test_a_damaged_run_folder_is_one_line_for_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str, message: str
) -> None:
    run_dir = tmp_path / "run"
    make_run(run_dir)
    if damage == "truncated-gallery":
        gallery = run_dir / "gallery.npz"
        gallery.write_bytes(gallery.read_bytes()[:500])
    elif damage == "gallery-folder":
        (run_dir / "gallery.npz").unlink()
        (run_dir / "gallery.npz").mkdir()
    elif damage == "results-folder":
        (run_dir / "results.json").unlink()
        (run_dir / "results.json").mkdir()
    else:
        shutil.rmtree(run_dir)
        run_dir.write_text("not a folder")
    code, err = run(["report", str(run_dir)], capsys)
    assert_one_line(code, err, message.format(r=run_dir))
