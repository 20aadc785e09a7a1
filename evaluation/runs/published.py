"""``--protocol paper-as-published``: ``paper`` plus the quirks behind the authors' numbers.

``paper`` reproduces the infoCAM authors' maps, boxes, IoUs and hit decisions and corrects what
moved their published numbers. ``paper-as-published`` keeps those on purpose, for comparison
with the paper only; each is named in ``results.json`` (``protocol.quirks``, :func:`quirks`) and
explained in the reports:

1. ``running-mean-accuracy``: GT-known and Top-1 Loc are also given as their meter reports them,
   a mean of running ratios over batches of the run's ``batch_size`` in dataset order
   (``methods.<name>.published``, :mod:`evaluation.statistics.running_mean`); the final ratios
   stay the main numbers. Their classification meters equal the final ratio.
2. ``tiny-imagenet-boxes-misread``: Tiny-ImageNet's ``x0 y0 x1 y1`` read as ``x y w h``
   (:func:`evaluation.datasets.tiny_imagenet.authors_box`).
3. ``infocam+-rank-200-contrast``: infoCAM+ subtracts the map of ``logits.topk(200)[:, -1]``
   (:class:`~evaluation.runs.attributor.BatchAttributor`), taken over the model's own ``K``
   logits: the least likely class, the target included, when ``K = 200``; the 200th most likely
   when ``K > 200`` (with ``--class-map imagenet1k``: of the 1000 ImageNet logits, possibly a
   class outside the dataset's; infoCAM's other classes stay the dataset's, as under ``paper``);
   ``K < 200`` is refused, where their code crashes.
4. ``cam-region-summed``: CAM is region-summed with infoCAM's window and padding, as the
   authors' "CAM" runs pass ``--conv-cam`` alone.
5. ``cub-boxes-unclipped``: CUB's raw ``x, y, x + w, y + h`` floats go through the authors'
   mapping, neither truncated nor clipped to the image
   (:func:`evaluation.datasets.cub.authors_box`).

Items 2 and 5 are listed for the dataset they concern, items 3 and 4 for runs of the method
they concern. Defaults (:func:`authors_split`,
:data:`AUTHORS_BATCH_SIZE`): the authors' ``paper-test`` half on CUB-layout data; on
Tiny-ImageNet their ``test.txt`` is 25 images per class of the official val split and does not ship
with the dataset, so the whole ``val`` split is evaluated (``tiny-imagenet-split``); batches of 128;
the fixed threshold 0.2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evaluation.datasets import synthetic_layout
from evaluation.localization import LocalizationAccumulator
from evaluation.statistics.running_mean import published_accuracies

PUBLISHED = "paper-as-published"
AUTHORS_BATCH_SIZE = 128
"""The batch size of the authors' evaluation scripts (their running means depend on it)."""
AUTHORS_CONTRAST_RANK = 200
"""infoCAM+'s contrast class in the authors' code: ``logits.topk(200)[:, -1]``."""
WARNING = (
    "paper-as-published reproduces the authors' quirks; cite these numbers only to compare with "
    "the paper"
)
CAM_DESCRIPTION = "region-summed (--conv-cam)"
CONTRAST_DESCRIPTION = "logits.topk(200)[:, -1] over the model's logits"
_AUTHORS_SPLITS = {"cub": "paper-test", "tiny-imagenet": "val"}


def authors_split(dataset: str, data_root: Path) -> str | None:
    """The split the authors report on, for ``--dataset`` (``None`` where they had no such data).

    ``paper-test`` for the CUB layout, ``val`` for Tiny-ImageNet (module doc); a ``synthetic``
    tree by its layout.

    Raises:
        ConfigurationError: A ``synthetic`` root in neither layout.
    """
    layout = synthetic_layout(data_root) if dataset == "synthetic" else dataset
    return _AUTHORS_SPLITS.get(layout)


