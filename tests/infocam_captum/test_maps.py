"""The pure map math: weights, least likely class, region sums, fc_weight_maps."""

from __future__ import annotations

import itertools

import pytest
import torch

from infocam_captum.exceptions import InvalidArgumentError, TargetError
from infocam_captum.maps import (
    METHODS,
    as_class_subset,
    class_weights,
    fc_weight_channel_maps,
    fc_weight_maps,
    least_likely_class,
    region_sum,
)


def loop_region_sum(maps: torch.Tensor, window: int, padding: str) -> torch.Tensor:
    """Reference: explicit Python loops over output cells and window offsets."""
    batch, channels, height, width = maps.shape
    if padding == "full":
        out_h, out_w, offset = height + window - 1, width + window - 1, window - 1
    else:
        out_h, out_w, offset = height, width, (window - 1) // 2
    out = torch.zeros(batch, channels, out_h, out_w, dtype=maps.dtype)
    for i, j, di, dj in itertools.product(range(out_h), range(out_w), range(window), range(window)):
        row, col = i - offset + di, j - offset + dj
        if 0 <= row < height and 0 <= col < width:
            out[:, :, i, j] += maps[:, :, row, col]
    return out


@pytest.mark.parametrize("padding", ["same", "full"])
@pytest.mark.parametrize("window", [1, 2, 3, 4])
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (1, 1, 2, 2), (1, 2, 1, 6)])
def test_region_sum_matches_explicit_loops(shape, window, padding):
    maps = torch.randn(shape, dtype=torch.float64)
    out = region_sum(maps, window, padding)
    grow = window - 1 if padding == "full" else 0
    assert out.shape == (shape[0], shape[1], shape[2] + grow, shape[3] + grow)
    torch.testing.assert_close(out, loop_region_sum(maps, window, padding), rtol=0, atol=1e-12)


def test_region_sum_same_is_full_cropped_at_half_window():
    maps = torch.randn(2, 1, 6, 5, dtype=torch.float64)
    for window in (2, 3, 4, 5):
        full = region_sum(maps, window, "full")
        start = window // 2
        torch.testing.assert_close(
            region_sum(maps, window, "same"), full[:, :, start : start + 6, start : start + 5]
        )


def test_region_sum_hand_values():
    maps = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert region_sum(maps, 2, "same").tolist() == [[[[10.0, 6.0], [7.0, 4.0]]]]
    assert region_sum(maps, 2, "full").tolist() == [
        [[[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]]]
    ]


@pytest.mark.parametrize(
    ("window", "padding"), [(0, "same"), (2.0, "same"), (True, "same"), (3, "valid")]
)
def test_region_sum_rejects_bad_arguments(window, padding):
    with pytest.raises(InvalidArgumentError):
        region_sum(torch.zeros(1, 1, 3, 3), window, padding)


WEIGHT = torch.tensor(
    [[1.0, 0.0, 2.0], [0.0, 1.0, -1.0], [3.0, 3.0, 0.0], [-2.0, 1.0, 1.0], [0.5, 0.5, 0.5]],
    dtype=torch.float64,
)  # K = 5 classes, C = 3 channels


def test_class_weights_against_explicit_class_loops():
    target = torch.tensor([0, 2, 4])
    logits = torch.tensor(
        [[5.0, -1.0, 2.0, 0.0, 3.0], [1.0, 2.0, 9.0, 4.0, -3.0], [0.0, 1.0, 2.0, 3.0, 4.0]],
        dtype=torch.float64,
    )
    cam = class_weights(WEIGHT, target, "cam")
    info = class_weights(WEIGHT, target, "infocam")
    plus = class_weights(WEIGHT, target, "infocam+", logits)
    for b, y in enumerate(target.tolist()):
        others = [WEIGHT[k] for k in range(5) if k != y]
        torch.testing.assert_close(cam[b], WEIGHT[y])
        torch.testing.assert_close(info[b], WEIGHT[y] - sum(others) / 4)
        least = min((k for k in range(5) if k != y), key=lambda k: logits[b, k].item())
        torch.testing.assert_close(plus[b], WEIGHT[y] - WEIGHT[least])


