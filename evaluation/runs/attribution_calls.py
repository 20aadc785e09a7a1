"""Constructing and calling an attribution class the benchmark knows only by its signature.

Construction (:func:`construct`): the constructor's ``forward_func`` or ``model`` parameter gets
the model, ``layer`` the explained layer (``device_ids`` keeps its default); the method's
constructor options fill the other parameters. ``NAME+smoothgrad`` (``smoothgrad_sq``,
``vargrad``) wraps the object in Captum's ``NoiseTunnel``.

Options (:func:`split_options`) go to the constructor when it has a parameter of that name, else
to ``attribute`` (for a NoiseTunnel: its own ``nt_samples``, ``stdevs``,
``nt_samples_batch_size``, ... or the wrapped method's).

Defaults the benchmark sets where Captum has none or one unfit for a batch of images
(:func:`default_options`; a ``--method-option`` overrides each):

- a required ``baselines`` (GradientShap): the distribution of two baselines, zeros and the
  batch's mean image; an optional ``baselines`` (IntegratedGradients, DeepLift) keeps Captum's
  default, zeros. Zeros are the normalised input's zeros: the normalisation's mean colour;
- ``internal_batch_size`` (IntegratedGradients): the run's batch size, so one step batch holds as
  many images as the run's batch (Captum's default runs all ``n_steps`` copies at once);
- ``sliding_window_shapes`` / ``strides`` (Occlusion): a window of ``(C, H // 7, W // 7)``
  (32 x 32 pixels at 224 px) moved by half of it, ``(C, H // 14, W // 14)`` (Captum's stride
  default is 1: tens of thousands of forward passes per image);
- ``nt_samples_batch_size`` (NoiseTunnel): 1, one noisy copy of the batch per pass (Captum's
  default runs all ``nt_samples`` copies at once).

Maps (:func:`attribute_maps`): a layer attribution ``(B, C, h, w)`` is summed over its channels;
an input attribution ``(B, C, H, W)`` is reduced over the colour channels by the run's rule
(:data:`REDUCTIONS`): ``sum-abs`` (default, as usual for saliency maps), ``sum``, ``max-abs`` or
``l2``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch
from captum.attr import NoiseTunnel
from torch import Tensor

from evaluation.errors import ConfigurationError, WSOLError
from infocam_captum.exceptions import InfoCamError

NOISE_TUNNEL_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")
"""The ``nt_type`` values of Captum's NoiseTunnel, written after ``+`` in a method name."""

REDUCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sum-abs": lambda maps: maps.abs().sum(dim=1, keepdim=True),
    "sum": lambda maps: maps.sum(dim=1, keepdim=True),
    "max-abs": lambda maps: maps.abs().amax(dim=1, keepdim=True),
    "l2": lambda maps: maps.square().sum(dim=1, keepdim=True).sqrt(),
}
"""Input-level map (B, C, H, W) -> one map per image (B, 1, H, W), over the colour channels."""

_MODEL_PARAMETERS = ("forward_func", "model")
_GIVEN_PARAMETERS = ("self", *_MODEL_PARAMETERS, "layer", "device_ids")
_CALL_PARAMETERS = ("self", "inputs", "target")
_DEFAULT_RULES = {
    "baselines": "zeros and the batch's mean image (a distribution of two baselines)",
    "internal_batch_size": "the run's batch size",
    "sliding_window_shapes": "(C, H // 7, W // 7)",
    "strides": "(C, H // 14, W // 14)",
    "nt_samples_batch_size": 1,
}


def _parameters(
    function: Callable[..., Any], skip: tuple[str, ...]
) -> dict[str, inspect.Parameter]:
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return {
        name: parameter
        for name, parameter in inspect.signature(function).parameters.items()
        if name not in skip and parameter.kind not in variadic
    }


def _attribute_parameters(cls: type, noise_tunnel: str | None) -> dict[str, inspect.Parameter]:
    found = _parameters(cls.attribute, _CALL_PARAMETERS)  # type: ignore[attr-defined]
    if noise_tunnel is not None:
        found.update(_parameters(NoiseTunnel.attribute, (*_CALL_PARAMETERS, "nt_type")))
    return found


def _needs_default(cls: type, key: str) -> bool:
    """Whether the benchmark sets ``key`` for ``cls`` (module docstring)."""
    parameters = _parameters(cls.attribute, _CALL_PARAMETERS)  # type: ignore[attr-defined]
    if key == "baselines":
        required = inspect.Parameter.empty
        return "baselines" in parameters and parameters["baselines"].default is required
    if key == "strides":
        return "sliding_window_shapes" in parameters and "strides" in parameters
    return key in parameters


