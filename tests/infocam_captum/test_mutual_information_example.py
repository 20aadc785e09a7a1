"""Tests of examples/mutual_information.py at a tiny size (a few seconds)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mutual_information.py"


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutual_information_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Train the tiny networks on one thread (much faster than two on a shared, busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_counts_follow_the_paper(example: ModuleType) -> None:
    assert example.class_counts(10_000, True) == ([10_000] * 5, [2_000] * 5)
    assert example.class_counts(10_000, False) == (
        [5_000, 10_000, 15_000, 20_000, 25_000],
        [1_000, 2_000, 3_000, 4_000, 5_000],
    )
    torch.testing.assert_close(example.class_means(2)[:, 1], torch.tensor(example.MEAN_OFFSETS))


def test_true_mutual_information_of_separated_classes_is_the_label_entropy(
    example: ModuleType,
) -> None:
    means = example.class_means(3) * 50  # classes 100 standard deviations apart
    x, y = example.sample_mixture([10, 20, 30, 40, 50], means, torch.Generator().manual_seed(0))
    proportions = torch.tensor([10, 20, 30, 40, 50], dtype=torch.float64) / 150
    entropy = float(-(proportions * proportions.log()).sum())
    truth = example.true_mutual_information(x, y, means, proportions)
    assert truth == pytest.approx(entropy, abs=1e-9)


@pytest.mark.usefixtures("one_thread")
def test_tiny_imbalanced_cell(example: ModuleType) -> None:
    """A 2-D imbalanced cell with 2,000 training samples: PC-softmax within 0.05 nats."""
    config = example.Config(dims=(2,), train_per_class=400, epochs=15, batch_size=200)
    cell = example.run_cell(2, False, config)
    assert cell["train_counts"] == [200, 400, 600, 800, 1000]
    assert abs(cell["pc_softmax_error"]) < 0.05
    # The balanced formula over-states by exactly log K - H(Y) relative to the corrected one.
    gap = cell["softmax_mi"] - cell["softmax_prior_corrected_mi"]
    assert gap == pytest.approx(math.log(5) - cell["label_entropy"], abs=1e-6)
    assert cell["softmax_error"] > 0.08


def test_main_writes_json(
    example: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    threads = torch.get_num_threads()
    output = tmp_path / "mi.json"
    argv = ["--quick", "--dims", "1", "--epochs", "1", "--train-per-class", "200"]
    try:
        assert example.main([*argv, "--output", str(output)]) == 0
    finally:
        torch.set_num_threads(threads)  # main() sets its --threads (default 1)
    assert "| 1 | imbalanced |" in capsys.readouterr().out
    result = json.loads(output.read_text())
    assert result["quick"] is True
    assert result["config"]["epochs"] == 1 and result["config"]["dims"] == [1]
    assert [cell["data"] for cell in result["cells"]] == ["balanced", "imbalanced"]
