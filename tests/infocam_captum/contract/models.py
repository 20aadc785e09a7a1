"""GAP -> Linear versions of Captum's helper models (``captum.testing.helpers.basic_models``).

Captum's own layer-attribution configs run ``LayerGradCam`` on these models; their heads flatten
or max-pool, which no CAM method can explain, so each version here keeps Captum's trunk (its
modules, weights and forward signature) and ends in global average pooling and one Linear.
"""

from __future__ import annotations

from captum.testing.helpers.basic_models import (
    BasicModel_ConvNet,
    BasicModel_ConvNet_One_Conv,
    BasicModel_MultiLayer_MultiInput,
)
from torch import Tensor, nn


class GapConvNet(BasicModel_ConvNet):
    """Captum's ``BasicModel_ConvNet`` trunk (conv1 -> relu1 -> pool1 -> conv2 -> relu2), then
    ``gap`` (an ``AdaptiveAvgPool2d`` module) and ``fc`` (Linear 4 -> 10).

    ``free_features=True`` zeroes the feature map in place once it is pooled (as memory-saving
    code does): an in-place operation after the layer that must not reach the recorded tensors.
    """

    def __init__(self, free_features: bool = False) -> None:
        super().__init__()
        del self.pool2, self.fc1, self.relu3, self.fc2, self.softmax
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 10)
        self.free_features = free_features

    def forward(self, x: Tensor) -> Tensor:
        features = self.relu2(self.conv2(self.pool1(self.relu1(self.conv1(x)))))
        pooled = self.gap(features).flatten(1)
        if self.free_features:
            features.zero_()
        return self.fc(pooled)


class GapOneConv(BasicModel_ConvNet_One_Conv):
    """Captum's ``BasicModel_ConvNet_One_Conv``: ``forward(x, x2=None)`` adds ``x2``, then
    conv1 (all-ones kernels, biases -50 and -75) -> relu1 (in place with ``inplace=True``);
    here followed by global average pooling and ``fc`` (Linear 2 -> 4)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(inplace=inplace)
        del self.fc1, self.relu2
        self.fc = nn.Linear(2, 4)

    def forward(self, x: Tensor, x2: Tensor | None = None) -> Tensor:
        if x2 is not None:
            x = x + x2
        return self.fc(self.relu1(self.conv1(x)).mean(dim=(2, 3)))


class GapMultiInput(BasicModel_MultiLayer_MultiInput):
    """Captum's ``BasicModel_MultiLayer_MultiInput``: ``forward(x1, x2, x3, scale)`` runs its
    inner ``model`` on ``scale * (x1 + x2 + x3)``; the inner model is a :class:`GapConvNet`."""

    def __init__(self) -> None:
        super().__init__()
        self.model = GapConvNet()


class RaisesBeforeLayer(GapConvNet):
    """Asserts on its input before the layer runs (the model's own exception must reach the
    caller unchanged)."""

    def forward(self, x: Tensor) -> Tensor:
        assert x.shape[1] == 2, "GapConvNet wants two channels here"
        return super().forward(x)


class RaisesAfterLayer(GapConvNet):
    """Raises once the layer has run."""

    def forward(self, x: Tensor) -> Tensor:
        self.relu2(self.conv2(self.pool1(self.relu1(self.conv1(x)))))
        raise RuntimeError("the head failed")
