"""The hooked forward pass: what it records, for whom, and its differentiable mode."""

from __future__ import annotations

import threading

import pytest
import torch
from captum.attr import LayerGradientXActivation
from torch import Tensor, nn

from infocam_captum._layer_forward import (
    check_hookable,
    device_order,
    forward_with_layer,
    gather,
)
from infocam_captum.exceptions import InvalidArgumentError

from .contract.models import GapConvNet
from .toy_models import SmallCnn, hooks_left


class ReusedLayer(nn.Module):
    """Runs ``layer`` twice (EfficientNet-Lite reuses one activation module like this)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Conv2d(2, 2, 1)
        self.fc = nn.Linear(2, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.layer(self.layer(x)).mean(dim=(2, 3)))


def cpu_replica(module: nn.Module) -> nn.Module:
    """What ``torch.nn.parallel.replicate`` makes for one device, on the CPU: a new module per
    submodule, sharing the parameters and (as DataParallel replicas do) the hook dictionaries."""
    replica = module._replicate_for_data_parallel()
    replica._parameters = dict(module._parameters)
    for name, child in module._modules.items():
        replica._modules[name] = cpu_replica(child)
    return replica


class WorkerThreadReplica(nn.Module):
    """A CPU stand-in for DataParallel: runs a replica of ``module`` in a worker thread."""

    def __init__(self, module: nn.Module, device_ids: list[int] | None) -> None:
        super().__init__()
        self.module = module
        self.device_ids = device_ids

    def forward(self, x: Tensor) -> Tensor:
        replica = cpu_replica(self.module)
        result: list[Tensor] = []
        worker = threading.Thread(target=lambda: result.append(replica(x)))
        worker.start()
        worker.join()
        return result[0]


def test_records_the_layer_and_the_output_and_removes_its_hooks():
    model = SmallCnn().eval()
    x = torch.randn(2, 3, 8, 8)
    record = forward_with_layer(model, (x,), model.layer, watch=[model.fc])
    with torch.no_grad():
        features = model.layer(torch.relu(model.conv(x)))
        torch.testing.assert_close(record.layer_tensors[0], features)
        torch.testing.assert_close(record.output, model(x))
        assert record.per_device == (record.layer_tensors,)
        call = record.calls[model.fc]
        torch.testing.assert_close(call.input, features.mean(dim=(2, 3)))
        torch.testing.assert_close(call.output, model(x))
    assert not record.layer_tensors[0].requires_grad and not record.output.requires_grad
    assert hooks_left(model) == 0


def test_a_layer_that_runs_twice_keeps_its_last_call_as_captum_does():
    model = ReusedLayer().eval()
    x = torch.randn(1, 2, 3, 3)
    record = forward_with_layer(model, (x,), model.layer)
    with torch.no_grad():
        torch.testing.assert_close(record.layer_tensors[0], model.layer(model.layer(x)))


def test_layer_input_and_additional_arguments():
    model = GapConvNet().eval()
    x = torch.randn(2, 1, 10, 10)

    def trunk(inputs: Tensor) -> Tensor:
        return model.relu2(model.conv2(model.pool1(model.relu1(model.conv1(inputs)))))

    def scaled(inputs: Tensor, scale: float) -> Tensor:
        return model(scale * inputs)

    record = forward_with_layer(scaled, (x,), model.gap, (3.0,), attribute_to_layer_input=True)
    with torch.no_grad():
        torch.testing.assert_close(record.layer_tensors[0], trunk(3.0 * x))
        torch.testing.assert_close(record.output, model(3.0 * x))


def test_differentiable_pass_gives_the_layer_gradients_and_touches_no_parameter():
    model = GapConvNet().eval()
    x = torch.randn(3, 1, 10, 10, requires_grad=True)
    target = torch.tensor([1, 4, 9])
    record = forward_with_layer(model, (x,), model.relu2, differentiable=True)
    leaf = record.layer_tensors[0]
    assert leaf.is_leaf and leaf.requires_grad
    scores = record.output.gather(1, target[:, None])
    (gradient,) = record.layer_gradients(scores)
    expected = LayerGradientXActivation(model, model.relu2, multiply_by_inputs=False).attribute(
        x, target=target
    )
    torch.testing.assert_close(gradient, expected)
    # GAP -> Linear: d f_y / d F_c(i, j) = W[y, c] / (h * w).
    torch.testing.assert_close(
        gradient, (model.fc.weight[target] / 4)[:, :, None, None].expand_as(leaf)
    )
    assert all(parameter.grad is None for parameter in model.parameters()) and x.grad is None
    assert hooks_left(model) == 0


def test_differentiable_leaves_survive_in_place_operations_after_the_layer():
    model = GapConvNet(free_features=True).eval()  # zeroes the feature map after pooling
    x = torch.randn(2, 1, 10, 10)
    record = forward_with_layer(model, (x,), model.relu2, differentiable=True)
    with torch.no_grad():
        features = model.relu2(model.conv2(model.pool1(model.relu1(model.conv1(x)))))
    assert bool(features.abs().sum() > 0)
    torch.testing.assert_close(record.layer_tensors[0].detach(), features)
    (gradient,) = record.layer_gradients(record.output[:, 3], {"retain_graph": True})
    expected = (model.fc.weight[3] / 4)[None, :, None, None].expand_as(features)
    torch.testing.assert_close(gradient, expected)
    (again,) = record.layer_gradients(record.output[:, 3])  # the graph was retained
    torch.testing.assert_close(again, expected)


def test_layer_gradients_need_a_differentiable_pass():
    model = SmallCnn().eval()
    record = forward_with_layer(model, (torch.randn(1, 3, 8, 8),), model.layer)
    with pytest.raises(InvalidArgumentError, match="differentiable=True"):
        record.layer_gradients(record.output[:, 0])


def test_worker_thread_calls_count_only_for_a_data_parallel_forward():
    model = SmallCnn().eval()
    x = torch.randn(2, 3, 8, 8)
    expected = forward_with_layer(model, (x,), model.layer).layer_tensors[0]
    parallel = forward_with_layer(WorkerThreadReplica(model, [0]), (x,), model.layer)
    torch.testing.assert_close(parallel.layer_tensors[0], expected)
    given = forward_with_layer(WorkerThreadReplica(model, None), (x,), model.layer, device_ids=[0])
    torch.testing.assert_close(given.layer_tensors[0], expected)
    # Without device ids a call in another thread belongs to someone else's forward pass.
    with pytest.raises(InvalidArgumentError, match="never ran"):
        forward_with_layer(WorkerThreadReplica(model, None), (x,), model.layer)
    assert hooks_left(model) == 0


def test_device_order_follows_device_ids():
    cuda = [torch.device("cuda", 1), torch.device("cuda", 0), torch.device("cuda", 2)]
    assert device_order(cuda[:1], None) == [0]
    assert device_order(cuda, [0, 1, 2]) == [1, 0, 2]
    assert device_order(cuda, [2, 1, 0, 3]) == [2, 0, 1]
    with pytest.raises(InvalidArgumentError, match="pass device_ids="):
        device_order(cuda, None)
    with pytest.raises(InvalidArgumentError, match="cuda:2, which device_ids=\\[0, 1\\]"):
        device_order(cuda, [0, 1])


def test_gather_concatenates_in_order_and_keeps_a_single_piece():
    first, second = (torch.zeros(1, 2),), (torch.ones(2, 2),)
    assert gather([first]) is first
    assert gather([second, first])[0].tolist() == [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]


def test_check_hookable_refuses_what_hooks_cannot_explain():
    model = SmallCnn().eval()
    with pytest.raises(InvalidArgumentError, match="list of 2 modules"):
        check_hookable(model, [model.layer, model.conv])
    with pytest.raises(InvalidArgumentError, match="got a str"):
        check_hookable(model, "layer")
    check_hookable(model.forward, model.layer)
