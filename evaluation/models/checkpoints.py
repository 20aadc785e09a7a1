"""Checkpoints into CAM-ready models: a ``wsol-bench train`` file or a raw ``state_dict``.

Files load on the CPU with ``torch.load(weights_only=True)``: no code runs from a checkpoint, and
anything that does not unpickle as tensors and containers (a text file, a truncated file, a pickle
that would import or call something) is a :class:`~evaluation.errors.CheckpointError`.
A training checkpoint (see :mod:`evaluation.models.training`) names its model and class count,
which must match; a raw ``state_dict`` may carry DataParallel's ``module.`` prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from evaluation.errors import CheckpointError, ConfigurationError
from evaluation.paths import is_file

if TYPE_CHECKING:
    from evaluation.models.backbones import CamModel


def load_checkpoint(model: CamModel, path: str | Path) -> None:
    """Load a checkpoint into ``model.module`` in place.

    Args:
        model: the freshly built model.
        path: a ``wsol-bench train`` checkpoint (dict with ``model_state``, ``model_name``,
            ``num_classes``) or a raw state_dict (a ``module.`` prefix from DataParallel is
            removed).

    Raises:
        CheckpointError: the file is missing or unreadable with ``weights_only=True``, was
            trained for another model or another class count, or its keys do not fit.
        PathKindError: the path is a folder.
        AccessError: this user may not read the file.
    """
    path = Path(path)
    if not is_file(path, "checkpoint"):
        raise CheckpointError(f"checkpoint file {path} does not exist; check --checkpoint")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # an untrusted file fails in many ways (KeyError, struct.error)
        text = str(error).strip()
        first = f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__
        raise CheckpointError(
            f"{path} cannot be read as a PyTorch checkpoint with weights_only=True ({first}); "
            "pass a file written by `wsol-bench train` or a torch.save(state_dict) file"
        ) from error
    state = obj.get("model_state", obj) if isinstance(obj, Mapping) else obj
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{path} holds no state_dict of tensors (nor a 'model_state' one)")
    trained_for = obj.get("model_name") if "model_state" in obj else None
    if isinstance(trained_for, str) and trained_for != model.name:
        raise CheckpointError(
            f"{path} was trained for model {trained_for!r}, not {model.name!r}; "
            f"pass --model {trained_for}"
        )
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    classifier_key = _qualified_name(model.module, model.classifier) + ".weight"
    stored = obj.get("num_classes") if "model_state" in obj else None
    if classifier_key in state:
        stored = int(state[classifier_key].shape[0])
    if stored is not None and int(stored) != model.num_classes:
        raise CheckpointError(
            f"{path} has {stored} classes but the model needs {model.num_classes} "
            "(the dataset's class count, or 1000 with --class-map imagenet1k); "
            "use a checkpoint trained on this dataset"
        )
    result = model.module.load_state_dict(dict(state), strict=False)
    if result.missing_keys or result.unexpected_keys:
        missing = ", ".join(result.missing_keys[:3]) or "none"
        unexpected = ", ".join(result.unexpected_keys[:3]) or "none"
        raise CheckpointError(
            f"{path} does not fit model {model.name!r}: {len(result.missing_keys)} missing keys "
            f"({missing}), {len(result.unexpected_keys)} unexpected keys ({unexpected})"
        )


def _qualified_name(module: nn.Module, target: nn.Module) -> str:
    for qualified, sub in module.named_modules():
        if sub is target:
            return qualified
    raise ConfigurationError("the classifier is not a submodule of the model")
