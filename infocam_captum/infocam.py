r"""infoCAM and infoCAM+ (Qin, Kim & Gedeon) as Captum layer attributions.

With a global-average-pooling -> Linear head, the pointwise mutual information difference
:math:`\mathrm{PMI}(x, y) - \mathrm{PMI}(x, y') = f_y(x) - f_{y'}(x)` is a sum over the spatial
cells of the layer, so the difference of two class activation maps shows where the evidence for
``y`` against ``y'`` lies. infoCAM compares the target with the mean of the other classes,
infoCAM+ with the least likely class; both then sum every ``window`` x ``window`` region.
"""

from __future__ import annotations

from typing import Any

from captum.log import log_usage
from torch import Tensor

from infocam_captum import _captum_compat as compat
from infocam_captum.cam import FCWeightAttribution
from infocam_captum.maps import ClassesType, Padding


class LayerInfoCam(FCWeightAttribution):
    r"""infoCAM: the target's class activation map minus the mean map of the other classes.

    For the activations :math:`F` (``(N, C, h, w)``) of ``layer``, the weight :math:`W`
    (``(K, C)``) of the Linear after global average pooling and the target :math:`y`:

    .. math::
        \mathrm{infoCAM}_y = \Sigma_k \Big[ \sum_c \Big( W_{y,c} - \frac{1}{|S| - 1}
        \sum_{y' \in S \setminus \{y\}} W_{y',c} \Big) F_c \Big],

    where :math:`S` is ``classes`` (default: all :math:`K` classes) and :math:`\Sigma_k` sums
    every :math:`k \times k` region (``window``). Before the region sum, the spatial mean of the
    map is :math:`f_y - \frac{1}{|S|-1}\sum_{y' \neq y} f_{y'}` (bias aside): the information
    that the image carries about ``y`` against the other classes, cell by cell. With ``window=1``
    it equals ``h * w`` times :class:`captum.attr.LayerGradCam` applied to the logits
    :math:`f - (\sum f - f)/(K - 1)`.

    One forward pass under ``torch.no_grad``, no backward pass; the output is signed and
    unnormalised (ReLU only with ``relu_attributions=True``).

    More details can be found in the original paper: https://arxiv.org/abs/1911.10688
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
        *,
        window: int = 3,
        padding: Padding = "same",
        classes: ClassesType = None,
    ) -> Tensor:
        r"""Compute the infoCAM maps of ``target`` for ``inputs``.

        The weights of class :math:`y` are :math:`W_y - \frac{1}{|S|-1}\sum_{y' \in S
        \setminus \{y\}} W_{y'}`; their map over the layer's channels is then summed over every
        ``window`` x ``window`` region.

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
            relu_attributions (bool, optional): Apply a ReLU to the final (region-summed)
                        result; with ``attr_dim_summation=False`` to each channel's
                        contribution, as LayerGradCam does. Default: False
            attr_dim_summation (bool, optional): ``True``: sum the channels' contributions
                        into one map. ``False``: return every channel's region-summed
                        contribution ``(N, C, h', w')`` (channel ``c`` is the window sum of
                        :math:`w_c F_c`), whose sum over dimension 1 is the map (which channels
                        carry the evidence). Default: True
            grad_kwargs (dict, optional): Accepted for LayerGradCam compatibility and unused:
                        the method takes no gradient. Default: None
            window (int, optional): Keyword-only. Side ``k`` of the square region summed at
                        every position; ``1`` disables the region sum. The authors used
                        ``k = 4`` on 14 x 14 CUB maps and ``k = 3`` on 4 x 4 Tiny-ImageNet maps.
                        Default: 3
            padding (str, optional): Keyword-only. ``"same"``: the output keeps the layer's
                        ``h x w`` and stays aligned with it, like LayerGradCam, so
                        ``LayerAttribution.interpolate`` places it correctly; an even ``k``
                        covers one more cell to the right and below (cells
                        ``o - (k-1)//2 .. o + k//2``). ``"full"``: zero padding
                        ``k - 1``, output ``(h + k - 1) x (w + k - 1)``, exactly the authors'
                        code (stretched over the image, it shrinks the map towards the centre).
                        Default: ``"same"``
            classes (Sequence[int] or Tensor, optional): Keyword-only. Restrict "the other
                        classes" to this subset (e.g. the 200 Tiny-ImageNet classes inside an
                        ImageNet-1k head); every target must belong to it. Default: None (all
                        classes)

        Returns:
            *Tensor* of **attributions**:
            - **attributions** (*Tensor*): ``(N, 1, h', w')`` signed, unnormalised maps detached
              from autograd (``(N, C, h', w')`` with ``attr_dim_summation=False``); ``h' = h``
              with ``padding="same"``, ``h + window - 1`` with ``"full"``. A Tensor whatever the
              form of ``inputs``, as LayerGradCam returns for a layer with one output tensor.

        Raises:
            TargetError: ``target`` is missing, of a form Captum refuses on a ``(N, K)`` output,
                of the wrong length, out of range or not in ``classes``.
            HeadNotFoundError: no GAP -> Linear head reads the layer (automatic head only).
            InvalidArgumentError: a bad ``window``, ``padding`` or ``classes``; the layer output
                is not one ``(N, C, h, w)`` tensor, or an explicit ``classifier`` does not fit.

        Examples::

            >>> net = torchvision.models.resnet18(weights=None).eval()
            >>> info = LayerInfoCam(net, net.layer4)
            >>> images = torch.randn(2, 3, 224, 224)
            >>> attribution = info.attribute(images, target=[3, 7])   # (2, 1, 7, 7)
            >>> upsampled = LayerAttribution.interpolate(attribution, (224, 224), "bilinear")
        """
        return self._maps(
            "infocam",
            inputs,
            target,
            additional_forward_args,
            attribute_to_layer_input,
            relu_attributions,
            attr_dim_summation,
            window,
            padding,
            classes,
        )


class LayerInfoCamPlus(FCWeightAttribution):
    r"""infoCAM+: the target's class activation map minus that of the least likely class.

    With the notation of :class:`LayerInfoCam` and the model output (logits) :math:`f`:

    .. math::
        \mathrm{infoCAM+}_y = \Sigma_k \Big[ \sum_c \big( W_{y,c} - W_{y_{min},c} \big) F_c
        \Big], \qquad y_{min} = \arg\min_{y' \in S \setminus \{y\}} f_{y'}(x),

    chosen per example from the same forward pass. The authors take the argmin over every class;
    both agree unless the target itself is the least likely class, where their map is zero.
    With ``window=1`` it equals ``h * w`` times :class:`captum.attr.LayerGradCam` applied to the
    logits :math:`f_y - f_{y_{min}}`. ``forward_func`` must return ``(N, K)`` scores (logits or
    any monotone transform of them, such as probabilities).

    More details can be found in the original paper: https://arxiv.org/abs/1911.10688
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
        *,
        window: int = 3,
        padding: Padding = "same",
        classes: ClassesType = None,
    ) -> Tensor:
        r"""Compute the infoCAM+ maps of ``target`` for ``inputs``.

        The weights of class :math:`y` are :math:`W_y - W_{y_{min}}`, with :math:`y_{min}` the
        class of ``classes`` other than :math:`y` with the lowest model output; their map over the
        layer's channels is then summed over every ``window`` x ``window`` region.

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
            relu_attributions (bool, optional): Apply a ReLU to the final (region-summed)
                        result; with ``attr_dim_summation=False`` to each channel's
                        contribution, as LayerGradCam does. Default: False
            attr_dim_summation (bool, optional): ``True``: sum the channels' contributions
                        into one map. ``False``: return every channel's region-summed
                        contribution ``(N, C, h', w')`` (channel ``c`` is the window sum of
                        :math:`w_c F_c`), whose sum over dimension 1 is the map (which channels
                        carry the evidence). Default: True
            grad_kwargs (dict, optional): Accepted for LayerGradCam compatibility and unused:
                        the method takes no gradient. Default: None
            window (int, optional): Keyword-only. Side ``k`` of the square region summed at
                        every position; ``1`` disables the region sum. The authors used
                        ``k = 4`` on 14 x 14 CUB maps and ``k = 3`` on 4 x 4 Tiny-ImageNet maps.
                        Default: 3
            padding (str, optional): Keyword-only. ``"same"``: the output keeps the layer's
                        ``h x w`` and stays aligned with it, like LayerGradCam, so
                        ``LayerAttribution.interpolate`` places it correctly; an even ``k``
                        covers one more cell to the right and below (cells
                        ``o - (k-1)//2 .. o + k//2``). ``"full"``: zero padding
                        ``k - 1``, output ``(h + k - 1) x (w + k - 1)``, exactly the authors'
                        code (stretched over the image, it shrinks the map towards the centre).
                        Default: ``"same"``
            classes (Sequence[int] or Tensor, optional): Keyword-only. Restrict "the other
                        classes" to this subset (e.g. the 200 Tiny-ImageNet classes inside an
                        ImageNet-1k head); every target must belong to it. Default: None (all
                        classes)

        Returns:
            *Tensor* of **attributions**:
            - **attributions** (*Tensor*): ``(N, 1, h', w')`` signed, unnormalised maps detached
              from autograd (``(N, C, h', w')`` with ``attr_dim_summation=False``); ``h' = h``
              with ``padding="same"``, ``h + window - 1`` with ``"full"``. A Tensor whatever the
              form of ``inputs``, as LayerGradCam returns for a layer with one output tensor.

        Raises:
            TargetError: ``target`` is missing, of a form Captum refuses on a ``(N, K)`` output,
                of the wrong length, out of range or not in ``classes``.
            HeadNotFoundError: no GAP -> Linear head reads the layer (automatic head only).
            InvalidArgumentError: a bad ``window``, ``padding`` or ``classes``; the layer output
                is not one ``(N, C, h, w)`` tensor, or an explicit ``classifier`` does not fit.

        Examples::

            >>> net = torchvision.models.resnet18(weights=None).eval()
            >>> plus = LayerInfoCamPlus(net, net.layer4)
            >>> images = torch.randn(2, 3, 224, 224)
            >>> attribution = plus.attribute(images, target=[3, 7], padding="full")  # (2,1,9,9)
        """
        return self._maps(
            "infocam+",
            inputs,
            target,
            additional_forward_args,
            attribute_to_layer_input,
            relu_attributions,
            attr_dim_summation,
            window,
            padding,
            classes,
        )
