"""Method names: built-ins, dotted Captum paths (layer and input level), NoiseTunnel, options,
reductions, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import (
    GradientShap,
    GuidedGradCam,
    InputXGradient,
    IntegratedGradients,
    LayerGradientXActivation,
    NoiseTunnel,
    Occlusion,
    Saliency,
)

from evaluation.errors import ConfigurationError
from evaluation.models.backbones import build_model
from evaluation.runs.methods import BUILTIN_METHODS, resolve_method, resolve_methods
from infocam_captum import LayerScoreCam


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(4)
    built = build_model("small-cnn", 4)
    built.module.eval()
    return built


def images_and_target(count: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(count)
    return torch.rand(count, 3, 32, 32, generator=generator), torch.tensor([0, 3, 1, 2][:count])


def input_gradient(model, images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """d logit_target / d input, by a plain backward pass."""
    x = images.clone().requires_grad_()
    model.module(x).gather(1, target[:, None]).sum().backward()
    return x.grad


def test_builtin_methods() -> None:
    kinds = {name: resolve_method(name).kind for name in BUILTIN_METHODS}
    assert kinds == {
        "cam": "fc", "infocam": "fc", "infocam+": "fc", "gradcam": "gradient",
        "gradcam++": "gradient", "xgradcam": "gradient", "layercam": "gradient",
        "scorecam": "layer",
    }
    assert resolve_method("scorecam").attribution_class is LayerScoreCam
    assert [m.name for m in resolve_methods("cam, infocam+")] == ["cam", "infocam+"]


def test_dotted_layer_path_builds_and_sums_channels(model) -> None:
    method = resolve_method("captum.attr.LayerGradientXActivation")
    assert method.kind == "layer" and method.attribution_class is LayerGradientXActivation
    attribution = method.build(model.module, model.layer)
    images, target = images_and_target()
    maps = method.maps(attribution, images, target)
    assert maps.shape == (3, 1, 4, 4)
    # independent computation: gradient of the target logit times the activation, channel sum
    kept = {}

    def hook(module, inputs, output):
        kept["f"] = output
        output.retain_grad()

    handle = model.layer.register_forward_hook(hook)
    logits = model.module(images)
    handle.remove()
    logits.gather(1, target[:, None]).sum().backward()
    expected = (kept["f"].grad * kept["f"]).sum(1, keepdim=True)
    torch.testing.assert_close(maps, expected.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("reduction", "rule"),
    [
        ("sum-abs", lambda a: a.abs().sum(1, keepdim=True)),
        ("sum", lambda a: a.sum(1, keepdim=True)),
        ("max-abs", lambda a: a.abs().amax(1, keepdim=True)),
        ("l2", lambda a: a.pow(2).sum(1, keepdim=True).sqrt()),
    ],
)
def test_input_level_maps_are_reduced_over_the_colour_channels(model, reduction, rule) -> None:
    method = resolve_method("captum.attr.InputXGradient", reduction=reduction)
    assert method.kind == "input" and method.attribution_class is InputXGradient
    images, target = images_and_target()
    maps = method.maps(method.build(model.module, model.layer), images, target)
    expected = rule(images * input_gradient(model, images, target))
    assert maps.shape == (3, 1, 32, 32)
    torch.testing.assert_close(maps, expected, rtol=1e-5, atol=1e-7)


def test_saliency_in_a_noise_tunnel_with_options(model) -> None:
    name = "captum.attr.Saliency+smoothgrad_sq"
    (method,) = resolve_methods(
        [name], [f"{name}.nt_samples=3", f"{name}.stdevs=0.2", f"{name}.abs=false"]
    )
    assert method.noise_tunnel == "smoothgrad_sq" and method.attribution_class is Saliency
    assert method.attribute_options == {"nt_samples": 3, "stdevs": 0.2, "abs": False}
    images, target = images_and_target()
    torch.manual_seed(9)
    maps = method.maps(method.build(model.module, model.layer), images, target)
    torch.manual_seed(9)  # the same noise
    expected = NoiseTunnel(Saliency(model.module)).attribute(
        images, nt_type="smoothgrad_sq", nt_samples=3, stdevs=0.2, nt_samples_batch_size=1,
        target=target, abs=False,
    )
    torch.testing.assert_close(maps, expected.abs().sum(1, keepdim=True))
    assert method.record() == {
        "kind": "input",
        "class": "captum.attr._core.saliency.Saliency",
        "noise_tunnel": "smoothgrad_sq",
        "options": {"nt_samples": 3, "stdevs": 0.2, "abs": False},
        "defaults": {"nt_samples_batch_size": 1},
        "reduction": "sum-abs",
    }


def test_options_go_to_the_constructor_or_to_attribute_and_are_recorded() -> None:
    name = "captum.attr.IntegratedGradients"
    (method,) = resolve_methods([name], [f"{name}.n_steps=8", f"{name}.multiply_by_inputs=false"])
    assert method.constructor_options == {"multiply_by_inputs": False}
    assert method.attribute_options == {"n_steps": 8}
    assert method.record()["options"] == {"n_steps": 8, "multiply_by_inputs": False}
    assert method.record()["defaults"] == {
        "internal_batch_size": "the run's batch size", "baselines": "zeros (Captum's default)",
    }


def test_integrated_gradients_default_baseline_and_step_batches(model) -> None:
    (method,) = resolve_methods(["captum.attr.IntegratedGradients"])
    images, target = images_and_target()
    maps = method.maps(method.build(model.module, model.layer), images, target)
    expected = IntegratedGradients(model.module).attribute(images, target=target)
    torch.testing.assert_close(maps, expected.abs().sum(1, keepdim=True), rtol=1e-4, atol=1e-6)


def test_gradient_shap_gets_zeros_and_the_batch_mean_as_baselines(model) -> None:
    (method,) = resolve_methods(["captum.attr.GradientShap"])
    assert method.record()["defaults"]["baselines"].startswith("zeros and the batch's mean")
    images, target = images_and_target()
    torch.manual_seed(3)
    np.random.seed(3)  # GradientShap draws its baselines and scales with NumPy
    maps = method.maps(method.build(model.module, model.layer), images, target)
    baselines = torch.stack([torch.zeros(3, 32, 32), images.mean(0)])
    torch.manual_seed(3)
    np.random.seed(3)
    expected = GradientShap(model.module).attribute(images, baselines, target=target)
    torch.testing.assert_close(maps, expected.abs().sum(1, keepdim=True))


def test_occlusion_window_defaults_to_a_seventh_of_the_image(model) -> None:
    images, target = images_and_target(2)
    (default,) = resolve_methods(["captum.attr.Occlusion"])
    maps = default.maps(default.build(model.module, model.layer), images, target)
    expected = Occlusion(model.module).attribute(
        images, sliding_window_shapes=(3, 4, 4), strides=(3, 2, 2), target=target
    )
    torch.testing.assert_close(maps, expected.abs().sum(1, keepdim=True))
    name = "captum.attr.Occlusion"
    (given,) = resolve_methods(
        [name], [f"{name}.sliding_window_shapes=3,8,8", f"{name}.strides=(3, 8, 8)"]
    )
    maps = given.maps(given.build(model.module, model.layer), images, target)
    expected = Occlusion(model.module).attribute(
        images, sliding_window_shapes=(3, 8, 8), strides=(3, 8, 8), target=target
    )
    torch.testing.assert_close(maps, expected.abs().sum(1, keepdim=True))
    assert given.record()["defaults"] == {"baselines": "zeros (Captum's default)"}
    assert given.record()["options"]["strides"] == [3, 8, 8]


def test_guided_gradcam_takes_the_model_and_the_layer(model) -> None:
    (method,) = resolve_methods(["captum.attr.GuidedGradCam"])
    assert method.kind == "input"
    images, target = images_and_target(2)
    maps = method.maps(method.build(model.module, model.layer), images, target)
    expected = GuidedGradCam(model.module, model.layer).attribute(images, target=target)
    assert maps.shape == (2, 1, 32, 32)
    torch.testing.assert_close(maps, expected.abs().sum(1, keepdim=True))


def test_scorecam_batch_size_option(model) -> None:
    (method,) = resolve_methods(["scorecam"], ["scorecam.batch_size=5"])
    assert method.attribute_options == {"batch_size": 5}
    images, target = images_and_target(2)
    maps = method.maps(method.build(model.module, model.layer), images, target)
    expected = LayerScoreCam(model.module, model.layer).attribute(images, target)
    torch.testing.assert_close(maps, expected)


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_method("gradcam+++")
    message = str(info.value)
    assert "unknown method 'gradcam+++'" in message
    assert "gradcam++, xgradcam, layercam, scorecam" in message and "dotted path" in message
    assert "+smoothgrad" in message


def test_dotted_path_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"cannot import module 'no_such_pkg\.attr'"):
        resolve_method("no_such_pkg.attr.Method")
    with pytest.raises(ConfigurationError, match="is not an attribution class"):
        resolve_method("torch.nn.functional.relu")
    with pytest.raises(ConfigurationError, match="is not an attribution class"):
        resolve_method("captum.attr.NoSuchClass")
    with pytest.raises(ConfigurationError, match="is a neuron attribution"):
        resolve_method("captum.attr.NeuronGradient")


def test_option_errors_name_what_to_pass() -> None:
    with pytest.raises(ConfigurationError, match=r"no option 'n_step'; its constructor takes "
                                                 r"multiply_by_inputs, its attribute\(\) takes"):
        resolve_methods(["captum.attr.IntegratedGradients"],
                        ["captum.attr.IntegratedGradients.n_step=3"])
    with pytest.raises(ConfigurationError, match="needs interpretable_model, similarity_func"):
        resolve_method("captum.attr.LimeBase")
    with pytest.raises(ConfigurationError, match=r"computed by the runner .* takes no options"):
        resolve_methods(["gradcam++"], ["gradcam++.eps=1"])
    with pytest.raises(ConfigurationError, match="takes no options or NoiseTunnel"):
        resolve_method("cam+smoothgrad")
    with pytest.raises(ConfigurationError, match="unknown input reduction 'mean'"):
        resolve_method("captum.attr.Saliency", reduction="mean")


def test_method_lists_refuse_repeats_and_emptiness() -> None:
    with pytest.raises(ConfigurationError, match="cam given more than once"):
        resolve_methods("cam,gradcam,cam")
    with pytest.raises(ConfigurationError, match="no method given"):
        resolve_methods(" , ")


def test_builtin_methods_are_not_constructed(model) -> None:
    with pytest.raises(ConfigurationError, match="computed by the runner"):
        resolve_method("cam").build(model.module, model.layer)


def test_dotted_infocam_gets_the_class_subset() -> None:
    from infocam_captum import LayerInfoCam

    method = resolve_method("infocam_captum.LayerInfoCam")
    model = build_model("small-cnn", 6)
    model.module.eval()
    attribution = method.build(model.module, model.layer)
    images = torch.rand(2, 3, 32, 32)
    target = torch.tensor([4, 1])
    subset = torch.tensor([1, 2, 4])
    maps = method.maps(attribution, images, target, classes=subset)
    expected = LayerInfoCam(model.module, model.layer).attribute(images, target, classes=subset)
    everything = LayerInfoCam(model.module, model.layer).attribute(images, target)
    torch.testing.assert_close(maps, expected)
    assert not torch.allclose(maps, everything)


class ReusedRelu(torch.nn.Module):
    """One ReLU module applied twice, as torchvision's ResNet blocks do."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, 4, 3, padding=1)
        self.relu = torch.nn.ReLU(inplace=True)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.relu(self.conv2(self.relu(self.conv1(x))))
        return self.fc(features.mean(dim=(2, 3)))


def test_a_method_that_fails_on_the_model_is_a_one_line_configuration_error() -> None:
    model = ReusedRelu().eval()
    (method,) = resolve_methods(["captum.attr.DeepLift"])
    attribution = method.build(model, model.conv2)
    with pytest.raises(ConfigurationError) as error:
        method.maps(attribution, torch.rand(2, 3, 8, 8), torch.tensor([0, 2]))
    message = str(error.value)
    assert message.startswith("DeepLift.attribute failed (RuntimeError: A Module ReLU")
    assert "does not support this model" in message and "\n" not in message
    assert isinstance(error.value.__cause__, RuntimeError)
