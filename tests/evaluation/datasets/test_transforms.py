"""Protocol geometry and box mappings on hand-computed examples; images moved with their boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as tv

from evaluation.datasets.transforms import (
    Geometry,
    eval_geometry,
    eval_image,
    map_boxes,
    to_tensor,
    train_geometry,
    train_image,
)
from evaluation.errors import ConfigurationError


def mapped(box: tuple[float, ...], size: tuple[int, int], geometry: Geometry) -> list[float]:
    return map_boxes(np.array([box]), np.array([size]), geometry)[0].tolist()


def test_geometries() -> None:
    assert eval_geometry("wsoleval") == Geometry("wsoleval", 224, 224)
    assert eval_geometry("wsoleval", 64) == Geometry("wsoleval", 64, 64)
    assert eval_geometry("exact") == Geometry("exact", 224, 224)
    assert eval_geometry("paper") == Geometry("paper", 256, 224)
    assert eval_geometry("paper").offset == 16
    assert eval_geometry("paper", 96) == Geometry("paper", 110, 96)  # round(96 * 256 / 224)
    assert eval_geometry("paper", 96).offset == 7
    assert eval_geometry("paper", native=True) == Geometry("paper", 64, 64)
    assert eval_geometry("paper").frame_size == (224, 224)
    assert train_geometry("wsoleval") == Geometry("wsoleval", 256, 224)
    assert train_geometry("wsoleval", 64) == Geometry("wsoleval", 73, 64)
    assert train_geometry("paper", native=True) == Geometry("paper", 64, 64)
    with pytest.raises(ConfigurationError, match="unknown protocol 'v2'"):
        eval_geometry("v2")
    with pytest.raises(ConfigurationError, match="positive"):
        eval_geometry("wsoleval", 0)


def test_wsoleval_truncates() -> None:
    geometry = eval_geometry("wsoleval")
    # int(1*224/10)=22, int(2*224/20)=22, int(4*22.4)=int(89.6)=89, int(3*11.2)=int(33.6)=33
    assert mapped((1, 2, 4, 3), (10, 20), geometry) == [22, 22, 89, 33]
    # The Tiny-ImageNet hazard: the last pixel 63 maps to int(220.5) = 220, not 223.
    assert mapped((0, 0, 63, 63), (64, 64), geometry) == [0, 0, 220, 220]
    assert mapped((0, 12, 0, 20), (64, 64), eval_geometry("wsoleval", 64)) == [0, 12, 0, 20]


def test_exact_covers_the_resized_pixels() -> None:
    geometry = eval_geometry("exact")
    assert mapped((0, 0, 63, 63), (64, 64), geometry) == [0, 0, 223, 223]
    # s = 3.5: floor(35) = 35, floor(70) = 70, ceil(11 * 3.5) - 1 = 38, ceil(21 * 3.5) - 1 = 73
    assert mapped((10, 20, 10, 20), (64, 64), geometry) == [35, 70, 38, 73]
    # Downscaling, s = 224 / 500 = 0.448: floor(44.8) = 44, ceil(200 * 0.448) - 1 = 89;
    # y: s = 224 / 400 = 0.56: floor(5.6) = 5, ceil(400 * 0.56) - 1 = 223.
    assert mapped((100, 10, 199, 399), (500, 400), geometry) == [44, 5, 89, 223]


def test_paper_uses_the_authors_mapping() -> None:
    geometry = eval_geometry("paper")
    # x / W * 255 - 15: 60/500*255-15 = 15.6, 27/400*255-15 = 2.2125,
    # 385/500*255-15 = 181.35, 331/400*255-15 = 196.0125 (not clipped)
    assert mapped((60, 27, 385, 331), (500, 400), geometry) == pytest.approx(
        [15.6, 2.2125, 181.35, 196.0125], abs=1e-4
    )
    assert mapped((0, 0, 499, 399), (500, 400), geometry) == pytest.approx(
        [-15.0, -15.0, 239.49, 239.3625], abs=1e-4
    )
    native = eval_geometry("paper", native=True)
    # Tiny: L = 63, shift = -1: x * 63 / 64 + 1.
    assert mapped((0, 0, 63, 63), (64, 64), native) == pytest.approx([1, 1, 63.015625, 63.015625])
    assert mapped((52, 55, 57, 59), (64, 64), native) == pytest.approx(
        [52.1875, 55.140625, 57.109375, 59.078125]
    )


def test_map_boxes_is_vectorised_per_image_size() -> None:
    boxes = np.array([[1, 2, 4, 3], [0, 0, 63, 63], [0, 0, 0, 0]])
    sizes = np.array([[10, 20], [64, 64], [5, 5]])
    out = map_boxes(boxes, sizes, eval_geometry("wsoleval"))
    assert out.dtype == np.float32
    assert out.tolist() == [[22, 22, 89, 33], [0, 0, 220, 220], [0, 0, 0, 0]]
    assert map_boxes(np.zeros((0, 4)), np.zeros((0, 2)), eval_geometry("exact")).shape == (0, 4)


def gradient_image(width: int, height: int) -> Image.Image:
    x = np.broadcast_to(np.arange(width, dtype=np.uint8), (height, width))
    y = np.broadcast_to(np.arange(height, dtype=np.uint8)[:, None], (height, width))
    return Image.fromarray(np.stack([x, y, np.full_like(x, 9)], axis=2), "RGB")


@pytest.mark.parametrize(
    ("protocol", "size", "native"),
    [
        ("wsoleval", 224, False),
        ("paper", 224, False),
        ("paper", 96, False),
        ("paper", 64, True),
        ("exact", 64, False),
    ],
)
def test_eval_image_matches_torchvision(protocol: str, size: int, native: bool) -> None:
    image = Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (150, 200, 3), dtype=np.uint8), "RGB"
    )
    geometry = eval_geometry(protocol, size, native)
    reference = tv.Compose(
        [tv.Resize((geometry.resize, geometry.resize)), tv.CenterCrop(geometry.crop)]
    )(image)
    assert np.array_equal(np.asarray(eval_image(image, geometry)), np.asarray(reference))


def test_paper_crop_offset_moves_pixels() -> None:
    image = gradient_image(256, 256)  # already R x R: only the crop acts
    frame = np.asarray(eval_image(image, eval_geometry("paper")))
    assert frame.shape == (224, 224, 3)
    assert frame[0, 0, :2].tolist() == [16, 16]
    assert frame[223, 223, :2].tolist() == [239, 239]


def test_native_size_is_left_untouched() -> None:
    image = gradient_image(64, 64)
    out = eval_image(image, eval_geometry("paper", native=True))
    assert np.array_equal(np.asarray(out), np.asarray(image))


def test_train_image_random_crop_and_flip_are_seeded() -> None:
    image = gradient_image(200, 150)
    geometry = train_geometry("wsoleval", 64)  # resize 73, crop 64
    torch.manual_seed(3)
    first = np.asarray(train_image(image, geometry))
    torch.manual_seed(3)
    again = np.asarray(train_image(image, geometry))
    assert first.shape == (64, 64, 3)
    assert np.array_equal(first, again)
    resized = np.asarray(image.resize((73, 73), Image.Resampling.BILINEAR))
    windows = [
        resized[top : top + 64, left : left + 64] for top in range(10) for left in range(10)
    ]
    seen = set()
    for seed in range(40):
        torch.manual_seed(seed)
        crop = np.asarray(train_image(image, geometry))
        flipped = bool(crop[0, 0, 0] > crop[0, -1, 0])
        unflipped = crop[:, ::-1] if flipped else crop
        assert any(np.array_equal(unflipped, w) for w in windows)
        seen.add(flipped)
    assert seen == {True, False}


def test_to_tensor_normalises() -> None:
    image = Image.fromarray(np.array([[[0, 51, 255]]], dtype=np.uint8), "RGB")
    mean = torch.tensor([0.5, 0.2, 0.0]).view(3, 1, 1)
    std = torch.tensor([0.5, 0.1, 2.0]).view(3, 1, 1)
    out = to_tensor(image, mean, std)
    assert out.dtype == torch.float32
    assert out.shape == (3, 1, 1)
    assert out.flatten().tolist() == pytest.approx([-1.0, 0.0, 0.5], abs=1e-6)
    assert out.is_contiguous()
