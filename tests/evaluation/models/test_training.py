"""The fine-tuning recipe and `wsol-bench train`: checkpoints, exact resume, losses, errors."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from torch import nn

from evaluation.cli import main
from evaluation.errors import CheckpointError, ConfigurationError, DataFormatError, WSOLError
from evaluation.models.training import (
    CHECKPOINT_LAST,
    TRAIN_LOG,
    TrainOptions,
    epoch_checkpoint_name,
    epoch_seed,
    head_parameters,
    train,
)

_TIMING_KEYS = ("seconds", "images_per_second")


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models run faster (and steadier) on one thread on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@dataclass(eq=False)
class ToyModel:
    """The part of CamModel that train() uses."""

    module: nn.Module
    layer: nn.Module
    classifier: nn.Linear
    name: str = "toy"
    head_modules: tuple[nn.Module, ...] = field(default_factory=tuple)


def toy_model(num_classes: int = 3, dropout: float = 0.2) -> ToyModel:
    torch.manual_seed(0)
    block = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    classifier = nn.Linear(8, num_classes)
    module = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), block, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Dropout(dropout), classifier,
    )
    return ToyModel(module, block, classifier)


class ToyData(torch.utils.data.Dataset):
    """Images whose mean encodes the label, with a random flip (augmentation from torch's RNG)."""

    def __init__(self, count: int = 29, num_classes: int = 3, seed: int = 1,
                 labels: list[int] | None = None, augment: bool = True) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.labels = (torch.tensor(labels) if labels is not None
                       else torch.randint(0, num_classes, (count,), generator=generator))
        self.images = torch.randn(len(self.labels), 3, 6, 6, generator=generator)
        self.images += self.labels.view(-1, 1, 1, 1).float()
        self.augment = augment
        self.calls = 0
        self.fail_at: int | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        self.calls += 1
        if self.fail_at is not None and self.calls > self.fail_at:
            raise KeyboardInterrupt
        image = self.images[i]
        if self.augment and bool(torch.rand(()) < 0.5):
            image = image.flip(-1)
        return {"image": image, "label": int(self.labels[i]), "boxes": torch.zeros(i % 3, 4)}


OPTIONS = TrainOptions(epochs=3, batch_size=8, lr=0.05, lr_decay_epochs=2)


def _untimed(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in _TIMING_KEYS} for r in records]


def test_resume_after_an_interrupt_ends_with_the_same_weights(tmp_path: Path) -> None:
    reference = toy_model()
    train(reference, ToyData(), OPTIONS, tmp_path / "whole", progress=False)

    data = ToyData()
    data.fail_at = 2 * len(data) + 5  # dies in the middle of epoch 3
    interrupted = toy_model()
    with pytest.raises(KeyboardInterrupt):
        train(interrupted, data, OPTIONS, tmp_path / "cut", progress=False)
    saved = torch.load(tmp_path / "cut" / CHECKPOINT_LAST, weights_only=True)
    assert saved["epoch"] == 2

    resumed = toy_model()  # a fresh process: everything comes from the checkpoint
    train(resumed, ToyData(), OPTIONS, tmp_path / "cut", resume=True, progress=False)
    expected = reference.module.state_dict()
    for key, value in resumed.module.state_dict().items():
        assert torch.equal(value, expected[key]), key
    whole = torch.load(tmp_path / "whole" / CHECKPOINT_LAST, weights_only=True)
    cut = torch.load(tmp_path / "cut" / CHECKPOINT_LAST, weights_only=True)
    for a, b in zip(whole["optimizer_state"]["state"].values(),
                    cut["optimizer_state"]["state"].values(), strict=True):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])
    assert _untimed(cut["metrics"]) == _untimed(whole["metrics"])


def test_epoch_seed_depends_only_on_seed_and_epoch() -> None:
    assert epoch_seed(0, 1) == epoch_seed(0, 1)
    assert len({epoch_seed(s, e) for s in range(3) for e in range(1, 4)}) == 9
    assert 0 <= epoch_seed(7, 100) < 2**32


def test_checkpoint_and_log_format(tmp_path: Path) -> None:
    model = toy_model()
    seen: list[dict] = []
    path = train(model, ToyData(), OPTIONS, tmp_path, class_ids=["a", "b", "c"],
                 val_data=ToyData(count=10, seed=5), progress=False, on_epoch=seen.append)
    assert path == tmp_path / CHECKPOINT_LAST
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    assert set(checkpoint) >= {"model_state", "model_name", "num_classes", "epoch",
                               "optimizer_state", "scheduler_state", "config", "class_ids",
                               "metrics"}
    assert checkpoint["model_name"] == "toy"
    assert checkpoint["num_classes"] == 3
    assert checkpoint["epoch"] == 3
    assert checkpoint["class_ids"] == ["a", "b", "c"]
    assert checkpoint["config"] == OPTIONS.to_dict()
    json.dumps(checkpoint["config"])
    for key, value in model.module.state_dict().items():
        assert torch.equal(checkpoint["model_state"][key], value)
    for epoch in (1, 2, 3):
        kept = torch.load(tmp_path / epoch_checkpoint_name(epoch), weights_only=True)
        assert kept["epoch"] == epoch
    log = [json.loads(line) for line in (tmp_path / TRAIN_LOG).read_text().splitlines()]
    assert log == checkpoint["metrics"] == seen
    assert [r["epoch"] for r in log] == [1, 2, 3]
    for record in log:
        assert math.isfinite(record["loss"]) and 0 <= record["accuracy"] <= 100
        assert 0 <= record["val_accuracy"] <= 100
        assert record["images"] == 29
    # step decay every 2 epochs, head at 10x
    assert [r["lr"] for r in log] == pytest.approx([0.05, 0.05, 0.005])
    assert [r["head_lr"] for r in log] == pytest.approx([0.5, 0.5, 0.05])
    assert not model.module.training


