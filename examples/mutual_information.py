"""The paper's synthetic mutual-information experiment, runnable.

Qin, Kim & Gedeon, "Rethinking Softmax with Cross-Entropy: Neural Network Classifier as Mutual
Information Estimator" (arXiv 1911.10688), synthetic MI experiment. Five classes with
``x | y=k ~ N(m_k * 1, I_d)``, ``m = (0, 2, -2, 4, -4)``, ``d`` in {1, 2, 5, 10}. Training sets:
balanced (10,000 samples per class) and imbalanced (5,000, 10,000, 15,000, 20,000, 25,000); test
sets have 1/5 of the training counts, in the same proportions. An MLP d-100-100-100-5 (ReLU) is
trained with softmax cross-entropy and, from the same initial weights and batches, with the
PC-softmax cross-entropy (training-set priors). On the test set the table gives, in nats:

- ``true``: Monte Carlo ``mean_i log p(x_i|y_i) / sum_k pi_k p(x_i|k)`` with the true Gaussian
  densities and the test set's class proportions ``pi``;
- ``softmax``: the paper's softmax estimator ``log K + mean_i log softmax(f(x_i))_{y_i}`` on the
  softmax-trained network (it assumes balanced classes);
- ``softmax+p``: the same network read with its priors, ``mean_i log softmax_{y_i} - log p(y_i)``
  (that is ``estimate_mutual_information(f - log p, y, p)``), to separate the estimator's bias from
  the training;
- ``pc-softmax``: ``mean_i f_{y_i} - logsumexp(f(x_i) + log p)`` on the PC-softmax-trained network.

Usage::

    python examples/mutual_information.py                 # full experiment (16 networks)
    python examples/mutual_information.py --quick         # small, under two minutes on 2 cores
    python examples/mutual_information.py --quick --dims 1 2 --output /tmp/mi.json
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import platform
import sys
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from evaluation.io import atomic_write_json
from infocam_captum.information import (
    PCSoftmaxCrossEntropyLoss,
    estimate_mutual_information,
    label_priors,
)

MEAN_OFFSETS = (0.0, 2.0, -2.0, 4.0, -4.0)
"""Class means are ``offset * (1, ..., 1)``: the authors' ``mean_unit=2``."""
NUM_CLASSES = len(MEAN_OFFSETS)
IMBALANCE = (1, 2, 3, 4, 5)
"""Imbalanced class sizes are proportional to these (5,000 ... 25,000 in the full run)."""
TEST_FRACTION = 5
"""Test sets hold 1/5 of the training counts."""


@dataclasses.dataclass(frozen=True)
class Config:
    """Size and optimisation settings of one run.

    Attributes:
        dims: Input dimensions ``d``.
        train_per_class: Balanced training samples per class; the imbalanced classes get
            ``train_per_class / 2 * (1, 2, 3, 4, 5)``.
        epochs: Passes over the training set.
        batch_size: Mini-batch size.
        lr: Adam's initial learning rate (cosine-annealed to 0 over training).
        hidden: Width of the three hidden layers.
        seed: Seed of the data and of the initial weights.
    """

    dims: tuple[int, ...] = (1, 2, 5, 10)
    train_per_class: int = 10_000
    epochs: int = 100
    batch_size: int = 2000
    lr: float = 1e-3
    hidden: int = 100
    seed: int = 0


FULL = Config()
QUICK = Config(train_per_class=2_000, epochs=40, batch_size=250)


