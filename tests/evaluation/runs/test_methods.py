"""Method names: built-ins, dotted Captum paths, and clear errors."""

from __future__ import annotations

import pytest
import torch
from captum.attr import LayerGradientXActivation

from evaluation.errors import ConfigurationError
from evaluation.models.backbones import build_model
from evaluation.runs.methods import attribute_map, resolve_method, resolve_methods


def test_builtin_methods() -> None:
    kinds = {name: resolve_method(name).kind for name in ("cam", "gradcam", "infocam", "infocam+")}
    assert kinds == {"cam": "fc", "gradcam": "gradcam", "infocam": "fc", "infocam+": "fc"}
    assert [m.name for m in resolve_methods("cam, infocam+")] == ["cam", "infocam+"]


def test_dotted_path_builds_and_sums_channels() -> None:
    method = resolve_method("captum.attr.LayerGradientXActivation")
    assert method.kind == "captum" and method.attribution_class is LayerGradientXActivation
    model = build_model("small-cnn", 4)
    attribution = method.build(model.module, model.layer)
    images = torch.rand(3, 3, 32, 32)
    target = torch.tensor([0, 3, 1])
    maps = attribute_map(attribution, images, target)
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


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_method("gradcam++")
    message = str(info.value)
    assert "unknown method 'gradcam++'" in message
    assert "cam, infocam, infocam+, gradcam" in message and "dotted path" in message


def test_dotted_path_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"cannot import module 'no_such_pkg\.attr'"):
        resolve_method("no_such_pkg.attr.Method")
    with pytest.raises(ConfigurationError, match="is not an attribution class"):
        resolve_method("torch.nn.functional.relu")
    with pytest.raises(ConfigurationError, match="is not an attribution class"):
        resolve_method("captum.attr.NoSuchClass")


def test_method_lists_refuse_repeats_and_emptiness() -> None:
    with pytest.raises(ConfigurationError, match="cam given more than once"):
        resolve_methods("cam,gradcam,cam")
    with pytest.raises(ConfigurationError, match="no method given"):
        resolve_methods(" , ")


def test_builtin_methods_are_not_constructed() -> None:
    model = build_model("small-cnn", 2)
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
    maps = attribute_map(attribution, images, target, classes=subset)
    expected = LayerInfoCam(model.module, model.layer).attribute(images, target, classes=subset)
    everything = LayerInfoCam(model.module, model.layer).attribute(images, target)
    torch.testing.assert_close(maps, expected)
    assert not torch.allclose(maps, everything)