def test_class_subset_restricts_the_other_classes():
    target = torch.tensor([2, 0])
    logits = torch.tensor(
        [[-9.0, 0.0, 1.0, -5.0, 2.0], [1.0, -7.0, 0.0, 3.0, 2.0]], dtype=torch.float64
    )
    subset = [4, 2, 0]
    info = class_weights(WEIGHT, target, "infocam", classes=subset)
    torch.testing.assert_close(info[0], WEIGHT[2] - (WEIGHT[4] + WEIGHT[0]) / 2)
    torch.testing.assert_close(info[1], WEIGHT[0] - (WEIGHT[4] + WEIGHT[2]) / 2)
    # Class 3 (logit -5) and class 1 (logit -7) are outside the subset.
    assert least_likely_class(logits, target, subset).tolist() == [0, 2]
    assert least_likely_class(logits, target).tolist() == [0, 1]


def test_least_likely_class_skips_the_target():
    logits = torch.tensor([[3.0, -1.0, 0.0], [3.0, -1.0, 0.0]])
    # When the target is the least likely class, the next lowest is used (the authors' argmin
    # over all classes would give the target itself and a zero map).
    assert least_likely_class(logits, torch.tensor([0, 1])).tolist() == [1, 2]
    # Ties go to the first candidate.
    assert least_likely_class(torch.zeros(1, 4), torch.tensor([0])).tolist() == [1]


def test_fc_weight_maps_hand_values_and_shapes():
    features = torch.tensor(
        [[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]], [[2.0, 0.0], [0.0, 2.0]]]],
        dtype=torch.float64,
    )
    logits = torch.tensor([[0.0, 1.0, 2.0, -3.0, 4.0]], dtype=torch.float64)
    maps = fc_weight_maps(features, logits, WEIGHT, 0, METHODS, window=1)
    # CAM: 1*F0 + 0*F1 + 2*F2
    assert maps["cam"].tolist() == [[[[5.0, 2.0], [3.0, 8.0]]]]
    # infoCAM weights: [1, 0, 2] - ([0,1,-1] + [3,3,0] + [-2,1,1] + [.5,.5,.5]) / 4
    #                = [1 - 0.375, 0 - 1.375, 2 - 0.125]
    expected_info = 0.625 * features[0, 0] - 1.375 * features[0, 1] + 1.875 * features[0, 2]
    torch.testing.assert_close(maps["infocam"][0, 0], expected_info)
    # infoCAM+: least likely is class 3 -> weights [1, 0, 2] - [-2, 1, 1] = [3, -1, 1]
    expected_plus = 3 * features[0, 0] - features[0, 1] + features[0, 2]
    torch.testing.assert_close(maps["infocam+"][0, 0], expected_plus)

    full = fc_weight_maps(features, logits, WEIGHT, 0, ("infocam", "cam"), 3, "full")
    assert list(full) == ["infocam", "cam"]
    assert full["infocam"].shape == (1, 1, 4, 4)
    assert full["cam"].shape == (1, 1, 2, 2)  # CAM is never region-summed
    torch.testing.assert_close(full["infocam"], loop_region_sum(maps["infocam"], 3, "full"))


def test_an_explicit_contrast_class_replaces_the_least_likely_one():
    features = torch.tensor(
        [[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]], [[2.0, 0.0], [0.0, 2.0]]]] * 2,
        dtype=torch.float64,
    )
    target = torch.tensor([0, 2])
    # contrast 2 for example 0: weights [1, 0, 2] - [3, 3, 0] = [-2, -3, 2]; contrast 2 for
    # example 1 (its own target, as the authors' topk(200)[:, -1] may pick): a zero map
    contrast = torch.tensor([2, 2])
    maps = fc_weight_maps(features, None, WEIGHT, target, ("infocam+", "cam"), window=1,
                          least_likely=contrast)
    expected = -2 * features[0, 0] - 3 * features[0, 1] + 2 * features[0, 2]
    torch.testing.assert_close(maps["infocam+"][0, 0], expected)
    assert maps["infocam+"][1].abs().max() == 0.0
    # the default (no least_likely) still takes the least likely class other than the target
    logits = torch.tensor([[0.0, 1.0, 2.0, -3.0, 4.0], [0.0, 1.0, -9.0, -3.0, 4.0]],
                          dtype=torch.float64)
    default = fc_weight_maps(features, logits, WEIGHT, target, ("infocam+",), window=1)
    explicit = fc_weight_maps(features, logits, WEIGHT, target, ("infocam+",), window=1,
                              least_likely=torch.tensor([3, 3]))
    torch.testing.assert_close(default["infocam+"], explicit["infocam+"])


