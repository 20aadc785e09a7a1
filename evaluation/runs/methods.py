"""Attribution methods of the benchmark by name, with their options.

Built-in names, computed by the runner from ONE forward pass per batch:

- ``cam``, ``infocam``, ``infocam+``: FC-weight maps of the explained layer's activations
  (:func:`infocam_captum.maps.fc_weight_maps`);
- ``gradcam``, ``gradcam++``, ``xgradcam``, ``layercam``: Grad-CAM (identical to Captum's
  ``LayerGradCam``), Grad-CAM++, XGrad-CAM and LayerCAM
  (:func:`infocam_captum.gradient_weight_maps`), all from ONE backward pass of the target logits
  to the layer;
- ``scorecam``: Score-CAM, :class:`infocam_captum.LayerScoreCam` (its own masked forward passes;
  option ``batch_size``, default 32).

Any other name is a dotted path ``package.module.Class`` to a Captum attribution class:

- a layer attribution (a ``captum.attr.LayerAttribution``, e.g.
  ``captum.attr.LayerGradientXActivation`` or ``infocam_captum.LayerGradCamPlusPlus``): its
  ``(B, C, h, w)`` result is summed over the channels;
- an input attribution (``captum.attr.IntegratedGradients``, ``Saliency``, ``InputXGradient``,
  ``GuidedBackprop``, ``GuidedGradCam``, ``Occlusion``, ``DeepLift``, ``GradientShap``, ...):
  its ``(B, 3, H, W)`` result is reduced over the colour channels by the run's rule (``sum-abs``
  by default; :data:`~evaluation.runs.attribution_calls.REDUCTIONS`), one map at the input's
  resolution.

``NAME+smoothgrad``, ``NAME+smoothgrad_sq`` or ``NAME+vargrad`` wraps the class of ``NAME`` (a
dotted path or ``scorecam``) in Captum's ``NoiseTunnel`` with that ``nt_type``. Each class is
constructed by its signature and takes ``--method-option NAME.KEY=VALUE`` options
(:mod:`evaluation.runs.method_options`, :mod:`evaluation.runs.attribution_calls`, which also
lists the defaults the benchmark sets: baselines, Occlusion's window, batch sizes). Every method
is called with ``target`` = the ground-truth class.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from captum.attr import LayerAttribution, NeuronAttribution
from torch import nn

from evaluation.errors import ConfigurationError
from evaluation.runs.attribution_calls import (
    NOISE_TUNNEL_TYPES,
    REDUCTIONS,
    attribute_maps,
    construct,
    default_options,
    describe_defaults,
    split_options,
)
from evaluation.runs.method_options import describe, parse_method_options

FC_METHODS = ("cam", "infocam", "infocam+")
GRADIENT_METHODS = ("gradcam", "gradcam++", "xgradcam", "layercam")
CLASS_METHODS = {"scorecam": "infocam_captum.LayerScoreCam"}
BUILTIN_METHODS = (*FC_METHODS, *GRADIENT_METHODS, *CLASS_METHODS)
DEFAULT_REDUCTION = "sum-abs"

MethodKind = Literal["fc", "gradient", "layer", "input"]


@dataclass(frozen=True)
class Method:
    """A resolved method.

    Attributes:
        name: the name as the user wrote it (the key in results.json).
        kind: ``"fc"`` (CAM, infoCAM, infoCAM+) and ``"gradient"`` (the Grad-CAM family), computed
            by the runner; ``"layer"`` and ``"input"``: an attribution class at that level.
        attribution_class: the class of a ``"layer"`` or ``"input"`` method.
        noise_tunnel: the NoiseTunnel ``nt_type`` wrapped around the class, or ``None``.
        constructor_options: keyword arguments of the class's constructor.
        attribute_options: keyword arguments of its ``attribute`` call.
        reduction: the colour-channel rule of an ``"input"`` method, else ``None``.
    """

    name: str
    kind: MethodKind
    attribution_class: type | None = None
    noise_tunnel: str | None = None
    constructor_options: Mapping[str, Any] = field(default_factory=dict)
    attribute_options: Mapping[str, Any] = field(default_factory=dict)
    reduction: str | None = None

    def build(self, forward_func: Callable[..., torch.Tensor], layer: nn.Module) -> Any:
        """Construct the attribution of a ``"layer"`` or ``"input"`` method.

        Raises:
            ConfigurationError: the method is built in, or its constructor rejects the arguments.
        """
        if self.attribution_class is None:
            raise ConfigurationError(f"{self.name} is computed by the runner, not constructed")
        return construct(
            self.attribution_class, self.noise_tunnel, self.constructor_options, forward_func,
            layer,
        )

    def maps(
        self,
        attribution: Any,
        images: torch.Tensor,
        target: torch.Tensor,
        classes: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One (B, 1, h, w) float32 map per image from the built ``attribution``.

        Args:
            attribution: what :meth:`build` returned.
            images: (B, 3, S, S) model inputs.
            target: (B,) classes to explain.
            classes: the class subset of ``--class-map`` (see
                :func:`~evaluation.runs.attribution_calls.attribute_maps`).
        """
        if self.attribution_class is None:
            raise ConfigurationError(f"{self.name} is computed by the runner, not called")
        options = {
            **default_options(self.attribution_class, self.noise_tunnel, images),
            **self.attribute_options,
        }
        if self.noise_tunnel is not None:
            options["nt_type"] = self.noise_tunnel
        return attribute_maps(attribution, images, target, options, self.reduction, classes)

    def record(self) -> dict[str, Any]:
        """What ``results.json`` keeps of the method: kind, class, options, defaults, reduction."""
        cls = self.attribution_class
        options = {**self.constructor_options, **self.attribute_options}
        return {
            "kind": self.kind,
            "class": None if cls is None else f"{cls.__module__}.{cls.__qualname__}",
            "noise_tunnel": self.noise_tunnel,
            "options": describe(options),
            "defaults": {} if cls is None else describe_defaults(cls, self.noise_tunnel, options),
            "reduction": self.reduction,
        }


