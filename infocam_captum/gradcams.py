r"""Grad-CAM++, XGrad-CAM and LayerCAM as Captum layer attributions, drop-ins for ``LayerGradCam``.

Each call runs one forward pass that records the layer as a differentiable leaf
(:mod:`infocam_captum._layer_forward`), takes the gradient of the summed raw target scores with
respect to that leaf only (no parameter ``.grad`` is touched, the backward stops at the layer),
and weighs the activations with the formulas of :mod:`infocam_captum.gradient_maps`, pinned to
pytorch-grad-cam 1.5's definitions. Outputs are ``(N, 1, h, w)`` signed and unnormalised
(pytorch-grad-cam applies a ReLU, a per-image min-max scaling and a resize to the input; torchcam a
ReLU and the min-max scaling), detached from autograd.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from captum.attr import GradientAttribution, LayerAttribution
from captum.log import log_usage
from torch import Tensor, nn

from infocam_captum import _captum_compat as compat
from infocam_captum._layer_forward import check_hookable, forward_with_layer
from infocam_captum.exceptions import InvalidArgumentError
from infocam_captum.gradient_maps import (
    GradientMethod,
    gradient_channel_maps,
    gradient_weight_maps,
)
from infocam_captum.head import single_feature_map
from infocam_captum.targets import check_target_form, target_scores

__all__ = ["GradientWeightAttribution", "LayerCam", "LayerGradCamPlusPlus", "LayerXGradCam"]


class GradientWeightAttribution(LayerAttribution, GradientAttribution):
    """Base of the layer attributions that weigh activations with gradients of the target score.

    The constructor and ``attribute`` take the arguments of :class:`captum.attr.LayerGradCam`
    in the same order. Hooks and everything they record belong to the call, so one object may
    serve several threads at once. Subclasses name their method in :attr:`method`.
    """

    method: ClassVar[GradientMethod]

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
                        convolutional block (``model.layer4`` for ResNets). One layer: a list of
                        layers is refused.
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
        GradientAttribution.__init__(self, forward_func)

    def _maps(
        self,
        inputs: Tensor | tuple[Tensor, ...],
        target: compat.TargetType,
        additional_forward_args: object | None,
        attribute_to_layer_input: bool,
        relu_attributions: bool,
        attr_dim_summation: bool,
        grad_kwargs: dict[str, Any] | None,
    ) -> Tensor:
        """One forward and one backward to the layer, then the method's weighting."""
        formatted = compat.format_inputs(inputs)
        num_examples = formatted[0].shape[0]
        check_target_form(target, num_examples)
        record = forward_with_layer(
            self.forward_func,
            formatted,
            self.layer,
            compat.format_additional_forward_args(additional_forward_args),
            device_ids=self.device_ids,
            attribute_to_layer_input=attribute_to_layer_input,
            differentiable=True,
        )
        features = single_feature_map(record.layer_tensors)
        if not features.is_floating_point():
            raise InvalidArgumentError(
                f"the layer output is {features.dtype}; gradients need floating-point "
                "activations."
            )
        with torch.enable_grad():  # NoiseTunnel and users may call under torch.no_grad
            scores = target_scores(record.output, target, num_examples)
            (grads,) = record.layer_gradients(scores, grad_kwargs)
        with torch.no_grad():
            features = features.detach()
            if attr_dim_summation:
                maps = gradient_weight_maps(features, grads, (self.method,))[self.method]
            else:
                maps = gradient_channel_maps(features, grads, self.method)
            return torch.relu(maps) if relu_attributions else maps


