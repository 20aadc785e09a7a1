r"""Class activation maps (CAM, Zhou et al. 2016) as a Captum layer attribution.

The shared machinery of every FC-weight method lives here too: one forward pass without autograd
that records the layer and the model output, the classifier head (given or found and verified),
and the map math of :mod:`infocam_captum.maps`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from captum.attr import LayerAttribution
from captum.log import log_usage
from torch import Tensor, nn

from infocam_captum import _captum_compat as compat
from infocam_captum import head
from infocam_captum._layer_forward import check_hookable, forward_with_layer
from infocam_captum.exceptions import HeadNotFoundError, InvalidArgumentError
from infocam_captum.maps import (
    ClassesType,
    Method,
    Padding,
    fc_weight_channel_maps,
    fc_weight_maps,
)
from infocam_captum.targets import check_target_form, class_indices


class FCWeightAttribution(LayerAttribution):
    """Base of the attributions computed from a layer's activations and the classifier weights.

    Gradient-free: the maps come from one forward pass under ``torch.no_grad`` and the weight of
    the Linear after global average pooling, so the output is detached and costs no backward
    pass. Subclasses choose the method (see :func:`infocam_captum.maps.fc_weight_maps`).

    The constructor and ``attribute`` take the arguments of :class:`captum.attr.LayerGradCam`
    in the same order, so code written for it runs unchanged. One object may serve several
    threads at once: the hooks and everything they record belong to the call
    (:mod:`infocam_captum._layer_forward`).
    """

    def __init__(
        self,
        forward_func: Callable[..., Any],
        layer: nn.Module,
        device_ids: list[int] | None = None,
        *,
        classifier: nn.Linear | Tensor | None = None,
    ) -> None:
        r"""Wrap ``forward_func`` and ``layer``, with the classifier head given or to be found.

        Args:
            forward_func (Callable): The forward function of the model or any modification of
                        it. Without ``classifier`` it must be an ``nn.Module`` (or a bound
                        method of one) so that its head can be found.
            layer (nn.Module): Layer whose activations are explained: the last convolutional
                        block, whose output the global average pooling reads. The module
                        docstring of :mod:`infocam_captum.head` lists the layer of each model
                        family (``model.layer4`` for ResNets). One layer: a list of layers is
                        refused.
            device_ids (list[int], optional): Device ID list, necessary only if forward_func
                        applies a DataParallel model, which allows reconstruction of
                        intermediate outputs from batched results across devices. If
                        forward_func is given as the DataParallel model itself, then it is not
                        necessary to provide this argument.
                        Default: None
            classifier (nn.Linear or Tensor, optional): Keyword-only. The Linear that maps the
                        pooled features to the logits, or its ``(K, C)`` weight. When given it
                        is trusted (only its channel count is checked, and the layer output is
                        used as is). When omitted, every ``nn.Linear`` of the model is a
                        candidate and, on each call, the one whose input equals the spatial mean
                        of ``layer``'s output and whose output is the model output is used;
                        :class:`~infocam_captum.exceptions.HeadNotFoundError` says why no
                        candidate qualified. The bias never enters a map.
                        Default: None

        Raises:
            HeadNotFoundError: ``classifier`` is omitted and ``forward_func`` is not a module or
                has no ``nn.Linear``.
            InvalidArgumentError: ``classifier`` is neither an ``nn.Linear`` nor a 2-D weight;
                ``device_ids`` is not a list of ints (a classifier passed third, in the 0.1
                order); ``layer`` is not one module; ``forward_func`` or ``layer`` is
                TorchScript (hooks cannot run inside it).
        """
        check_hookable(forward_func, layer)
        _check_device_ids(device_ids)
        LayerAttribution.__init__(self, forward_func, layer, device_ids)
        if classifier is not None:
            head.classifier_weight(classifier)
            self._search_root: nn.Module | None = None
        else:
            root = head.search_root(forward_func)
            if root is None:
                raise HeadNotFoundError(
                    f"forward_func is a {type(forward_func).__name__}, not an nn.Module, so its "
                    "classifier head cannot be found; pass classifier= (the nn.Linear after the "
                    "global average pooling, or its (K, C) weight)."
                )
            if not head.linear_candidates(root):
                raise HeadNotFoundError(
                    f"{type(root).__name__} has no nn.Linear module, so it has no GAP -> Linear "
                    "head; pass classifier= with the (K, C) weight that maps pooled features to "
                    "logits, or use LayerGradCam."
                )
            self._search_root = root
        self.classifier = classifier

    def _maps(
        self,
        method: Method,
        inputs: Tensor | tuple[Tensor, ...],
        target: compat.TargetType,
        additional_forward_args: object | None,
        attribute_to_layer_input: bool,
        relu_attributions: bool,
        attr_dim_summation: bool,
        window: int = 1,
        padding: Padding = "same",
        classes: ClassesType = None,
    ) -> Tensor:
        """Run the forward pass and compute one method's maps (shared by every subclass)."""
        if not isinstance(attr_dim_summation, bool):
            raise InvalidArgumentError(
                f"attr_dim_summation={attr_dim_summation!r} must be a bool (True: the map, "
                "False: the per-channel contributions); window, padding and classes are "
                "keyword-only."
            )
        formatted = compat.format_inputs(inputs)
        num_examples = formatted[0].shape[0]
        known_weight = None if self.classifier is None else head.classifier_weight(self.classifier)
        if known_weight is None:
            check_target_form(target, num_examples)
        else:
            class_indices(target, num_examples, known_weight.shape[0])
        features, weight, output = self._features_and_weight(
            formatted, additional_forward_args, attribute_to_layer_input, known_weight
        )
        logits = _logits(output, num_examples, weight.shape[0]) if method == "infocam+" else None
        with torch.no_grad():
            if attr_dim_summation:
                maps = fc_weight_maps(
                    features, logits, weight, target, (method,), window, padding, classes
                )[method]
            else:
                maps = fc_weight_channel_maps(
                    features, logits, weight, target, method, window, padding, classes
                )
            return F.relu(maps) if relu_attributions else maps

    def _features_and_weight(
        self,
        inputs: tuple[Tensor, ...],
        additional_forward_args: object | None,
        attribute_to_layer_input: bool,
        known_weight: Tensor | None,
    ) -> tuple[Tensor, Tensor, object]:
        """One forward pass: what the pooling averages, the classifier weight, the model output."""
        root = self._search_root
        candidates = {} if root is None else head.linear_candidates(root)
        record = forward_with_layer(
            self.forward_func,
            inputs,
            self.layer,
            compat.format_additional_forward_args(additional_forward_args),
            device_ids=self.device_ids,
            attribute_to_layer_input=attribute_to_layer_input,
            watch=candidates.values(),
        )
        features = head.single_feature_map(record.layer_tensors)
        if known_weight is None:
            found = head.match_head(
                features,
                record.output,
                {name: record.calls.get(module) for name, module in candidates.items()},
                candidates,
                model_training=root is not None and root.training,
            )
            return found.features_from(features), found.weight, record.output
        if known_weight.shape[1] != features.shape[1]:
            raise InvalidArgumentError(
                f"classifier takes {known_weight.shape[1]} features but the layer outputs "
                f"{features.shape[1]} channels; pass the Linear (or weight) that follows the "
                "global average pooling of this layer."
            )
        return features, known_weight, record.output


