r"""Score-CAM (Wang et al. 2020) as a Captum layer attribution: gradient-free, masked passes.

The definition is torchcam 0.5's ``ScoreCAM``. For the activations :math:`A` (``(N, C, h, w)``)
of the layer, each channel is min-max normalised at the layer's resolution,
:math:`\hat A_k = (A_k - \min A_k) / (\max A_k - \min A_k + 10^{-8})`, upsampled bilinearly
(``align_corners=False``) to the input's ``H x W`` and multiplied into the input; the raw target
score :math:`y^c` of every masked input, softmax-ed over the channels, weighs the raw activations:

.. math::
    M = \sum_k w_k A_k, \qquad w = \mathrm{softmax}_k\big(y^c(X \odot U(\hat A_k))\big).

torchcam subtracts the unmasked input's score before the softmax, which the softmax ignores (it
is the same for every channel), so that forward pass is skipped here. pytorch-grad-cam 1.5's
``ScoreCAM`` differs in the masks: it upsamples first, with ``align_corners=True``
(``nn.UpsamplingBilinear2d``), and min-max normalises the upsampled map; the scores and the
softmax are the same.

Cost: one masked forward pass per channel and image (2048 per image for ResNet-50's ``layer4``),
run ``batch_size`` masked inputs at a time across the batch. Channels whose normalised masks are
equal within an image (every constant channel, e.g. all zero after a ReLU, gives the zero mask)
share one forward pass: the same masked input, the same score.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from captum.attr import LayerAttribution
from captum.log import log_usage
from torch import Tensor, nn

from infocam_captum import _captum_compat as compat
from infocam_captum._layer_forward import check_hookable, forward_with_layer
from infocam_captum.exceptions import InvalidArgumentError
from infocam_captum.head import single_feature_map
from infocam_captum.targets import check_target_form, class_indices, class_scores

__all__ = ["SCORE_CAM_EPS", "LayerScoreCam", "score_cam_masks", "score_cam_weights"]

SCORE_CAM_EPS = 1e-8
"""The :math:`\\epsilon` of the masks' min-max normalisation (torchcam 0.5)."""


def score_cam_masks(features: Tensor) -> Tensor:
    r"""Every channel min-max normalised over its cells, at the layer's resolution.

    Channel ``k`` becomes :math:`(A_k - \min A_k) / (\max A_k - \min A_k + 10^{-8})`; a
    constant channel gives 0.

    Args:
        features (Tensor): ``(N, C, h, w)`` activations.

    Returns:
        Tensor: ``(N, C, h, w)`` masks in ``[0, 1]``, in the dtype of ``features``.
    """
    flat = features.flatten(2)
    shifted = flat - flat.amin(dim=2, keepdim=True)
    return (shifted / (shifted.amax(dim=2, keepdim=True) + SCORE_CAM_EPS)).view_as(features)


def score_cam_weights(
    forward_func: Callable[..., Any],
    inputs: tuple[Tensor, ...],
    additional_forward_args: tuple[Any, ...] | None,
    masks: Tensor,
    target: Tensor,
    batch_size: int,
) -> Tensor:
    r"""The softmax over channels of each masked input's target score, :math:`w` above.

    Every input tensor (``(N, C_in, H, W)``) is multiplied by each mask upsampled bilinearly to
    its ``H x W``; tensors among ``additional_forward_args`` follow their example. Masks that are
    equal within an example are scored once.

    Args:
        forward_func (Callable): The model; returns ``(n, K)`` scores for ``n`` masked inputs.
        inputs (tuple[Tensor, ...]): The formatted inputs.
        additional_forward_args (tuple, optional): Formatted extra arguments.
        masks (Tensor): ``(N, C, h, w)`` masks of :func:`score_cam_masks`.
        target (Tensor): ``(N,)`` int64 target classes.
        batch_size (int): Masked inputs per forward pass.

    Returns:
        Tensor: ``(N, C)`` weights, each row summing to 1.

    Raises:
        InvalidArgumentError: an input is not a floating ``(N, C_in, H, W)`` tensor, or the
            model does not return ``(n, K)`` scores.
    """
    for tensor in inputs:
        if tensor.dim() != 4 or not tensor.is_floating_point():
            raise InvalidArgumentError(
                f"Score-CAM multiplies every input by upsampled masks, so each input must be a "
                f"floating-point (N, C, H, W) image batch; got {tensor.dtype} of shape "
                f"{tuple(tensor.shape)}."
            )
    num_examples, channels = masks.shape[:2]
    flat = masks.flatten(0, 1)
    example = torch.arange(num_examples, device=masks.device).repeat_interleave(channels)
    keys = torch.cat([example[:, None].double(), flat.flatten(1).double()], dim=1)
    _, inverse = torch.unique(keys, dim=0, return_inverse=True)
    count = int(inverse.max()) + 1
    first = torch.full((count,), flat.shape[0], dtype=torch.long, device=masks.device)
    first = first.scatter_reduce(
        0, inverse, torch.arange(flat.shape[0], device=masks.device), "amin"
    )
    scores = []
    for start in range(0, count, batch_size):
        rows = first[start : start + batch_size]
        owners = example[rows]
        masked = tuple(
            tensor[owners]
            * F.interpolate(
                flat[rows, None].to(tensor.dtype),
                size=tuple(tensor.shape[2:]),
                mode="bilinear",
                align_corners=False,
            )
            for tensor in inputs
        )
        output = forward_func(*masked, *_rows_of(additional_forward_args, owners))
        chosen = class_scores(output, len(rows)).gather(1, target[owners, None].to(output.device))
        scores.append(chosen.squeeze(1).to(masks.device))
    return torch.softmax(torch.cat(scores)[inverse].view(num_examples, channels), dim=1)