def split_options(
    name: str, cls: type, noise_tunnel: str | None, options: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The options of the constructor and those of ``attribute``.

    Raises:
        ConfigurationError: an option that neither takes, or a required constructor or
            ``attribute`` argument that no option and no default gives.
    """
    constructor = _parameters(cls.__init__, _GIVEN_PARAMETERS)  # type: ignore[misc]
    call = _attribute_parameters(cls, noise_tunnel)
    built, called = {}, {}
    for key, value in options.items():
        if key in constructor:
            built[key] = value
        elif key in call:
            called[key] = value
        else:
            raise ConfigurationError(
                f"method {name}: no option {key!r}; its constructor takes "
                f"{', '.join(constructor) or 'nothing more'}, its attribute() takes "
                f"{', '.join(call) or 'nothing more'}"
            )
    missing = [
        key for key, parameter in constructor.items()
        if parameter.default is inspect.Parameter.empty and key not in built
    ] + [
        key for key, parameter in call.items()
        if parameter.default is inspect.Parameter.empty and key not in called
        and not _needs_default(cls, key)
    ]
    if missing:
        raise ConfigurationError(
            f"method {name} needs {', '.join(missing)}: pass --method-option "
            + " ".join(f"{name}.{key}=VALUE" for key in missing)
        )
    return built, called


def construct(
    cls: type,
    noise_tunnel: str | None,
    constructor_options: Mapping[str, Any],
    forward_func: Callable[..., Tensor],
    layer: torch.nn.Module,
) -> Any:
    """``cls(forward_func or model, layer, **options)``, in a NoiseTunnel when asked.

    Raises:
        ConfigurationError: the constructor rejects the arguments.
    """
    parameters = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    arguments: dict[str, Any] = dict(constructor_options)
    for key in _MODEL_PARAMETERS:
        if key in parameters:
            arguments[key] = forward_func
    if "layer" in parameters:
        arguments["layer"] = layer
    try:
        attribution = cls(**arguments)
    except (TypeError, ValueError) as error:
        raise ConfigurationError(
            f"{cls.__module__}.{cls.__qualname__} cannot be constructed with "
            f"{', '.join(arguments)}: {error}"
        ) from error
    return attribution if noise_tunnel is None else NoiseTunnel(attribution)


def default_options(cls: type, noise_tunnel: str | None, images: Tensor) -> dict[str, Any]:
    """The benchmark's defaults for a batch of ``images`` (module docstring)."""
    defaults: dict[str, Any] = {}
    channels, height, width = images.shape[1:]
    if _needs_default(cls, "baselines"):
        mean = images.mean(dim=0, keepdim=True)
        defaults["baselines"] = torch.cat([torch.zeros_like(mean), mean])
    if _needs_default(cls, "internal_batch_size"):
        defaults["internal_batch_size"] = images.shape[0]
    if _needs_default(cls, "sliding_window_shapes"):
        defaults["sliding_window_shapes"] = (channels, max(1, height // 7), max(1, width // 7))
    if _needs_default(cls, "strides"):
        defaults["strides"] = (channels, max(1, height // 14), max(1, width // 14))
    if noise_tunnel is not None:
        defaults["nt_samples_batch_size"] = 1
    return defaults


def describe_defaults(
    cls: type, noise_tunnel: str | None, options: Mapping[str, Any]
) -> dict[str, Any]:
    """The rules of :func:`default_options` that ``options`` leaves in force, for the record."""
    keys = [k for k in ("baselines", "internal_batch_size", "sliding_window_shapes", "strides")
            if _needs_default(cls, k)]
    if noise_tunnel is not None:
        keys.append("nt_samples_batch_size")
    rules = {key: _DEFAULT_RULES[key] for key in keys if key not in options}
    parameters = _parameters(cls.attribute, _CALL_PARAMETERS)  # type: ignore[attr-defined]
    if "baselines" in parameters and "baselines" not in rules and "baselines" not in options:
        rules["baselines"] = "zeros (Captum's default)"
    return rules


def attribute_maps(
    attribution: Any,
    images: Tensor,
    target: Tensor,
    options: Mapping[str, Any],
    reduction: str | None,
    classes: Tensor | None = None,
) -> Tensor:
    """Call ``attribution.attribute(images, target=target, ...)``; one map per image.

    Args:
        attribution: a constructed attribution (:func:`construct`).
        images: (B, C, S, S) model inputs.
        target: (B,) classes to explain.
        options: ``attribute`` options (defaults and the run's, as for ``default_options``).
        reduction: a key of :data:`REDUCTIONS` for an input-level attribution, ``None`` for a
            layer attribution (summed over its channels).
        classes: the model outputs that are the dataset's classes (``--class-map``), passed as
            ``classes=`` to attributions whose ``attribute`` takes it (infoCAM, infoCAM+ by dotted
            path), so that they contrast with the same classes as the built-in methods.

    Returns:
        (B, 1, h, w) float32 maps, detached.

    Raises:
        ConfigurationError: the attribution fails on this model or with these options (Captum's
            own errors, e.g. DeepLift on a model that uses one ReLU module twice, as torchvision's
            ResNets do), or does not return a (B, C, h, w) tensor.
    """
    arguments = dict(options)
    inner = attribution.attribution_method if isinstance(attribution, NoiseTunnel) else attribution
    if classes is not None and "classes" in inspect.signature(inner.attribute).parameters:
        arguments["classes"] = classes
    try:
        result = attribution.attribute(images, target=target, **arguments)
    except (WSOLError, InfoCamError):
        raise
    except (RuntimeError, AssertionError, TypeError, ValueError) as error:
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise ConfigurationError(
            f"{type(inner).__name__}.attribute failed ({type(error).__name__}: {first_line}); "
            "the method does not support this model or these options: choose another method, "
            "or change its --method-option values"
        ) from error
    if isinstance(result, tuple | list):
        result = result[0]
    if not isinstance(result, Tensor) or result.dim() != 4:
        shape = tuple(result.shape) if isinstance(result, Tensor) else type(result).__name__
        raise ConfigurationError(
            f"{type(inner).__name__}.attribute returned {shape}; a map per image, shaped "
            "(B, C, h, w), is needed"
        )
    maps = result.detach().float()
    if reduction is None:
        return maps.sum(dim=1, keepdim=True)
    return REDUCTIONS[reduction](maps)