def _check_device_ids(device_ids: object) -> None:
    if device_ids is None:
        return
    if isinstance(device_ids, nn.Module | Tensor):
        raise InvalidArgumentError(
            f"device_ids is a {type(device_ids).__name__}: the third positional argument is "
            "device_ids, as in Captum's LayerGradCam (forward_func, layer, device_ids=None); "
            "pass the classifier as a keyword, classifier=... (the 0.1 order "
            "(forward_func, layer, classifier, device_ids) is gone)."
        )
    if not isinstance(device_ids, list | tuple) or not all(
        isinstance(index, int) and not isinstance(index, bool) for index in device_ids
    ):
        raise InvalidArgumentError(
            f"device_ids={device_ids!r} must be a list of int device indices (the DataParallel "
            "device_ids), or None."
        )


def _logits(output: object, num_examples: int, num_classes: int) -> Tensor:
    if isinstance(output, Tensor) and tuple(output.shape) == (num_examples, num_classes):
        return output
    got = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
    raise InvalidArgumentError(
        f"infoCAM+ ranks the classes by the model output, so forward_func must return "
        f"({num_examples}, {num_classes}) logits (or probabilities); it returned {got}."
    )


class LayerClassActivationMap(FCWeightAttribution):
    r"""Class activation maps (CAM) from the weights of a global-average-pooling -> Linear head.

    For the activations :math:`F` (``(N, C, h, w)``) of ``layer`` and the weight :math:`W`
    (``(K, C)``) of the Linear that follows the pooling, the map of target class :math:`y` is

    .. math::
        M_y(i, j) = \sum_c W_{y,c} \, F_c(i, j),

    so its spatial mean is the logit :math:`f_y` minus the bias. It equals ``h * w`` times
    :class:`captum.attr.LayerGradCam` for such heads, but needs no backward pass, and one forward
    pass serves every class. The maps are signed and unnormalised (ReLU only with
    ``relu_attributions=True``) and keep the layer's resolution; upsample them with
    :meth:`captum.attr.LayerAttribution.interpolate`.

    More details regarding the CAM method can be found in the original paper:
    https://arxiv.org/abs/1512.04150
    """

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
        r"""Compute the class activation maps of ``target`` for ``inputs``.

        The weights of class :math:`y` are the row :math:`W_y` of the classifier weight; the map
        is their weighted sum of the layer's channels, :math:`\sum_c W_{y,c} F_c`.

        Args:
            inputs (Tensor or tuple[Tensor, ...]): Input for which attributions are computed.
                        If forward_func takes a single tensor, a single tensor; if it takes
                        several, a tuple of them. Dimension 0 of every tensor is the batch.
            target (int, tuple, Tensor, or list): The class to explain for each example, in
                        every form :class:`captum.attr.LayerGradCam` accepts on a ``(N, K)``
                        output: an int, a 0-d / one-element tensor or a 1-tuple ``(c,)`` (the
                        same class for every example; negative values count from the end), a
                        list of ints or a 1-D tensor with one class per example, or a list of
                        1-tuples ``[(c1,), (c2,), ...]``. ``None`` is rejected: Captum never
                        takes the argmax for you; pass ``target=model(inputs).argmax(1)`` to
                        explain the predicted classes. See :mod:`infocam_captum.targets`.
            additional_forward_args (Any, optional): Arguments passed to forward_func after
                        ``inputs`` (a single value or a tuple), with dimension 0 as the batch for
                        tensors. Default: None
            attribute_to_layer_input (bool, optional): Explain the layer's input instead of its
                        output. Default: False
            relu_attributions (bool, optional): Apply a ReLU to the result (keeping only the
                        evidence for the class); with ``attr_dim_summation=False`` to each
                        channel's contribution, as LayerGradCam does. Default: False
            attr_dim_summation (bool, optional): ``True``: sum the channels' contributions
                        into one map. ``False``: return the contributions
                        :math:`W_{y,c} F_c` of every channel, ``(N, C, h, w)``, whose sum over
                        dimension 1 is the map (which channels carry the evidence).
                        Default: True
            grad_kwargs (dict, optional): Accepted for LayerGradCam compatibility and unused:
                        CAM takes no gradient. Default: None

        Returns:
            *Tensor* of **attributions**:
            - **attributions** (*Tensor*): ``(N, 1, h, w)`` signed maps at the layer's
              resolution (``(N, C, h, w)`` with ``attr_dim_summation=False``), detached from
              autograd. A Tensor whatever the form of ``inputs``, as LayerGradCam returns for a
              layer with one output tensor.

        Raises:
            TargetError: ``target`` is missing, of a form Captum refuses on a ``(N, K)`` output,
                of the wrong length or out of range.
            HeadNotFoundError: no GAP -> Linear head reads the layer (automatic head only).
            InvalidArgumentError: the layer output is not one ``(N, C, h, w)`` tensor, the layer
                did not run, or an explicit ``classifier`` does not fit it.

        Examples::

            >>> net = torchvision.models.resnet18(weights=None).eval()
            >>> cam = LayerClassActivationMap(net, net.layer4)
            >>> images = torch.randn(2, 3, 224, 224)
            >>> attribution = cam.attribute(images, target=[3, 7])   # (2, 1, 7, 7)
            >>> upsampled = LayerAttribution.interpolate(attribution, (224, 224), "bilinear")
        """
        return self._maps(
            "cam",
            inputs,
            target,
            additional_forward_args,
            attribute_to_layer_input,
            relu_attributions,
            attr_dim_summation,
        )
