"""Protocol transforms: where an image goes in the evaluation frame, and its boxes with it.

Every protocol resizes the original ``W x H`` image to ``R x R`` (PIL bilinear, as torchvision's
``Resize`` does on PIL images) and, when ``R > S``, crops the centre ``S x S`` window at offset
``round((R - S) / 2)`` (torchvision's ``CenterCrop``). The evaluation frame is ``S x S``; boxes map
per axis (``s_x = S / W``, ``s_y = S / H`` where ``R == S``):

- ``wsoleval`` (``R = S``, default 224): ``x' = int(x * S / W)`` for all four coordinates, the
  truncation of ``clovaai/wsolevaluation`` (it maps the last pixel 63 of a 64-pixel image to 220,
  not 223, at ``S = 224``).
- ``exact`` (``R = S``, default 224): pixel-exact edges, ``x0' = floor(x0 * s)`` and
  ``x1' = ceil((x1 + 1) * s) - 1``: the smallest frame box covering the resized pixels.
- ``paper`` (the infoCAM authors' loaders): CUB-style datasets resize to ``R = 256`` and crop
  ``S = 224`` (both scaled by ``S / 224`` for another ``image_size``); Tiny-ImageNet stays at its
  native ``R = S = 64``. Boxes follow the authors' ``load_bbox_size``: with ``L = R - 1`` and
  ``shift = (L - S) // 2``, ``x' = x / W * L - shift`` for all four coordinates (CUB: ``L = 255``,
  ``shift = 15``; Tiny: ``L = 63``, ``shift = -1``), as floats and not clipped to the frame. The
  image crop offset (16 for CUB) and the box shift (15) differ by one pixel in the authors' code;
  both are reproduced.
- ``paper-as-published``: the geometry and box mapping of ``paper``, applied by
  :class:`~evaluation.datasets.loader.WSOLDataset` to the boxes as the authors read the files
  (``ImageRecord.authors_boxes``: CUB unclipped, Tiny-ImageNet misread). A Tiny-ImageNet line
  ``6 25 55 51`` maps to ``[6.906, 25.609, 55.141, 51.203]`` under ``paper`` and to
  ``[6.906, 25.609, 61.047, 75.812]`` under ``paper-as-published``.

Training (``train=True``) resizes to ``R = round(S * 256 / 224)``, takes a random ``S x S`` crop and
flips horizontally with probability 0.5 (the authors' recipe; Tiny-ImageNet under ``paper`` keeps
``R = S``: no crop, flip only).

Torch is imported only by the two functions that use it (:func:`train_image`, :func:`to_tensor`):
mapping boxes and masks (``wsol-bench score``) needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from evaluation.errors import ConfigurationError

if TYPE_CHECKING:
    import torch

PROTOCOLS = ("wsoleval", "paper", "paper-as-published", "exact")
PAPER_PROTOCOLS = ("paper", "paper-as-published")
"""The protocols with the infoCAM authors' geometry (256 -> 224 crop, Tiny-ImageNet native)."""
_CUB_RESIZE, _CUB_CROP, _NATIVE_SIZE = 256, 224, 64


