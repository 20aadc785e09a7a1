"""Evaluation runs: every method on a dataset split, batched, resumable, scalable with torchrun.

:func:`evaluate` reads the split, builds the model, and for each batch runs ONE forward pass with a
hook on the explained layer (:class:`evaluation.runs.attributor.BatchAttributor`): CAM, infoCAM and
infoCAM+ come from that pass, Grad-CAM adds one backward to the layer, a dotted-path Captum method
runs its own ``attribute`` call. Maps are of the ground-truth class (GT-known protocol); the logits
give the top-1/top-5 predictions. Each method feeds a
:class:`evaluation.localization.LocalizationAccumulator` (integer counters). Images are
decoded in DataLoader worker processes; the model runs on the device (``--amp``: autocast). A tqdm
bar on stderr shows images/s when stderr is a terminal.

Protocols: ``wsoleval`` (Choe et al.; resize to the model's input size, 224 x 224 for the
standard backbones, no crop; window 3, padding ``same`` by default) and ``paper`` (the infoCAM
authors' code: CUB-like data resized to 256 and centre-cropped to 224 with window 4,
Tiny-ImageNet at its native 64 px with window 3, both with padding ``full``); ``exact`` is
``wsoleval`` with pixel-exact box mapping. ``window``/``padding`` override the defaults.

With ``class_map="imagenet1k"`` an ImageNet-1k classifier is evaluated on a dataset whose classes
are ImageNet-1k wnids (Tiny-ImageNet): predictions are the argmax over the mapped logits only, the
map of label ``y`` is that of logit ``classes[y]``, and infoCAM's "other classes" are the mapped
ones.

Resuming (:mod:`evaluation.runs.state`): each process saves its state atomically every
``save_every`` batches, at least once a minute, and when its shard is done; the same command
restarted continues from the saved batch and ends with the same numbers; a finished run is not
redone. A run interrupted inside a batch keeps no part of it (nothing is saved on errors).

torchrun (:mod:`evaluation.runs.distributed`): rank ``r`` of ``w`` evaluates ``positions[r::w]``;
the counters are all-reduced, so the numbers equal a single process's exactly; rank 0 alone writes.

``RUN_DIR/results.json`` (schema_version 1, written atomically by rank 0)::

    {"schema_version": 1,
     "config": {every EvaluateOptions field (paths as strings), "device_type", "world_size",
                "checkpoint_sha256"},
     "run": {"identity": {...the options that determine the numbers...},
             "fingerprint": sha256 hex of the identity,
             "world_size": int, "resumed_from_images": int (images already counted when this
             process started), "wall_seconds": float (this process)},
     "environment": {"python", "platform", "torch", "torchvision", "captum", "numpy", "opencv",
                     "infocam_captum", "evaluation", "device", "device_name", "seed",
                     "world_size", "num_threads"},
     "dataset": {"name", "split", "root", "num_images", "num_classes"},
     "model": {"name", "checkpoint", "weights", "layer", "input_size", "num_classes", "mean",
               "std"},
     "protocol": {"name", "frame_size": [H, W], "window", "padding", "convention",
                  "fixed_threshold", "class_map"},
     "classification": {"top1_cls", "top5_cls"},
     "methods": {name: {<LocalizationAccumulator.compute()>, "images_per_second": float}},
     "throughput": {"forward_images_per_second", "evaluation_images_per_second",
                    "seconds": {"forward", "data", "loop", <method>: ...}},
     "gallery": {"file": "gallery.npz", "count": N} | null}

A method's ``images_per_second`` is images / (time of the shared forward pass + the method's own
time: its maps, for Grad-CAM the backward, and its accumulator update);
``forward_images_per_second`` is images / forward time; ``evaluation_images_per_second`` is
images / wall time of the whole loop (data waits included). Under torchrun the times are the
slowest rank's. See :mod:`evaluation.runs.gallery` for ``gallery.npz``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from evaluation import __version__
from evaluation.errors import ConfigurationError
from evaluation.io import atomic_write_json
from evaluation.runs.attributor import BatchAttributor
from evaluation.runs.distributed import DistContext, distributed_context
from evaluation.runs.methods import Method, resolve_methods
from evaluation.runs.state import (
    GALLERY_FILE,
    RESULTS_FILE,
    RankState,
    check_run_dir,
    clear_run_dir,
    file_sha256,
    load_state,
    save_state,
    state_path,
)

PROTOCOLS = ("wsoleval", "paper", "exact")
PADDINGS = ("same", "full")
CLASS_MAPS = ("imagenet1k",)
FIXED_THRESHOLD = 0.2
SAVE_SECONDS = 60.0
"""The resumable state is also saved when this much time has passed since the last save."""
IOU_SCALE = 10_000
"""Per-image IoU is kept as ``round(IoU * IOU_SCALE)`` in int16 (for the gallery's ranking)."""
WSOLEVAL_WINDOW = 3
_CONVENTIONS = {"wsoleval": "wsoleval", "exact": "wsoleval", "paper": "paper"}
_NOT_IDENTITY = ("output", "num_workers", "box_workers", "device", "overwrite", "save_every",
                 "progress", "gallery_samples", "gallery_extremes")


@dataclass(frozen=True)
class EvaluateOptions:
    """Options of one evaluation run (the ``wsol-bench evaluate`` arguments).

    Attributes:
        dataset: ``cub``, ``tiny-imagenet``, ``wsol-metadata`` or ``synthetic``.
        data_root: the dataset folder (for ``wsol-metadata``: the metadata root).
        split: the split to evaluate (``test`` for CUB, ``val`` for Tiny-ImageNet).
        model: a name of :func:`evaluation.models.backbones.build_model`.
        methods: method names (:func:`evaluation.runs.methods.resolve_methods`).
        output: the run directory.
        protocol: ``wsoleval``, ``paper`` or ``exact``.
        checkpoint: weights file (``wsol-bench train`` checkpoint or state_dict).
        weights: torchvision weights name.
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
    """

    dataset: str
    data_root: Path
    split: str
    model: str
    methods: tuple[str, ...]
    output: Path
    protocol: str = "wsoleval"
    checkpoint: Path | None = None
    weights: str | None = None
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


def evaluate(options: EvaluateOptions) -> dict[str, Any]:
    """Run (or resume, or return the finished) evaluation described by ``options``.

    Args:
        options: the run's options.

    Returns:
        The results dict (also written to ``options.output/results.json`` by rank 0).

    Raises:
        ConfigurationError: invalid options, or ``output`` holds a run with another
            configuration (without ``overwrite``).
        WSOLError: dataset, checkpoint or method errors (see their modules).
    """
    _validate(options)
    device = _resolve_device(options.device)
    with distributed_context(device) as context:
        if device.type == "cuda" and context.active:
            device = torch.device("cuda", context.local_rank)
            torch.cuda.set_device(device)
        return _Run(options, device, context).execute()


def _validate(options: EvaluateOptions) -> None:
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
    for name in ("batch_size", "save_every", "window", "limit", "image_size"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise ConfigurationError(f"{name} must be >= 1, got {value}")
    for name in ("num_workers", "box_workers", "gallery_samples", "gallery_extremes"):
        if getattr(options, name) < 0:
            raise ConfigurationError(f"{name} must be >= 0, got {getattr(options, name)}")


def _resolve_device(name: str | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigurationError(f"invalid device {name!r}: {error}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(f"device {name!r} requested but CUDA is not available")
    return device


class _Run:
    """One evaluation run in this process (a rank under torchrun)."""

    def __init__(
        self, options: EvaluateOptions, device: torch.device, context: DistContext
    ) -> None:
        from evaluation.datasets import WSOLDataset, imagenet1k_indices, read_index
        from evaluation.models.backbones import build_model

        self.options = options
        self.device = device
        self.context = context
        self.started = time.perf_counter()
        self.methods: list[Method] = resolve_methods(list(options.methods))
        index = read_index(options.dataset, options.data_root, options.split, options.image_root)
        self.classes = imagenet1k_indices(index.class_ids) if options.class_map else None
        num_classes = 1000 if options.class_map else index.num_classes
        torch.manual_seed(options.seed)
        self.model = build_model(options.model, num_classes, options.checkpoint, options.weights)
        image_size = options.image_size
        if image_size is None and options.protocol != "paper":
            image_size = self.model.input_size
        self.dataset = WSOLDataset(
            index, options.protocol, (self.model.mean, self.model.std), image_size
        )
        total = len(self.dataset) if options.limit is None else min(options.limit, len(index))
        if total == 0:
            raise ConfigurationError(
                f"split {options.split!r} of {options.data_root} holds no images"
            )
        self.num_images = total
        self.shard = context.shard(range(total))
        self.window, self.padding = self._window_and_padding(index.name)
        self.convention = _CONVENTIONS[options.protocol]
        self.config = self._config()
        self.identity = {k: v for k, v in self.config.items() if k not in _NOT_IDENTITY}
        self.state_file = state_path(options.output, context.rank, context.world_size)

    def _window_and_padding(self, dataset_name: str) -> tuple[int, str]:
        if self.options.protocol == "paper":
            window = 3 if dataset_name.endswith("tiny-imagenet") else 4
            padding = "full"
        else:
            window, padding = WSOLEVAL_WINDOW, "same"
        return self.options.window or window, self.options.padding or padding

    def _config(self) -> dict[str, Any]:
        config = {
            k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
            for k, v in asdict(self.options).items()
        }
        for key in ("data_root", "image_root", "checkpoint"):
            if config[key] is not None:
                config[key] = str(Path(config[key]).resolve())
        checkpoint = self.options.checkpoint
        config.update(
            device_type=self.device.type,
            world_size=self.context.world_size,
            checkpoint_sha256=file_sha256(Path(checkpoint)) if checkpoint else None,
            effective_window=self.window,
            effective_padding=self.padding,
            num_images=self.num_images,
        )
        return config

    # ------------------------------------------------------------------ the run

    def execute(self) -> dict[str, Any]:
        output = self.options.output
        if self.options.overwrite:
            if self.context.is_main:
                clear_run_dir(output)
        else:
            check_run_dir(output, self.identity)
            finished = output / RESULTS_FILE
            if finished.is_file():
                return json.loads(finished.read_text("utf-8"))
        self.context.barrier()
        state = None if self.options.overwrite else load_state(self.state_file)
        state = state or self._fresh_state()
        resumed_from = min(state.next_batch * self.options.batch_size, len(self.shard))
        attributor = BatchAttributor(
            self.model, self.methods, self.window, self.padding, self.device, self.classes,
            self.options.amp,
        )
        with self._box_executor() as executor:
            accumulators = self._accumulators(state, executor)
            if not state.done:
                self._loop(state, accumulators, attributor)
        return self._finish(state, accumulators, attributor, resumed_from)

    @contextmanager
    def _box_executor(self) -> Iterator[Executor | None]:
        """A thread pool for the accumulators' box sweeps (``box_workers > 0``)."""
        if not self.options.box_workers:
            yield None
            return
        with ThreadPoolExecutor(self.options.box_workers) as executor:
            yield executor

    def _fresh_state(self) -> RankState:
        return RankState(
            identity=self.identity,
            next_batch=0,
            done=False,
            accumulators={},
            ious={},
            seconds={},
        )

    def _accumulators(self, state: RankState, executor: Executor | None) -> dict[str, Any]:
        from evaluation.localization import LocalizationAccumulator

        accumulators = {}
        for method in self.methods:
            accumulator = LocalizationAccumulator(
                frame_size=self.dataset.frame_size,
                fixed_threshold=FIXED_THRESHOLD,
                convention=self.convention,
                executor=executor,
            )
            if method.name in state.accumulators:
                accumulator.load_state_dict(state.accumulators[method.name])
            accumulators[method.name] = accumulator
        return accumulators

    def _batches(self, start_batch: int) -> Iterator[dict[str, Any]]:
        from evaluation.datasets import collate_wsol

        size = self.options.batch_size
        remaining = self.shard[start_batch * size :]
        loader = DataLoader(
            Subset(self.dataset, remaining),
            batch_size=size,
            shuffle=False,
            num_workers=self.options.num_workers,
            collate_fn=collate_wsol,
            pin_memory=self.device.type == "cuda",
        )
        yield from loader

    def _loop(
        self, state: RankState, accumulators: dict[str, Any], attributor: BatchAttributor
    ) -> None:
        from tqdm.auto import tqdm

        seconds = state.seconds
        size = self.options.batch_size
        done_images = min(state.next_batch * size, len(self.shard))
        bar = tqdm(
            total=len(self.shard),
            initial=done_images,
            unit="img",
            desc=f"evaluate {self.options.model}",
            file=sys.stderr,
            disable=None if (self.options.progress and self.context.is_main) else True,
            dynamic_ncols=True,
        )
        loop_start = time.perf_counter()
        wait_start = last_save = loop_start
        try:
            for batch in self._batches(state.next_batch):
                _add(seconds, "data", time.perf_counter() - wait_start)
                result = attributor(batch["image"], batch["label"])
                _add(seconds, "forward", result.seconds["forward"])
                topk = result.logits.topk(min(5, result.logits.shape[1]), dim=1).indices
                labels, boxes = batch["label"], batch["boxes"]
                positions = batch["index"]
                for name, maps in result.maps.items():
                    start = time.perf_counter()
                    accumulator = accumulators[name]
                    ious = accumulator.update(
                        maps, boxes, labels, topk_predictions=topk, masks=batch.get("mask")
                    )
                    self._iou_table(state, name, accumulator)[positions] = torch.round(
                        ious * IOU_SCALE
                    ).to(torch.int16)
                    _add(seconds, name, result.seconds[name] + time.perf_counter() - start)
                state.next_batch += 1
                bar.update(len(labels))
                now = time.perf_counter()
                _add(seconds, "loop", now - loop_start)
                loop_start = now
                due = now - last_save >= SAVE_SECONDS
                if due or state.next_batch % self.options.save_every == 0:
                    self._save(state, accumulators)
                    last_save = time.perf_counter()
                wait_start = time.perf_counter()
        finally:
            bar.close()
        state.done = True
        self._save(state, accumulators)

    def _iou_table(self, state: RankState, name: str, accumulator: Any) -> torch.Tensor:
        """The (N, T + 1) int16 table of per-image V1 IoU x IOU_SCALE of one method."""
        if name not in state.ious:
            columns = len(accumulator.settings.thresholds) + 1
            state.ious[name] = torch.zeros((self.num_images, columns), dtype=torch.int16)
        return state.ious[name]

    def _save(self, state: RankState, accumulators: dict[str, Any]) -> None:
        state.accumulators = {name: acc.state_dict() for name, acc in accumulators.items()}
        save_state(self.state_file, state)

    # ------------------------------------------------------------------ reduction and output

    def _finish(
        self,
        state: RankState,
        accumulators: dict[str, Any],
        attributor: BatchAttributor,
        resumed_from: int,
    ) -> dict[str, Any]:
        from evaluation.runs.gallery import write_gallery

        context = self.context
        if context.active:
            for accumulator in accumulators.values():
                accumulator.all_reduce()
        tables = {
            name: context.sum_(self._iou_table(state, name, acc).to(torch.int32))
            for name, acc in accumulators.items()
        }
        keys = sorted({"forward", "data", "loop", *(m.name for m in self.methods)})
        seconds = context.max_(
            torch.tensor([state.seconds.get(k, 0.0) for k in keys], dtype=torch.float64)
        )
        times = dict(zip(keys, seconds.tolist(), strict=True))
        resumed_from = int(context.sum_(torch.tensor([resumed_from], dtype=torch.int64)))
        results: dict[str, Any] = {}
        if context.is_main:
            metrics = {name: acc.compute() for name, acc in accumulators.items()}
            best = {name: metrics[name]["best_threshold"] for name in metrics}
            ious = {
                name: tables[name][:, metrics[name]["thresholds"].index(best[name])].numpy()
                / IOU_SCALE
                for name in metrics
            }
            gallery = None
            if self.options.gallery_samples + self.options.gallery_extremes > 0:
                count = write_gallery(
                    self.options.output / GALLERY_FILE,
                    self.dataset,
                    attributor,
                    ious,
                    best,
                    self.options.gallery_samples,
                    self.options.gallery_extremes,
                    self.convention,
                )
                gallery = {"file": GALLERY_FILE, "count": count}
            results = self._results(metrics, times, gallery, resumed_from)
            atomic_write_json(self.options.output / RESULTS_FILE, results)
        context.barrier()
        return results

    def _results(
        self,
        metrics: dict[str, dict[str, Any]],
        times: dict[str, float],
        gallery: dict[str, Any] | None,
        resumed_from: int,
    ) -> dict[str, Any]:
        n = self.num_images
        first = metrics[self.methods[0].name]
        method_results = {}
        for name, values in metrics.items():
            method_seconds = times["forward"] + times[name]
            method_results[name] = {**values, "images_per_second": _rate(n, method_seconds)}
        index = self.dataset.index
        identity_json = json.dumps(self.identity, sort_keys=True)
        return {
            "schema_version": 1,
            "config": self.config,
            "run": {
                "identity": self.identity,
                "fingerprint": hashlib.sha256(identity_json.encode()).hexdigest(),
                "world_size": self.context.world_size,
                "resumed_from_images": resumed_from,
                "wall_seconds": time.perf_counter() - self.started,
            },
            "environment": _environment(self.device, self.options.seed, self.context),
            "dataset": {
                "name": index.name,
                "split": index.split,
                "root": self.config["data_root"],
                "num_images": n,
                "num_classes": index.num_classes,
            },
            "model": {
                "name": self.model.name,
                "checkpoint": self.config["checkpoint"],
                "weights": self.options.weights,
                "layer": self.model.layer_name,
                "input_size": self.model.input_size,
                "num_classes": self.model.num_classes,
                "mean": list(self.model.mean),
                "std": list(self.model.std),
            },
            "protocol": {
                "name": self.options.protocol,
                "frame_size": list(self.dataset.frame_size),
                "window": self.window,
                "padding": self.padding,
                "convention": self.convention,
                "fixed_threshold": FIXED_THRESHOLD,
                "class_map": self.options.class_map,
            },
            "classification": {
                "top1_cls": first.get("top1_cls"),
                "top5_cls": first.get("top5_cls"),
            },
            "methods": method_results,
            "throughput": {
                "forward_images_per_second": _rate(n, times["forward"]),
                "evaluation_images_per_second": _rate(n, times["loop"]),
                "seconds": times,
            },
            "gallery": gallery,
        }


def _add(seconds: dict[str, float], key: str, value: float) -> None:
    seconds[key] = seconds.get(key, 0.0) + value


def _rate(images: int, seconds: float) -> float | None:
    return images / seconds if seconds > 0 else None


def _environment(device: torch.device, seed: int, context: DistContext) -> dict[str, Any]:
    import captum
    import cv2
    import torchvision

    import infocam_captum

    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = platform.processor() or platform.machine()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "captum": captum.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "infocam_captum": infocam_captum.__version__,
        "evaluation": __version__,
        "device": str(device),
        "device_name": device_name,
        "seed": seed,
        "world_size": context.world_size,
        "num_threads": torch.get_num_threads(),
    }

