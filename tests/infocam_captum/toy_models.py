"""Small models with hand-computable or deliberately broken classifier heads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Hand-computable GAP -> Linear toy: the input *is* the feature map (layer = `features`, an
# Identity), C = 2 channels, K = 3 classes.
TOY_WEIGHT = [[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]]
TOY_BIAS = [0.5, -1.0, 2.0]
TOY_INPUT = [[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]]]  # (C, h, w)


class GapFcToy(nn.Module):
    """features (Identity) -> global average pooling -> Linear(2, 3) with fixed weights.

    ``forward(x, scale=None)`` multiplies the input by ``scale`` when given (for
    ``additional_forward_args``).
    """

    def __init__(self, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.features = nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2, 3).to(dtype)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor(TOY_WEIGHT, dtype=dtype))
            self.fc.bias.copy_(torch.tensor(TOY_BIAS, dtype=dtype))

    def forward(self, x: Tensor, scale: Tensor | None = None) -> Tensor:
        if scale is not None:
            x = x * scale.view(-1, 1, 1, 1)
        return self.fc(self.pool(self.features(x)).flatten(1))


def toy_input(dtype: torch.dtype = torch.float64) -> Tensor:
    """The (1, 2, 2, 2) input of :class:`GapFcToy` whose maps are computed by hand in the tests."""
    return torch.tensor([TOY_INPUT], dtype=dtype)


class SmallCnn(nn.Module):
    """conv -> ReLU -> conv -> ReLU (``layer``) -> GAP -> Dropout -> Linear, random weights.

    ``inplace_relu_after=True`` adds an in-place ReLU after ``layer`` (before pooling), as
    DenseNet does functionally, to check that the recorded activations are not overwritten.
    """

    def __init__(self, num_classes: int = 5, channels: int = 6) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.layer = nn.Sequential(nn.Conv2d(8, channels, 3, stride=2, padding=1), nn.ReLU())
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        features = self.layer(F.relu(self.conv(x)))
        return self.fc(self.dropout(features.mean(dim=(2, 3))))


class PreActivationCnn(nn.Module):
    """Like DenseNet: ``layer`` is pre-ReLU and the model applies ``F.relu(inplace=True)``."""

    def __init__(self, num_classes: int = 4) -> None:
        super().__init__()
        self.layer = nn.Conv2d(3, 5, 3, stride=2, padding=1)
        self.fc = nn.Linear(5, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        features = F.relu(self.layer(x), inplace=True)
        return self.fc(F.adaptive_avg_pool2d(features, 1).flatten(1))


class LayerNormHeadCnn(nn.Module):
    """GAP -> LayerNorm -> Linear: the Linear does not read the spatial mean."""

    def __init__(self, num_classes: int = 4) -> None:
        super().__init__()
        self.layer = nn.Sequential(nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.ReLU())
        self.norm = nn.LayerNorm(6)
        self.fc = nn.Linear(6, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.norm(self.layer(x).mean(dim=(2, 3))))


class NoLinearCnn(nn.Module):
    """A 1x1-convolution head: no nn.Linear at all."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Conv2d(3, 4, 3)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.layer(x)).mean(dim=(2, 3))


class FailingCnn(SmallCnn):
    """Raises inside the forward pass, after ``layer`` has run."""

    def forward(self, x: Tensor) -> Tensor:
        self.layer(F.relu(self.conv(x)))
        raise RuntimeError("boom")


class InputRecorder(nn.Module):
    """Wraps a model and keeps the last batch it was called with."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.last_input: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        self.last_input = x.detach().clone()
        return self.model(x)


def hooks_left(model: nn.Module) -> int:
    """Number of forward (pre-)hooks still registered anywhere in ``model``."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
