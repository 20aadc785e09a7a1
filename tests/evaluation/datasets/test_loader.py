"""WSOLDataset samples, collate_wsol batches, load_dataset / read_index dispatch."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from evaluation.datasets import (
    SyntheticSpec,
    collate_wsol,
    load_dataset,
    make_synthetic,
    read_index,
)
from evaluation.errors import ConfigurationError, DataFormatError
from tests.evaluation.datasets.conftest import write_image, write_lines

IDENTITY = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


@pytest.fixture(scope="module")
def synthetic_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = SyntheticSpec("tiny-imagenet", classes=3, images_per_class=6, size=48, seed=1)
    return make_synthetic(tmp_path_factory.mktemp("syn") / "tiny", spec)


def test_cub_sample_wsoleval(cub_root: Path) -> None:
    dataset = load_dataset("cub", cub_root, "test", "wsoleval", IDENTITY)
    assert len(dataset) == 5
    assert dataset.frame_size == (224, 224)
    assert dataset.num_classes == 3
    sample = dataset[0]
    assert set(sample) == {"image", "label", "boxes", "index", "image_id"}
    assert sample["label"] == 0
    assert sample["index"] == 0
    assert sample["image_id"] == "001.Alpha_bird/a_1.jpg"
    # Box (5, 6, 15, 14) in 40x30: int(5*5.6)=28, int(6*7.466)=44, int(15*5.6)=84, int(104.5)=104
    assert sample["boxes"].tolist() == [[28, 44, 84, 104]]
    with Image.open(cub_root / "images/001.Alpha_bird/a_1.jpg") as image:
        expected = np.asarray(image.convert("RGB").resize((224, 224), Image.Resampling.BILINEAR))
    assert torch.allclose(
        sample["image"], torch.from_numpy(expected / 255.0).permute(2, 0, 1).float()
    )


def test_cub_cmyk_and_greyscale_come_out_rgb(cub_root: Path) -> None:
    dataset = load_dataset("cub", cub_root, "test", image_size=32)
    for k in (2, 3):  # b_2.jpg is CMYK, c_1.jpg greyscale
        assert dataset[k]["image"].shape == (3, 32, 32)
    grey = load_dataset("cub", cub_root, "test", normalization=IDENTITY, image_size=32)[3]["image"]
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])


def test_imagenet_normalisation_is_the_default(cub_root: Path) -> None:
    plain = load_dataset("cub", cub_root, "test", normalization=IDENTITY, image_size=16)[0]
    normed = load_dataset("cub", cub_root, "test", image_size=16)[0]
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    assert torch.allclose(normed["image"], (plain["image"] - mean) / std, atol=1e-6)


def test_paper_and_exact_boxes(cub_root: Path) -> None:
    paper = load_dataset("cub", cub_root, "test", "paper")
    assert paper.frame_size == (224, 224)
    assert paper[0]["image"].shape == (3, 224, 224)
    # (5, 6, 15, 14) in 40x30: x/40*255-15, y/30*255-15
    expected = [5 / 40 * 255 - 15, 6 / 30 * 255 - 15, 15 / 40 * 255 - 15, 14 / 30 * 255 - 15]
    assert paper[0]["boxes"][0].tolist() == pytest.approx(expected, abs=1e-4)
    exact = load_dataset("cub", cub_root, "test", "exact", image_size=80)
    # s = 2 in x, 8/3 in y: floor(10), floor(16), ceil(16*2)-1 = 31, ceil(15*8/3)-1 = 39
    assert exact[0]["boxes"].tolist() == [[10, 16, 31, 39]]


def test_tiny_paper_is_native(tiny_root: Path) -> None:
    dataset = load_dataset("tiny-imagenet", tiny_root, "val", "paper")
    assert dataset.frame_size == (64, 64)
    assert dataset[1]["boxes"][0].tolist() == pytest.approx([1, 1, 63.015625, 63.015625])


def test_training_samples(cub_root: Path, synthetic_tiny: Path) -> None:
    dataset = load_dataset("cub", cub_root, "train", train=True, image_size=32)
    assert dataset.geometry.resize == 37
    sample = dataset[0]
    assert sample["image"].shape == (3, 32, 32)
    assert sample["boxes"].shape == (0, 4)
    with_masks = load_dataset("synthetic", synthetic_tiny, "train", train=True)
    assert "mask" not in with_masks[0]
    batch = collate_wsol([with_masks[0], with_masks[1]])
    assert batch["boxes"].shape == (2, 0, 4)


def test_synthetic_masks_agree_with_boxes(synthetic_tiny: Path) -> None:
    dataset = load_dataset("synthetic", synthetic_tiny, "test", image_size=48)
    assert dataset.index.name == "synthetic-tiny-imagenet"
    assert dataset.index.split == "val"
    for k in range(len(dataset)):
        sample = dataset[k]
        mask = sample["mask"].numpy()
        assert mask.dtype == np.uint8 and set(np.unique(mask).tolist()) <= {0, 1}
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        assert sample["boxes"].tolist() == [[cols[0], rows[0], cols[-1], rows[-1]]]
    assert "mask" not in load_dataset("synthetic", synthetic_tiny, "val", masks=False)[0]


def build_metadata(root: Path) -> tuple[Path, Path]:
    images = root / "images"
    write_image(images / "a.jpg", (8, 6))
    write_image(images / "b.jpg", (4, 4))
    meta = root / "metadata" / "test"
    write_lines(meta / "image_ids.txt", ["a.jpg", "b.jpg"])
    write_lines(meta / "class_labels.txt", ["a.jpg,1", "b.jpg,0"])
    write_lines(meta / "image_sizes.txt", ["a.jpg,8,6", "b.jpg,4,4"])
    write_lines(meta / "localization.txt", ["a.jpg,0,0,3,2", "a.jpg,4,3,7,5", "b.jpg,1,1,2,2"])
    return root / "metadata", images


def test_collate_pads_boxes_with_nan(tmp_path: Path) -> None:
    meta, images = build_metadata(tmp_path)
    dataset = load_dataset("wsol-metadata", meta, "test", image_size=8, image_root=images)
    assert dataset.index.name == "wsol-metadata"
    batch = collate_wsol([dataset[1], dataset[0]])
    assert batch["image"].shape == (2, 3, 8, 8)
    assert batch["label"].tolist() == [0, 1]
    assert batch["label"].dtype == torch.int64
    assert batch["index"].tolist() == [1, 0]
    assert batch["image_id"] == ["b.jpg", "a.jpg"]
    assert batch["boxes"].shape == (2, 2, 4)
    # b: 4x4 -> 8x8, (1,1,2,2) -> (2,2,4,4); a: 8x6 -> 8x8, y * 8/6 truncated.
    assert batch["boxes"][0, 0].tolist() == [2, 2, 4, 4]
    assert all(math.isnan(v) for v in batch["boxes"][0, 1].tolist())
    assert batch["boxes"][1].tolist() == [[0, 0, 3, 2], [4, 4, 7, 6]]
    assert "mask" not in batch


def test_masks_with_ignore_and_missing_masks_in_a_batch(tmp_path: Path) -> None:
    meta, images = build_metadata(tmp_path)
    first = np.zeros((6, 8), dtype=np.uint8)
    first[0:2, 0:4] = 255
    second = np.zeros((6, 8), dtype=np.uint8)
    second[3:6, 4:8] = 255
    ignore = np.zeros((6, 8), dtype=np.uint8)
    ignore[:, 0:2] = 255  # overlaps the first instance: foreground wins
    for name, values in [("m1.png", first), ("m2.png", second), ("ig.png", ignore)]:
        Image.fromarray(values, "L").save(images / name)
    b_mask = np.zeros((4, 4), dtype=np.uint8)
    Image.fromarray(b_mask, "L").save(images / "mb.png")
    lines = ["a.jpg,m1.png,ig.png", "a.jpg,m2.png,", "b.jpg,mb.png"]
    write_lines(meta / "test" / "localization.txt", lines)
    dataset = load_dataset("wsol-metadata", meta, "test", image_size=8, image_root=images)
    sample = dataset[0]
    assert sample["boxes"].shape == (0, 4)
    expected = np.zeros((6, 8), dtype=np.uint8)
    expected[:, 0:2] = 255
    expected[0:2, 0:4] = 1
    expected[3:6, 4:8] = 1
    # The reference's get_mask: cv2 nearest-neighbour resize (source row floor(y * 6 / 8)).
    resized = expected[[0, 0, 1, 2, 3, 3, 4, 5]]
    assert np.array_equal(sample["mask"].numpy(), resized)
    no_mask = dict(dataset[1])
    del no_mask["mask"]
    batch = collate_wsol([sample, no_mask])
    assert batch["mask"].shape == (2, 8, 8)
    assert batch["mask"].dtype == torch.uint8
    assert (batch["mask"][1] == 255).all()
    assert torch.equal(batch["mask"][0], sample["mask"])


def test_the_mask_rule_follows_the_protocol_unless_given(tmp_path: Path) -> None:
    meta, images = build_metadata(tmp_path)
    grey = np.zeros((6, 8), dtype=np.uint8)
    grey[:, :4] = 100  # foreground by the reference's rule (> 0.5), not by CUB's (> 127)
    grey[:, 4:] = 200
    Image.fromarray(grey, "L").save(images / "ma.png")
    Image.fromarray(grey[:4, :4], "L").save(images / "mb.png")
    write_lines(meta / "test" / "localization.txt", ["a.jpg,ma.png", "b.jpg,mb.png"])

    def mask(protocol: str, rule: str | None = None) -> np.ndarray:
        dataset = load_dataset("wsol-metadata", meta, "test", protocol, image_size=8,
                               image_root=images, mask_rule=rule)
        return dataset[0]["mask"].numpy()

    assert (mask("wsoleval") == 1).all()
    assert mask("exact")[:, :4].sum() == 0 and (mask("exact")[:, 4:] == 1).all()
    assert np.array_equal(mask("wsoleval", "majority"), mask("exact"))
    assert np.array_equal(mask("exact", "positive"), mask("wsoleval"))


def test_dataloader_workers_give_the_same_batches(synthetic_tiny: Path) -> None:
    dataset = load_dataset("synthetic", synthetic_tiny, "train", image_size=32)
    serial = list(DataLoader(dataset, batch_size=4, collate_fn=collate_wsol))
    parallel = list(DataLoader(dataset, batch_size=4, collate_fn=collate_wsol, num_workers=2))
    assert len(serial) == len(parallel) == 3
    for one, two in zip(serial, parallel, strict=True):
        assert torch.equal(one["image"], two["image"])
        assert torch.equal(one["boxes"], two["boxes"])
        assert torch.equal(one["mask"], two["mask"])
        assert one["image_id"] == two["image_id"]


def test_decoded_size_must_match_the_index(cub_root: Path) -> None:
    dataset = load_dataset("cub", cub_root, "test")
    write_image(cub_root / "images/001.Alpha_bird/a_1.jpg", (41, 30))
    with pytest.raises(DataFormatError, match="image is 41x30, the annotations say 40x30"):
        dataset[0]


def test_read_index_dispatch_and_errors(tmp_path: Path, cub_root: Path) -> None:
    assert read_index("cub", cub_root, "test").name == "cub"
    synthetic_cub = read_index("synthetic", cub_root, "train")
    assert synthetic_cub.name == "synthetic-cub"
    with pytest.raises(ConfigurationError, match="unknown dataset 'imagenet'"):
        read_index("imagenet", cub_root, "test")
    with pytest.raises(ConfigurationError, match="needs image_root"):
        read_index("wsol-metadata", tmp_path, "test")
    with pytest.raises(ConfigurationError, match=r"neither images\.txt"):
        read_index("synthetic", tmp_path, "test")


@pytest.mark.parametrize(
    "normalization",
    [((0.5, 0.5), (0.5, 0.5)), ((0, 0, 0), (1, 0, 1)), ("mean", "std"), (1, 2)],
)
def test_bad_normalization(cub_root: Path, normalization: object) -> None:
    with pytest.raises(ConfigurationError, match="normalization"):
        load_dataset("cub", cub_root, "test", normalization=normalization)  # type: ignore[arg-type]


def test_bad_protocol(cub_root: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown protocol"):
        load_dataset("cub", cub_root, "test", protocol="v1")