@dataclass(frozen=True)
class Geometry:
    """Resize the original image to ``resize x resize``, then crop the centre ``crop x crop``.

    Attributes:
        protocol: One of :data:`PROTOCOLS`: the box mapping.
        resize: Side ``R`` of the resized image.
        crop: Side ``S`` of the evaluation frame (``S <= R``).
    """

    protocol: str
    resize: int
    crop: int

    @property
    def offset(self) -> int:
        """Centre-crop offset ``round((R - S) / 2)`` (Python's rounding, as torchvision)."""
        return round((self.resize - self.crop) / 2.0)

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of the evaluation frame."""
        return (self.crop, self.crop)


def eval_geometry(protocol: str, image_size: int | None = None, native: bool = False) -> Geometry:
    """The evaluation geometry of ``protocol``.

    Args:
        protocol: One of :data:`PROTOCOLS`.
        image_size: Frame side ``S``; default 224 (64 for the :data:`PAPER_PROTOCOLS` on a
            native-size dataset).
        native: The dataset is evaluated at its own size under the :data:`PAPER_PROTOCOLS`
            (Tiny-ImageNet).

    Raises:
        ConfigurationError: Unknown protocol or a frame side below 1.
    """
    if protocol not in PROTOCOLS:
        raise ConfigurationError(f"unknown protocol {protocol!r}: choose one of {PROTOCOLS}")
    if image_size is not None and image_size < 1:
        raise ConfigurationError(f"image_size must be a positive integer, not {image_size}")
    if protocol in PAPER_PROTOCOLS:
        if native:
            size = image_size or _NATIVE_SIZE
            return Geometry(protocol, size, size)
        size = image_size or _CUB_CROP
        return Geometry(protocol, round(size * _CUB_RESIZE / _CUB_CROP), size)
    size = image_size or _CUB_CROP
    return Geometry(protocol, size, size)


def train_geometry(protocol: str, image_size: int | None = None, native: bool = False) -> Geometry:
    """The training geometry: resize ``R = round(S * 256 / 224)``, random ``S x S`` crop.

    The :data:`PAPER_PROTOCOLS` on a native-size dataset keep ``R = S`` (the authors'
    Tiny-ImageNet recipe).
    """
    frame = eval_geometry(protocol, image_size, native)
    if protocol in PAPER_PROTOCOLS and native:
        return frame
    size = frame.crop
    return Geometry(protocol, round(size * _CUB_RESIZE / _CUB_CROP), size)


def map_boxes(boxes: np.ndarray, sizes: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Map inclusive original-pixel boxes into the evaluation frame (formulas: module doc).

    Args:
        boxes: ``(n, 4)`` inclusive ``x0, y0, x1, y1`` in original pixels.
        sizes: ``(n, 2)`` original ``(W, H)`` of each box's image.
        geometry: The evaluation geometry.

    Returns:
        ``(n, 4)`` float32 boxes in frame pixels (integers except under the
        :data:`PAPER_PROTOCOLS`).
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    extent = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)[:, [0, 1, 0, 1]]
    side = float(geometry.crop)
    if geometry.protocol == "wsoleval":
        mapped = np.floor(boxes * side / extent)
    elif geometry.protocol == "exact":
        start = np.floor(boxes[:, :2] * side / extent[:, :2])
        end = np.ceil((boxes[:, 2:] + 1.0) * side / extent[:, 2:]) - 1.0
        mapped = np.concatenate([start, end], axis=1)
    else:
        length = float(geometry.resize - 1)
        shift = (geometry.resize - 1 - geometry.crop) // 2
        mapped = boxes / extent * length - shift
    return mapped.astype(np.float32)


def eval_image(image: Image.Image, geometry: Geometry) -> Image.Image:
    """Resize ``image`` to ``R x R`` (bilinear) and crop the centre ``S x S``."""
    return _place(image, geometry, Image.Resampling.BILINEAR)


def train_image(image: Image.Image, geometry: Geometry) -> Image.Image:
    """Resize to ``R x R``, crop a random ``S x S`` window, flip horizontally with p = 0.5.

    Randomness comes from torch's generator, seeded per DataLoader worker.
    """
    import torch

    resized = _resize(image, geometry.resize, Image.Resampling.BILINEAR)
    span = geometry.resize - geometry.crop + 1
    left, top = (int(v) for v in torch.randint(0, span, (2,)))
    cropped = resized.crop((left, top, left + geometry.crop, top + geometry.crop))
    if bool(torch.rand(()) < 0.5):
        cropped = cropped.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return cropped


def to_tensor(image: Image.Image, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(x / 255 - mean) / std`` as a contiguous float32 tensor (3, H, W).

    Computed in one pass as ``x * (1 / (255 std)) + (-mean / std)`` (equal up to float rounding);
    ``mean`` and ``std`` are (3, 1, 1).
    """
    import torch

    pixels = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)
    out = torch.addcmul(-mean / std, pixels.float(), 1.0 / (255.0 * std))
    return out.contiguous()


def _place(image: Image.Image, geometry: Geometry, resample: Image.Resampling) -> Image.Image:
    resized = _resize(image, geometry.resize, resample)
    if geometry.resize == geometry.crop:
        return resized
    o, s = geometry.offset, geometry.crop
    return resized.crop((o, o, o + s, o + s))


def _resize(image: Image.Image, side: int, resample: Image.Resampling) -> Image.Image:
    if image.size == (side, side):
        return image
    return image.resize((side, side), resample)
