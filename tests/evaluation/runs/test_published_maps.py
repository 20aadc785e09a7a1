"""The attributor's two map quirks under ``paper-as-published``: region-summed CAM, topk(200)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from evaluation.errors import ConfigurationError
from evaluation.models.backbones import build_model
from evaluation.runs.attributor import BatchAttributor
from evaluation.runs.methods import resolve_methods

CPU = torch.device("cpu")


def _model(num_classes: int):
    torch.manual_seed(5)
    return build_model("small-cnn", num_classes)


def _features_and_logits(model, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The explained layer's activations and the logits, from a plain forward pass."""
    kept = {}
    handle = model.layer.register_forward_hook(
        lambda _m, _i, output: kept.setdefault("features", output.detach().clone())
    )
    with torch.no_grad():
        logits = model.module(images)
    handle.remove()
    return kept["features"].double(), logits.double()


def _box_sum(maps: torch.Tensor, window: int) -> torch.Tensor:
    """A ``window`` x ``window`` sum with zero padding ``window - 1`` (the authors' conv2d)."""
    return F.conv2d(maps, torch.ones(1, 1, window, window, dtype=maps.dtype), padding=window - 1)


def _map(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_c weights[b, c] F[b, c]`` as (B, 1, h, w)."""
    return (weights[:, :, None, None] * features).sum(1, keepdim=True)


def test_cam_is_region_summed_like_the_authors_conv_cam() -> None:
    model = _model(6)
    images, labels = torch.randn(3, 3, 32, 32), torch.tensor([0, 5, 2])
    plain = BatchAttributor(model, resolve_methods("cam,infocam"), 3, "full", CPU)(images, labels)
    quirks = BatchAttributor(model, resolve_methods("cam,infocam"), 3, "full", CPU,
                             published_quirks=True)(images, labels)
    features, _ = _features_and_logits(model, images)
    weight = model.classifier.weight.detach().double()
    expected = _box_sum(_map(features, weight[labels]), 3)
    assert quirks.maps["cam"].shape == (3, 1, 6, 6)  # 4 x 4 maps grown by the window
    torch.testing.assert_close(quirks.maps["cam"].double(), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(quirks.maps["infocam"], plain.maps["infocam"])  # unchanged
    torch.testing.assert_close(plain.maps["cam"].double(), _map(features, weight[labels]),
                               rtol=1e-5, atol=1e-5)


def test_infocam_plus_subtracts_the_rank_200_class_of_the_models_logits() -> None:
    model = _model(250)
    images, labels = torch.randn(4, 3, 32, 32), torch.tensor([0, 17, 249, 100])
    result = BatchAttributor(model, resolve_methods("infocam+"), 1, "full", CPU,
                             published_quirks=True)(images, labels)
    features, logits = _features_and_logits(model, images)
    rank_200 = logits.argsort(dim=1, descending=True)[:, 199]  # the 200th most likely of 250
    assert not torch.equal(rank_200, logits.argmin(dim=1))
    weight = model.classifier.weight.detach().double()
    expected = _map(features, weight[labels] - weight[rank_200])
    torch.testing.assert_close(result.maps["infocam+"].double(), expected, rtol=1e-5, atol=1e-5)


def test_with_200_classes_the_contrast_is_the_argmin_the_target_included() -> None:
    model = _model(200)
    images = torch.randn(3, 3, 32, 32)
    _, logits = _features_and_logits(model, images)
    least = logits.argmin(dim=1)
    labels = torch.stack([least[0], (least[1] + 1) % 200, least[2]])  # two targets are least
    result = BatchAttributor(model, resolve_methods("infocam+"), 2, "full", CPU,
                             published_quirks=True)(images, labels)
    maps = result.maps["infocam+"]
    assert maps[0].abs().max() == 0 and maps[2].abs().max() == 0  # W_y - W_y: a zero map
    features, _ = _features_and_logits(model, images)
    weight = model.classifier.weight.detach().double()
    expected = _box_sum(_map(features[1:2], weight[labels[1:2]] - weight[least[1:2]]), 2)
    torch.testing.assert_close(maps[1:2].double(), expected, rtol=1e-5, atol=1e-5)
    # paper's rule skips the target: a non-zero map where the target is the least likely
    paper = BatchAttributor(model, resolve_methods("infocam+"), 2, "full", CPU)(images, labels)
    assert paper.maps["infocam+"][0].abs().max() > 0


def test_a_class_subset_keeps_the_contrast_over_every_logit() -> None:
    model = _model(300)
    subset = list(range(0, 300, 3))  # 100 dataset classes inside a 300-class head
    images, labels = torch.randn(2, 3, 32, 32), torch.tensor([4, 90])
    result = BatchAttributor(model, resolve_methods("infocam+"), 1, "same", CPU,
                             classes=subset, published_quirks=True)(images, labels)
    features, logits = _features_and_logits(model, images)
    rank_200 = logits.argsort(dim=1, descending=True)[:, 199]
    weight = model.classifier.weight.detach().double()
    targets = torch.tensor(subset)[labels]
    expected = _map(features, weight[targets] - weight[rank_200])
    torch.testing.assert_close(result.maps["infocam+"].double(), expected, rtol=1e-5, atol=1e-5)


def test_fewer_than_200_classes_are_refused_for_infocam_plus_only() -> None:
    model = _model(199)
    with pytest.raises(ConfigurationError, match=r"needs at least 200 classes.*--protocol paper"):
        BatchAttributor(model, resolve_methods("cam,infocam+"), 3, "full", CPU,
                        published_quirks=True)
    BatchAttributor(model, resolve_methods("cam,infocam,gradcam"), 3, "full", CPU,
                    published_quirks=True)
    BatchAttributor(model, resolve_methods("infocam+"), 3, "full", CPU)  # paper: any K >= 2