class LayerGradCamPlusPlus(GradientWeightAttribution):
    r"""Grad-CAM++ (Chattopadhyay et al. 2018) as a Captum layer attribution.

    For the activations :math:`A` (``(N, C, h, w)``) of ``layer`` and the gradients
    :math:`g = \partial y^c / \partial A` of the raw target score :math:`y^c`:

    .. math::
        M = \sum_k w_k A_k, \quad w_k = \sum_{ij} \mathrm{relu}(g_k(i,j))\,\alpha_k(i,j), \quad
        \alpha_k = \frac{g_k^2}{2 g_k^2 + \big(\sum_{ij} A_k(i,j)\big) g_k^3 + \epsilon},

    with :math:`\epsilon = 10^{-6}` and :math:`\alpha_k(i, j) = 0` where :math:`g_k(i, j) = 0`:
    the definition of pytorch-grad-cam 1.5 (``GradCAMPlusPlus``), which takes the closed form of
    the paper's alphas for an exponential score with the gradients of the raw score. torchcam
    0.5's ``GradCAMpp`` differs: its denominator sums :math:`g_k^3 A_k` over the cells, and its
    in-place division acts on a copy (boolean-mask indexing), so its weights come out as
    :math:`\sum_{ij} \mathrm{relu}(g_k)\, g_k^2`.
    Signed and unnormalised (ReLU only with ``relu_attributions=True``).

    More details regarding the Grad-CAM++ method can be found in the original paper:
    https://arxiv.org/abs/1710.11063
    """

    method: ClassVar[GradientMethod] = "gradcam++"

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
    ) -> Tensor:
        r"""Compute the Grad-CAM++ maps of ``target`` for ``inputs``.

        Args:
            inputs (Tensor or tuple[Tensor, ...]): Input for which attributions are computed.
                        If forward_func takes a single tensor, a single tensor; if it takes
                        several, a tuple of them. Dimension 0 of every tensor is the batch.
            target (int, tuple, Tensor, or list): The class to explain for each example, in
                        every form :class:`captum.attr.LayerGradCam` accepts on a ``(N, K)``
                        output (see :mod:`infocam_captum.targets`). ``None`` is rejected:
                        Captum never takes the argmax for you.
            additional_forward_args (Any, optional): Arguments passed to forward_func after
                        ``inputs`` (a single value or a tuple), with dimension 0 as the batch for
                        tensors. Default: None
            attribute_to_layer_input (bool, optional): Explain the layer's input instead of its
                        output. Default: False
            relu_attributions (bool, optional): Apply a ReLU to the result (to each channel's
                        contribution with ``attr_dim_summation=False``). Default: False
            attr_dim_summation (bool, optional): ``True``: the map ``(N, 1, h, w)``.
                        ``False``: every channel's contribution :math:`w_k A_k`,
                        ``(N, C, h, w)``, whose sum over dimension 1 is the map. Default: True
            grad_kwargs (dict, optional): Further keyword arguments of
                        :func:`torch.autograd.grad`. Default: None

        Returns:
            *Tensor* of **attributions**:
            - **attributions** (*Tensor*): ``(N, 1, h, w)`` signed, unnormalised maps at the
              layer's resolution, detached from autograd; a Tensor whatever the form of
              ``inputs``. Upsample them with :meth:`LayerAttribution.interpolate`.

        Raises:
            TargetError: ``target`` is missing, of a form Captum refuses on a ``(N, K)`` output,
                of the wrong length or out of range.
            InvalidArgumentError: forward_func does not return ``(N, K)`` scores, the layer
                output is not one ``(N, C, h, w)`` tensor, or the layer did not run.

        Examples::

            >>> net = torchvision.models.resnet18(weights=None).eval()
            >>> explainer = LayerGradCamPlusPlus(net, net.layer4)
            >>> maps = explainer.attribute(torch.randn(2, 3, 224, 224), target=[3, 7])
            >>> LayerAttribution.interpolate(maps, (224, 224), "bilinear").shape
            torch.Size([2, 1, 224, 224])
        """
        return self._maps(
            inputs,
            target,
            additional_forward_args,
            attribute_to_layer_input,
            relu_attributions,
            attr_dim_summation,
            grad_kwargs,
        )


class LayerXGradCam(GradientWeightAttribution):
    r"""XGrad-CAM (Fu et al. 2020) as a Captum layer attribution.

    For the activations :math:`A` (``(N, C, h, w)``) of ``layer`` and the gradients
    :math:`g = \partial y^c / \partial A` of the raw target score :math:`y^c`:

    .. math::
        M = \sum_k w_k A_k, \qquad
        w_k = \sum_{ij} \frac{g_k(i,j)\, A_k(i,j)}{\sum_{mn} A_k(m,n) + \epsilon},

    with :math:`\epsilon = 10^{-7}`, as pytorch-grad-cam 1.5 (``XGradCAM``; torchcam 0.5 uses
    :math:`\epsilon = 10^{-8}`). Signed and unnormalised (ReLU only with
    ``relu_attributions=True``).

    More details regarding the XGrad-CAM method can be found in the original paper:
    https://arxiv.org/abs/2008.02312
    """

    method: ClassVar[GradientMethod] = "xgradcam"

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
    ) -> Tensor:
        r"""Compute the XGrad-CAM maps of ``target`` for ``inputs``.

        Args:
            inputs (Tensor or tuple[Tensor, ...]): Input for which attributions are computed.
                        If forward_func takes a single tensor, a single tensor; if it takes
                        several, a tuple of them. Dimension 0 of every tensor is the batch.
            target (int, tuple, Tensor, or list): The class to explain for each example, in
                        every form :class:`captum.attr.LayerGradCam` accepts on a ``(N, K)``
                        output (see :mod:`infocam_captum.targets`). ``None`` is rejected:
                        Captum never takes the argmax for you.
            additional_forward_args (Any, optional): Arguments passed to forward_func after
                        ``inputs`` (a single value or a tuple), with dimension 0 as the batch for
                        tensors. Default: None
            attribute_to_layer_input (bool, optional): Explain the layer's input instead of its
                        output. Default: False
            relu_attributions (bool, optional): Apply a ReLU to the result (to each channel's
                        contribution with ``attr_dim_summation=False``). Default: False
            attr_dim_summation (bool, optional): ``True``: the map ``(N, 1, h, w)``.
                        ``False``: every channel's contribution :math:`w_k A_k`,
                        ``(N, C, h, w)``, whose sum over dimension 1 is the map. Default: True
            grad_kwargs (dict, optional): Further keyword arguments of
                        :func:`torch.autograd.grad`. Default: None

        Returns:
            *Tensor* of **attributions**:
            - **attributions** (*Tensor*): ``(N, 1, h, w)`` signed, unnormalised maps at the
              layer's resolution, detached from autograd; a Tensor whatever the form of
              ``inputs``.

        Raises:
            TargetError: ``target`` is missing, of a form Captum refuses on a ``(N, K)`` output,
                of the wrong length or out of range.
            InvalidArgumentError: forward_func does not return ``(N, K)`` scores, the layer
                output is not one ``(N, C, h, w)`` tensor, or the layer did not run.

        Examples::

            >>> net = torchvision.models.resnet18(weights=None).eval()
            >>> maps = LayerXGradCam(net, net.layer4).attribute(torch.randn(2, 3, 224, 224), 5)
        """
        return self._maps(
            inputs,
            target,
            additional_forward_args,
            attribute_to_layer_input,
            relu_attributions,
            attr_dim_summation,
            grad_kwargs,
        )


