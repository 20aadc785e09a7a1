"""The drop-in contract: every case x every method, with LayerGradCam run through the same checks.

Generated like Captum's ``tests/attr`` meta-classes, with pytest parametrisation over
:data:`~.cases.CASES`, :data:`~.cases.TARGET_FORMS` and :data:`~.registry.WITH_CONTROL`.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from captum.attr import LayerAttribution, NoiseTunnel
from torch import Tensor, nn

from ..toy_models import hooks_left
from .cases import CASES, CONV, OPTIONS, TARGET_FORMS, Built, Case, TargetForm
from .models import GapConvNet, GapMultiInput, RaisesAfterLayer, RaisesBeforeLayer
from .registry import METHODS, WITH_CONTROL, MethodEntry

SINGLE_INPUT_CASES = [case for case in CASES if case.name != "multi_input_additional_args"]
TARGET_CASES = [CONV, next(case for case in CASES if case.name == "conv_batch_1")]
NT_TYPES = ["smoothgrad", "smoothgrad_sq", "vargrad"]


def tolerance(dtype: torch.dtype) -> float:
    return {torch.float64: 1e-10, torch.float32: 2e-5, torch.bfloat16: 5e-2}[dtype]


def assert_maps_close(actual: Tensor, expected: Tensor, rounding: float = 1.0) -> None:
    """Equal up to the dtype's rounding (times ``rounding``), relative to the largest value."""
    assert isinstance(actual, Tensor) and isinstance(expected, Tensor)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    scale = rounding * (1.0 + float(expected.detach().double().abs().max()))
    torch.testing.assert_close(
        actual.detach(), expected.detach(), rtol=0, atol=tolerance(expected.dtype) * scale
    )


def attribute(method: MethodEntry, built: Built, target: object, **options: Any) -> Tensor:
    attribution = method.build(built.model, built.layer, None)
    return attribution.attribute(
        built.inputs, target=target, **built.arguments(), **method.kwargs, **options
    )


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o) or "default")
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("method", METHODS, ids=str)
def test_equals_its_oracle(method: MethodEntry, case: Case, options: dict[str, bool]):
    built = case.build()
    actual = attribute(method, built, built.target, **options)
    oracle = method.oracle(built.model, built.layer, None)
    expected = oracle.attribute(built.inputs, target=built.target, **built.arguments(), **options)
    assert isinstance(actual, Tensor)
    assert_maps_close(actual, expected)
    assert hooks_left(built.model) == 0


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("method", WITH_CONTROL, ids=str)
def test_channel_contributions_sum_to_the_map(method: MethodEntry, case: Case):
    built = case.build()
    channels = attribute(method, built, built.target, attr_dim_summation=False)
    summed = attribute(method, built, built.target)
    assert channels.shape[1] > 1 and summed.shape[1] == 1
    assert_maps_close(channels.sum(1, keepdim=True), summed)


@pytest.mark.parametrize("form", TARGET_FORMS, ids=str)
@pytest.mark.parametrize("case", TARGET_CASES, ids=str)
@pytest.mark.parametrize("method", WITH_CONTROL, ids=str)
def test_target_form(method: MethodEntry, case: Case, form: TargetForm):
    built = case.build()
    n, k = built.num_examples, built.num_classes
    classes = form.classes(n, k)
    if method.name == "LayerGradCam" and not form.captum_accepts:
        classes = None
    if classes is None:
        with pytest.raises(method.refusal) as error:
            attribute(method, built, form.target(n, k))
        if method.name != "LayerGradCam":
            assert form.message(n, k) in str(error.value)
    else:
        got = attribute(method, built, form.target(n, k))
        expected = attribute(method, built, torch.tensor(classes))
        assert torch.equal(got, expected)
    assert hooks_left(built.model) == 0


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("method", WITH_CONTROL, ids=str)
def test_batch_map_is_the_per_example_maps(method: MethodEntry, case: Case):
    # Captum's TargetsMeta: the map of example i with target t_i equals row i of the batch map.
    built = case.build()
    batch = attribute(method, built, built.target)
    for index in range(built.num_examples):
        one = built.example(index)
        assert_maps_close(attribute(method, one, one.target), batch[index : index + 1])


@pytest.mark.parametrize("case", SINGLE_INPUT_CASES, ids=str)
@pytest.mark.parametrize("method", WITH_CONTROL, ids=str)
def test_tuple_inputs_give_the_tensor_of_tensor_inputs(method: MethodEntry, case: Case):
    built = case.build()
    as_tensor = attribute(method, built, built.target)
    as_tuple = method.build(built.model, built.layer, None).attribute(
        (built.inputs,), target=built.target, **built.arguments(), **method.kwargs
    )
    assert type(as_tuple) is Tensor
    assert torch.equal(as_tuple, as_tensor)


