"""Fine-tuning recipe for CAM-ready classifiers (Qin, Kim & Gedeon, arXiv 1911.10688, §5).

The infoCAM authors fine-tune ImageNet-pretrained backbones with SGD (momentum 0.9, Nesterov,
weight decay 1e-4), the head at 10x the base learning rate (ResNet: ``layer4`` and ``fc``; VGG:
``conv6`` and ``fc``) and the learning rate multiplied by 0.1 every ``lr_decay_epochs`` epochs.
:class:`TrainOptions` holds that recipe as defaults; every part is an option.

:func:`train` writes, into its output folder,

- ``checkpoint-last.pt`` after every epoch, and ``checkpoint-epoch-NNNN.pt`` every
  ``checkpoint_every`` epochs, atomically. Each is a dict with ``model_state``, ``model_name``,
  ``num_classes``, ``epoch`` (finished epochs, 1-based), ``optimizer_state``, ``scheduler_state``,
  ``scaler_state``, ``config`` (the options), ``class_ids`` and ``metrics`` (one dict per epoch),
  loadable with ``torch.load(path, weights_only=True)``;
- ``train_log.jsonl``: one JSON object per finished epoch (loss, accuracy, learning rates, time,
  optional validation accuracy), rewritten atomically from the checkpoint's metrics.

Resuming is exact: the data order and every random draw of an epoch (augmentation, dropout)
depend only on ``(seed, epoch)``, so a run resumed from ``checkpoint-last.pt`` ends with the same
weights as an uninterrupted run with the same options and the same ``num_workers`` (bit for bit on
CPU; on CUDA up to the non-determinism of cuDNN kernels). Each epoch therefore reseeds torch's,
NumPy's and Python's global generators with :func:`epoch_seed`. A last batch of a single image is
dropped (BatchNorm cannot train on it).
"""

from __future__ import annotations

import io
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from evaluation.datasets.worker_errors import CarryErrors, CollateCarryingErrors, raise_failures
from evaluation.errors import CheckpointError, ConfigurationError, WSOLError
from evaluation.io import atomic_write_bytes, atomic_write_text
from evaluation.progress import Progress
from infocam_captum.information import PCSoftmaxCrossEntropyLoss, label_priors

__all__ = [
    "CHECKPOINT_LAST",
    "TRAIN_LOG",
    "TrainOptions",
    "TrainableModel",
    "epoch_checkpoint_name",
    "epoch_seed",
    "head_parameters",
    "train",
]

CHECKPOINT_LAST = "checkpoint-last.pt"
"""File name of the checkpoint written after every epoch."""

TRAIN_LOG = "train_log.jsonl"
"""File name of the per-epoch JSONL log."""

LossName = Literal["ce", "pc-softmax"]
_LOSSES = ("ce", "pc-softmax")
_RESUME_FREE = ("epochs", "num_workers")
"""Options that may change between a run and its resumption."""


class TrainableModel(Protocol):
    """What :func:`train` needs of a model (a :class:`evaluation.models.backbones.CamModel` has it).

    ``head_modules`` (optional) lists the modules trained at ``head_lr_ratio`` times the learning
    rate; without it the head is the classifier plus the explained layer's block (see
    :func:`head_parameters`).
    """

    module: nn.Module
    layer: nn.Module
    classifier: nn.Linear
    name: str


