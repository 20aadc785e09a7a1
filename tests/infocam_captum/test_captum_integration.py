"""Oracles against Captum's LayerGradCam, and the Captum tools that wrap attributions."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam, NoiseTunnel
from captum.attr import visualization as viz
from captum.metrics import infidelity, sensitivity_max
from torch import Tensor, nn

from infocam_captum import LayerClassActivationMap, LayerInfoCam, LayerInfoCamPlus
from infocam_captum.maps import least_likely_class

from .toy_models import InputRecorder, SmallCnn

HW = 4 * 4  # SmallCnn's layer output is 4 x 4 for 8 x 8 inputs


@pytest.fixture
def model() -> SmallCnn:
    return SmallCnn(num_classes=7).eval().double()


@pytest.fixture
def images() -> Tensor:
    return torch.randn(3, 3, 8, 8, dtype=torch.float64)


class _Contrast(nn.Module):
    """Logits f mapped to f - (f.sum(1) - f) / (K - 1) (infoCAM's oracle)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        logits = self.model(x)
        return logits - (logits.sum(1, keepdim=True) - logits) / (logits.shape[1] - 1)


class _MinusClass(nn.Module):
    """Logits f mapped to f - f[:, least] for fixed per-example classes (infoCAM+'s oracle)."""

    def __init__(self, model: nn.Module, least: Tensor) -> None:
        super().__init__()
        self.model = model
        self.least = least

    def forward(self, x: Tensor) -> Tensor:
        logits = self.model(x)
        return logits - logits.gather(1, self.least[:, None])


def test_cam_is_hw_times_layer_grad_cam(model, images):
    target = torch.tensor([0, 6, 3])
    cam = LayerClassActivationMap(model, model.layer).attribute(images, target=target)
    grad_cam = LayerGradCam(model, model.layer).attribute(images, target=target)
    torch.testing.assert_close(cam, HW * grad_cam.detach(), rtol=1e-12, atol=1e-12)


def test_infocam_window_1_is_hw_times_grad_cam_of_the_contrast(model, images):
    target = torch.tensor([2, 2, 5])
    info = LayerInfoCam(model, model.layer).attribute(images, target=target, window=1)
    contrast = _Contrast(model)
    oracle = LayerGradCam(contrast, model.layer).attribute(images, target=target)
    torch.testing.assert_close(info, HW * oracle.detach(), rtol=1e-12, atol=1e-12)


def test_infocam_plus_window_1_is_hw_times_grad_cam_minus_the_least_likely(model, images):
    target = torch.tensor([1, 4, 0])
    with torch.no_grad():
        least = least_likely_class(model(images), target)
    plus = LayerInfoCamPlus(model, model.layer).attribute(images, target=target, window=1)
    oracle = LayerGradCam(_MinusClass(model, least), model.layer).attribute(images, target=target)
    torch.testing.assert_close(plus, HW * oracle.detach(), rtol=1e-12, atol=1e-12)


def test_subset_infocam_is_grad_cam_of_the_subset_contrast(model, images):
    classes = [6, 1, 3]
    info = LayerInfoCam(model, model.layer).attribute(
        images, target=1, window=1, classes=classes
    )

    def subset_contrast(x: Tensor) -> Tensor:
        logits = model(x)[:, classes]
        return logits - (logits.sum(1, keepdim=True) - logits) / 2

    oracle = LayerGradCam(subset_contrast, model.layer).attribute(images, target=1)
    torch.testing.assert_close(info, HW * oracle.detach(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", [LayerClassActivationMap, LayerInfoCam, LayerInfoCamPlus])
def test_noise_tunnel_averages_the_maps_of_the_noisy_inputs(model, images, method):
    recorder = InputRecorder(model)
    tunnel = NoiseTunnel(method(recorder, model.layer))
    smoothed = tunnel.attribute(images, nt_type="smoothgrad", nt_samples=4, stdevs=0.5, target=2)
    noisy = recorder.last_input
    assert noisy is not None and noisy.shape == (12, 3, 8, 8)
    assert not torch.equal(noisy[0], images[0])
    expected = method(model, model.layer).attribute(noisy, target=2).view(3, 4, 1, 4, 4).mean(1)
    torch.testing.assert_close(smoothed, expected)
    # Without noise it is the plain attribution.
    plain = NoiseTunnel(method(model, model.layer)).attribute(
        images, nt_type="smoothgrad", nt_samples=2, stdevs=0.0, target=2
    )
    torch.testing.assert_close(plain, method(model, model.layer).attribute(images, target=2))


def test_interpolate_and_visualize_image_attr(model, images):
    maps = LayerInfoCam(model, model.layer).attribute(images, target=[0, 1, 2])
    upsampled = LayerAttribution.interpolate(maps, (8, 8), "bilinear")
    assert upsampled.shape == (3, 1, 8, 8)
    expected = torch.nn.functional.interpolate(maps, (8, 8), mode="bilinear")
    torch.testing.assert_close(upsampled, expected)
    attr = upsampled[0].permute(1, 2, 0).numpy()
    picture = np.random.default_rng(0).random((8, 8, 3))
    figure, axis = viz.visualize_image_attr(
        attr, picture, method="blended_heat_map", sign="all", use_pyplot=False
    )
    heat = np.asarray(axis.images[-1].get_array())
    assert heat.shape == (8, 8)
    assert np.array_equal(np.sign(heat), np.sign(attr[..., 0]))
    assert np.abs(heat).max() == pytest.approx(1.0)
    figure.clf()


def test_infidelity_at_batch_size_three(model, images):
    target = [3, 0, 6]
    maps = LayerInfoCam(model, model.layer).attribute(images, target=target, window=1)
    attributions = LayerAttribution.interpolate(maps, (8, 8), "bilinear").expand(-1, 3, -1, -1)

    def constant_perturbation(inputs: Tensor) -> tuple[Tensor, Tensor]:
        perturbation = torch.full_like(inputs, 0.1)
        return perturbation, inputs - perturbation

    scores = infidelity(
        model, constant_perturbation, images, attributions, target=target, n_perturb_samples=2
    )
    with torch.no_grad():
        drop = model(images) - model(images - 0.1)
    picked = drop[torch.arange(3), torch.tensor(target)]
    expected = (0.1 * attributions.sum(dim=(1, 2, 3)) - picked) ** 2
    torch.testing.assert_close(scores, expected)


def test_sensitivity_max_needs_the_explanation_as_a_tuple(model, images):
    # captum.metrics.sensitivity_max turns `inputs` into a tuple and iterates over the
    # explanation as over one attribution per input tensor. A Tensor explanation (LayerGradCam's,
    # and these classes' since they return a Tensor for tuple inputs too) makes that loop walk
    # the batch: at batch size 1 the score is silently sqrt(n_perturb_samples) times too large
    # (the (1, h, w) row broadcasts against the n perturbed maps), at batch > 1 the metric
    # raises. Wrapping the explanation in a 1-tuple is what works, for both.
    info = LayerInfoCam(model, model.layer)

    def shift(inputs: Tensor, perturb_radius: float) -> Tensor:
        return inputs + perturb_radius

    def as_tuple(inputs: tuple[Tensor, ...], **kwargs: object) -> tuple[Tensor, ...]:
        return (info.attribute(inputs, **kwargs),)

    arguments = {"perturb_func": shift, "perturb_radius": 0.05, "n_perturb_samples": 2}
    scores = sensitivity_max(as_tuple, images, **arguments, target=[1, 2, 3])
    before = info.attribute(images, target=[1, 2, 3]).flatten(1)
    after = info.attribute(images + 0.05, target=[1, 2, 3]).flatten(1)
    expected = (after - before).norm(dim=1) / before.norm(dim=1)
    torch.testing.assert_close(scores, expected)
    torch.testing.assert_close(
        sensitivity_max(as_tuple, images[:1], **arguments, target=[1]), expected[:1]
    )
    grad_cam = LayerGradCam(model, model.layer)
    grad_cam_scores = sensitivity_max(
        lambda inputs, **kwargs: (grad_cam.attribute(inputs, **kwargs),),
        images, **arguments, target=[1, 2, 3],
    )
    for attribute, right in ((info.attribute, scores), (grad_cam.attribute, grad_cam_scores)):
        unwrapped = sensitivity_max(attribute, images[:1], **arguments, target=[1])
        torch.testing.assert_close(unwrapped, 2**0.5 * right[:1])
        with pytest.raises(RuntimeError, match="must match the size"):
            sensitivity_max(attribute, images, **arguments, target=[1, 2, 3])
