"""Every method's maps for one batch from ONE forward pass (plus one backward for the gradients).

A forward hook on the explained layer keeps its activations ``F`` (B, C, h, w); the logits give
the predictions. CAM, infoCAM and infoCAM+ come from ``F``, the logits and the classifier weight
(:func:`infocam_captum.maps.fc_weight_maps`). Grad-CAM, Grad-CAM++, XGrad-CAM and LayerCAM share
ONE gradient of the target logits with respect to ``F`` (the backward stops at the layer: the
model's parameters are frozen, so the backbone records no graph) and weigh ``F`` with
:func:`infocam_captum.gradient_weight_maps`; Grad-CAM is exactly Captum's ``LayerGradCam``
(``sum_c mean_{ij}(d f_y / d F_c[i, j]) * F_c``, no ReLU). Score-CAM and dotted-path Captum
methods run their own ``attribute`` call (:meth:`evaluation.runs.methods.Method.maps`).

With a class subset (an ImageNet-1k head evaluated on the 200 Tiny-ImageNet classes) the
targets are ``classes[label]``, the returned logits are the subset's columns (so predictions are
dataset labels) and infoCAM/infoCAM+ compare with the subset's classes only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from evaluation.models.backbones import CamModel
from evaluation.runs.methods import Method
from infocam_captum.gradient_maps import gradient_weight_maps
from infocam_captum.maps import fc_weight_maps


@dataclass
class BatchResult:
    """What :meth:`BatchAttributor.__call__` returns.

    Attributes:
        logits: (B, K') float32 logits, K' = the subset's size with a class subset, else K.
        maps: method name -> (B, 1, h', w') float32 signed, unnormalised maps.
        seconds: ``"forward"`` and each method's own time in seconds (the gradient methods: an
            equal share of the backward and their maps; a Captum method or Score-CAM: its whole
            ``attribute`` call).
    """

    logits: torch.Tensor
    maps: dict[str, torch.Tensor]
    seconds: dict[str, float] = field(default_factory=dict)


class BatchAttributor:
    """Compute the maps of several methods for batches of images.

    Args:
        model: the :class:`~evaluation.models.backbones.CamModel`; its parameters are frozen
            (``requires_grad_(False)``) and it is put in evaluation mode on ``device``.
        methods: resolved methods (:func:`evaluation.runs.methods.resolve_methods`).
        window: region size of infoCAM and infoCAM+.
        padding: ``"same"`` or ``"full"`` (see :func:`infocam_captum.maps.region_sum`).
        device: where the model runs.
        classes: optional class subset: ``classes[label]`` is the model's logit of dataset
            label ``label``.
        amp: run the forward pass under ``torch.autocast`` in float16 (CUDA only; ignored on
            other devices). Maps and metrics are computed in float32.
    """

    def __init__(
        self,
        model: CamModel,
        methods: Sequence[Method],
        window: int,
        padding: str,
        device: torch.device,
        classes: Sequence[int] | None = None,
        amp: bool = False,
    ) -> None:
        self.model = model
        self.methods = list(methods)
        self.window = window
        self.padding = padding
        self.device = device
        self.amp = amp
        model.module.to(device).eval().requires_grad_(False)
        self.classes = (
            None if classes is None else torch.as_tensor(list(classes), device=device)
        )
        self._fc = [m.name for m in self.methods if m.kind == "fc"]
        self._gradient = [m.name for m in self.methods if m.kind == "gradient"]
        self._called = {
            m.name: (m, m.build(model.module, model.layer))
            for m in self.methods
            if m.kind in ("layer", "input")
        }

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> BatchResult:
        """Maps of every method for the dataset labels ``labels`` (GT-known) of ``images``.

        Args:
            images: (B, 3, S, S) normalised images (moved to the device here).
            labels: (B,) dataset labels.

        Returns:
            The :class:`BatchResult`.
        """
        images = images.to(self.device, non_blocking=True)
        labels = labels.to(self.device, non_blocking=True)
        target = labels if self.classes is None else self.classes[labels]
        seconds: dict[str, float] = {}
        start = self._now()
        need_grad = bool(self._gradient)
        with self._capture() as captured, torch.set_grad_enabled(need_grad), self._autocast():
            logits = self.model.module(images)
        features = captured["features"]
        seconds["forward"] = self._now() - start
        maps: dict[str, torch.Tensor] = {}
        if self._fc:
            start = self._now()
            fc_maps = fc_weight_maps(
                features.detach().float(),
                logits.detach().float(),
                self.model.classifier.weight.detach().float(),
                target,
                methods=self._fc,  # type: ignore[arg-type]
                window=self.window,
                padding=self.padding,  # type: ignore[arg-type]
                classes=self.classes,
            )
            maps.update({name: fc_maps[name] for name in self._fc})  # type: ignore[index]
            elapsed = self._now() - start
            seconds.update({name: elapsed / len(self._fc) for name in self._fc})
        if self._gradient:
            start = self._now()
            maps.update(gradient_maps_from(features, logits, target, self._gradient))
            elapsed = self._now() - start
            seconds.update({name: elapsed / len(self._gradient) for name in self._gradient})
        for name, (method, attribution) in self._called.items():
            start = self._now()
            with self._autocast():
                maps[name] = method.maps(attribution, images, target, self.classes)
            seconds[name] = self._now() - start
        logits = logits.detach().float()
        if self.classes is not None:
            logits = logits.index_select(1, self.classes)
        return BatchResult(logits=logits, maps=maps, seconds=seconds)

    @contextmanager
    def _capture(self) -> Iterator[dict[str, torch.Tensor]]:
        """Hook the layer: keep its output as a leaf (requiring grad for the gradient methods).

        The model continues with a clone, so in-place operations after the layer cannot alter
        the kept activations, and the gradient of the logits reaches the leaf.
        """
        captured: dict[str, torch.Tensor] = {}
        need_grad = bool(self._gradient)

        def hook(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
            leaf = output.detach()
            if need_grad:
                leaf.requires_grad_(True)
            captured["features"] = leaf
            return leaf.clone()

        handle = self.model.layer.register_forward_hook(hook)
        try:
            yield captured
        finally:
            handle.remove()

    def _autocast(self) -> Any:
        if not (self.amp and self.device.type == "cuda"):
            return nullcontext()
        return torch.autocast(device_type="cuda", dtype=torch.float16)

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()


def gradient_maps_from(
    features: torch.Tensor,
    logits: torch.Tensor,
    target: torch.Tensor,
    methods: Sequence[str],
) -> dict[str, torch.Tensor]:
    """The gradient methods' maps of ``target`` from ONE backward pass of the target logits.

    Args:
        features: (B, C, h, w) leaf activations with ``requires_grad``.
        logits: (B, K) computed from ``features``.
        target: (B,) classes.
        methods: names among ``gradcam``, ``gradcam++``, ``xgradcam``, ``layercam``.

    Returns:
        method -> (B, 1, h, w) float32 maps (float16 activations and gradients under AMP are
        promoted first); ``gradcam`` performs Captum's ``LayerGradCam`` operations in order.
    """
    score = logits.gather(1, target[:, None]).squeeze(1)
    (grads,) = torch.autograd.grad(torch.unbind(score), features)
    return dict(
        gradient_weight_maps(features.detach().float(), grads.float(), methods)  # type: ignore[arg-type]
    )