@pytest.mark.parametrize(
    ("least_likely", "message"),
    [(torch.tensor([1]), r"must be a \(2,\) integer tensor"),
     (torch.tensor([1.0, 2.0]), "integer tensor"),
     (torch.tensor([0, 5]), r"outside 0..4")],
)
def test_a_bad_contrast_class_is_refused(least_likely, message):
    with pytest.raises(InvalidArgumentError, match=message):
        fc_weight_maps(torch.zeros(2, 3, 4, 4), None, WEIGHT.float(), 0, ("infocam+",),
                       least_likely=least_likely)


def test_channel_maps_hand_values_and_their_sum_is_the_map():
    features = torch.tensor(
        [[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]], [[2.0, 0.0], [0.0, 2.0]]]],
        dtype=torch.float64,
    )
    logits = torch.tensor([[0.0, 1.0, 2.0, -3.0, 4.0]], dtype=torch.float64)
    cam = fc_weight_channel_maps(features, logits, WEIGHT, 0, "cam")
    # W[0] = [1, 0, 2]: channel c is W[0, c] * F_c.
    assert cam.tolist() == [[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]],
                             [[4.0, 0.0], [0.0, 4.0]]]]
    plus = fc_weight_channel_maps(features, logits, WEIGHT, 0, "infocam+", window=1)
    # infoCAM+ weights [3, -1, 1] (see the hand-values test above).
    assert plus.tolist() == [[[[3.0, 6.0], [9.0, 12.0]], [[0.0, -1.0], [-1.0, 0.0]],
                              [[2.0, 0.0], [0.0, 2.0]]]]
    for method in METHODS:
        for window, padding in ((1, "same"), (2, "same"), (3, "full")):
            channels = fc_weight_channel_maps(features, logits, WEIGHT, 0, method, window, padding)
            summed = fc_weight_maps(features, logits, WEIGHT, 0, (method,), window, padding)
            # Integer-valued data with dyadic weights: the two summation orders agree exactly.
            assert torch.equal(channels.sum(1, keepdim=True), summed[method])
    full = fc_weight_channel_maps(features, logits, WEIGHT, 0, "infocam", 3, "full")
    torch.testing.assert_close(
        full, loop_region_sum(fc_weight_channel_maps(features, logits, WEIGHT, 0, "infocam", 1), 3,
                              "full")
    )


def test_channel_maps_sum_to_the_map_on_random_data():
    features = torch.randn(3, 3, 5, 5, dtype=torch.float64)
    logits = torch.randn(3, 5, dtype=torch.float64)
    for method in METHODS:
        channels = fc_weight_channel_maps(features, logits, WEIGHT, [4, 0, 2], method)
        assert channels.shape == (3, 3, 5, 5)
        summed = fc_weight_maps(features, logits, WEIGHT, [4, 0, 2], (method,))[method]
        torch.testing.assert_close(channels.sum(1, keepdim=True), summed, rtol=0, atol=1e-12)
    with pytest.raises(InvalidArgumentError, match="unknown method"):
        fc_weight_channel_maps(features, logits, WEIGHT, 0, "gradcam")


