"""One forward pass per batch (and one backward for the gradient family) gives every method's
maps, equal to the attribution classes'."""

from __future__ import annotations

import torch
from captum.attr import LayerGradCam, Saliency

from evaluation.models.backbones import build_model
from evaluation.runs.attributor import BatchAttributor
from evaluation.runs.methods import resolve_methods
from infocam_captum import (
    LayerCam,
    LayerClassActivationMap,
    LayerGradCamPlusPlus,
    LayerInfoCam,
    LayerInfoCamPlus,
    LayerScoreCam,
    LayerXGradCam,
)


def _model(num_classes: int = 6):
    torch.manual_seed(3)
    model = build_model("small-cnn", num_classes)
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for module in model.module.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return model


def test_gradcam_equals_captum_layer_gradcam_exactly() -> None:
    model = _model()
    images = torch.randn(5, 3, 48, 48)
    labels = torch.tensor([0, 5, 2, 2, 4])
    attributor = BatchAttributor(
        model, resolve_methods("gradcam"), 3, "same", torch.device("cpu")
    )
    result = attributor(images, labels)
    expected = LayerGradCam(model.module, model.layer).attribute(images, target=labels)
    assert torch.equal(result.maps["gradcam"], expected)
    assert result.maps["gradcam"].shape == (5, 1, 6, 6)


def test_fc_methods_equal_the_attribution_classes() -> None:
    model = _model()
    images = torch.randn(4, 3, 48, 48)
    labels = torch.tensor([1, 0, 3, 5])
    attributor = BatchAttributor(
        model, resolve_methods("cam,infocam,infocam+,gradcam"), 4, "full", torch.device("cpu")
    )
    result = attributor(images, labels)
    classifier = model.classifier
    cam = LayerClassActivationMap(model.module, model.layer, classifier=classifier)
    info = LayerInfoCam(model.module, model.layer, classifier=classifier)
    plus = LayerInfoCamPlus(model.module, model.layer, classifier=classifier)
    torch.testing.assert_close(result.maps["cam"], cam.attribute(images, target=labels))
    torch.testing.assert_close(
        result.maps["infocam"], info.attribute(images, target=labels, window=4, padding="full")
    )
    torch.testing.assert_close(
        result.maps["infocam+"], plus.attribute(images, target=labels, window=4, padding="full")
    )
    assert result.maps["infocam"].shape == (4, 1, 9, 9)
    # CAM = h*w x Grad-CAM for a GAP -> Linear head (DESIGN.md's oracle)
    torch.testing.assert_close(result.maps["cam"], 36 * result.maps["gradcam"])
    with torch.no_grad():
        torch.testing.assert_close(result.logits, model.module(images))
    assert set(result.seconds) == {"forward", "cam", "infocam", "infocam+", "gradcam"}


def test_class_subset_restricts_targets_logits_and_other_classes() -> None:
    model = _model(num_classes=10)
    subset = [7, 2, 9, 4]
    images = torch.randn(3, 3, 32, 32)
    labels = torch.tensor([0, 3, 1])  # dataset labels -> model classes 7, 4, 2
    attributor = BatchAttributor(
        model,
        resolve_methods("cam,infocam,gradcam"),
        1,
        "same",
        torch.device("cpu"),
        classes=subset,
    )
    result = attributor(images, labels)
    with torch.no_grad():
        full = model.module(images)
    torch.testing.assert_close(result.logits, full[:, subset])
    targets = torch.tensor(subset)[labels]
    cam = LayerClassActivationMap(model.module, model.layer, classifier=model.classifier)
    info = LayerInfoCam(model.module, model.layer, classifier=model.classifier)
    torch.testing.assert_close(result.maps["cam"], cam.attribute(images, target=targets))
    torch.testing.assert_close(
        result.maps["infocam"],
        info.attribute(images, target=targets, window=1, classes=subset),
    )
    gradcam = LayerGradCam(model.module, model.layer).attribute(images, target=targets)
    assert torch.equal(result.maps["gradcam"], gradcam)


def test_dotted_captum_method_in_the_attributor() -> None:
    model = _model()
    images = torch.randn(2, 3, 32, 32)
    labels = torch.tensor([1, 2])
    attributor = BatchAttributor(
        model,
        resolve_methods("captum.attr.LayerGradCam"),
        3,
        "same",
        torch.device("cpu"),
    )
    result = attributor(images, labels)
    expected = LayerGradCam(model.module, model.layer).attribute(images, target=labels)
    torch.testing.assert_close(result.maps["captum.attr.LayerGradCam"], expected)


def test_gradient_family_shares_one_backward_and_equals_the_classes(monkeypatch) -> None:
    model = _model()
    images = torch.randn(4, 3, 40, 40)
    labels = torch.tensor([3, 0, 5, 1])
    methods = resolve_methods("gradcam,gradcam++,xgradcam,layercam")
    attributor = BatchAttributor(model, methods, 3, "same", torch.device("cpu"))
    calls = []
    grad = torch.autograd.grad

    def counting_grad(*args, **kwargs):
        calls.append(1)
        return grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", counting_grad)
    result = attributor(images, labels)
    assert len(calls) == 1
    monkeypatch.undo()
    for name, attribution in [
        ("gradcam++", LayerGradCamPlusPlus),
        ("xgradcam", LayerXGradCam),
        ("layercam", LayerCam),
    ]:
        expected = attribution(model.module, model.layer).attribute(images, target=labels)
        torch.testing.assert_close(result.maps[name], expected)
    gradcam = LayerGradCam(model.module, model.layer).attribute(images, target=labels)
    assert torch.equal(result.maps["gradcam"], gradcam)
    assert set(result.seconds) == {"forward", "gradcam", "gradcam++", "xgradcam", "layercam"}


def test_scorecam_and_input_level_methods_in_the_attributor() -> None:
    model = _model()
    images = torch.randn(2, 3, 24, 24)
    labels = torch.tensor([4, 2])
    methods = resolve_methods(
        "cam,scorecam,captum.attr.Saliency", ["scorecam.batch_size=7"], "max-abs"
    )
    result = BatchAttributor(model, methods, 3, "same", torch.device("cpu"))(images, labels)
    expected = LayerScoreCam(model.module, model.layer).attribute(images, target=labels)
    torch.testing.assert_close(result.maps["scorecam"], expected)
    saliency = Saliency(model.module).attribute(images, target=labels)  # |gradient|
    torch.testing.assert_close(result.maps["captum.attr.Saliency"], saliency.amax(1, keepdim=True))
    assert result.maps["captum.attr.Saliency"].shape == (2, 1, 24, 24)
