"""Show layer attributions on their image, with boxes, on top of ``captum.attr.visualization``.

Captum's ``visualize_image_attr`` wants an attribution at image resolution as a numpy array;
:func:`overlay` takes the ``(N, 1, h, w)``-style output of any layer attribution, upsamples it with
:meth:`captum.attr.LayerAttribution.interpolate` and hands it over. :func:`draw_boxes` adds boxes
(inclusive pixel corners ``x0, y0, x1, y1``, the WSOL convention) and :func:`attribution_box` gives
the box of one map for display. Benchmark numbers use ``evaluation.localization.boxes``, which
implements the published evaluation conventions; this module draws pictures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from captum.attr import LayerAttribution
from captum.attr import visualization as captum_viz
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from skimage.measure import label
from torch import Tensor

from infocam_captum.exceptions import InvalidArgumentError

Box = tuple[int, int, int, int]
"""Inclusive pixel box ``(x0, y0, x1, y1)``."""


def _as_map(attribution: Tensor | npt.NDArray[Any]) -> Tensor:
    """One map as a ``(1, 1, h, w)`` float64 tensor (from ``(h, w)`` and its 1-padded shapes)."""
    tensor = torch.as_tensor(attribution).detach().cpu()
    while tensor.dim() > 2 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.dim() != 2:
        raise InvalidArgumentError(
            f"expected one map of shape (h, w), (1, h, w) or (1, 1, h, w), got "
            f"{tuple(torch.as_tensor(attribution).shape)}; index the batch first."
        )
    return tensor.to(torch.float64)[None, None]


def upsample(
    attribution: Tensor | npt.NDArray[Any], size: tuple[int, int], mode: str = "bilinear"
) -> npt.NDArray[np.float64]:
    """One map resized to ``size = (H, W)`` with ``LayerAttribution.interpolate``, as numpy.

    Args:
        attribution (Tensor or ndarray): One map, ``(h, w)``, ``(1, h, w)`` or ``(1, 1, h, w)``.
        size (tuple[int, int]): Target ``(H, W)``, usually the image size.
        mode (str): An ``F.interpolate`` mode for 4-D input. Default: ``"bilinear"``

    Returns:
        ndarray: ``(H, W)`` float64 map, signs and scale kept.
    """
    resized = LayerAttribution.interpolate(_as_map(attribution), size, mode)
    return resized[0, 0].numpy()


def attribution_box(
    attribution: Tensor | npt.NDArray[Any], size: tuple[int, int], threshold: float = 0.2
) -> Box:
    """Box around the largest connected region of a map above ``threshold``, for display.

    The map is upsampled bilinearly to ``size``, min-max normalised to ``[0, 1]``, thresholded
    (``> threshold``), and the bounding box of the largest 8-connected component is returned.
    A constant or non-finite map has no region; the box is then the whole image.

    Args:
        attribution (Tensor or ndarray): One map, ``(h, w)``, ``(1, h, w)`` or ``(1, 1, h, w)``.
        size (tuple[int, int]): ``(H, W)`` of the image the box refers to.
        threshold (float): Fraction of the normalised range. Default: 0.2 (the CAM papers')

    Returns:
        tuple[int, int, int, int]: inclusive ``(x0, y0, x1, y1)`` pixel box.
    """
    resized = upsample(attribution, size)
    height, width = size
    low, high = float(np.min(resized)), float(np.max(resized))
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        return (0, 0, width - 1, height - 1)
    components = label((resized - low) / (high - low) > threshold, connectivity=2)
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    rows, columns = np.nonzero(components == int(np.argmax(sizes)))
    return (int(columns.min()), int(rows.min()), int(columns.max()), int(rows.max()))


def overlay(
    image: Tensor | npt.NDArray[Any],
    attribution: Tensor | npt.NDArray[Any],
    sign: str = "all",
    method: str = "blended_heat_map",
    alpha: float = 0.5,
    title: str | None = None,
    plt_fig_axis: tuple[Figure, Axes] | None = None,
    outlier_perc: float = 2,
) -> tuple[Figure, Axes]:
    """Draw one layer attribution over its image with ``captum.attr.visualization``.

    Args:
        image (Tensor or ndarray): ``(H, W, 3)`` numpy array (floats in ``[0, 1]`` or uint8)
                    or a ``(3, H, W)`` tensor in ``[0, 1]`` (un-normalise first).
        attribution (Tensor or ndarray): One map at any resolution, ``(h, w)``, ``(1, h, w)``
                    or ``(1, 1, h, w)``; upsampled bilinearly to the image.
        sign (str): Captum's ``sign``: ``"all"`` (signed maps, red-white-green), ``"positive"``,
                    ``"negative"`` or ``"absolute_value"``. Default: ``"all"``
        method (str): Captum's visualisation method. Default: ``"blended_heat_map"``
        alpha (float): Opacity of the heat map. Default: 0.5
        title (str, optional): Axes title. Default: None
        plt_fig_axis (tuple[Figure, Axes], optional): Where to draw; a new figure (not
                    registered with pyplot) when omitted. Default: None
        outlier_perc (float): Captum's outlier percentage for the colour scale. Default: 2

    Returns:
        tuple[Figure, Axes]: the figure and axes drawn on.
    """
    picture = image.detach().cpu().permute(1, 2, 0).numpy() if isinstance(image, Tensor) else image
    picture = np.asarray(picture)
    if picture.ndim != 3 or picture.shape[2] != 3:
        raise InvalidArgumentError(
            f"image must be (H, W, 3) numpy or (3, H, W) tensor, got shape {picture.shape}."
        )
    heat = upsample(attribution, (picture.shape[0], picture.shape[1]))
    return captum_viz.visualize_image_attr(
        heat[..., None],
        picture,
        method=method,
        sign=sign,
        plt_fig_axis=plt_fig_axis,
        outlier_perc=outlier_perc,
        alpha_overlay=alpha,
        title=title,
        use_pyplot=False,
    )


def draw_boxes(
    axis: Axes,
    boxes: Sequence[Sequence[float]] | Tensor | npt.NDArray[Any],
    colors: Sequence[str] | str = "lime",
    labels: Sequence[str] | None = None,
    linewidth: float = 2.0,
) -> list[Rectangle]:
    """Draw inclusive pixel boxes ``(x0, y0, x1, y1)`` on an image axes.

    A box covers its corner pixels completely: the rectangle runs from ``x0 - 0.5`` to
    ``x1 + 0.5`` in matplotlib's image coordinates (pixel centres at integers). Rows with a NaN
    (padding in batched box tensors) are skipped.

    Args:
        axis (Axes): Axes showing the image (e.g. from :func:`overlay`).
        boxes (sequence, Tensor or ndarray): ``(B, 4)`` boxes.
        colors (str or Sequence[str]): One colour for all boxes or one per box.
                    Default: ``"lime"``
        labels (Sequence[str], optional): A text label per box, drawn at its top-left corner.
                    Default: None
        linewidth (float): Line width in points. Default: 2.0

    Returns:
        list[Rectangle]: the patches added, in box order (skipped rows excluded).
    """
    array = np.asarray(boxes.detach().cpu() if isinstance(boxes, Tensor) else boxes, dtype=float)
    array = array.reshape(-1, 4)
    palette = [colors] * len(array) if isinstance(colors, str) else list(colors)
    if len(palette) != len(array) or (labels is not None and len(labels) != len(array)):
        raise InvalidArgumentError(
            f"{len(array)} boxes need as many colours and labels (got {len(palette)} colours"
            f"{'' if labels is None else f' and {len(labels)} labels'})."
        )
    patches = []
    for index, (x0, y0, x1, y1) in enumerate(array):
        if not np.isfinite([x0, y0, x1, y1]).all():
            continue
        patch = Rectangle(
            (x0 - 0.5, y0 - 0.5),
            x1 - x0 + 1,
            y1 - y0 + 1,
            fill=False,
            edgecolor=palette[index],
            linewidth=linewidth,
        )
        axis.add_patch(patch)
        patches.append(patch)
        if labels is not None:
            axis.text(
                x0,
                y0,
                labels[index],
                color="black",
                fontsize=8,
                va="bottom",
                bbox={"facecolor": palette[index], "alpha": 0.8, "pad": 1, "edgecolor": "none"},
            )
    return patches
