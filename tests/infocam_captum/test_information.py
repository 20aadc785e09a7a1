"""Tests of infocam_captum.information: PC-softmax, its loss, MI and PMI estimates, priors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from infocam_captum.exceptions import (
    InfoCamError,
    InvalidArgumentError,
    PriorsError,
    TargetError,
)
from infocam_captum.information import (
    PRIORS_TOLERANCE,
    PCSoftmaxCrossEntropyLoss,
    estimate_mutual_information,
    label_priors,
    pc_log_softmax,
    pc_softmax,
    pointwise_mutual_information,
)

PRIORS = torch.tensor([0.1, 0.2, 0.3, 0.4])
PRIORS64 = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
OFFSETS = (0.0, 2.0, -2.0, 4.0, -4.0)  # the paper's 1-D class means


def _mixture(counts: list[int], means: torch.Tensor, seed: int) -> tuple[torch.Tensor, ...]:
    """1-D Gaussian mixture N(means[k], 1) with exact class counts; float64 samples and labels."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    x = means[labels] + torch.randn(labels.numel(), generator=gen, dtype=torch.float64)
    return x, labels


def _log_densities(x: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """(N, K) true log N(x; means[k], 1)."""
    return -0.5 * (x[:, None] - means[None, :]) ** 2 - 0.5 * math.log(2 * math.pi)


def _quadrature_mi(means: torch.Tensor, priors: torch.Tensor) -> float:
    """I(X;Y) = sum_k p_k int N(x; m_k, 1) log N(x; m_k, 1) / p(x) dx by the trapezoid rule."""
    grid = torch.linspace(-14.0, 14.0, 400_001, dtype=torch.float64)
    log_lik = _log_densities(grid, means)
    log_marginal = torch.logsumexp(log_lik + priors.log(), dim=1, keepdim=True)
    integrand = (priors * log_lik.exp() * (log_lik - log_marginal)).sum(dim=1)
    return float(torch.trapezoid(integrand, grid))


# --- pc_softmax / pc_log_softmax ------------------------------------------------------------


def test_uniform_priors_give_log_softmax_plus_log_k() -> None:
    logits = torch.randn(6, 5) * 3
    uniform = torch.full((5,), 0.2)
    expected = logits.log_softmax(dim=-1) + math.log(5)
    torch.testing.assert_close(pc_log_softmax(logits, uniform), expected)
    torch.testing.assert_close(pc_softmax(logits, uniform), logits.softmax(-1) * 5)


def test_pc_softmax_matches_the_definition_in_float64() -> None:
    logits = torch.randn(7, 4, dtype=torch.float64)
    priors = PRIORS64
    expected = logits.exp() / (priors * logits.exp()).sum(dim=1, keepdim=True)
    result = pc_softmax(logits, priors)
    assert result.dtype == torch.float64
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=0)
    # Not a distribution over y, but sum_y p(y) pc_softmax_y = 1.
    torch.testing.assert_close(result @ priors, torch.ones(7, dtype=torch.float64))


def test_pc_log_softmax_is_stable_and_shift_invariant() -> None:
    logits = torch.tensor([[1000.0, 0.0, -1000.0, 999.0]], dtype=torch.float64)
    priors = PRIORS64
    result = pc_log_softmax(logits, priors)
    assert torch.isfinite(result).all()
    expected = torch.tensor([[-math.log(0.1 + 0.4 / math.e)]], dtype=torch.float64) + torch.tensor(
        [[0.0, -1000.0, -2000.0, -1.0]], dtype=torch.float64
    )
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(pc_log_softmax(logits - 1000.0, priors), result)


def test_priors_broadcast_over_leading_dims_and_dim_argument() -> None:
    logits = torch.randn(2, 3, 4)
    flat = pc_log_softmax(logits.reshape(6, 4), PRIORS).reshape(2, 3, 4)
    torch.testing.assert_close(pc_log_softmax(logits, PRIORS), flat)
    channels_first = logits.permute(0, 2, 1)  # (2, K=4, 3)
    torch.testing.assert_close(
        pc_log_softmax(channels_first, PRIORS, dim=1), flat.permute(0, 2, 1)
    )
    torch.testing.assert_close(
        pc_log_softmax(channels_first, PRIORS, dim=-2), flat.permute(0, 2, 1)
    )


