"""The set-up of a run: methods, dataset, model, shard, protocol settings, identity.

:func:`prepare_run` does everything that precedes the first batch and can fail on user input
(unknown methods, malformed data, a checkpoint that does not fit), and returns a
:class:`RunSetup` that the loop, the reduction and the results read.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evaluation.datasets import WSOLDataset, imagenet1k_indices, read_index
from evaluation.errors import ConfigurationError, WSOLWarning
from evaluation.models.backbones import CamModel, build_model
from evaluation.runs.distributed import DistContext
from evaluation.runs.methods import Method, resolve_methods
from evaluation.runs.options import (
    EvaluateOptions,
    box_convention,
    run_config,
    run_identity,
    window_and_padding,
)
from evaluation.runs.state import state_path


@dataclass(frozen=True)
class RunSetup:
    """One process's run, fixed before its first batch.

    Attributes:
        options: the run's options.
        device: where the model runs.
        context: the process's place in a torchrun job.
        methods: the resolved methods, in the order given.
        model: the model, its explained layer and its classifier.
        dataset: the evaluated split in the protocol's frame.
        classes: the model's logit of each dataset label (``--class-map``), or ``None``.
        num_images: images evaluated (the split, or its first ``limit``).
        window: infoCAM's region size.
        padding: infoCAM's region padding.
        config: the ``config`` section of ``results.json``.
        started: ``time.perf_counter()`` when the set-up began.
    """

    options: EvaluateOptions
    device: torch.device
    context: DistContext
    methods: list[Method]
    model: CamModel
    dataset: WSOLDataset
    classes: list[int] | None
    num_images: int
    window: int
    padding: str
    config: dict[str, Any]
    started: float

    @cached_property
    def shard(self) -> list[int]:
        """The dataset positions of this rank."""
        return self.context.shard(range(self.num_images))

    @property
    def convention(self) -> str:
        """The box convention of the protocol."""
        return box_convention(self.options.protocol)

    @cached_property
    def identity(self) -> dict[str, Any]:
        """The options that determine the numbers (see :mod:`evaluation.runs.state`)."""
        return run_identity(self.config)

    @property
    def state_file(self) -> Path:
        """The resumable state file of this rank."""
        return state_path(self.options.output, self.context.rank, self.context.world_size)


def _warn_if_off_native_size(
    options: EvaluateOptions, model: CamModel, frame_size: tuple[int, int]
) -> None:
    """Warn (:class:`WSOLWarning`) when the protocol's frame is not the model's input size."""
    native = (model.input_size, model.input_size)
    if tuple(frame_size) != native:
        height, width = frame_size
        warnings.warn(
            WSOLWarning(
                f"--protocol {options.protocol} evaluates {options.dataset} at {width}x{height} "
                f"px, but {model.name} expects {native[1]}x{native[0]} px inputs: its accuracy "
                f"and maps differ from those at its native size (--image-size {native[0]} "
                "evaluates at that size)"
            ),
            stacklevel=2,
        )


def prepare_run(options: EvaluateOptions, device: torch.device, context: DistContext) -> RunSetup:
    """Resolve the methods, read the split, build the model and the dataset, shard the images.

    Raises:
        ConfigurationError: the split holds no images, or an option does not fit the data.
        WSOLError: dataset, checkpoint or method errors (see their modules).
    """
    started = time.perf_counter()
    methods = resolve_methods(
        list(options.methods), options.method_options, options.input_reduction
    )
    index = read_index(options.dataset, options.data_root, options.split, options.image_root)
    classes = imagenet1k_indices(index.class_ids) if options.class_map else None
    num_classes = 1000 if options.class_map else index.num_classes
    torch.manual_seed(options.seed)
    np.random.seed(options.seed)  # Captum's GradientShap draws baselines and scales from NumPy
    model = build_model(options.model, num_classes, options.checkpoint, options.weights)
    image_size = options.image_size
    if image_size is None and options.protocol != "paper":
        image_size = model.input_size
    dataset = WSOLDataset(index, options.protocol, (model.mean, model.std), image_size)
    if options.image_size is None and context.is_main:
        _warn_if_off_native_size(options, model, dataset.frame_size)
    total = len(dataset) if options.limit is None else min(options.limit, len(index))
    if total == 0:
        raise ConfigurationError(
            f"split {options.split!r} of {options.data_root} holds no images"
        )
    window, padding = window_and_padding(options, index.name)
    config = run_config(options, device.type, context.world_size, window, padding, total)
    return RunSetup(
        options, device, context, methods, model, dataset, classes, total, window, padding,
        config, started,
    )