def _eager_compiled_code() -> AbstractContextManager[Any]:
    """Run ``torch.compile`` code eagerly in the hooked pass (torch >= 2.6; else no change).

    The masked passes run the compiled model at other batch sizes, so dynamo recompiles it with
    dynamic shapes and without hooks; a later hooked no-grad pass of the same size may then reuse
    that graph and skip the layer's hook (Captum's ``LayerActivation`` fails the same way). One
    eager pass per call avoids it and costs one of the ``C + 1`` passes. Dynamo is loaded only
    once something was compiled (importing it takes seconds); until then nothing changes.
    """
    set_stance = getattr(torch.compiler, "set_stance", None)
    if set_stance is None or "torch._dynamo" not in sys.modules:
        return nullcontext()
    return set_stance("force_eager")


def _rows_of(args: tuple[Any, ...] | None, rows: Tensor) -> tuple[Any, ...]:
    """``args`` with every batched tensor indexed by ``rows`` (dimension 0 is the batch)."""
    if args is None:
        return ()
    return tuple(
        arg[rows.to(arg.device)] if isinstance(arg, Tensor) and arg.dim() > 0 else arg
        for arg in args
    )


class LayerScoreCam(LayerAttribution):
    r"""Score-CAM (Wang et al. 2020) as a Captum layer attribution, batched across images.

    .. math::
        M = \sum_k w_k A_k, \qquad w = \mathrm{softmax}_k\big(y^c(X \odot U(\hat A_k))\big),
        \qquad \hat A_k = \frac{A_k - \min A_k}{\max A_k - \min A_k + 10^{-8}},

    with :math:`U` the bilinear upsampling to the input size and :math:`y^c` the raw target
    score: torchcam 0.5's ``ScoreCAM`` (the module docstring says where pytorch-grad-cam's
    differs). Gradient-free; signed and unnormalised (ReLU only with ``relu_attributions=True``).

    Cost and memory: one forward pass per channel and image, at most; ``batch_size`` masked
    inputs run together, taken across the batch, so a call holds ``batch_size`` x the input's
    size (``C_in x H x W``) x its dtype's bytes of masked inputs (ResNet-50 at 224 px in float32:
    32 x 3 x 224 x 224 x 4 B = 19 MB) plus the activations of one forward pass of ``batch_size``
    images; the masks themselves stay at the layer's resolution.

    More details regarding the Score-CAM method can be found in the original paper:
    https://arxiv.org/abs/1910.01279
    """

    def __init__(
        self,
        forward_func: Callable[..., Any],
        layer: nn.Module,
        device_ids: list[int] | None = None,
    ) -> None:
        r"""Wrap ``forward_func`` and the ``layer`` to explain.

        Args:
            forward_func (Callable): The forward function of the model or any modification of
                        it; it must return ``(N, K)`` class scores.
            layer (nn.Module): Layer whose activations are explained, usually the last
                        convolutional block (``model.layer4`` for ResNets).
            device_ids (list[int], optional): Device ID list, necessary only if forward_func
                        applies a DataParallel model, which allows reconstruction of
                        intermediate outputs from batched results across devices. If
                        forward_func is given as the DataParallel model itself, then it is not
                        necessary to provide this argument.
                        Default: None

        Raises:
            InvalidArgumentError: ``layer`` is not one module, or ``forward_func`` or ``layer``
                is TorchScript (hooks cannot run inside it).
        """
        check_hookable(forward_func, layer)
        LayerAttribution.__init__(self, forward_func, layer, device_ids)

    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: compat.TargetType = None,
        additional_forward_args: object | None = None,
        attribute_to_layer_input: bool = False,
        relu_attributions: bool = False,
        attr_dim_summation: bool = True,
        grad_kwargs: dict[str, Any] | None = None,
        *,
        batch_size: int = 32,
    ) -> Tensor:
        r"""Compute the Score-CAM maps of ``target`` for ``inputs``.

        Args:
            inputs (Tensor or tuple[Tensor, ...]): Input for which attributions are computed:
                        one ``(N, C_in, H, W)`` image batch, or a tuple of them (each is
                        masked). Dimension 0 of every tensor is the batch.
            target (int, tuple, Tensor, or list): The class to explain for each example, in
                        every form :class:`captum.attr.LayerGradCam` accepts on a ``(N, K)``
                        output (see :mod:`infocam_captum.targets`). ``None`` is rejected:
                        Captum never takes the argmax for you.
            additional_forward_args (Any, optional): Arguments passed to forward_func after
                        ``inputs`` (a single value or a tuple), with dimension 0 as the batch for
                        tensors; they are not masked. Default: None
            attribute_to_layer_input (bool, optional): Explain the layer's input instead of its
                        output. Default: False
            relu_attributions (bool, optional): Apply a ReLU to the result (to each channel's
                        contribution with ``attr_dim_summation=False``). Default: False
            attr_dim_summation (bool, optional): ``True``: the map ``(N, 1, h, w)``.
                        ``False``: every channel's contribution :math:`w_k A_k`,
                        ``(N, C, h, w)``, whose sum over dimension 1 is the map. Default: True
            grad_kwargs (dict, optional): Accepted for LayerGradCam compatibility and unused:
                        Score-CAM takes no gradient. Default: None
            batch_size (int, optional): Keyword-only. Masked inputs per forward pass (the
                        memory this takes is in the class docstring). Default: 32

        Returns:
            *Tensor* of **attributions**:
            - **attributions** (*Tensor*): ``(N, 1, h, w)`` signed, unnormalised maps at the
              layer's resolution, detached from autograd; a Tensor whatever the form of
              ``inputs``.

        Raises:
            TargetError: ``target`` is missing, of a form Captum refuses on a ``(N, K)`` output,
                of the wrong length or out of range.
            InvalidArgumentError: a bad ``batch_size``; an input that is not a floating
                ``(N, C_in, H, W)`` tensor; forward_func does not return ``(N, K)`` scores; the
                layer output is not one ``(N, C, h, w)`` tensor, or the layer did not run.

        Examples::

            >>> net = torchvision.models.resnet18(weights=None).eval()
            >>> score_cam = LayerScoreCam(net, net.layer4)
            >>> maps = score_cam.attribute(torch.randn(2, 3, 224, 224), [3, 7], batch_size=64)
        """
        if (
            not isinstance(batch_size, numbers.Integral)
            or isinstance(batch_size, bool)
            or batch_size < 1
        ):
            raise InvalidArgumentError(
                f"batch_size={batch_size!r} must be a positive int (masked inputs per forward "
                "pass)."
            )
        formatted = compat.format_inputs(inputs)
        num_examples = formatted[0].shape[0]
        check_target_form(target, num_examples)
        extra = compat.format_additional_forward_args(additional_forward_args)
        with _eager_compiled_code():
            record = forward_with_layer(
                self.forward_func,
                formatted,
                self.layer,
                extra,
                device_ids=self.device_ids,
                attribute_to_layer_input=attribute_to_layer_input,
            )
        features = single_feature_map(record.layer_tensors)
        scores = class_scores(record.output, num_examples)
        classes = class_indices(target, num_examples, scores.shape[1], features.device)
        with torch.no_grad():
            weights = score_cam_weights(
                self.forward_func,
                formatted,
                extra,
                score_cam_masks(features),
                classes,
                int(batch_size),
            ).to(features.dtype)
            contributions = weights[:, :, None, None] * features
            maps = contributions.sum(1, keepdim=True) if attr_dim_summation else contributions
            return torch.relu(maps) if relu_attributions else maps
