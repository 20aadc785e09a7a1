"""Attribution methods of the benchmark by name.

Built-in names, all computed by the runner from ONE forward pass per batch:

- ``cam``, ``infocam``, ``infocam+``: FC-weight maps of the explained layer's activations
  (:func:`infocam_captum.maps.fc_weight_maps`);
- ``gradcam``: Grad-CAM, ``sum_c mean_{ij}(d f_y / d F_c) F_c`` (no ReLU), identical to Captum's
  ``LayerGradCam``; it adds one backward pass from the target logits to the layer.

Any other name is a dotted path ``package.module.Class`` to a Captum layer attribution (for example
``captum.attr.LayerGradientXActivation``): it is constructed as ``Class(forward_func, layer)`` and
called as ``attribute(inputs, target=labels)`` with its own forward pass; an attribution with
several channels (B, C, h, w) is summed over the channels into one map (B, 1, h, w).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from evaluation.errors import ConfigurationError

FC_METHODS = ("cam", "infocam", "infocam+")
BUILTIN_METHODS = (*FC_METHODS, "gradcam")

MethodKind = Literal["fc", "gradcam", "captum"]


@dataclass(frozen=True)
class Method:
    """A resolved method.

    Attributes:
        name: the name as the user wrote it (the key in results.json).
        kind: ``"fc"`` (CAM, infoCAM, infoCAM+), ``"gradcam"`` or ``"captum"`` (dotted path).
        attribution_class: the Captum layer attribution class of a ``"captum"`` method.
    """

    name: str
    kind: MethodKind
    attribution_class: type | None = None

    def build(self, forward_func: Callable[..., torch.Tensor], layer: nn.Module) -> Any:
        """Construct the attribution of a ``"captum"`` method as ``Class(forward_func, layer)``.

        Raises:
            ConfigurationError: the method is built in, or its constructor rejects the arguments.
        """
        if self.attribution_class is None:
            raise ConfigurationError(f"{self.name} is computed by the runner, not constructed")
        try:
            return self.attribution_class(forward_func, layer)
        except TypeError as error:
            raise ConfigurationError(
                f"{self.name} cannot be constructed as {self.name}(forward_func, layer): {error}"
            ) from error


def attribute_map(
    attribution: Any,
    inputs: torch.Tensor,
    target: torch.Tensor,
    classes: torch.Tensor | None = None,
) -> torch.Tensor:
    """Call ``attribution.attribute(inputs, target=target)`` and return one map per image.

    Args:
        attribution: a constructed Captum layer attribution.
        inputs: (B, 3, S, S) model inputs.
        target: (B,) classes to explain.
        classes: the model outputs that are the dataset's classes (``--class-map``), passed as
            ``classes=`` to attributions whose ``attribute`` takes it (infoCAM, infoCAM+ by
            dotted path), so that they contrast with the same classes as the built-in methods.

    Returns:
        (B, 1, h, w) float32 maps: the attribution summed over its channel dimension.

    Raises:
        ConfigurationError: the attribution does not return a (B, C, h, w) tensor.
    """
    options: dict[str, Any] = {}
    if classes is not None and "classes" in inspect.signature(attribution.attribute).parameters:
        options["classes"] = classes
    result = attribution.attribute(inputs, target=target, **options)
    if isinstance(result, tuple | list):
        result = result[0]
    if not isinstance(result, torch.Tensor) or result.dim() != 4:
        shape = tuple(result.shape) if isinstance(result, torch.Tensor) else type(result).__name__
        raise ConfigurationError(
            f"{type(attribution).__name__}.attribute returned {shape}; a layer attribution of a "
            "convolutional layer, shaped (B, C, h, w), is needed"
        )
    return result.detach().float().sum(dim=1, keepdim=True)


def valid_names_hint() -> str:
    """The sentence that lists the valid method names."""
    return (
        f"valid methods: {', '.join(BUILTIN_METHODS)}, or a dotted path package.module.Class to "
        "a Captum layer attribution (e.g. captum.attr.LayerGradientXActivation)"
    )


def resolve_method(name: str) -> Method:
    """Resolve one method name.

    Args:
        name: a built-in name or a dotted path ``package.module.Class``.

    Returns:
        The :class:`Method`.

    Raises:
        ConfigurationError: an unknown name, a path that does not import, or an object that is
            not a class with an ``attribute`` method.
    """
    key = name.strip()
    if key in FC_METHODS:
        return Method(key, "fc")
    if key == "gradcam":
        return Method(key, "gradcam")
    module_name, _, class_name = key.rpartition(".")
    if not module_name or not class_name:
        raise ConfigurationError(f"unknown method {key!r}; {valid_names_hint()}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigurationError(
            f"method {key!r}: cannot import module {module_name!r} ({error}); {valid_names_hint()}"
        ) from error
    cls = getattr(module, class_name, None)
    if not inspect.isclass(cls) or not callable(getattr(cls, "attribute", None)):
        raise ConfigurationError(
            f"method {key!r}: {class_name!r} in {module_name} is not an attribution class with an "
            f"attribute() method; {valid_names_hint()}"
        )
    return Method(key, "captum", cls)


def resolve_methods(names: str | Sequence[str]) -> list[Method]:
    """Resolve a comma-separated string or a sequence of names, refusing repeats and emptiness.

    Raises:
        ConfigurationError: no method, a repeated method, or an unknown one.
    """
    items = names.split(",") if isinstance(names, str) else list(names)
    items = [n.strip() for n in items if n.strip()]
    if not items:
        raise ConfigurationError(f"no method given; {valid_names_hint()}")
    repeated = sorted({n for n in items if items.count(n) > 1})
    if repeated:
        raise ConfigurationError(f"method(s) {', '.join(repeated)} given more than once")
    return [resolve_method(n) for n in items]