def valid_names_hint() -> str:
    """The sentence that lists the valid method names."""
    return (
        f"valid methods: {', '.join(BUILTIN_METHODS)}, or a dotted path package.module.Class to "
        "a Captum attribution, layer or input level (e.g. captum.attr.LayerGradientXActivation, "
        "captum.attr.IntegratedGradients), optionally followed by "
        f"{', '.join('+' + t for t in NOISE_TUNNEL_TYPES)} for Captum's NoiseTunnel"
    )


def _import_class(key: str) -> type:
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
    if issubclass(cls, NeuronAttribution):
        raise ConfigurationError(
            f"method {key!r} is a neuron attribution (it explains one neuron of a layer); the "
            "benchmark explains the target class: use a layer or input attribution"
        )
    return cls


def resolve_method(
    name: str, options: Mapping[str, Any] | None = None, reduction: str = DEFAULT_REDUCTION
) -> Method:
    """Resolve one method name with its options.

    Args:
        name: a built-in name or a dotted path ``package.module.Class``, each optionally with a
            ``+smoothgrad`` / ``+smoothgrad_sq`` / ``+vargrad`` suffix (not for built-ins
            computed by the runner).
        options: ``KEY -> value`` options of the method (``--method-option NAME.KEY=VALUE``).
        reduction: the colour-channel rule of an input-level method.

    Returns:
        The :class:`Method`.

    Raises:
        ConfigurationError: an unknown name or reduction, a path that does not import, an object
            that is not an attribution class, options that the method does not take.
    """
    if reduction not in REDUCTIONS:
        raise ConfigurationError(
            f"unknown input reduction {reduction!r}; choose one of {', '.join(REDUCTIONS)}"
        )
    key, options = name.strip(), dict(options or {})
    base, plus, suffix = key.rpartition("+")
    noise_tunnel = suffix if plus and suffix in NOISE_TUNNEL_TYPES else None
    base = base if noise_tunnel else key
    if base in (*FC_METHODS, *GRADIENT_METHODS):
        if noise_tunnel or options:
            raise ConfigurationError(
                f"method {key!r}: {base} is computed by the runner from the shared forward pass "
                "and takes no options or NoiseTunnel; for those use its class by dotted path "
                "(e.g. infocam_captum.LayerGradCamPlusPlus+smoothgrad)"
            )
        return Method(key, "fc" if base in FC_METHODS else "gradient")
    cls = _import_class(CLASS_METHODS.get(base, base))
    kind: MethodKind = "layer" if issubclass(cls, LayerAttribution) else "input"
    built, called = split_options(key, cls, noise_tunnel, options)
    return Method(key, kind, cls, noise_tunnel, built, called,
                  reduction if kind == "input" else None)


def resolve_methods(
    names: str | Sequence[str],
    options: Sequence[str] = (),
    reduction: str = DEFAULT_REDUCTION,
) -> list[Method]:
    """Resolve a comma-separated string or a sequence of names, refusing repeats and emptiness.

    Args:
        names: the methods.
        options: ``NAME.KEY=VALUE`` entries (:mod:`evaluation.runs.method_options`).
        reduction: the colour-channel rule of input-level methods.

    Raises:
        ConfigurationError: no method, a repeated method, an unknown one, or bad options.
    """
    items = names.split(",") if isinstance(names, str) else list(names)
    items = [n.strip() for n in items if n.strip()]
    if not items:
        raise ConfigurationError(f"no method given; {valid_names_hint()}")
    repeated = sorted({n for n in items if items.count(n) > 1})
    if repeated:
        raise ConfigurationError(f"method(s) {', '.join(repeated)} given more than once")
    parsed = parse_method_options(options, items)
    return [resolve_method(n, parsed.get(n), reduction) for n in items]
