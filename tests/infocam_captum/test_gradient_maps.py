"""The gradient CAM family's weight formulas on hand-computed numbers."""

from __future__ import annotations

import pytest
import torch

from infocam_captum import gradient_weight_maps
from infocam_captum.exceptions import InvalidArgumentError
from infocam_captum.gradient_maps import GRADIENT_METHODS, gradient_channel_maps

from .contract.oracles import grad_cam_plus_plus, layer_cam, xgrad_cam

# One channel, two cells: A = [1, 2], g = [0.5, -1], so S = sum(A) = 3.
FEATURES = torch.tensor([[[[1.0, 2.0]]]], dtype=torch.float64)
GRADS = torch.tensor([[[[0.5, -1.0]]]], dtype=torch.float64)


def test_each_formula_by_hand() -> None:
    maps = gradient_weight_maps(FEATURES, GRADS)
    assert set(maps) == set(GRADIENT_METHODS)
    # Grad-CAM: mean(g) = -0.25.
    expected_gradcam = torch.tensor([-0.25, -0.5], dtype=torch.float64)
    torch.testing.assert_close(maps["gradcam"].flatten(), expected_gradcam)
    # Grad-CAM++: alpha(0.5) = 0.25 / (0.5 + 3 * 0.125 + 1e-6); relu(-1) = 0 drops cell 2.
    weight = 0.5 * 0.25 / (0.5 + 0.375 + 1e-6)
    expected_plus = torch.tensor([weight, 2 * weight], dtype=torch.float64)
    torch.testing.assert_close(maps["gradcam++"].flatten(), expected_plus)
    # XGrad-CAM: (0.5 * 1 - 1 * 2) / (3 + 1e-7).
    weight = -1.5 / (3 + 1e-7)
    expected_x = torch.tensor([weight, 2 * weight], dtype=torch.float64)
    torch.testing.assert_close(maps["xgradcam"].flatten(), expected_x)
    # LayerCAM: relu(g) * A cell by cell.
    expected_layer = torch.tensor([0.5, 0.0], dtype=torch.float64)
    torch.testing.assert_close(maps["layercam"].flatten(), expected_layer)


@pytest.mark.parametrize(
    ("method", "formula"),
    [("gradcam++", grad_cam_plus_plus), ("xgradcam", xgrad_cam), ("layercam", layer_cam)],
)
def test_channel_maps_equal_the_einsum_formulas_and_sum_to_the_map(method, formula) -> None:
    generator = torch.Generator().manual_seed(5)
    features = torch.rand(3, 6, 5, 4, generator=generator, dtype=torch.float64)
    grads = torch.randn(3, 6, 5, 4, generator=generator, dtype=torch.float64)
    grads[grads.abs() < 0.3] = 0  # cells without gradient
    channels = gradient_channel_maps(features, grads, method)
    torch.testing.assert_close(channels, formula(features, grads))
    summed = gradient_weight_maps(features, grads, (method,))[method]
    torch.testing.assert_close(summed, channels.sum(1, keepdim=True))


def test_gradcam_plus_plus_alphas_are_zero_where_the_gradient_is_zero() -> None:
    # float16: S = 49 * 2000 overflows to inf, so S * g^3 = inf * 0 = NaN where g = 0; those
    # alphas are 0 (pytorch-grad-cam's np.where), and alpha = g^2 / inf = 0 elsewhere.
    features = torch.full((1, 1, 7, 7), 2000.0, dtype=torch.float16)
    grads = torch.zeros_like(features)
    grads[..., 3, 3] = 1.0
    maps = gradient_weight_maps(features, grads, ("gradcam++",))["gradcam++"]
    assert torch.equal(maps, torch.zeros_like(maps))


def test_dtypes_promote_and_bad_arguments_are_refused() -> None:
    maps = gradient_weight_maps(FEATURES.float(), GRADS, ("gradcam",))
    assert maps["gradcam"].dtype == torch.float64
    with pytest.raises(InvalidArgumentError, match=r"unknown gradient method\(s\) \['cam'\]"):
        gradient_weight_maps(FEATURES, GRADS, ("cam",))  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"must share one \(B, C, h, w\) shape"):
        gradient_channel_maps(FEATURES, GRADS[..., :1], "layercam")
