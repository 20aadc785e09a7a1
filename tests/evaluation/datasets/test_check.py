"""Decoding every image of a split: each unreadable one with its reason."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from torch.utils.data import DataLoader

from evaluation.datasets import read_cub
from evaluation.datasets.check import DecodeCheck
from tests.evaluation.datasets.conftest import write_image


def test_every_unreadable_image_is_reported_with_its_reason(cub_root: Path) -> None:
    images = cub_root / "images"
    truncated = images / "001.Alpha_bird/a_3.jpg"
    truncated.write_bytes(truncated.read_bytes()[:300])
    cut = images / "002.Beta_bird/b_2.jpg"  # a PNG under a .jpg name, cut after its header
    Image.new("RGB", (25, 20), "red").save(cut, "PNG")
    cut.write_bytes(cut.read_bytes()[:60])
    index = read_cub(cub_root, "test")
    loader = DataLoader(DecodeCheck(index), batch_size=2, num_workers=2, collate_fn=list)
    results = [result for batch in loader for result in batch]
    assert [position for position, _ in results] == list(range(len(index)))
    problems = {index.records[i].path.name: message for i, message in results if message}
    assert sorted(problems) == ["a_3.jpg", "b_2.jpg"]
    assert problems["a_3.jpg"].startswith(f"{truncated}: cannot decode the image")
    assert problems["b_2.jpg"].startswith(f"{cut}: cannot decode the image")


def test_masks_are_decoded_too(cub_root: Path) -> None:
    for record in read_cub(cub_root, "test").records:
        mask = cub_root / "segmentations" / Path(record.path.relative_to(cub_root / "images"))
        write_image(mask.with_suffix(".png"), record.size, "L")
    broken = cub_root / "segmentations/001.Alpha_bird/a_1.png"
    broken.write_bytes(b"not a png")
    check = DecodeCheck(read_cub(cub_root, "test"))
    assert check[0] == (0, f"{broken}: cannot decode the mask (empty or not an image file)")
    assert check[1] == (1, None)