@dataclass(frozen=True)
class TrainOptions:
    """Training options; the defaults are the infoCAM authors' recipe (code defaults).

    Attributes:
        epochs: Number of epochs (the authors' scripts use 200, their code default is 40).
        batch_size: Images per step (authors: 30 for CUB VGG, 128 for CUB ResNet).
        lr: Base learning rate of the backbone (authors: 0.001 VGG, 0.01 ResNet).
        lr_decay_epochs: Multiply every learning rate by ``lr_decay_factor`` every this many
            epochs (``StepLR``; authors' scripts 60, code default 30); 0 disables the decay.
        lr_decay_factor: The step-decay factor.
        head_lr_ratio: Learning rate of the head divided by ``lr``.
        momentum: SGD momentum.
        nesterov: Nesterov momentum.
        weight_decay: L2 weight decay on every parameter.
        loss: ``"ce"`` (cross-entropy, the authors' choice) or ``"pc-softmax"``
            (:class:`infocam_captum.information.PCSoftmaxCrossEntropyLoss` with the training set's
            label priors; prefer it for imbalanced data; predictions stay the argmax of the raw
            logits).
        prior_smoothing: Pseudo-count per class for the PC-softmax priors (needed when a class
            has no training image).
        num_workers: DataLoader worker processes.
        amp: Mixed precision (float16 autocast with gradient scaling); applies on CUDA only.
        seed: Seed of the data order and of every random draw (augmentation, dropout).
        checkpoint_every: Also keep ``checkpoint-epoch-NNNN.pt`` every this many epochs
            (0: only ``checkpoint-last.pt``).
    """

    epochs: int = 40
    batch_size: int = 32
    lr: float = 0.01
    lr_decay_epochs: int = 30
    lr_decay_factor: float = 0.1
    head_lr_ratio: float = 10.0
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    loss: LossName = "ce"
    prior_smoothing: float = 0.0
    num_workers: int = 0
    amp: bool = False
    seed: int = 0
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        """Validate the options.

        Raises:
            ConfigurationError: A value is out of range or of the wrong kind.
        """
        positive_ints = ("epochs", "batch_size")
        non_negative_ints = ("lr_decay_epochs", "num_workers", "seed", "checkpoint_every")
        for name in positive_ints + non_negative_ints:
            value = getattr(self, name)
            low = 1 if name in positive_ints else 0
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigurationError(f"{name} must be an integer >= {low}, got {value!r}")
        for name, low, strict in (
            ("lr", 0.0, True),
            ("head_lr_ratio", 0.0, True),
            ("lr_decay_factor", 0.0, True),
            ("momentum", 0.0, False),
            ("weight_decay", 0.0, False),
            ("prior_smoothing", 0.0, False),
        ):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and math.isfinite(value)
            if not ok or value < low or (strict and value == low):
                sign = ">" if strict else ">="
                raise ConfigurationError(f"{name} must be a finite number {sign} 0, got {value!r}")
        if self.loss not in _LOSSES:
            raise ConfigurationError(f"loss must be one of {list(_LOSSES)}, got {self.loss!r}")
        if self.nesterov and self.momentum == 0:
            raise ConfigurationError("Nesterov momentum needs momentum > 0; pass --no-nesterov")

    def to_dict(self) -> dict[str, Any]:
        """The options as a JSON-serialisable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> TrainOptions:
        """Options from :meth:`to_dict`'s output (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in config.items() if key in names})


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch`` (1-based) of a run seeded with ``seed``: a 32-bit integer."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def epoch_checkpoint_name(epoch: int) -> str:
    """File name of the checkpoint kept after ``epoch``."""
    return f"checkpoint-epoch-{epoch:04d}.pt"


def head_parameters(model: TrainableModel) -> list[nn.Parameter]:
    """The parameters trained at ``head_lr_ratio`` times the base learning rate.

    ``model.head_modules`` when the model defines a non-empty one (a
    :class:`~evaluation.models.backbones.CamModel` does); otherwise the classifier and the explained
    layer (``layer4`` + ``fc`` for ResNet, as the authors do), or only the classifier when the
    explained layer holds 90% or more of the other weights (a whole ``features`` block).

    Args:
        model: The model to train.

    Returns:
        Trainable parameters of the head, each once, in module order.
    """
    head_modules = list(getattr(model, "head_modules", None) or [])
    if not head_modules:
        classifier = sum(p.numel() for p in model.classifier.parameters())
        backbone = sum(p.numel() for p in model.module.parameters()) - classifier
        layer = sum(p.numel() for p in model.layer.parameters())
        head_modules = [model.classifier]
        if layer < 0.9 * backbone:
            head_modules.insert(0, model.layer)
    seen: set[int] = set()
    params = []
    for module in head_modules:
        for param in module.parameters():
            if param.requires_grad and id(param) not in seen:
                seen.add(id(param))
                params.append(param)
    return params