def test_validation_accuracy_matches_an_independent_evaluation(tmp_path: Path) -> None:
    model = toy_model()
    val = ToyData(count=13, seed=5, augment=False)
    seen: list[dict] = []
    options = TrainOptions(epochs=1, batch_size=8, lr=0.05)
    train(model, ToyData(), options, tmp_path, val_data=val, progress=False, on_epoch=seen.append)
    model.module.eval()
    with torch.no_grad():
        logits = model.module(val.images)
    expected = 100.0 * float((logits.argmax(1) == val.labels).float().mean())
    assert seen[0]["val_accuracy"] == pytest.approx(expected)
    loss = nn.functional.cross_entropy(logits, val.labels)
    assert seen[0]["val_loss"] == pytest.approx(float(loss), rel=1e-5)


def test_head_parameters_and_optimizer_groups() -> None:
    model = toy_model()
    head = {id(p) for p in head_parameters(model)}
    expected = {id(p) for p in [*model.layer.parameters(), *model.classifier.parameters()]}
    assert head == expected
    model.head_modules = (model.classifier,)
    assert {id(p) for p in head_parameters(model)} == {id(p) for p in model.classifier.parameters()}
    # an explained layer holding most of the weights is not trained at the head rate
    big = toy_model()
    big.layer = big.module
    assert {id(p) for p in head_parameters(big)} == {id(p) for p in big.classifier.parameters()}


def test_recipe_defaults_are_the_authors() -> None:
    options = TrainOptions()
    assert (options.momentum, options.nesterov, options.weight_decay) == (0.9, True, 1e-4)
    assert (options.head_lr_ratio, options.lr_decay_factor, options.loss) == (10.0, 0.1, "ce")


def _linear_model() -> ToyModel:
    torch.manual_seed(0)
    linear = nn.Linear(3 * 6 * 6, 3)
    return ToyModel(nn.Sequential(nn.Flatten(), linear), linear, linear)


def test_pc_softmax_loss_uses_the_training_priors(tmp_path: Path) -> None:
    labels = [0] * 12 + [1] * 3 + [2] * 1  # imbalanced: priors 12/16, 3/16, 1/16
    data = ToyData(labels=labels, augment=False)
    model = _linear_model()
    with torch.no_grad():
        logits = model.module(data.images)
    priors = torch.tensor([12.0, 3.0, 1.0]) / 16
    pc_loss = (-logits.gather(1, data.labels[:, None]).squeeze(1)
               + torch.logsumexp(logits + priors.log(), dim=1)).mean()
    seen: list[dict] = []
    # one full-batch step: the epoch's loss is the loss of the initial weights
    options = TrainOptions(epochs=1, batch_size=len(labels), lr=0.1, loss="pc-softmax")
    train(model, data, options, tmp_path, progress=False, on_epoch=seen.append)
    assert seen[0]["loss"] == pytest.approx(float(pc_loss), rel=1e-5)
    cross_entropy = nn.functional.cross_entropy(logits, data.labels)
    assert seen[0]["loss"] != pytest.approx(float(cross_entropy), rel=1e-3)


def test_pc_softmax_training_learns(tmp_path: Path) -> None:
    labels = [0] * 20 + [1] * 8 + [2] * 4
    seen: list[dict] = []
    options = TrainOptions(epochs=6, batch_size=8, lr=0.002, loss="pc-softmax")
    train(_linear_model(), ToyData(labels=labels), options, tmp_path, progress=False,
          on_epoch=seen.append)
    assert seen[-1]["loss"] < seen[0]["loss"]
    assert seen[-1]["accuracy"] > 80.0


def test_a_folder_with_a_run_needs_resume(tmp_path: Path) -> None:
    options = TrainOptions(epochs=1, batch_size=8)
    train(toy_model(), ToyData(), options, tmp_path, progress=False)
    with pytest.raises(ConfigurationError, match="--resume"):
        train(toy_model(), ToyData(), options, tmp_path, progress=False)
    # resuming a finished run does nothing and returns the checkpoint
    before = (tmp_path / CHECKPOINT_LAST).read_bytes()
    path = train(toy_model(), ToyData(), options, tmp_path, resume=True, progress=False)
    assert path.read_bytes() == before