@pytest.mark.parametrize("method", WITH_CONTROL, ids=str)
def test_multi_input_maps_interpolate(method: MethodEntry):
    built = next(case for case in CASES if case.name == "multi_input_additional_args").build()
    maps = attribute(method, built, built.target)
    upsampled = LayerAttribution.interpolate(maps, (10, 10), "bilinear")
    assert upsampled.shape == (built.num_examples, 1, 10, 10)
    expected = torch.nn.functional.interpolate(maps, (10, 10), mode="bilinear")
    torch.testing.assert_close(upsampled, expected)


@pytest.mark.parametrize("nt_type", NT_TYPES)
@pytest.mark.parametrize("case", [CONV, CASES[4]], ids=str)
@pytest.mark.parametrize("method", METHODS, ids=str)
def test_noise_tunnel_equals_the_oracle_under_noise(method: MethodEntry, case: Case, nt_type: str):
    built = case.build()
    arguments = {"nt_type": nt_type, "nt_samples": 3, "stdevs": 0.5, "target": built.target}
    tunnel = NoiseTunnel(method.build(built.model, built.layer, None))
    torch.manual_seed(7)
    actual = tunnel.attribute(built.inputs, **arguments, **built.arguments(), **method.kwargs)
    oracle = NoiseTunnel(method.oracle(built.model, built.layer, None))
    torch.manual_seed(7)  # the same noise draws
    expected = oracle.attribute(built.inputs, **arguments, **built.arguments())
    assert_maps_close(actual, expected, method.rounding)


@pytest.mark.parametrize("device_ids", [None, [0]], ids=["from_the_model", "given"])
@pytest.mark.parametrize("method", WITH_CONTROL, ids=str)
def test_data_parallel_on_cpu(method: MethodEntry, device_ids: list[int] | None):
    built = CONV.build()
    parallel = nn.DataParallel(built.model)  # CPU only: device_ids == [], a plain call
    plain = attribute(method, built, built.target)
    attribution = method.build(parallel, built.layer, device_ids)
    maps = attribution.attribute(built.inputs, target=built.target, **method.kwargs)
    assert_maps_close(maps, plain)
    assert hooks_left(built.model) == 0


@pytest.mark.parametrize("method", WITH_CONTROL, ids=str)
def test_torch_compile(method: MethodEntry):
    built = CONV.build()
    compiled = torch.compile(built.model, backend="eager")
    plain = attribute(method, built, built.target)
    for target in (built.target, 3):  # a second call reuses the compiled frames
        attribution = method.build(compiled, built.layer, None)
        maps = attribution.attribute(built.inputs, target=target, **method.kwargs)
        expected = plain if target is built.target else attribute(method, built, target)
        assert_maps_close(maps, expected)
    assert hooks_left(built.model) == 0


@pytest.mark.parametrize("method", WITH_CONTROL, ids=str)
def test_the_models_own_exceptions_reach_the_caller_and_hooks_go(method: MethodEntry):
    inputs = torch.randn(2, 1, 10, 10)
    before = RaisesBeforeLayer().eval()
    with pytest.raises(AssertionError) as error:
        method.build(before, before.relu2, None).attribute(inputs, target=1, **method.kwargs)
    assert str(error.value) == "GapConvNet wants two channels here"
    assert error.value.__cause__ is None and error.value.__context__ is None
    assert hooks_left(before) == 0
    after = RaisesAfterLayer().eval()
    with pytest.raises(RuntimeError, match="the head failed"):
        method.build(after, after.relu2, None).attribute(inputs, target=1, **method.kwargs)
    assert hooks_left(after) == 0


@pytest.mark.parametrize("method", WITH_CONTROL, ids=str)
def test_hooks_go_after_a_refused_target_and_a_layer_that_never_ran(method: MethodEntry):
    model = GapConvNet().eval()
    inputs = torch.randn(2, 1, 10, 10)
    with pytest.raises(method.refusal):
        method.build(model, model.relu2, None).attribute(inputs, target=[0, 1, 2], **method.kwargs)
    assert hooks_left(model) == 0
    stranger = GapMultiInput().model.relu2  # a module of another model
    with pytest.raises(method.never_ran):
        method.build(model, stranger, None).attribute(inputs, target=1, **method.kwargs)
    assert hooks_left(model) == 0 and hooks_left(stranger) == 0
