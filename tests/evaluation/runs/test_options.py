"""Run options: their checks, the protocols' defaults, the config and identity of a run."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from evaluation.errors import ConfigurationError
from evaluation.runs.options import (
    EvaluateOptions,
    box_convention,
    resolve_device,
    run_config,
    run_identity,
    validate_options,
    window_and_padding,
)

OPTIONS = EvaluateOptions(
    dataset="synthetic", data_root=Path("data"), split="test", model="small-cnn",
    methods=("cam", "infocam"), output=Path("run"), random_init=True,
)


@pytest.mark.parametrize(
    ("protocol", "dataset", "expected"),
    [("wsoleval", "cub", (3, "same")), ("exact", "tiny-imagenet", (3, "same")),
     ("paper", "cub", (4, "full")), ("paper", "synthetic-tiny-imagenet", (3, "full"))],
)
def test_protocol_defaults_of_window_and_padding(
    protocol: str, dataset: str, expected: tuple[int, str]
) -> None:
    assert window_and_padding(replace(OPTIONS, protocol=protocol), dataset) == expected
    overridden = replace(OPTIONS, protocol=protocol, window=5, padding="full")
    assert window_and_padding(overridden, dataset) == (5, "full")


def test_box_convention_per_protocol() -> None:
    assert [box_convention(p) for p in ("wsoleval", "exact", "paper")] == [
        "wsoleval", "wsoleval", "paper"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [({"protocol": "v2"}, "unknown protocol 'v2'"), ({"padding": "valid"}, "unknown padding"),
     ({"class_map": "imagenet21k"}, "unknown class map"), ({"batch_size": 0}, "batch_size"),
     ({"window": 0}, "window must be >= 1"), ({"box_workers": -1}, "box_workers must be >= 0"),
     ({"random_init": False}, "--model small-cnn without --checkpoint or --weights is a randomly "
                              "initialised network, whose numbers mean nothing"),
     ({"model": "resnet50", "random_init": False}, "or --random-init for a smoke test"),
     ({"checkpoint": Path("w.pt")}, "--random-init contradicts the weights of --model small-cnn"),
     ({"model": "efficientnet-lite0"}, "--random-init contradicts")],
)
def test_invalid_options_are_configuration_errors(change: dict, message: str) -> None:
    validate_options(OPTIONS)
    with pytest.raises(ConfigurationError, match=message):
        validate_options(replace(OPTIONS, **change))


def test_devices() -> None:
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ConfigurationError, match="invalid device 'gpu0'"):
        resolve_device("gpu0")


def test_config_and_identity(tmp_path: Path) -> None:
    checkpoint = tmp_path / "weights.pt"
    checkpoint.write_bytes(b"not really weights")
    options = replace(OPTIONS, data_root=tmp_path, checkpoint=checkpoint, limit=7,
                      random_init=False)
    config = run_config(options, "cpu", 2, 3, "same", 7)
    assert config["data_root"] == str(tmp_path.resolve())
    assert config["methods"] == ["cam", "infocam"] and config["output"] == "run"
    assert config["checkpoint_sha256"] == hashlib.sha256(b"not really weights").hexdigest()
    assert (config["device_type"], config["world_size"], config["num_images"]) == ("cpu", 2, 7)
    assert (config["effective_window"], config["effective_padding"]) == (3, "same")
    identity = run_identity(config)
    assert identity["limit"] == 7 and identity["world_size"] == 2
    assert identity["random_init"] is False  # a checkpoint: a run of other weights
    assert not {"output", "num_workers", "box_workers", "device", "overwrite", "save_every",
                "progress", "gallery_samples", "gallery_extremes"} & set(identity)