def test_priors_accept_a_list_and_a_float32_vector_for_float64_logits() -> None:
    logits = torch.randn(3, 4, dtype=torch.float64)
    expected = logits - torch.logsumexp(logits + PRIORS.double().log(), dim=1, keepdim=True)
    torch.testing.assert_close(pc_log_softmax(logits, PRIORS), expected, rtol=1e-12, atol=1e-12)
    as_list = pc_log_softmax(logits, [0.1, 0.2, 0.3, 0.4])
    torch.testing.assert_close(as_list, expected, rtol=1e-6, atol=1e-6)


def test_no_gradient_reaches_the_priors_of_the_functional_form() -> None:
    logits = torch.randn(3, 4, requires_grad=True)
    priors = PRIORS.clone().requires_grad_(True)
    pc_log_softmax(logits, priors).sum().backward()
    assert priors.grad is None
    assert logits.grad is not None


def test_priors_within_tolerance_are_accepted() -> None:
    nearly = torch.tensor([0.25, 0.25, 0.25, 0.25 + 0.5 * PRIORS_TOLERANCE])
    pc_log_softmax(torch.zeros(1, 4), nearly)
    beyond = torch.tensor([0.25, 0.25, 0.25, 0.25 + 2 * PRIORS_TOLERANCE])
    with pytest.raises(PriorsError, match="sum to 1"):
        pc_log_softmax(torch.zeros(1, 4), beyond)


@pytest.mark.parametrize(
    ("priors", "message"),
    [
        (torch.tensor([0.5, 0.5, 0.5, 0.5]), "sum to 1"),
        (torch.tensor([0.5, 0.5, 0.0, 0.0]), "strictly positive"),
        (torch.tensor([0.6, 0.6, -0.1, -0.1]), "strictly positive"),
        (torch.tensor([0.5, float("nan"), 0.25, 0.25]), "finite"),
        (torch.tensor([0.5, 0.5]), "2 entries but the logits have 4 classes"),
        (torch.full((2, 2), 0.25), "1-D"),
        (torch.tensor([]), "non-empty"),
    ],
)
def test_bad_priors_raise(priors: torch.Tensor, message: str) -> None:
    with pytest.raises(PriorsError, match=message) as info:
        pc_log_softmax(torch.zeros(2, 4), priors)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, InfoCamError)


def test_bad_logits_raise() -> None:
    with pytest.raises(InvalidArgumentError, match="floating-point"):
        pc_log_softmax(torch.zeros(2, 4, dtype=torch.long), PRIORS)
    with pytest.raises(InvalidArgumentError, match="class dimension"):
        pc_log_softmax(torch.tensor(1.0), torch.ones(1))
    with pytest.raises(InvalidArgumentError, match="dim=2"):
        pc_log_softmax(torch.zeros(2, 4), PRIORS, dim=2)
    with pytest.raises(InvalidArgumentError, match="floating-point"):
        pointwise_mutual_information([[0.0, 1.0]])  # type: ignore[arg-type]


# --- estimates --------------------------------------------------------------------------------


def test_uniform_priors_and_balanced_estimates_agree() -> None:
    logits = torch.randn(50, 5, dtype=torch.float64) * 2
    labels = torch.randint(0, 5, (50,))
    uniform = torch.full((5,), 0.2, dtype=torch.float64)
    balanced = estimate_mutual_information(logits, labels)
    with_priors = estimate_mutual_information(logits, labels, uniform)
    torch.testing.assert_close(balanced, with_priors, rtol=0, atol=1e-12)
    expected = math.log(5) + logits.log_softmax(1)[torch.arange(50), labels].mean()
    torch.testing.assert_close(balanced, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        pointwise_mutual_information(logits), pointwise_mutual_information(logits, uniform)
    )


def test_estimate_is_the_mean_pmi_at_the_labels_and_bits_divide_by_log_2() -> None:
    logits = torch.randn(2, 10, 4, dtype=torch.float64)
    labels = torch.randint(0, 4, (2, 10))
    pmi = pointwise_mutual_information(logits, PRIORS)
    expected = pmi.gather(-1, labels.unsqueeze(-1)).mean()
    nats = estimate_mutual_information(logits, labels, PRIORS)
    torch.testing.assert_close(nats, expected, rtol=0, atol=1e-12)
    bits = estimate_mutual_information(logits, labels, PRIORS, unit="bit")
    torch.testing.assert_close(bits, nats / math.log(2), rtol=0, atol=1e-12)