class LayerCam(GradientWeightAttribution):
    r"""LayerCAM (Jiang et al. 2021) as a Captum layer attribution.

    Not the class activation map (CAM) of Zhou et al., which is
    :class:`~infocam_captum.LayerClassActivationMap`. For the activations :math:`A`
    (``(N, C, h, w)``) of ``layer`` and the gradients :math:`g = \partial y^c / \partial A` of
    the raw target score :math:`y^c`, every cell gets its own weight:

    .. math::
        M(i, j) = \sum_k \mathrm{relu}\big(g_k(i, j)\big)\, A_k(i, j),

    as pytorch-grad-cam 1.5 (``LayerCAM``) and torchcam 0.5 compute one layer's map (torchcam's
    multi-layer fusion with ``tanh`` scaling is not part of it). Signed and unnormalised (ReLU
    only with ``relu_attributions=True``).

    More details regarding the LayerCAM method can be found in the original paper:
    https://ieeexplore.ieee.org/document/9462463
    """

    method: ClassVar[GradientMethod] = "layercam"

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
    ) -> Tensor:
        r"""Compute the LayerCAM maps of ``target`` for ``inputs``.

        Args:
            inputs (Tensor or tuple[Tensor, ...]): Input for which attributions are computed.
                        If forward_func takes a single tensor, a single tensor; if it takes
                        several, a tuple of them. Dimension 0 of every tensor is the batch.
            target (int, tuple, Tensor, or list): The class to explain for each example, in
                        every form :class:`captum.attr.LayerGradCam` accepts on a ``(N, K)``
                        output (see :mod:`infocam_captum.targets`). ``None`` is rejected:
                        Captum never takes the argmax for you.
            additional_forward_args (Any, optional): Arguments passed to forward_func after
                        ``inputs`` (a single value or a tuple), with dimension 0 as the batch for
                        tensors. Default: None
            attribute_to_layer_input (bool, optional): Explain the layer's input instead of its
                        output. Default: False
            relu_attributions (bool, optional): Apply a ReLU to the result (to each channel's
                        contribution with ``attr_dim_summation=False``). Default: False
            attr_dim_summation (bool, optional): ``True``: the map ``(N, 1, h, w)``.
                        ``False``: every channel's contribution
                        :math:`\mathrm{relu}(g_k) \odot A_k`, ``(N, C, h, w)``, whose sum over
                        dimension 1 is the map. Default: True
            grad_kwargs (dict, optional): Further keyword arguments of
                        :func:`torch.autograd.grad`. Default: None

        Returns:
            *Tensor* of **attributions**:
            - **attributions** (*Tensor*): ``(N, 1, h, w)`` signed, unnormalised maps at the
              layer's resolution, detached from autograd; a Tensor whatever the form of
              ``inputs``.

        Raises:
            TargetError: ``target`` is missing, of a form Captum refuses on a ``(N, K)`` output,
                of the wrong length or out of range.
            InvalidArgumentError: forward_func does not return ``(N, K)`` scores, the layer
                output is not one ``(N, C, h, w)`` tensor, or the layer did not run.

        Examples::

            >>> net = torchvision.models.resnet18(weights=None).eval()
            >>> maps = LayerCam(net, net.layer4).attribute(torch.randn(2, 3, 224, 224), [1, 2])
        """
        return self._maps(
            inputs,
            target,
            additional_forward_args,
            attribute_to_layer_input,
            relu_attributions,
            attr_dim_summation,
            grad_kwargs,
        )
