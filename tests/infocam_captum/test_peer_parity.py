"""Equality with pytorch-grad-cam 1.5 and torchcam 0.5 on torchvision models (``weights=None``).

The peers return ReLU-ed, min-max scaled maps (pytorch-grad-cam also resized to the input with
``cv2.resize`` and scaled again), so ours go through the same steps before the comparison. Needs
the ``compare`` extra (``pip install '.[compare]'``); skipped without it.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torchvision
from torch import Tensor

from infocam_captum import LayerCam, LayerGradCamPlusPlus, LayerScoreCam, LayerXGradCam

SIZE = 64
TARGETS = [3, 7]


@pytest.fixture(scope="module")
def resnet() -> torchvision.models.ResNet:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None).eval()


@pytest.fixture(scope="module")
def images() -> Tensor:
    return torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def as_pytorch_grad_cam(maps: Tensor) -> np.ndarray:
    """pytorch-grad-cam's post-processing: ReLU, min-max (1e-7), cv2.resize, min-max again."""

    def scale(image: np.ndarray) -> np.ndarray:
        image = image - image.min()
        return image / (1e-7 + image.max())

    return np.float32(
        [
            scale(cv2.resize(np.float32(scale(np.maximum(m, 0))), (SIZE, SIZE)))
            for m in maps.detach().numpy()[:, 0]
        ]
    )


def as_torchcam(maps: Tensor) -> Tensor:
    """torchcam's post-processing: ReLU, then min-max with 1e-8."""
    cams = torch.relu(maps[:, 0])
    cams = cams - cams.amin(dim=(1, 2), keepdim=True)
    return cams / (cams.amax(dim=(1, 2), keepdim=True) + 1e-8)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (LayerGradCamPlusPlus, "GradCAMPlusPlus"),
        (LayerXGradCam, "XGradCAM"),
        (LayerCam, "LayerCAM"),
    ],
)
def test_gradient_methods_equal_pytorch_grad_cam(resnet, images, ours, theirs) -> None:
    grad_cam = pytest.importorskip("pytorch_grad_cam")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    maps = ours(resnet, resnet.layer4).attribute(images, target=TARGETS)
    with getattr(grad_cam, theirs)(model=resnet, target_layers=[resnet.layer4]) as peer:
        expected = peer(input_tensor=images, targets=[ClassifierOutputTarget(t) for t in TARGETS])
    resnet.zero_grad(set_to_none=True)
    assert expected.max() == pytest.approx(1.0, abs=1e-5)  # not an all-zero comparison
    np.testing.assert_allclose(as_pytorch_grad_cam(maps), expected, rtol=0, atol=2e-5)


@pytest.mark.parametrize(
    ("ours", "theirs", "layer", "options"),
    [
        # layer2 (128 channels, 8 x 8): a quarter of layer4's masked passes, and finer masks
        (LayerScoreCam, "ScoreCAM", "layer2", {"batch_size": 64}),
        (LayerXGradCam, "XGradCAM", "layer4", {}),
        (LayerCam, "LayerCAM", "layer4", {}),
    ],
)
def test_methods_equal_torchcam(resnet, images, ours, theirs, layer, options) -> None:
    pytest.importorskip("torchcam")
    from torchcam import methods

    maps = ours(resnet, getattr(resnet, layer)).attribute(images, target=TARGETS, **options)
    extractor_class = getattr(methods, theirs)
    with extractor_class(resnet, layer, input_shape=(3, SIZE, SIZE), **options) as extractor:
        with torch.set_grad_enabled(theirs != "ScoreCAM"):
            scores = resnet(images)
        (expected,) = extractor(TARGETS, scores)
    assert float(expected.amax()) == pytest.approx(1.0, abs=1e-5)
    torch.testing.assert_close(as_torchcam(maps), expected.detach(), rtol=0, atol=2e-5)