def test_resume_refuses_other_options_or_another_model(tmp_path: Path) -> None:
    train(toy_model(), ToyData(), TrainOptions(epochs=1, batch_size=8), tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"lr=0\.01"):
        train(toy_model(), ToyData(), TrainOptions(epochs=2, batch_size=8, lr=0.5), tmp_path,
              resume=True, progress=False)
    other = toy_model(num_classes=4)
    with pytest.raises(CheckpointError, match="num_classes=3"):
        train(other, ToyData(num_classes=4), TrainOptions(epochs=2, batch_size=8), tmp_path,
              resume=True, progress=False)
    (tmp_path / CHECKPOINT_LAST).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        train(toy_model(), ToyData(), TrainOptions(epochs=2, batch_size=8), tmp_path,
              resume=True, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"lr": -1.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"momentum": 0.0}, "Nesterov"),
        ({"loss": "mse"}, "loss"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_options_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TrainOptions(**kwargs)


def test_labels_out_of_range_and_bad_devices_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"labels span 0\.\.3"):
        train(toy_model(), ToyData(labels=[0, 3, 1]), OPTIONS, tmp_path / "a")
    with pytest.raises(ConfigurationError, match="unknown device"):
        train(toy_model(), ToyData(), OPTIONS, tmp_path / "b", device="gpu7")


def test_a_diverging_run_stops_with_an_error(tmp_path: Path) -> None:
    data = ToyData()
    data.images[0] = float("nan")
    with pytest.raises(WSOLError, match="diverged"):
        train(toy_model(), data, TrainOptions(epochs=1, batch_size=8), tmp_path, progress=False)


class CorruptSample(ToyData):
    """Sample 11 is an image that cannot be decoded."""

    def __getitem__(self, i: int) -> dict:
        if i == 11:
            raise DataFormatError(Path("images/b_11.jpg"), None, "cannot decode the image")
        return super().__getitem__(i)


@pytest.mark.parametrize("workers", [0, 1])
def test_an_unreadable_sample_stops_training_with_its_own_error(
    tmp_path: Path, workers: int
) -> None:
    options = TrainOptions(epochs=1, batch_size=8, num_workers=workers)
    with pytest.raises(DataFormatError) as error:
        train(toy_model(), CorruptSample(), options, tmp_path, progress=False)
    assert str(error.value) == "images/b_11.jpg: cannot decode the image"


# --------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def synthetic_cub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from evaluation.datasets.synthetic import SyntheticSpec, make_synthetic

    root = tmp_path_factory.mktemp("data") / "cub"
    return make_synthetic(root, SyntheticSpec(classes=3, images_per_class=10, size=48, seed=3))


def _train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--dataset", "synthetic", "--data-root", str(data), "--model", "small-cnn",
            "--image-size", "32", "--batch-size", "8", "--epochs", "2", "--lr", "0.02",
            "--no-progress", "--output", str(out), *extra]


def test_cli_trains_resumes_and_the_checkpoint_loads(
    synthetic_cub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evaluation.models.backbones import build_model

    out = tmp_path / "run"
    assert main(_train_args(synthetic_cub, out, "--val-split", "test")) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in printed[:2]] == ["1/2", "2/2"]
    assert "val acc" in printed[0]
    assert printed[-1] == f"checkpoint: {out / CHECKPOINT_LAST}"
    assert main(_train_args(synthetic_cub, out, "--epochs", "3", "--resume")) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split()[:2] == ["epoch", "3/3"] and len(printed) == 2
    checkpoint = torch.load(out / CHECKPOINT_LAST, weights_only=True)
    assert checkpoint["epoch"] == 3 and checkpoint["model_name"] == "small-cnn"
    assert len(checkpoint["class_ids"]) == 3
    model = build_model("small-cnn", 3, checkpoint=out / CHECKPOINT_LAST)
    for key, value in model.module.state_dict().items():
        assert torch.equal(value, checkpoint["model_state"][key])


def test_cli_pc_softmax_option_trains(
    synthetic_cub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pc"
    assert main(_train_args(synthetic_cub, out, "--loss", "pc-softmax", "--epochs", "1",
                            "--checkpoint-every", "0")) == 0
    checkpoint = torch.load(out / CHECKPOINT_LAST, weights_only=True)
    assert checkpoint["config"]["loss"] == "pc-softmax"
    assert math.isfinite(checkpoint["metrics"][0]["loss"])
    assert sorted(p.name for p in out.iterdir()) == [CHECKPOINT_LAST, TRAIN_LOG]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--data-root", "/nonexistent/folder"], "/nonexistent/folder"),
        (["--model", "no-such-net"], "no-such-net"),
        (["--epochs", "0"], "epochs"),
        (["--device", "tpu"], "device"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(
    synthetic_cub: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    extra: list[str], needle: str,
) -> None:
    assert main(_train_args(synthetic_cub, tmp_path / "bad", *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wsol-bench: error:") and needle in err[0]
