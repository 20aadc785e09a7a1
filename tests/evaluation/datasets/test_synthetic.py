"""The synthetic generator: determinism, tight ground truth, the real layouts, validation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluation.datasets import SyntheticSpec, make_synthetic, read_cub, read_tiny_imagenet
from evaluation.datasets.synthetic import MAX_CLASSES, class_design, render
from evaluation.errors import ConfigurationError

CUB_SPEC = SyntheticSpec("cub", classes=4, images_per_class=10, size=64, seed=5)
TINY_SPEC = SyntheticSpec("tiny-imagenet", classes=4, images_per_class=10, size=64, seed=5)


@pytest.fixture(scope="module")
def cub_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic(tmp_path_factory.mktemp("cub") / "CUB", CUB_SPEC)


@pytest.fixture(scope="module")
def tiny_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic(tmp_path_factory.mktemp("tiny") / "tiny", TINY_SPEC)


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def mask_box(path: Path) -> tuple[int, int, int, int]:
    mask = np.asarray(Image.open(path)) > 127
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def test_same_spec_same_bytes(tmp_path: Path, cub_tree: Path) -> None:
    again = make_synthetic(tmp_path / "again", CUB_SPEC)
    assert files_of(again) == files_of(cub_tree)
    other = make_synthetic(tmp_path / "other", SyntheticSpec("cub", 4, 10, 64, seed=6))
    assert files_of(other)["images.txt"] == files_of(cub_tree)["images.txt"]
    assert files_of(other)["bounding_boxes.txt"] != files_of(cub_tree)["bounding_boxes.txt"]


def test_cub_layout_is_read_back(cub_tree: Path) -> None:
    train, test = read_cub(cub_tree, "train"), read_cub(cub_tree, "test")
    assert len(train) == 4 * 7 and len(test) == 4 * 3  # test_fraction 0.3 of 10
    assert np.bincount([r.label for r in test.records]).tolist() == [3, 3, 3, 3]
    assert train.class_ids[0] == "001." + class_design(0).name
    assert train.class_names[1] == class_design(1).name.replace("_", " ")
    sizes = {r.size for r in train.records + test.records}
    assert all(max(s) == 64 and 0.7 * 64 - 1 <= min(s) <= 64 for s in sizes)
    assert len(sizes) > 3  # non-square, varying


def test_cub_boxes_are_tight_around_the_mask(cub_tree: Path) -> None:
    lines = (cub_tree / "bounding_boxes.txt").read_text().splitlines()
    raw = {int(line.split()[0]): [float(v) for v in line.split()[1:]] for line in lines}
    paths = (cub_tree / "images.txt").read_text().split()
    number = {relpath: int(n) for n, relpath in zip(paths[::2], paths[1::2], strict=True)}
    for record in read_cub(cub_tree, "all").records:
        assert record.mask_path is not None
        x0, y0, x1, y1 = mask_box(record.mask_path)
        assert raw[number[record.image_id]] == [x0, y0, x1 - x0 + 1, y1 - y0 + 1]
        width, height = record.size
        # The reader applies the field's rule: x1 = min(x + w, W - 1).
        assert record.boxes == ((x0, y0, min(x1 + 1, width - 1), min(y1 + 1, height - 1)),)


def test_tiny_layout_is_read_back_with_tight_boxes(tiny_tree: Path) -> None:
    train, val = read_tiny_imagenet(tiny_tree, "train"), read_tiny_imagenet(tiny_tree, "val")
    assert len(train) == 28 and len(val) == 12
    assert train.class_ids == ["n99000000", "n99000001", "n99000002", "n99000003"]
    assert np.bincount([r.label for r in val.records]).tolist() == [3, 3, 3, 3]
    assert [r.label for r in val.records] != sorted(r.label for r in val.records)  # interleaved
    for record in train.records + val.records:
        assert record.size == (64, 64)
        assert record.mask_path is not None
        assert record.boxes == (mask_box(record.mask_path),)


def test_render_ground_truth_and_context() -> None:
    spec = SyntheticSpec("cub", classes=36, size=96, seed=2)
    below = 0
    for label in range(36):
        for number in range(3):
            drawn = render(spec, label, number)
            mask = drawn.mask
            height, width = mask.shape
            x0, y0, x1, y1 = drawn.box
            rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
            assert (x0, y0, x1, y1) == (cols[0], rows[0], cols[-1], rows[-1])
            side = min(width, height)
            assert 0.25 * side <= max(x1 - x0, y1 - y0) + 1 <= 0.8 * side
            c0, r0, c1, r1 = drawn.context_box
            assert 0 <= c0 <= c1 < width and 0 <= r0 <= r1 < height
            assert not mask[r0 : r1 + 1, c0 : c1 + 1].any()
            gap_x = max(c0 - x1, x0 - c1)
            gap_y = max(r0 - y1, y0 - r1)
            assert max(gap_x, gap_y) >= 1  # disjoint from the box
            assert 1 <= max(gap_x, gap_y) <= 3  # and against it
            below += r0 > y1
    assert 0.4 < below / 108 < 0.8


def test_greyscale_share_and_mode(tmp_path: Path) -> None:
    spec = SyntheticSpec("tiny-imagenet", classes=2, images_per_class=100, size=32, seed=0)
    grey = sum(render(spec, label, n).image.ndim == 2 for label in range(2) for n in range(100))
    assert 8 <= grey <= 35  # 10 % of 200, binomial spread
    tree = make_synthetic(tmp_path / "t", SyntheticSpec("tiny-imagenet", 2, 12, 32, seed=0))
    modes = {Image.open(p).mode for p in tree.rglob("*.JPEG")}
    assert modes == {"L", "RGB"}


def test_class_designs_are_unique() -> None:
    designs = [class_design(k) for k in range(MAX_CLASSES)]
    assert len(set(designs)) == MAX_CLASSES
    assert len({(d.shape, d.texture) for d in designs[:36]}) == 36
    assert class_design(0).name == "Red_Plain_Ellipse"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("layout", "imagenet", "layout must be one of"),
        ("classes", 0, "classes must be 1..288"),
        ("classes", 289, "classes must be 1..288"),
        ("images_per_class", 1, "at least 2"),
        ("size", 16, "size must be 32..1024"),
        ("seed", -1, "seed"),
        ("test_fraction", 1.0, "test_fraction"),
        ("greyscale_fraction", 1.5, "greyscale_fraction"),
    ],
)
def test_spec_validation(field: str, value: object, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        SyntheticSpec(**{field: value})  # type: ignore[arg-type]


def test_split_sizes_keep_one_image_per_side() -> None:
    assert SyntheticSpec(images_per_class=2, test_fraction=0.01).test_per_class == 1
    assert SyntheticSpec(images_per_class=2, test_fraction=0.99).test_per_class == 1
    assert SyntheticSpec(images_per_class=10, test_fraction=0.3).test_per_class == 3


def test_output_folder_rules(tmp_path: Path) -> None:
    spec = SyntheticSpec("cub", classes=1, images_per_class=2, size=32)
    (tmp_path / "empty").mkdir()
    assert (make_synthetic(tmp_path / "empty", spec) / "images.txt").is_file()
    with pytest.raises(ConfigurationError, match="exists and is not empty"):
        make_synthetic(tmp_path / "empty", spec)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no staging folder left


def test_the_tree_gets_the_modes_of_the_umask(tmp_path: Path) -> None:
    spec = SyntheticSpec("cub", classes=1, images_per_class=2, size=32)
    umask = os.umask(0o022)
    try:
        out = make_synthetic(tmp_path / "shared", spec)
    finally:
        os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o755  # not mkdtemp's 0o700
    assert (out / "images").stat().st_mode & 0o777 == 0o755
    assert (out / "images.txt").stat().st_mode & 0o777 == 0o644