def class_counts(train_per_class: int, balanced: bool) -> tuple[list[int], list[int]]:
    """Training and test counts per class (test = 1/5 of train, same proportions)."""
    if balanced:
        train = [train_per_class] * NUM_CLASSES
    else:
        train = [train_per_class // 2 * k for k in IMBALANCE]
    return train, [n // TEST_FRACTION for n in train]


def class_means(dim: int) -> Tensor:
    """``(K, d)`` class means ``m_k * (1, ..., 1)``."""
    return torch.tensor(MEAN_OFFSETS).unsqueeze(1).expand(NUM_CLASSES, dim).contiguous()


def sample_mixture(
    counts: Sequence[int], means: Tensor, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Draw ``counts[k]`` samples of ``N(means[k], I)`` per class; return ``(x, y)`` shuffled."""
    labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    x = means[labels] + torch.randn(labels.numel(), means.shape[1], generator=generator)
    order = torch.randperm(labels.numel(), generator=generator)
    return x[order], labels[order]


def gaussian_log_likelihoods(x: Tensor, means: Tensor) -> Tensor:
    """``(N, K)`` ``log N(x; means[k], I)`` in float64."""
    x = x.double()
    sq_dist = torch.cdist(x, means.double()).square()
    return -0.5 * sq_dist - 0.5 * x.shape[1] * math.log(2.0 * math.pi)


def true_mutual_information(x: Tensor, y: Tensor, means: Tensor, proportions: Tensor) -> float:
    """Monte Carlo ``mean_i log p(x_i|y_i) - log sum_k pi_k p(x_i|k)`` with the true densities."""
    log_lik = gaussian_log_likelihoods(x, means)
    log_marginal = torch.logsumexp(log_lik + proportions.double().log(), dim=1)
    return float((log_lik.gather(1, y.unsqueeze(1)).squeeze(1) - log_marginal).mean())


def make_mlp(dim: int, hidden: int) -> nn.Sequential:
    """MLP ``d -> hidden -> hidden -> hidden -> K`` with ReLU."""
    return nn.Sequential(
        nn.Linear(dim, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, NUM_CLASSES),
    )


def train_classifier(
    x: Tensor, y: Tensor, loss_fn: nn.Module, config: Config, seed: int
) -> nn.Sequential:
    """Train a fresh MLP with Adam and a cosine learning-rate schedule; seeded, deterministic."""
    torch.manual_seed(seed)
    model = make_mlp(x.shape[1], config.hidden)
    steps_per_epoch = math.ceil(x.shape[0] / config.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs * steps_per_epoch
    )
    for _ in range(config.epochs):
        for batch in torch.randperm(x.shape[0]).split(config.batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x[batch]), y[batch]).backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def run_cell(dim: int, balanced: bool, config: Config) -> dict[str, Any]:
    """Train both networks for one ``(d, balance)`` cell and return its estimates in nats."""
    started = time.perf_counter()
    cell_seed = config.seed * 1000 + dim * 10 + int(balanced)
    generator = torch.Generator().manual_seed(cell_seed)
    means = class_means(dim)
    train_counts, test_counts = class_counts(config.train_per_class, balanced)
    x_train, y_train = sample_mixture(train_counts, means, generator)
    x_test, y_test = sample_mixture(test_counts, means, generator)
    priors = label_priors(y_train, NUM_CLASSES)
    test_proportions = label_priors(y_test, NUM_CLASSES)

    softmax_net = train_classifier(x_train, y_train, nn.CrossEntropyLoss(), config, cell_seed)
    pc_net = train_classifier(
        x_train, y_train, PCSoftmaxCrossEntropyLoss(priors), config, cell_seed
    )
    with torch.no_grad():
        softmax_logits = softmax_net(x_test).double()
        pc_logits = pc_net(x_test).double()
    softmax_mi = float(estimate_mutual_information(softmax_logits, y_test))
    corrected_mi = float(
        estimate_mutual_information(softmax_logits - priors.double().log(), y_test, priors)
    )
    pc_mi = float(estimate_mutual_information(pc_logits, y_test, priors))
    truth = true_mutual_information(x_test, y_test, means, test_proportions)
    entropy = float(-(test_proportions.double() * test_proportions.double().log()).sum())
    return {
        "dim": dim,
        "data": "balanced" if balanced else "imbalanced",
        "train_counts": train_counts,
        "test_counts": test_counts,
        "label_entropy": entropy,
        "true_mi": truth,
        "softmax_mi": softmax_mi,
        "softmax_prior_corrected_mi": corrected_mi,
        "pc_softmax_mi": pc_mi,
        "softmax_error": softmax_mi - truth,
        "softmax_prior_corrected_error": corrected_mi - truth,
        "pc_softmax_error": pc_mi - truth,
        "softmax_accuracy": float((softmax_logits.argmax(1) == y_test).double().mean()),
        "pc_softmax_accuracy": float((pc_logits.argmax(1) == y_test).double().mean()),
        "seconds": time.perf_counter() - started,
    }


def format_table(cells: Sequence[dict[str, Any]]) -> str:
    """Markdown table of the estimates and their errors (estimate - truth), in nats."""
    header = (
        "| d | data | H(Y) | true MI | softmax | err | softmax+p | err | pc-softmax | err |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [
        f"| {c['dim']} | {c['data']} | {c['label_entropy']:.3f} | {c['true_mi']:.3f} "
        f"| {c['softmax_mi']:.3f} | {c['softmax_error']:+.3f} "
        f"| {c['softmax_prior_corrected_mi']:.3f} | {c['softmax_prior_corrected_error']:+.3f} "
        f"| {c['pc_softmax_mi']:.3f} | {c['pc_softmax_error']:+.3f} |"
        for c in cells
    ]
    return "\n".join([header, *rows])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: under two minutes on 2 cores"
    )
    parser.add_argument("--dims", type=int, nargs="+", help="input dimensions (default 1 2 5 10)")
    parser.add_argument("--epochs", type=int, help="passes over the training set")
    parser.add_argument("--train-per-class", type=int, help="balanced training samples per class")
    parser.add_argument("--batch-size", type=int, help="mini-batch size")
    parser.add_argument("--lr", type=float, help="Adam's initial learning rate")
    parser.add_argument("--seed", type=int, help="seed of data and weights (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--output", help="also write the results as JSON to this path")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = {
        "dims": tuple(args.dims) if args.dims else None,
        "epochs": args.epochs,
        "train_per_class": args.train_per_class,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
    }
    config = dataclasses.replace(
        QUICK if args.quick else FULL, **{k: v for k, v in overrides.items() if v is not None}
    )
    started = time.perf_counter()
    cells = []
    for dim in config.dims:
        for balanced in (True, False):
            cells.append(run_cell(dim, balanced, config))
            print(f"d={dim} {cells[-1]['data']}: {cells[-1]['seconds']:.1f} s", file=sys.stderr)
    wall = time.perf_counter() - started
    print(format_table(cells))
    print(f"\n{len(cells)} cells, {wall:.1f} s wall, {args.threads} thread(s)")
    if args.output:
        atomic_write_json(
            args.output,
            {
                "config": dataclasses.asdict(config),
                "quick": args.quick,
                "threads": args.threads,
                "torch": torch.__version__,
                "python": platform.python_version(),
                "wall_seconds": wall,
                "cells": cells,
            },
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
