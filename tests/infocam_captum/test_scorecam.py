"""Score-CAM: hand-computed values, batching, the shared passes of equal masks, and errors."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from infocam_captum import LayerScoreCam
from infocam_captum.exceptions import InvalidArgumentError
from infocam_captum.scorecam import score_cam_masks

from .contract.oracles import ScoreCamOracle
from .toy_models import TOY_BIAS, TOY_WEIGHT, GapFcToy, SmallCnn, hooks_left, toy_input

ROOT = Path(__file__).resolve().parents[2]


def test_hand_computed_map_on_the_gap_fc_toy() -> None:
    # The input is the feature map: A_0 = [[1, 2], [3, 4]], A_1 = [[0, 1], [1, 0]]. Masks at the
    # same 2 x 2 size (the upsampling is the identity): m_0 = [[0, 1/3], [2/3, 1]], m_1 = A_1.
    model = GapFcToy().eval()
    x = toy_input()
    a0 = [1.0, 2.0, 3.0, 4.0]
    a1 = [0.0, 1.0, 1.0, 0.0]
    m0 = [(v - 1) / (3 + 1e-8) for v in a0]
    m1 = [v / (1 + 1e-8) for v in a1]
    for target in range(3):
        w, b = TOY_WEIGHT[target], TOY_BIAS[target]

        def score(mask: list[float], w=w, b=b) -> float:
            masked0 = sum(a * m for a, m in zip(a0, mask, strict=True)) / 4
            masked1 = sum(a * m for a, m in zip(a1, mask, strict=True)) / 4
            return w[0] * masked0 + w[1] * masked1 + b

        s0, s1 = score(m0), score(m1)
        w0 = math.exp(s0) / (math.exp(s0) + math.exp(s1))
        expected = torch.tensor(
            [[[[w0 * a + (1 - w0) * c for a, c in zip(a0, a1, strict=True)]]]], dtype=torch.float64
        ).view(1, 1, 2, 2)
        maps = LayerScoreCam(model, model.features).attribute(x, target=target)
        torch.testing.assert_close(maps, expected)
    assert hooks_left(model) == 0


class CountingModel(nn.Module):
    """:class:`SmallCnn` with channels 4-7 of ``layer`` copies of channels 0-3 (the same masks),
    counting the images every forward pass sees."""

    def __init__(self) -> None:
        super().__init__()
        self.net = SmallCnn(num_classes=5, channels=8)
        with torch.no_grad():
            conv = self.net.layer[0]
            conv.weight[4:] = conv.weight[:4]
            conv.bias[4:] = conv.bias[:4]
        self.images_seen = 0

    def forward(self, x: Tensor) -> Tensor:
        self.images_seen += x.shape[0]
        return self.net(x)


def test_equal_masks_share_one_pass_and_batching_changes_nothing() -> None:
    torch.manual_seed(2)
    model = CountingModel().double().eval()
    x = torch.randn(3, 3, 8, 8, dtype=torch.float64)
    target = [4, 0, 2]
    masks = score_cam_masks(model.net.layer(torch.relu(model.net.conv(x))))
    distinct = sum(torch.unique(masks[n].flatten(1), dim=0).shape[0] for n in range(3))
    assert distinct <= 3 * 4  # at most the first four channels' masks
    expected = ScoreCamOracle(model, model.net.layer, None).attribute(x, target)
    for batch_size in (1, 5, 1000):
        model.images_seen = 0
        maps = LayerScoreCam(model, model.net.layer).attribute(x, target, batch_size=batch_size)
        torch.testing.assert_close(maps, expected)
        assert model.images_seen == 3 + distinct  # the recording pass, then one per mask


def test_masks_are_per_channel_min_max_and_zero_for_constant_channels() -> None:
    features = torch.tensor([[[[2.0, 4.0], [6.0, 10.0]], [[3.0, 3.0], [3.0, 3.0]]]])
    masks = score_cam_masks(features)
    torch.testing.assert_close(masks[0, 0], torch.tensor([[0.0, 0.25], [0.5, 1.0]]))
    assert torch.equal(masks[0, 1], torch.zeros(2, 2))


def test_bad_batch_size_and_inputs_are_refused() -> None:
    model = SmallCnn().eval()
    explainer = LayerScoreCam(model, model.layer)
    for bad in (0, -3, 2.0, True, "8"):
        with pytest.raises(InvalidArgumentError, match="must be a positive int"):
            explainer.attribute(torch.randn(2, 3, 8, 8), target=1, batch_size=bad)
    flat_input = LayerScoreCam(lambda v: model(v.view(2, 3, 8, 8)), model.layer)
    with pytest.raises(InvalidArgumentError, match=r"floating-point \(N, C, H, W\) image batch"):
        flat_input.attribute(torch.randn(2, 192), target=1)
    assert hooks_left(model) == 0


def test_a_call_without_torch_compile_does_not_load_dynamo() -> None:
    # Dynamo takes seconds to import; the eager stance of the hooked pass is for compiled models.
    code = (
        "import sys, torch\n"
        "from infocam_captum import LayerScoreCam\n"
        "from tests.infocam_captum.toy_models import SmallCnn\n"
        "model = SmallCnn().eval()\n"
        "LayerScoreCam(model, model.layer).attribute(torch.randn(1, 3, 8, 8), target=0)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