def test_true_log_densities_give_the_exact_pointwise_mutual_information() -> None:
    means = torch.tensor(OFFSETS, dtype=torch.float64)
    priors = torch.tensor([0.1, 0.15, 0.2, 0.25, 0.3], dtype=torch.float64)
    x, _ = _mixture([3, 3, 3, 3, 3], means, seed=1)
    log_lik = _log_densities(x, means)
    # PMI(x, y) = log p(x|y) / p(x) with p(x) = sum_k p_k p(x|k), independently computed.
    expected = log_lik - torch.log((priors * log_lik.exp()).sum(dim=1, keepdim=True))
    # Any additive term in x leaves the estimate unchanged.
    shifted = log_lik + x[:, None] ** 3
    torch.testing.assert_close(
        pointwise_mutual_information(shifted, priors), expected, rtol=0, atol=1e-10
    )


@pytest.mark.parametrize("balanced", [True, False])
def test_estimate_with_true_densities_converges_to_the_true_mutual_information(
    balanced: bool,
) -> None:
    """The paper's 1-D five-Gaussian mixture, 200,000 samples, true log densities as logits.

    Reference: I(X;Y) by numerical integration (trapezoid on a 400,001-point grid, error < 1e-8).
    Tolerance: 4 Monte Carlo standard errors of the sample mean (about 0.01 nats).
    """
    counts = [40_000] * 5 if balanced else [13_333, 26_667, 40_000, 53_333, 66_667]
    means = torch.tensor(OFFSETS, dtype=torch.float64)
    x, labels = _mixture(counts, means, seed=2)
    priors = label_priors(labels, 5).double()
    logits = _log_densities(x, means)
    truth = _quadrature_mi(means, priors)
    pmi = pointwise_mutual_information(logits, None if balanced else priors)
    standard_error = float(pmi[torch.arange(labels.numel()), labels].std()) / math.sqrt(len(x))
    estimate = estimate_mutual_information(logits, labels, None if balanced else priors)
    assert abs(float(estimate) - truth) < 4 * standard_error
    assert 0.9 < truth < 1.1  # the 1-D mixture's MI, a sanity anchor for the reference itself


def test_identical_class_densities_give_zero_information() -> None:
    x = torch.randn(100, dtype=torch.float64)
    labels = torch.randint(0, 4, (100,))
    logits = (-0.5 * x**2)[:, None].expand(100, 4)  # p(x|y) is the same for every y
    priors = PRIORS64
    assert float(estimate_mutual_information(logits, labels, priors)) == pytest.approx(0, abs=1e-12)
    assert float(estimate_mutual_information(logits, labels)) == pytest.approx(0, abs=1e-12)


