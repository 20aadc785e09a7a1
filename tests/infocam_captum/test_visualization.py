"""Overlays, boxes drawn on axes, and the display box of a map."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from infocam_captum.exceptions import InvalidArgumentError
from infocam_captum.visualization import attribution_box, draw_boxes, overlay, upsample


def test_upsample_matches_bilinear_interpolation():
    attribution = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    resized = upsample(attribution, (4, 4))
    expected = torch.nn.functional.interpolate(attribution.double(), (4, 4), mode="bilinear")
    np.testing.assert_allclose(resized, expected[0, 0].numpy())
    # (h, w) and (1, h, w) shapes are accepted too.
    np.testing.assert_allclose(upsample(attribution[0, 0], (4, 4)), resized)
    np.testing.assert_allclose(upsample(attribution[0], (4, 4)), resized)
    with pytest.raises(InvalidArgumentError, match="index the batch first"):
        upsample(torch.zeros(2, 1, 3, 3), (4, 4))


def test_attribution_box_of_the_largest_region():
    attribution = np.zeros((10, 12))
    attribution[1:3, 1:3] = 1.0  # small blob: 4 pixels
    attribution[5:9, 6:11] = 0.5  # large blob: 20 pixels, above 0.2 of the range
    background = attribution.copy()
    background[0, 11] = -1.0  # a lower minimum lifts the background (0 -> 0.5) above 0.2
    assert attribution_box(background, (10, 12), threshold=0.2) == (0, 0, 11, 9)
    # At the map's own size, upsampling is the identity.
    assert attribution_box(attribution, (10, 12), threshold=0.2) == (6, 5, 10, 8)
    # Only the strong blob is above 0.9 of the range.
    assert attribution_box(attribution, (10, 12), threshold=0.9) == (1, 1, 2, 2)
    # Diagonal neighbours are connected (8-connectivity).
    diagonal = np.zeros((5, 5))
    diagonal[[0, 1, 2], [0, 1, 2]] = 1.0
    assert attribution_box(diagonal, (5, 5)) == (0, 0, 2, 2)


def test_attribution_box_after_upsampling_and_for_constant_maps():
    attribution = torch.zeros(1, 1, 4, 4)
    attribution[0, 0, 2:, 2:] = 1.0
    x0, y0, x1, y1 = attribution_box(attribution, (40, 40))
    assert (x1, y1) == (39, 39)
    assert 15 <= x0 <= 20 and 15 <= y0 <= 20
    assert attribution_box(torch.ones(3, 3), (6, 8)) == (0, 0, 7, 5)
    assert attribution_box(torch.full((3, 3), float("nan")), (6, 8)) == (0, 0, 7, 5)


def test_overlay_draws_the_signed_map_over_the_image():
    image = np.random.default_rng(0).random((16, 20, 3))
    attribution = torch.tensor([[[[1.0, -1.0], [0.5, 0.0]]]])
    figure, axis = overlay(image, attribution, title="infoCAM")
    assert isinstance(figure, Figure)
    assert axis.get_title() == "infoCAM"
    base, heat = axis.images
    np.testing.assert_allclose(base.get_array(), (image * 255).astype(int).mean(axis=2))
    heat_values = np.asarray(heat.get_array())
    assert heat_values.shape == (16, 20)
    resized = upsample(attribution, (16, 20))
    assert np.array_equal(np.sign(heat_values), np.sign(resized))
    assert heat.get_alpha() == 0.5


def test_overlay_accepts_a_chw_tensor_and_an_existing_axes():
    figure = Figure()
    axis = figure.subplots()
    image = torch.rand(3, 8, 8)
    returned = overlay(image, torch.rand(2, 2), sign="positive", plt_fig_axis=(figure, axis))
    assert returned == (figure, axis)
    with pytest.raises(InvalidArgumentError, match=r"\(H, W, 3\)"):
        overlay(np.zeros((8, 8)), torch.rand(2, 2))


def test_draw_boxes_covers_inclusive_pixels():
    figure = Figure()
    axis = figure.subplots()
    axis.imshow(np.zeros((10, 10, 3)))
    boxes = torch.tensor([[1.0, 2.0, 3.0, 5.0], [float("nan")] * 4, [0.0, 0.0, 9.0, 9.0]])
    patches = draw_boxes(axis, boxes, colors=["red", "blue", "lime"], labels=["a", "b", "c"])
    assert len(patches) == 2
    first, second = patches
    assert (first.get_x(), first.get_y(), first.get_width(), first.get_height()) == (
        0.5,
        1.5,
        3.0,
        4.0,
    )
    assert (second.get_width(), second.get_height()) == (10.0, 10.0)
    assert [text.get_text() for text in axis.texts] == ["a", "c"]
    with pytest.raises(InvalidArgumentError, match="as many colours"):
        draw_boxes(axis, boxes, colors=["red"])