def test_fc_weight_maps_batch_equals_per_example():
    features = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    logits = torch.randn(4, 5, dtype=torch.float64)
    target = torch.tensor([1, 4, 0, 1])
    batch = fc_weight_maps(features, logits, WEIGHT, target)
    for b in range(4):
        single = fc_weight_maps(features[b : b + 1], logits[b : b + 1], WEIGHT, int(target[b]))
        for method in METHODS:
            torch.testing.assert_close(batch[method][b : b + 1], single[method])


def test_fc_weight_maps_promotes_half_features_to_the_weight_dtype():
    features = torch.randn(2, 3, 4, 4)
    maps = fc_weight_maps(features.half(), None, WEIGHT.float(), [0, 1], ("cam",))
    assert maps["cam"].dtype == torch.float32
    expected = torch.einsum("bc,bchw->bhw", WEIGHT.float()[[0, 1]], features.half().float())
    torch.testing.assert_close(maps["cam"][:, 0], expected)


def test_fc_weight_maps_ignore_the_callers_autocast():
    # Large activations: a bfloat16 channel sum would lose ~3 significant digits.
    features = torch.rand(2, 3, 5, 5) * 1000
    logits = torch.randn(2, 5)
    plain = fc_weight_maps(features, logits, WEIGHT.float(), [1, 4])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = fc_weight_maps(features, logits, WEIGHT.float(), [1, 4])
    for method in METHODS:
        assert mixed[method].dtype == torch.float32
        torch.testing.assert_close(mixed[method], plain[method])


def test_fc_weight_maps_float32_matches_float64():
    features = torch.randn(3, 3, 6, 6, dtype=torch.float64)
    logits = torch.randn(3, 5, dtype=torch.float64)
    exact = fc_weight_maps(features, logits, WEIGHT, [2, 3, 4], window=4, padding="full")
    single = fc_weight_maps(
        features.float(), logits.float(), WEIGHT.float(), [2, 3, 4], window=4, padding="full"
    )
    for method in METHODS:
        assert single[method].dtype == torch.float32
        torch.testing.assert_close(single[method].double(), exact[method], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"methods": ()}, InvalidArgumentError),
        ({"methods": ("gradcam",)}, InvalidArgumentError),
        ({"logits": None}, InvalidArgumentError),
        ({"weight": WEIGHT[:, :2]}, InvalidArgumentError),
        ({"features": torch.zeros(2, 3, 4)}, InvalidArgumentError),
        ({"target": 5}, TargetError),
        ({"target": [0, 1, 2]}, TargetError),
        ({"classes": [0, 1]}, TargetError),  # target 2 is not in the subset
        ({"classes": [2]}, InvalidArgumentError),
        ({"classes": [2, 2, 1]}, InvalidArgumentError),
        ({"classes": [2, 9]}, InvalidArgumentError),
        ({"window": 0}, InvalidArgumentError),
        ({"padding": "valid"}, InvalidArgumentError),
    ],
)
def test_fc_weight_maps_rejects_bad_input(kwargs, error):
    arguments = {
        "features": torch.zeros(2, 3, 4, 4, dtype=torch.float64),
        "logits": torch.zeros(2, 5, dtype=torch.float64),
        "weight": WEIGHT,
        "target": 2,
        "methods": METHODS,
    }
    arguments.update(kwargs)
    with pytest.raises(error):
        fc_weight_maps(**arguments)


def test_class_subset_accepts_tensors_and_sequences():
    assert as_class_subset(None, 5, torch.device("cpu")) is None
    assert as_class_subset((3, 1), 5, torch.device("cpu")).tolist() == [3, 1]
    assert as_class_subset(torch.tensor([0, 4]), 5, torch.device("cpu")).tolist() == [0, 4]
    with pytest.raises(InvalidArgumentError):
        as_class_subset(torch.tensor([0.0, 1.0]), 5, torch.device("cpu"))


def test_infocam_needs_two_classes():
    features = torch.ones(1, 3, 2, 2)
    single_class = torch.ones(1, 3)
    assert fc_weight_maps(features, None, single_class, 0, ("cam",))["cam"].sum() == 12.0
    with pytest.raises(InvalidArgumentError, match="at least two"):
        fc_weight_maps(features, None, single_class, 0, ("infocam",))