def test_a_classifier_trained_on_independent_labels_estimates_about_zero() -> None:
    """Labels independent of the inputs: a linear classifier fit with the PC-softmax loss.

    Its held-out estimate is a lower bound on I(X;Y) = 0, close to it: within 0.01 nats.
    """
    gen = torch.Generator().manual_seed(3)
    priors = torch.tensor([0.2, 0.3, 0.5])
    x_train, x_test = torch.randn(4000, 2, generator=gen), torch.randn(20_000, 2, generator=gen)
    y_train = torch.multinomial(priors, 4000, replacement=True, generator=gen)
    y_test = torch.multinomial(priors, 20_000, replacement=True, generator=gen)
    model = nn.Linear(2, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    loss_fn = PCSoftmaxCrossEntropyLoss(label_priors(y_train, 3))
    for _ in range(150):
        optimizer.zero_grad()
        loss_fn(model(x_train), y_train).backward()
        optimizer.step()
    with torch.no_grad():
        estimate = float(estimate_mutual_information(model(x_test), y_test, priors))
    assert -0.01 < estimate < 0.005


def test_perfectly_separable_classes_give_the_label_entropy() -> None:
    counts = [100, 200, 300, 400]
    means = torch.tensor([0.0, 100.0, 200.0, 300.0], dtype=torch.float64)
    x, labels = _mixture(counts, means, seed=4)
    logits = _log_densities(x, means)
    priors = torch.tensor(counts, dtype=torch.float64) / sum(counts)
    entropy = float(-(priors * priors.log()).sum())
    assert float(estimate_mutual_information(logits, labels, priors)) == pytest.approx(
        entropy, abs=1e-9
    )
    assert float(estimate_mutual_information(logits, labels, priors, unit="bit")) == pytest.approx(
        entropy / math.log(2), abs=1e-9
    )
    balanced_x, balanced_labels = _mixture([50] * 4, means, seed=5)
    balanced = estimate_mutual_information(_log_densities(balanced_x, means), balanced_labels)
    assert float(balanced) == pytest.approx(math.log(4), abs=1e-9)


def test_balanced_estimator_overstates_imbalanced_information_by_log_k_minus_entropy() -> None:
    """A classifier that learnt p(y|x) on imbalanced data: the balanced formula adds KL(p || U)."""
    means = torch.tensor(OFFSETS, dtype=torch.float64)
    counts = [100, 200, 300, 400, 500]
    x, labels = _mixture(counts, means, seed=6)
    priors = torch.tensor(counts, dtype=torch.float64) / sum(counts)
    posterior_logits = _log_densities(x, means) + priors.log()  # log p(y|x) + const(x)
    corrected = estimate_mutual_information(posterior_logits - priors.log(), labels, priors)
    naive = estimate_mutual_information(posterior_logits, labels)
    entropy = float(-(priors * priors.log()).sum())
    assert float(naive - corrected) == pytest.approx(math.log(5) - entropy, abs=1e-9)


def test_estimate_is_differentiable_in_the_logits() -> None:
    logits = torch.randn(8, 3, requires_grad=True)
    labels = torch.randint(0, 3, (8,))
    estimate_mutual_information(logits, labels, [0.2, 0.3, 0.5]).backward()
    priors = torch.tensor([0.2, 0.3, 0.5])
    expected = (F.one_hot(labels, 3) - (logits.detach() + priors.log()).softmax(1)) / 8
    torch.testing.assert_close(logits.grad, expected)


def test_bad_estimate_arguments_raise() -> None:
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, 1, 2, 0])
    with pytest.raises(InvalidArgumentError, match="unit"):
        estimate_mutual_information(logits, labels, unit="bits")  # type: ignore[arg-type]
    with pytest.raises(TargetError, match="label 3 is out of range for 3 classes"):
        estimate_mutual_information(logits, torch.tensor([0, 1, 3, 0]))
    with pytest.raises(TargetError, match="label -1"):
        estimate_mutual_information(logits, torch.tensor([0, -1, 2, 0]))
    with pytest.raises(TargetError, match="integer"):
        estimate_mutual_information(logits, labels.float())
    with pytest.raises(TargetError, match="shape"):
        estimate_mutual_information(logits, labels[:3])
    with pytest.raises(TargetError, match="tensor"):
        estimate_mutual_information(logits, [0, 1, 2, 0])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="no samples"):
        estimate_mutual_information(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.raises(PriorsError, match="3 classes"):
        estimate_mutual_information(logits, labels, PRIORS)


# --- the loss ---------------------------------------------------------------------------------


def test_loss_is_cross_entropy_of_prior_adjusted_logits_plus_log_prior() -> None:
    logits = torch.randn(9, 4, dtype=torch.float64)
    target = torch.randint(0, 4, (9,))
    priors = PRIORS64
    per_sample = PCSoftmaxCrossEntropyLoss(priors, reduction="none")(logits, target)
    reference = nn.CrossEntropyLoss(reduction="none")(logits + priors.log(), target)
    torch.testing.assert_close(per_sample, reference + priors.log()[target], rtol=0, atol=1e-12)
    torch.testing.assert_close(
        per_sample, -pc_log_softmax(logits, priors)[torch.arange(9), target], rtol=0, atol=1e-12
    )
    mean = PCSoftmaxCrossEntropyLoss(priors)(logits, target)
    total = PCSoftmaxCrossEntropyLoss(priors, reduction="sum")(logits, target)
    torch.testing.assert_close(mean, per_sample.mean(), rtol=0, atol=1e-12)
    torch.testing.assert_close(total, per_sample.sum(), rtol=0, atol=1e-12)


def test_uniform_priors_loss_is_cross_entropy_minus_log_k() -> None:
    logits = torch.randn(6, 5)
    target = torch.randint(0, 5, (6,))
    loss = PCSoftmaxCrossEntropyLoss(torch.full((5,), 0.2))(logits, target)
    torch.testing.assert_close(loss, F.cross_entropy(logits, target) - math.log(5))
    # The MI bound and the mean loss are the same quantity with opposite signs.
    torch.testing.assert_close(-loss, estimate_mutual_information(logits, target))


def test_loss_supports_spatial_and_unbatched_inputs() -> None:
    logits = torch.randn(2, 4, 3, 5)
    target = torch.randint(0, 4, (2, 3, 5))
    spatial = PCSoftmaxCrossEntropyLoss(PRIORS, reduction="none")(logits, target)
    flat = PCSoftmaxCrossEntropyLoss(PRIORS, reduction="none")(
        logits.permute(0, 2, 3, 1).reshape(-1, 4), target.reshape(-1)
    )
    torch.testing.assert_close(spatial, flat.reshape(2, 3, 5))
    single = PCSoftmaxCrossEntropyLoss(PRIORS)(logits[0, :, 0, 0], target[0, 0, 0])
    torch.testing.assert_close(single, flat[0])


def test_loss_ignore_index() -> None:
    logits = torch.randn(6, 4)
    target = torch.tensor([0, -100, 2, 3, -100, 1])
    kept = target != -100
    per_sample = PCSoftmaxCrossEntropyLoss(PRIORS, reduction="none")(logits, target)
    assert (per_sample[~kept] == 0).all()
    reference = PCSoftmaxCrossEntropyLoss(PRIORS, reduction="none")(logits[kept], target[kept])
    torch.testing.assert_close(per_sample[kept], reference)
    torch.testing.assert_close(PCSoftmaxCrossEntropyLoss(PRIORS)(logits, target), reference.mean())
    # An in-range ignore_index drops that class, as nn.CrossEntropyLoss does.
    drop_two = PCSoftmaxCrossEntropyLoss(PRIORS, ignore_index=2)(logits[kept], target[kept])
    torch.testing.assert_close(drop_two, reference[target[kept] != 2].mean())


def test_loss_accepts_int32_targets() -> None:
    logits = torch.randn(5, 4)
    target = torch.randint(0, 4, (5,))
    loss = PCSoftmaxCrossEntropyLoss(PRIORS)
    torch.testing.assert_close(loss(logits, target.int()), loss(logits, target))


def test_gradients_flow_to_the_logits_and_not_to_the_priors() -> None:
    logits = torch.randn(5, 4, requires_grad=True)
    target = torch.randint(0, 4, (5,))
    priors = PRIORS.clone().requires_grad_(True)
    loss_fn = PCSoftmaxCrossEntropyLoss(priors, reduction="sum")
    loss_fn(logits, target).backward()
    # d/df_k [-f_y + log sum p exp f] = softmax(f + log p)_k - [k = y]
    expected = (logits.detach() + PRIORS.log()).softmax(1) - F.one_hot(target, 4)
    torch.testing.assert_close(logits.grad, expected)
    assert not loss_fn.priors.requires_grad
    assert loss_fn.priors.grad is None and priors.grad is None
    assert list(loss_fn.parameters()) == []


def test_priors_are_a_buffer_that_moves_and_is_saved() -> None:
    loss_fn = PCSoftmaxCrossEntropyLoss(PRIORS)
    assert dict(loss_fn.named_buffers())["priors"] is loss_fn.priors
    torch.testing.assert_close(loss_fn.state_dict()["priors"], PRIORS)
    assert loss_fn.to("cpu").priors.device.type == "cpu"
    loss_fn.to(torch.float64)
    assert loss_fn.priors.dtype == torch.float64
    logits = torch.randn(3, 4, dtype=torch.float64)
    assert loss_fn(logits, torch.tensor([0, 1, 2])).dtype == torch.float64
    other = PCSoftmaxCrossEntropyLoss([0.25] * 4)
    other.load_state_dict(loss_fn.state_dict())
    torch.testing.assert_close(other.priors, PRIORS)
    # The buffer is a copy: changing the caller's tensor afterwards changes nothing.
    source = PRIORS.clone()
    copied = PCSoftmaxCrossEntropyLoss(source)
    source.fill_(0.25)
    torch.testing.assert_close(copied.priors, PRIORS)
    assert "num_classes=4" in repr(copied) and "reduction='mean'" in repr(copied)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_priors_buffer_follows_the_module_to_cuda() -> None:
    loss_fn = PCSoftmaxCrossEntropyLoss(PRIORS).to("cuda")
    assert loss_fn.priors.is_cuda
    logits = torch.randn(3, 4)
    target = torch.tensor([0, 1, 3])
    expected = PCSoftmaxCrossEntropyLoss(PRIORS)(logits, target)
    torch.testing.assert_close(loss_fn(logits.cuda(), target.cuda()).cpu(), expected)


def test_bad_loss_arguments_raise() -> None:
    with pytest.raises(InvalidArgumentError, match="reduction"):
        PCSoftmaxCrossEntropyLoss(PRIORS, reduction="average")  # type: ignore[arg-type]
    with pytest.raises(PriorsError, match="sum to 1"):
        PCSoftmaxCrossEntropyLoss([0.5, 0.6])
    loss_fn = PCSoftmaxCrossEntropyLoss(PRIORS)
    with pytest.raises(PriorsError, match="4 priors but the input has 3 classes"):
        loss_fn(torch.randn(2, 3), torch.tensor([0, 1]))
    with pytest.raises(TargetError, match="label 4 is out of range for 4 classes"):
        loss_fn(torch.randn(2, 4), torch.tensor([0, 4]))
    with pytest.raises(TargetError, match="label -1"):
        loss_fn(torch.randn(2, 4), torch.tensor([-1, 0]))
    with pytest.raises(TargetError, match="integer"):
        loss_fn(torch.randn(2, 4), torch.tensor([0.0, 1.0]))
    with pytest.raises(TargetError, match="shape"):
        loss_fn(torch.randn(2, 4), torch.tensor([0, 1, 2]))
    with pytest.raises(InvalidArgumentError, match="floating-point"):
        loss_fn(torch.zeros(2, 4, dtype=torch.long), torch.tensor([0, 1]))


# --- label_priors -----------------------------------------------------------------------------


def test_label_priors_from_labels_of_any_shape() -> None:
    labels = torch.tensor([[0, 1, 1], [3, 3, 2]])
    torch.testing.assert_close(label_priors(labels, 4), torch.tensor([1.0, 2.0, 1.0, 2.0]) / 6)
    result = label_priors(torch.tensor([2, 0, 1, 1]), 3)
    assert result.dtype == torch.get_default_dtype()
    torch.testing.assert_close(result, torch.tensor([0.25, 0.5, 0.25]))
    torch.testing.assert_close(label_priors([0, 1, 1, 0], 2), torch.tensor([0.5, 0.5]))


def test_label_priors_smoothing_fills_empty_classes() -> None:
    labels = torch.tensor([0, 1, 1, 3])
    with pytest.raises(PriorsError, match=r"class\(es\) \[2, 4\] have no samples"):
        label_priors(labels, 5)
    torch.testing.assert_close(
        label_priors(labels, 5, smoothing=1.0), torch.tensor([2.0, 3.0, 1.0, 2.0, 1.0]) / 9
    )


def test_label_priors_from_counts() -> None:
    torch.testing.assert_close(
        label_priors(torch.bincount(torch.tensor([0, 1, 1, 2, 2, 2])), 3, counts=True),
        torch.tensor([1.0, 2.0, 3.0]) / 6,
    )
    torch.testing.assert_close(label_priors([0.5, 1.5], 2, counts=True), torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(
        label_priors(torch.tensor([0, 2]), 2, counts=True, smoothing=1.0),
        torch.tensor([0.25, 0.75]),
    )


def test_label_priors_errors() -> None:
    with pytest.raises(PriorsError, match="no samples"):
        label_priors(torch.tensor([5, 0, 2]), 3, counts=True)
    with pytest.raises(PriorsError, match="all counts are zero"):
        label_priors(torch.zeros(3), 3, counts=True)
    with pytest.raises(PriorsError, match="non-negative"):
        label_priors(torch.tensor([2.0, -1.0, 3.0]), 3, counts=True)
    with pytest.raises(PriorsError, match="1-D vector of 3"):
        label_priors(torch.tensor([2, 1]), 3, counts=True)
    with pytest.raises(TargetError, match="integer class indices"):
        label_priors(torch.tensor([0.0, 1.0]), 2)
    with pytest.raises(TargetError, match="out of range"):
        label_priors(torch.tensor([0, 1, 2]), 2)
    with pytest.raises(PriorsError, match="no labels"):
        label_priors(torch.zeros(0, dtype=torch.long), 2)
    with pytest.raises(InvalidArgumentError, match="num_classes"):
        label_priors(torch.tensor([0]), 0)
    with pytest.raises(InvalidArgumentError, match="smoothing"):
        label_priors(torch.tensor([0]), 1, smoothing=-1.0)