def quirks(
    dataset_name: str, batch_size: int, methods: Sequence[str]
) -> list[dict[str, str]]:
    """``[{"name", "description"}]`` of every quirk the run reproduces, for ``results.json``.

    Args:
        dataset_name: The index name (``cub``, ``synthetic-tiny-imagenet``, ...): the box quirks
            and the split note concern one dataset each.
        batch_size: The batches of the running means.
        methods: The evaluated method names: the map quirks concern ``cam`` and ``infocam+``.
    """
    found = [
        ("running-mean-accuracy",
         "GT-known and Top-1 Loc are also reported as the authors' AverageEpochMeter reports "
         f"them: after every batch of {batch_size} images, in dataset order, the running "
         "ratio hits / images seen x 100 is averaged, weighted by the batch's size "
         "(methods.<name>.published); early batches weigh more. The final ratios stay the main "
         "numbers; Top-1 Cls is a plain ratio in their code too."),
    ]
    if "infocam+" in methods:
        found.append(
            ("infocam+-rank-200-contrast",
             "infoCAM+ subtracts the map of logits.topk(200)[:, -1] over the model's own logits: "
             "the least likely class, the target included (a zero map), with 200 classes; the "
             "200th most likely class with more (an ImageNet-1k head under --class-map "
             "imagenet1k: of its 1000 logits). paper takes the least likely class other than the "
             "target."))
    if "cam" in methods:
        found.append(
            ("cam-region-summed",
             "CAM is region-summed with infoCAM's window and padding, as in the authors' CAM runs "
             "(run_resnet.sh, run_vgg.sh, run_vgg_no_adl.sh pass --conv-cam alone); paper's CAM "
             "has no region sum."))
    if dataset_name.endswith("tiny-imagenet"):
        found += [
            ("tiny-imagenet-boxes-misread",
             "Tiny-ImageNet ground truth is the authors' misreading of the annotation file: its "
             "x0 y0 x1 y1 read as x y w h, i.e. the box (x0, y0, x0 + x1, y0 + y1), mostly "
             "reaching past the 64 px image, mapped as under paper (x * 63 / 64 + 1 at 64 px). "
             "paper reads x0 y0 x1 y1."),
            ("tiny-imagenet-split",
             "The authors evaluate their test.txt, 25 images per class of the official val split, "
             "which does not ship with the dataset; this run evaluates the split it names (the "
             "whole val split by default)."),
        ]
    else:
        found.append(
            ("cub-boxes-unclipped",
             "CUB boxes are the raw x, y, x + w, y + h floats through the authors' mapping "
             "(x / W * 255 - 15 at 224 px), neither truncated nor clipped to the image; "
             "paper first applies the field's rule x1 = min(int(x + w), W - 1)."))
    return [{"name": name, "description": description} for name, description in found]


def protocol_details(
    protocol: str, dataset_name: str, batch_size: int, methods: Sequence[str]
) -> dict[str, Any]:
    """The ``protocol`` entries ``paper-as-published`` adds to ``results.json`` (``{}`` otherwise).

    ``quirks`` (:func:`quirks`), ``cam``, ``infocam+_contrast`` and ``running_mean_batch_size``.
    """
    if protocol != PUBLISHED:
        return {}
    return {
        "quirks": quirks(dataset_name, batch_size, methods),
        "cam": CAM_DESCRIPTION,
        "infocam+_contrast": CONTRAST_DESCRIPTION,
        "running_mean_batch_size": batch_size,
    }


def with_published_accuracies(
    metrics: Mapping[str, dict[str, Any]],
    accumulators: Mapping[str, LocalizationAccumulator],
    batch_size: int,
) -> dict[str, dict[str, Any]]:
    """Each method's metrics plus ``published``: GT-known and Top-1 Loc as the authors report them.

    Args:
        metrics: method -> :meth:`~evaluation.localization.LocalizationAccumulator.compute`.
        accumulators: the reduced accumulators (complete per-image records).
        batch_size: the batches of the running means.
    """
    return {
        name: {**values, "published": published_accuracies(accumulators[name].records, batch_size)}
        for name, values in metrics.items()
    }