def train(
    model: TrainableModel,
    train_data: Dataset,
    options: TrainOptions,
    output_dir: str | Path,
    resume: bool = False,
    device: str | torch.device | None = None,
    val_data: Dataset | None = None,
    *,
    class_ids: Sequence[str] | None = None,
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """Fine-tune ``model.module`` in place; return the path of the last checkpoint.

    Per step: ``loss = L(f(x), y)`` with ``L`` the cross-entropy, or the PC-softmax cross-entropy
    ``-f_y + log sum_y' p(y') exp f_y'`` with ``p`` the label proportions of ``train_data``;
    SGD with two parameter groups, the head (:func:`head_parameters`) at
    ``lr * head_lr_ratio``; after every epoch both learning rates step-decay
    (``lr_e = lr * lr_decay_factor ** floor(e / lr_decay_epochs)``).

    Args:
        model: The model (a :class:`evaluation.models.backbones.CamModel`); ``model.module`` is
            trained and left on ``device`` in eval mode.
        train_data: Samples are dicts with ``"image"`` (float tensor, C x H x W, normalised) and
            ``"label"`` (int); other keys are ignored.
        options: The recipe.
        output_dir: Folder of the checkpoints and the log (created).
        resume: Continue from ``output_dir/checkpoint-last.pt`` when it exists (a fresh start
            otherwise). Without it, a folder that already holds a run is an error.
        device: Where to train; default CUDA when available, else CPU.
        val_data: Optional held-out samples (same format): top-1 accuracy and loss per epoch.
        class_ids: Class identifiers stored in the checkpoint; default ``train_data.index.
            class_ids`` when the dataset has a :class:`~evaluation.datasets.DatasetIndex`.
        progress: Show each epoch's progress on stderr (a bar on a terminal, a line every 30 s
            otherwise; :mod:`evaluation.progress`).
        on_epoch: Called with each epoch's metrics dict after its checkpoint is written.

    Returns:
        ``output_dir / "checkpoint-last.pt"``.

    Raises:
        ConfigurationError: The folder holds a run and ``resume`` is false; labels out of range.
        CheckpointError: ``checkpoint-last.pt`` does not belong to this model or these options.
        WSOLError: The loss became non-finite (training diverged), or a sample could not be
            read (the dataset's own error, also from DataLoader worker processes).
    """
    output = Path(output_dir)
    last_path = output / CHECKPOINT_LAST
    if last_path.exists() and not resume:
        raise ConfigurationError(
            f"{output} already holds a training run ({CHECKPOINT_LAST}); pass --resume to "
            "continue it or choose another output folder"
        )
    session = _open_session(model, train_data, val_data, options, device, progress)
    state: dict[str, Any] = {
        "model_name": model.name,
        "num_classes": session.num_classes,
        "config": options.to_dict(),
        "class_ids": list(class_ids) if class_ids is not None else _class_ids(train_data),
        "metrics": [],
        "epoch": 0,
    }
    if resume and last_path.exists():
        state = _restore(session, last_path, state)
    output.mkdir(parents=True, exist_ok=True)
    for epoch in range(state["epoch"] + 1, options.epochs + 1):
        record = _run_epoch(session, train_data, val_data, epoch)
        state["metrics"].append(record)
        state["epoch"] = epoch
        _save(session, output, state)
        if on_epoch is not None:
            on_epoch(record)
    session.module.eval()
    return last_path


@dataclass
class _Session:
    """Everything one training run works with."""

    module: nn.Module
    criterion: nn.Module
    optimizer: torch.optim.SGD
    scheduler: torch.optim.lr_scheduler.StepLR
    scaler: torch.amp.GradScaler
    options: TrainOptions
    device: torch.device
    use_amp: bool
    num_classes: int
    progress: bool


def _open_session(
    model: TrainableModel,
    train_data: Dataset,
    val_data: Dataset | None,
    options: TrainOptions,
    device: str | torch.device | None,
    progress: bool,
) -> _Session:
    """Put the model on the device, check the labels, build the loss, optimiser and scheduler.

    Raises:
        ConfigurationError: a label lies outside the classifier's classes.
    """
    run_device = _resolve_device(device)
    module = model.module.to(run_device)
    num_classes = model.classifier.out_features
    labels = _dataset_labels(train_data, need=options.loss == "pc-softmax")
    _check_labels(labels, num_classes, "training")
    if val_data is not None:
        _check_labels(_dataset_labels(val_data, need=False), num_classes, "validation")
    optimizer = _build_optimizer(model, options)
    use_amp = options.amp and run_device.type == "cuda"
    return _Session(
        module=module,
        criterion=_build_loss(options, labels, num_classes).to(run_device),
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=max(options.lr_decay_epochs, 1),
            gamma=options.lr_decay_factor if options.lr_decay_epochs else 1.0,
        ),
        scaler=torch.amp.GradScaler("cuda", enabled=use_amp),
        options=options,
        device=run_device,
        use_amp=use_amp,
        num_classes=num_classes,
        progress=progress,
    )


