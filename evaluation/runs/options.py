"""Options of an evaluation run: :class:`EvaluateOptions`, their checks, the protocols' defaults.

Protocols: ``wsoleval`` (Choe et al.; resize to the model's input size, 224 x 224 for the
standard backbones, no crop; window 3, padding ``same`` by default) and ``paper`` (the infoCAM
authors' code: CUB-like data resized to 256 and centre-cropped to 224 with window 4,
Tiny-ImageNet at its native 64 px with window 3, both with padding ``full``); ``exact`` is
``wsoleval`` with pixel-exact box mapping. ``window``/``padding`` override the defaults.

With ``class_map="imagenet1k"`` an ImageNet-1k classifier is evaluated on a dataset whose classes
are ImageNet-1k wnids (Tiny-ImageNet): predictions are the argmax over the mapped logits only, the
map of label ``y`` is that of logit ``classes[y]``, and infoCAM's "other classes" are the mapped
ones.

A run's *identity* (:func:`run_identity`) is every option that changes the numbers or the batch
boundaries; a run folder holding another identity is refused (:mod:`evaluation.runs.state`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from evaluation.errors import ConfigurationError
from evaluation.models.backbones import starts_random
from evaluation.runs.state import file_sha256

PROTOCOLS = ("wsoleval", "paper", "exact")
PADDINGS = ("same", "full")
CLASS_MAPS = ("imagenet1k",)
FIXED_THRESHOLD = 0.2
"""The threshold of GT-known / Top-1 / Top-5 Loc."""
WSOLEVAL_WINDOW = 3
_CONVENTIONS = {"wsoleval": "wsoleval", "exact": "wsoleval", "paper": "paper"}
_NOT_IDENTITY = ("output", "num_workers", "box_workers", "device", "overwrite", "save_every",
                 "progress", "gallery_samples", "gallery_extremes", "bootstrap_resamples")


@dataclass(frozen=True)
class EvaluateOptions:
    """Options of one evaluation run (the ``wsol-bench evaluate`` arguments).

    Attributes:
        dataset: ``cub``, ``tiny-imagenet``, ``wsol-metadata`` or ``synthetic``.
        data_root: the dataset folder (for ``wsol-metadata``: the metadata root).
        split: the split to evaluate (``test`` for CUB, ``val`` for Tiny-ImageNet).
        model: a name of :func:`evaluation.models.backbones.build_model`.
        methods: method names (:func:`evaluation.runs.methods.resolve_methods`).
        method_options: ``NAME.KEY=VALUE`` options of the methods
            (:mod:`evaluation.runs.method_options`).
        input_reduction: how input-level attributions become one map per image: ``sum-abs``,
            ``sum``, ``max-abs`` or ``l2`` over the colour channels.
        output: the run directory.
        protocol: ``wsoleval``, ``paper`` or ``exact``.
        checkpoint: weights file (``wsol-bench train`` checkpoint or state_dict).
        weights: torchvision weights name.
        random_init: evaluate a randomly initialised model (a smoke test); required, and only
            allowed, when neither ``checkpoint`` nor ``weights`` is given to a model that has no
            default weights (all but ``efficientnet-lite0``).
        image_root: image folder of ``wsol-metadata``.
        image_size: frame side S (default: the model's input size, 224 for the standard
            backbones and 64 for ``small-cnn``, as ``wsol-bench train`` uses; under ``paper`` the
            protocol's: 224, or 64 for Tiny-ImageNet).
        class_map: ``imagenet1k`` to evaluate an ImageNet-1k head on Tiny-ImageNet classes.
        limit: evaluate only the first ``limit`` images of the split.
        batch_size: images per batch (per process).
        num_workers: DataLoader worker processes.
        box_workers: threads for the accumulators' box sweeps (0: in the calling thread);
            the compiled sweeps release the GIL, so each thread uses one more CPU core.
        amp: autocast the forward pass.
        device: ``cpu``, ``cuda``, ``cuda:1``, ...; default CUDA when available.
        window: infoCAM region size (default: per protocol).
        padding: ``same`` or ``full`` (default: per protocol).
        seed: seeds torch before the model is built (random weights are reproducible).
        overwrite: replace a run of another configuration in ``output``.
        save_every: save the resumable state every this many batches (and at least once a
            minute).
        progress: show a progress bar (on a terminal).
        gallery_samples: evenly spaced sample images in the gallery (0: no gallery).
        gallery_extremes: best and worst images per method in the gallery.
        bootstrap_resamples: resamples of the images for every metric's 95% interval (seeded
            with ``seed``); they are drawn when the run finishes, from the per-image records.
    """

    dataset: str
    data_root: Path
    split: str
    model: str
    methods: tuple[str, ...]
    output: Path
    method_options: tuple[str, ...] = ()
    input_reduction: str = "sum-abs"
    protocol: str = "wsoleval"
    checkpoint: Path | None = None
    weights: str | None = None
    random_init: bool = False
    image_root: Path | None = None
    image_size: int | None = None
    class_map: str | None = None
    limit: int | None = None
    batch_size: int = 32
    num_workers: int = 2
    box_workers: int = 0
    amp: bool = False
    device: str | None = None
    window: int | None = None
    padding: str | None = None
    seed: int = 0
    overwrite: bool = False
    save_every: int = 50
    progress: bool = True
    gallery_samples: int = 4
    gallery_extremes: int = 1
    bootstrap_resamples: int = 1000


def validate_options(options: EvaluateOptions) -> None:
    """Check the options' values (the paths are checked where they are read).

    Raises:
        ConfigurationError: names the option and the allowed values; a model without weights
            and without ``random_init``, or ``random_init`` with weights.
    """
    random = starts_random(options.model, options.checkpoint, options.weights)
    if random and not options.random_init:
        raise ConfigurationError(
            f"--model {options.model} without --checkpoint or --weights is a randomly "
            "initialised network, whose numbers mean nothing: pass --checkpoint FILE or --weights "
            "NAME, or --random-init for a smoke test"
        )
    if options.random_init and not random:
        raise ConfigurationError(
            f"--random-init contradicts the weights of --model {options.model} (--checkpoint, "
            "--weights or its published default weights): leave one out"
        )
    if options.protocol not in PROTOCOLS:
        raise ConfigurationError(
            f"unknown protocol {options.protocol!r}; choose one of {PROTOCOLS}"
        )
    if options.padding is not None and options.padding not in PADDINGS:
        raise ConfigurationError(f"unknown padding {options.padding!r}; choose one of {PADDINGS}")
    if options.class_map is not None and options.class_map not in CLASS_MAPS:
        raise ConfigurationError(
            f"unknown class map {options.class_map!r}; choose one of {CLASS_MAPS}"
        )
    for name in ("batch_size", "save_every", "window", "limit", "image_size",
                 "bootstrap_resamples"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise ConfigurationError(f"{name} must be >= 1, got {value}")
    for name in ("num_workers", "box_workers", "gallery_samples", "gallery_extremes"):
        if getattr(options, name) < 0:
            raise ConfigurationError(f"{name} must be >= 0, got {getattr(options, name)}")


def resolve_device(name: str | None) -> torch.device:
    """The device named by ``--device``; default CUDA when available, else the CPU.

    Raises:
        ConfigurationError: the name is invalid, or CUDA is asked for and absent.
    """
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigurationError(f"invalid device {name!r}: {error}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(f"device {name!r} requested but CUDA is not available")
    return device


def box_convention(protocol: str) -> str:
    """The box convention of a protocol: ``paper`` under ``paper``, otherwise ``wsoleval``."""
    return _CONVENTIONS[protocol]


def window_and_padding(options: EvaluateOptions, dataset_name: str) -> tuple[int, str]:
    """The region size and padding of infoCAM: the options' values, else the protocol's defaults."""
    if options.protocol == "paper":
        window = 3 if dataset_name.endswith("tiny-imagenet") else 4
        padding = "full"
    else:
        window, padding = WSOLEVAL_WINDOW, "same"
    return options.window or window, options.padding or padding


def run_config(
    options: EvaluateOptions,
    device_type: str,
    world_size: int,
    window: int,
    padding: str,
    num_images: int,
) -> dict[str, Any]:
    """The ``config`` section of ``results.json``: the options (absolute paths) and what follows.

    Adds ``device_type``, ``world_size``, ``checkpoint_sha256`` (of the checkpoint file, or
    ``None``), ``effective_window``, ``effective_padding`` and ``num_images`` (after ``limit``).
    """
    config = {
        k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
        for k, v in asdict(options).items()
    }
    for key in ("data_root", "image_root", "checkpoint"):
        if config[key] is not None:
            config[key] = str(Path(config[key]).resolve())
    checkpoint = options.checkpoint
    config.update(
        device_type=device_type,
        world_size=world_size,
        checkpoint_sha256=file_sha256(Path(checkpoint)) if checkpoint else None,
        effective_window=window,
        effective_padding=padding,
        num_images=num_images,
    )
    return config


def run_identity(config: dict[str, Any]) -> dict[str, Any]:
    """The entries of :func:`run_config` that determine the numbers and the batch boundaries."""
    return {k: v for k, v in config.items() if k not in _NOT_IDENTITY}
