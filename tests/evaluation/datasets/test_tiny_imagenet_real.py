"""The real (reduced) Tiny-ImageNet-200 tree in ../shared/data: reading, decoding, converting.

Skipped with a reason where the data is absent (fixture ``tiny_imagenet_root``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evaluation.cli import main
from evaluation.datasets import (
    DatasetIndex,
    WSOLDataset,
    imagenet1k_indices,
    read_tiny_imagenet,
    read_wsol_metadata,
)

IDENTITY = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


@pytest.fixture(scope="module")
def val(tiny_imagenet_root: Path) -> DatasetIndex:
    return read_tiny_imagenet(tiny_imagenet_root, "val")


@pytest.fixture(scope="module")
def train(tiny_imagenet_root: Path) -> DatasetIndex:
    return read_tiny_imagenet(tiny_imagenet_root, "train")


def test_every_sample_is_indexed(val: DatasetIndex, train: DatasetIndex) -> None:
    assert len(val) == 5000
    assert len(train) == 10000
    assert np.bincount([r.label for r in val.records], minlength=200).tolist() == [25] * 200
    assert np.bincount([r.label for r in train.records], minlength=200).tolist() == [50] * 200
    assert len({r.image_id for r in val.records}) == 5000
    assert all(r.path.is_file() for r in val.records[:50])


def test_labels_follow_wnids_txt(
    tiny_imagenet_root: Path, val: DatasetIndex, train: DatasetIndex
) -> None:
    wnids = (tiny_imagenet_root / "wnids.txt").read_text().split()
    assert val.class_ids == wnids
    assert wnids != sorted(wnids)  # the file order, not the sorted order
    lines = (tiny_imagenet_root / "val" / "val_annotations.txt").read_text().splitlines()
    by_file = {line.split("\t")[0]: line.split("\t")[1] for line in lines}
    assert [wnids[r.label] for r in val.records] == [by_file[r.path.name] for r in val.records]
    assert all(wnids[r.label] == r.path.parent.parent.name for r in train.records)
    assert val.class_names[wnids.index("n01443537")] == "goldfish"


def test_boxes_lie_inside_64x64_and_odd_boxes_survive(
    val: DatasetIndex, train: DatasetIndex
) -> None:
    for index in (val, train):
        boxes = np.array([r.boxes[0] for r in index.records])
        assert all(len(r.boxes) == 1 and r.size == (64, 64) for r in index.records)
        assert (boxes >= 0).all() and (boxes <= 63).all()
        assert (boxes[:, 0] <= boxes[:, 2]).all() and (boxes[:, 1] <= boxes[:, 3]).all()
    boxes = np.array([r.boxes[0] for r in val.records])
    degenerate = (boxes[:, 0] == boxes[:, 2]) | (boxes[:, 1] == boxes[:, 3])
    border = (boxes[:, :2] == 0).any(axis=1) | (boxes[:, 2:] == 63).any(axis=1)
    assert degenerate.sum() == 19
    assert border.sum() == 3651  # 73 %
    val_310 = next(r for r in val.records if r.image_id == "val/images/val_310.JPEG")
    assert val_310.boxes == ((0, 12, 0, 20),)


def test_greyscale_and_sampled_images_decode_to_rgb(val: DatasetIndex) -> None:
    grey = []
    for k, record in enumerate(val.records):
        with Image.open(record.path) as image:
            if image.mode == "L":
                grey.append(k)
    assert len(grey) == 76
    dataset = WSOLDataset(val, "wsoleval", IDENTITY, image_size=64)
    rng = np.random.default_rng(0)
    sampled = rng.choice(len(val), 100, replace=False).tolist()
    for k in grey + sampled:
        sample = dataset[k]
        assert sample["image"].shape == (3, 64, 64)
        assert sample["label"] == val.records[k].label
        if k in grey:
            image = sample["image"]
            assert torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])
    with Image.open(val.records[grey[0]].path) as image:
        expected = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0)
    assert torch.allclose(dataset[grey[0]]["image"][0], expected, atol=1e-6)


def test_train_samples_decode(train: DatasetIndex) -> None:
    dataset = WSOLDataset(train, "wsoleval", train=True, image_size=56)
    for k in range(0, 10000, 500):
        sample = dataset[k]
        assert sample["image"].shape == (3, 56, 56)
        assert sample["boxes"].shape == (0, 4)


def test_convert_round_trips(
    tiny_imagenet_root: Path, val: DatasetIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "metadata" / "val"
    argv = ["convert", "--dataset", "tiny-imagenet", "--data-root", str(tiny_imagenet_root)]
    assert main([*argv, "--split", "val", "--output", str(out)]) == 0
    assert "wrote 5000 images, 5000 boxes, 200 classes" in capsys.readouterr().out
    back = read_wsol_metadata(out, tiny_imagenet_root)
    assert [r.image_id for r in back.records] == [r.image_id for r in val.records]
    assert back.records[0].image_id == f"val/images/{val.records[0].path.name}"
    assert [(r.path, r.label, r.boxes, r.size) for r in back.records] == [
        (r.path, r.label, r.boxes, r.size) for r in val.records
    ]


def test_every_class_maps_to_imagenet1k(shared_data: Path, val: DatasetIndex) -> None:
    shipped = Path(__file__).resolve().parents[3] / "evaluation" / "data" / "imagenet1k_wnids.txt"
    assert shipped.read_text() == (shared_data / "imagenet1k_wnids.txt").read_text()
    all_wnids = (shared_data / "imagenet1k_wnids.txt").read_text().split()
    indices = imagenet1k_indices(val.class_ids)
    assert [all_wnids[i] for i in indices] == val.class_ids
    assert indices[val.class_ids.index("n01443537")] == 1  # goldfish