def _run_epoch(
    session: _Session, train_data: Dataset, val_data: Dataset | None, epoch: int
) -> dict[str, Any]:
    """Train one epoch (reseeded from ``(seed, epoch)``), validate, step the learning rates.

    Returns:
        The epoch's record: ``epoch``, ``lr``, ``head_lr``, the training (and validation)
        metrics and ``seconds``.

    Raises:
        WSOLError: the loss is not finite.
    """
    _seed_everything(epoch_seed(session.options.seed, epoch))
    started = time.perf_counter()
    groups = session.optimizer.param_groups
    record = {"epoch": epoch, "lr": groups[0]["lr"], "head_lr": groups[1]["lr"]}
    record.update(_train_epoch(session, train_data, epoch))
    if val_data is not None:
        record.update(_validate(session, val_data))
    session.scheduler.step()
    record["seconds"] = time.perf_counter() - started
    if not math.isfinite(record["loss"]):
        raise WSOLError(
            f"training diverged: the loss is {record['loss']} in epoch {epoch}; lower the "
            "learning rate (--lr) or check the data"
        )
    return record


def _resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a ``torch.device``; default CUDA when available, else CPU.

    Raises:
        ConfigurationError: Not a device name, or a CUDA device on a machine without CUDA.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ConfigurationError(
            f"unknown device {device!r}; use cpu, cuda or cuda:N"
        ) from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(f"device {device!r} requested but CUDA is not available; use cpu")
    return resolved


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def _seed_worker(worker_id: int) -> None:
    """Seed NumPy and ``random`` in a DataLoader worker from its torch seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def _dataset_labels(data: Dataset, need: bool) -> Tensor | None:
    """Every label of ``data``, cheaply where the dataset lists them; ``None`` if not ``need``.

    Sources, in order: ``data.index.records[i].label`` (a WSOL dataset), ``data.targets``
    (torchvision's convention), else (only when ``need``) reading every sample.
    """
    index = getattr(data, "index", None)
    records = getattr(index, "records", None)
    if records is not None:
        return torch.tensor([record.label for record in records], dtype=torch.long)
    targets = getattr(data, "targets", None)
    if targets is not None:
        return torch.as_tensor(targets, dtype=torch.long)
    if not need:
        return None
    return torch.tensor([int(data[i]["label"]) for i in range(len(data))], dtype=torch.long)


def _check_labels(labels: Tensor | None, num_classes: int, which: str) -> None:
    if labels is None or labels.numel() == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ConfigurationError(
            f"the {which} labels span {low}..{high} but the model has {num_classes} classes; "
            "build the model with the dataset's number of classes"
        )


def _class_ids(data: Dataset) -> list[str]:
    index = getattr(data, "index", None)
    return [str(c) for c in getattr(index, "class_ids", None) or []]


def _build_loss(options: TrainOptions, labels: Tensor | None, num_classes: int) -> nn.Module:
    if options.loss == "ce":
        return nn.CrossEntropyLoss()
    priors = label_priors(labels, num_classes, smoothing=options.prior_smoothing)
    return PCSoftmaxCrossEntropyLoss(priors)


def _build_optimizer(model: TrainableModel, options: TrainOptions) -> torch.optim.SGD:
    head = head_parameters(model)
    head_ids = {id(p) for p in head}
    backbone = [
        p for p in model.module.parameters() if p.requires_grad and id(p) not in head_ids
    ]
    groups = [
        {"params": backbone, "lr": options.lr, "name": "backbone"},
        {"params": head, "lr": options.lr * options.head_lr_ratio, "name": "head"},
    ]
    return torch.optim.SGD(
        groups, lr=options.lr, momentum=options.momentum, nesterov=options.nesterov,
        weight_decay=options.weight_decay,
    )


def _collate(samples: list[dict[str, Any]]) -> tuple[Tensor, Tensor]:
    images = torch.stack([sample["image"] for sample in samples])
    labels = torch.tensor([int(sample["label"]) for sample in samples], dtype=torch.long)
    return images, labels


def _loader(
    data: Dataset, options: TrainOptions, device: torch.device, seed: int | None
) -> DataLoader:
    """Batches of ``data``: shuffled with a generator seeded by ``seed``, or in order (``None``).

    Iterate it through :func:`raise_failures`: a sample's ``WSOLError`` arrives as a value.
    """
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    # A last batch of one image cannot train BatchNorm: drop it (and only it).
    drop_last = seed is not None and len(data) % options.batch_size == 1 and len(data) > 1
    return DataLoader(
        CarryErrors(data), batch_size=options.batch_size, shuffle=seed is not None,
        generator=generator, num_workers=options.num_workers,
        collate_fn=CollateCarryingErrors(_collate), pin_memory=device.type == "cuda",
        drop_last=drop_last, worker_init_fn=_seed_worker if options.num_workers else None,
    )


def _train_epoch(session: _Session, data: Dataset, epoch: int) -> dict[str, float]:
    """One pass over ``data``; returns the mean loss, top-1 accuracy (%) and images/s."""
    module, options, device = session.module, session.options, session.device
    module.train()
    loader = _loader(data, options, device, epoch_seed(options.seed, epoch))
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    started = time.perf_counter()
    bar = Progress(
        len(data) - (1 if loader.drop_last else 0), f"train epoch {epoch}/{options.epochs}",
        "images", "img", enabled=session.progress, transient=True,
    )
    with bar:
        for step, (images, labels) in enumerate(raise_failures(loader)):
            _check_labels(labels, session.num_classes, "training")
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=session.use_amp):
                logits = module(images)
                loss = session.criterion(logits.float(), labels)
            session.optimizer.zero_grad(set_to_none=True)
            session.scaler.scale(loss).backward()
            session.scaler.step(session.optimizer)
            session.scaler.update()
            batch = labels.numel()
            loss_sum += loss.detach().double() * batch
            correct += (logits.detach().argmax(dim=1) == labels).sum()
            seen += batch
            bar.update(batch)
            if step % 20 == 0:
                bar.set_postfix(f"loss {loss.item():.3f}")
    elapsed = time.perf_counter() - started
    return {
        "loss": float(loss_sum) / max(seen, 1),
        "accuracy": 100.0 * int(correct) / max(seen, 1),
        "images": seen,
        "images_per_second": seen / elapsed if elapsed > 0 else 0.0,
    }


@torch.no_grad()
def _validate(session: _Session, data: Dataset) -> dict[str, float]:
    """Top-1 accuracy (%) and mean loss of the model on ``data``."""
    module, device = session.module, session.device
    module.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    for images, labels in raise_failures(_loader(data, session.options, device, None)):
        _check_labels(labels, session.num_classes, "validation")
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.float16, enabled=session.use_amp):
            logits = module(images)
        loss_sum += session.criterion(logits.float(), labels).double() * labels.numel()
        correct += (logits.argmax(dim=1) == labels).sum()
        seen += labels.numel()
    return {
        "val_loss": float(loss_sum) / max(seen, 1),
        "val_accuracy": 100.0 * int(correct) / max(seen, 1),
    }


def _restore(session: _Session, path: Path, state: dict[str, Any]) -> dict[str, Any]:
    """Load ``path`` into the training objects; return the run state to continue from."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"{path} cannot be read ({type(error).__name__}: {error}); delete it to start over"
        ) from error
    required = ("model_state", "optimizer_state", "scheduler_state", "epoch", "config")
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in required):
        raise CheckpointError(
            f"{path} is not a training checkpoint of wsol-bench train (it needs the keys "
            f"{', '.join(required)}); choose another output folder"
        )
    for key in ("model_name", "num_classes"):
        if checkpoint.get(key) != state[key]:
            raise CheckpointError(
                f"{path} was trained with {key}={checkpoint.get(key)!r}, not {state[key]!r}; "
                "resume with the same model or choose another output folder"
            )
    changed = sorted(
        key for key, value in state["config"].items()
        if key not in _RESUME_FREE and checkpoint["config"].get(key) != value
    )
    if changed:
        old = ", ".join(f"{key}={checkpoint['config'].get(key)!r}" for key in changed)
        raise CheckpointError(
            f"{path} was trained with {old}; resume with the same options (only "
            f"{' and '.join(_RESUME_FREE)} may change) or choose another output folder"
        )
    session.module.load_state_dict(checkpoint["model_state"])
    session.optimizer.load_state_dict(checkpoint["optimizer_state"])
    session.scheduler.load_state_dict(checkpoint["scheduler_state"])
    if checkpoint.get("scaler_state"):
        session.scaler.load_state_dict(checkpoint["scaler_state"])
    return {
        **state,
        "epoch": int(checkpoint["epoch"]),
        "metrics": list(checkpoint.get("metrics", [])),
        "class_ids": list(checkpoint.get("class_ids", state["class_ids"])),
    }


def _save(session: _Session, output: Path, state: dict[str, Any]) -> None:
    """Write the checkpoint(s) of the epoch just finished, then the log, each atomically."""
    epoch = state["epoch"]
    checkpoint = {
        "model_state": session.module.state_dict(),
        "model_name": state["model_name"],
        "num_classes": state["num_classes"],
        "epoch": epoch,
        "optimizer_state": session.optimizer.state_dict(),
        "scheduler_state": session.scheduler.state_dict(),
        "scaler_state": session.scaler.state_dict(),
        "config": state["config"],
        "class_ids": state["class_ids"],
        "metrics": state["metrics"],
    }
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    payload = buffer.getvalue()
    every = session.options.checkpoint_every
    if every and epoch % every == 0:
        atomic_write_bytes(output / epoch_checkpoint_name(epoch), payload)
    atomic_write_bytes(output / CHECKPOINT_LAST, payload)
    atomic_write_text(output / TRAIN_LOG, _jsonl(state["metrics"]))


def _jsonl(records: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(record, sort_keys=True) + "\n" for record in records)
