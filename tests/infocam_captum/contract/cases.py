"""The contract's configuration: model cases and target forms, in the style of Captum's
``captum/testing/attr/helpers/test_config.py`` (one list, many generated checks).

A :class:`Case` names a model (a GAP -> Linear version of a Captum helper model), the layer to
explain, the inputs, one target class per example and the other ``attribute`` arguments. A
:class:`TargetForm` is one way to write ``target`` for ``N`` examples and ``K`` classes, with the
classes it means (or ``None`` where Captum refuses it); the checks run every form through
``LayerGradCam`` as well, so the table is Captum's behaviour, not a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from captum.testing.attr.helpers.gen_test_utils import get_target_layer
from captum.testing.helpers.basic import set_all_random_seeds
from torch import Tensor, nn

from .models import GapConvNet, GapMultiInput, GapOneConv

Inputs = Tensor | tuple[Tensor, ...]


@dataclass(frozen=True)
class Case:
    """One configuration (see the module docstring); built fresh by :meth:`build`."""

    name: str
    model: Callable[[], nn.Module]
    layer: str
    inputs: Callable[[], Inputs]
    target: list[int]
    additional_forward_args: Callable[[], object] | None = None
    attribute_to_layer_input: bool = False
    dtype: torch.dtype = torch.float32

    def __str__(self) -> str:
        return self.name

    def build(self) -> Built:
        """Model, layer and arguments, from seed 1234 (as Captum's ``BaseTest``)."""
        set_all_random_seeds(1234)
        model = self.model().eval().to(self.dtype)
        inputs = _cast(self.inputs(), self.dtype)
        extra = None
        if self.additional_forward_args is not None:
            extra = _cast(self.additional_forward_args(), self.dtype)
        return Built(
            model=model,
            layer=get_target_layer(model, self.layer),
            inputs=inputs,
            target=self.target,
            additional_forward_args=extra,
            attribute_to_layer_input=self.attribute_to_layer_input,
        )


@dataclass(frozen=True)
class Built:
    """A built :class:`Case`."""

    model: nn.Module
    layer: nn.Module
    inputs: Inputs
    target: list[int]
    additional_forward_args: object
    attribute_to_layer_input: bool

    @property
    def num_examples(self) -> int:
        first = self.inputs[0] if isinstance(self.inputs, tuple) else self.inputs
        return first.shape[0]

    @property
    def num_classes(self) -> int:
        with torch.no_grad():
            return self.model(*self.forward_arguments()).shape[1]

    def forward_arguments(self) -> tuple[Any, ...]:
        inputs = self.inputs if isinstance(self.inputs, tuple) else (self.inputs,)
        extra = self.additional_forward_args
        if extra is None:
            return inputs
        return (*inputs, *(extra if isinstance(extra, tuple) else (extra,)))

    def arguments(self) -> dict[str, Any]:
        """The ``attribute`` keywords other than ``inputs`` and ``target``."""
        return {
            "additional_forward_args": self.additional_forward_args,
            "attribute_to_layer_input": self.attribute_to_layer_input,
        }

    def example(self, index: int) -> Built:
        """The case reduced to example ``index`` (batched tensors sliced, the rest kept)."""
        return replace(
            self,
            inputs=_slice(self.inputs, index),
            target=[self.target[index]],
            additional_forward_args=_slice(self.additional_forward_args, index),
        )


def _cast(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, tuple):
        return tuple(_cast(item, dtype) for item in value)
    if isinstance(value, Tensor) and value.is_floating_point():
        return value.to(dtype)
    return value


def _slice(value: Any, index: int) -> Any:
    if isinstance(value, tuple):
        return tuple(_slice(item, index) for item in value)
    if isinstance(value, Tensor) and value.dim() > 0:
        return value[index : index + 1]
    return value


def _conv_inputs(batch: int) -> Callable[[], Tensor]:
    return lambda: 100 * torch.randn(batch, 1, 10, 10)


def _one_conv_inputs() -> Tensor:
    return 15 * torch.rand(3, 1, 5, 5)


CONV = Case("conv_batch_4", GapConvNet, "relu2", _conv_inputs(4), [1, 3, 5, 9])

CASES: list[Case] = [
    CONV,
    Case("conv_batch_1", GapConvNet, "relu2", _conv_inputs(1), [7]),
    replace(CONV, name="conv_float64", dtype=torch.float64),
    replace(CONV, name="conv_bfloat16", dtype=torch.bfloat16),
    Case(
        "multi_input_additional_args",
        GapMultiInput,
        "model.relu2",
        lambda: (torch.randn(4, 1, 10, 10), torch.randn(4, 1, 10, 10)),
        [0, 4, 9, 2],
        additional_forward_args=lambda: (torch.randn(4, 1, 10, 10), 30),
    ),
    Case(
        "one_conv_additional_tensor",
        GapOneConv,
        "relu1",
        _one_conv_inputs,
        [3, 0, 2],
        additional_forward_args=lambda: torch.rand(3, 1, 5, 5),
    ),
    Case(
        "layer_input",
        GapConvNet,
        "gap",
        _conv_inputs(4),
        [2, 2, 8, 0],
        attribute_to_layer_input=True,
    ),
    Case("in_place_layer", lambda: GapOneConv(inplace=True), "relu1", _one_conv_inputs, [1, 3, 0]),
    Case(
        "in_place_after_layer",
        lambda: GapConvNet(free_features=True),
        "relu2",
        _conv_inputs(4),
        [6, 5, 4, 3],
    ),
]

OPTIONS: list[dict[str, bool]] = [
    {},
    {"relu_attributions": True},
    {"attr_dim_summation": False},
    {"relu_attributions": True, "attr_dim_summation": False},
]
"""``attribute`` flags that every oracle check runs with."""


@dataclass(frozen=True)
class TargetForm:
    """One way to write ``target`` for ``N`` examples and ``K >= 5`` classes.

    Attributes:
        name: What the form is.
        target: ``(N, K) -> target``.
        classes: ``(N, K) -> the class of each example``, or ``None`` where it is refused.
        message: ``(N, K) -> a fragment of the TargetError message`` for a refused form.
        captum_accepts: ``False`` for the project's extension (NumPy integers), which Captum
            refuses and the methods accept.
    """

    name: str
    target: Callable[[int, int], object]
    classes: Callable[[int, int], list[int] | None]
    message: Callable[[int, int], str] = lambda n, k: ""
    captum_accepts: bool = True

    def __str__(self) -> str:
        return self.name


def _pattern(n: int, k: int) -> list[int]:
    return [(2 * i + 1) % k for i in range(n)]


def _all(c: Callable[[int], int]) -> Callable[[int, int], list[int]]:
    return lambda n, k: [c(k)] * n


def _refused(_n: int, _k: int) -> None:
    return None


TARGET_FORMS: list[TargetForm] = [
    TargetForm("int", lambda n, k: 2, _all(lambda k: 2)),
    TargetForm("negative_int", lambda n, k: -1, _all(lambda k: k - 1)),
    TargetForm("lowest_negative_int", lambda n, k: -k, _all(lambda k: 0)),
    TargetForm("tensor_0d", lambda n, k: torch.tensor(3), _all(lambda k: 3)),
    TargetForm("negative_tensor_0d", lambda n, k: torch.tensor(-2), _all(lambda k: k - 2)),
    TargetForm("tensor_1_element", lambda n, k: torch.tensor([1]), _all(lambda k: 1)),
    TargetForm("negative_tensor_1_element", lambda n, k: torch.tensor([-1]), _all(lambda k: k - 1)),
    TargetForm("tensor_1x1", lambda n, k: torch.tensor([[2]]), _all(lambda k: 2)),
    TargetForm(
        "int32_tensor_0d", lambda n, k: torch.tensor(1, dtype=torch.int32), _all(lambda k: 1)
    ),
    TargetForm(
        "uint8_tensor_0d", lambda n, k: torch.tensor(2, dtype=torch.uint8), _all(lambda k: 2)
    ),
    TargetForm("tuple_1", lambda n, k: (1,), _all(lambda k: 1)),
    TargetForm("negative_tuple_1", lambda n, k: (-3,), _all(lambda k: k - 3)),
    TargetForm("tuple_of_tensor_0d", lambda n, k: (torch.tensor(2),), _all(lambda k: 2)),
    TargetForm("list_of_ints", lambda n, k: _pattern(n, k), _pattern),
    TargetForm("list_of_tuples", lambda n, k: [(c,) for c in _pattern(n, k)], _pattern),
    TargetForm(
        "list_of_negative_tuples", lambda n, k: [(c - k,) for c in _pattern(n, k)], _pattern
    ),
    TargetForm("tensor_1d", lambda n, k: torch.tensor(_pattern(n, k)), _pattern),
    TargetForm(
        "int32_tensor_1d", lambda n, k: torch.tensor(_pattern(n, k), dtype=torch.int32), _pattern
    ),
    TargetForm(
        "list_of_one_int",
        lambda n, k: [3],
        lambda n, k: [3] if n == 1 else None,
        lambda n, k: f"holds 1 entries for a batch of N={n}",
    ),
    TargetForm(
        "tensor_n_by_1",
        lambda n, k: torch.tensor(_pattern(n, k))[:, None],
        lambda n, k: _pattern(n, k) if n == 1 else None,
        lambda n, k: f"shape ({n}, 1)",
    ),
    TargetForm(
        "tensor_with_a_negative_entry",
        lambda n, k: torch.tensor([-1, *_pattern(n, k)[1:]]),
        lambda n, k: [k - 1] if n == 1 else None,
        lambda n, k: "negative indices work only",
    ),
    TargetForm("numpy_int", lambda n, k: np.int64(2), _all(lambda k: 2), captum_accepts=False),
    TargetForm(
        "list_of_numpy_ints",
        lambda n, k: [np.int64(c) for c in _pattern(n, k)],
        _pattern,
        captum_accepts=False,
    ),
    TargetForm("none", lambda n, k: None, _refused, lambda n, k: "never takes the argmax"),
    TargetForm("bool", lambda n, k: True, _refused, lambda n, k: "type bool is not supported"),
    TargetForm("bool_tensor", lambda n, k: torch.tensor(True), _refused, lambda n, k: "torch.bool"),
    TargetForm("float", lambda n, k: 2.0, _refused, lambda n, k: "type float is not supported"),
    TargetForm("float_tensor_0d", lambda n, k: torch.tensor(2.0), _refused, lambda n, k: "dtype"),
    TargetForm(
        "float_tensor_1d",
        lambda n, k: torch.tensor(_pattern(n, k), dtype=torch.float32),
        _refused,
        lambda n, k: "dtype torch.float32",
    ),
    TargetForm("string", lambda n, k: "cat", _refused, lambda n, k: "type str"),
    TargetForm("tuple_2", lambda n, k: (0, 1), _refused, lambda n, k: "holds 2 indices"),
    TargetForm("tuple_empty", lambda n, k: (), _refused, lambda n, k: "holds 0 indices"),
    TargetForm(
        "list_of_tuples_2", lambda n, k: [(0, 1)] * n, _refused, lambda n, k: "holds 2 indices"
    ),
    TargetForm(
        "list_too_long",
        lambda n, k: [0] * (n + 1),
        _refused,
        lambda n, k: f"holds {n + 1} entries for a batch of N={n}",
    ),
    TargetForm(
        "tensor_too_long",
        lambda n, k: torch.zeros(n + 1, dtype=torch.long),
        _refused,
        lambda n, k: "per-example classes",
    ),
    TargetForm(
        "list_mixing_ints_and_tuples",
        lambda n, k: [(0,), *([1] * (n - 1))] if n > 1 else [(0,), 1],
        _refused,
        lambda n, k: "not a mix" if n > 1 else "holds 2 entries",
    ),
    TargetForm(
        "list_with_a_negative_int",
        lambda n, k: [-1, *_pattern(n, k)[1:]],
        _refused,
        lambda n, k: "negative indices work only",
    ),
    TargetForm("int_k", lambda n, k: k, _refused, lambda n, k: f"out of range for K={k}"),
    TargetForm("int_below_minus_k", lambda n, k: -k - 1, _refused, lambda n, k: f"K={k}"),
    TargetForm(
        "list_with_k",
        lambda n, k: [*_pattern(n, k)[:-1], k],
        _refused,
        lambda n, k: f"[{k}] out of range for K={k}",
    ),
    TargetForm(
        "tensor_with_k",
        lambda n, k: torch.tensor([*_pattern(n, k)[:-1], k]),
        _refused,
        lambda n, k: f"K={k}",
    ),
    TargetForm(
        "list_of_tuples_with_k",
        lambda n, k: [(c,) for c in _pattern(n, k)[:-1]] + [(k,)],
        _refused,
        lambda n, k: f"K={k}",
    ),
]
