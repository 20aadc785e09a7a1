"""``wsol-bench evaluate``'s defaults per protocol: the authors' split and batch size opt in."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation.cli import build_parser
from evaluation.commands.evaluate import options_from_args
from evaluation.errors import ConfigurationError
from evaluation.runs.options import EvaluateOptions
from tests.evaluation.datasets.conftest import write_lines


def _options(*argv: str) -> EvaluateOptions:
    args = build_parser().parse_args(
        ["evaluate", "--model", "small-cnn", "--output", "run", *argv]
    )
    return options_from_args(args)


@pytest.mark.parametrize(
    ("argv", "split", "batch_size"),
    [
        (("--dataset", "cub", "--data-root", "d", "--protocol", "paper"), "test", 32),
        (("--dataset", "cub", "--data-root", "d", "--protocol", "paper-as-published"),
         "paper-test", 128),
        (("--dataset", "tiny-imagenet", "--data-root", "d", "--protocol", "paper-as-published"),
         "val", 128),
        (("--dataset", "cub", "--data-root", "d", "--protocol", "paper-as-published",
          "--split", "test", "--batch-size", "64"), "test", 64),
        (("--dataset", "wsol-metadata", "--data-root", "d", "--protocol", "paper-as-published"),
         "test", 128),
        (("--dataset", "tiny-imagenet", "--data-root", "d"), "val", 32),
    ],
)
def test_split_and_batch_size_defaults(argv: tuple[str, ...], split: str, batch_size: int) -> None:
    options = _options(*argv)
    assert (options.split, options.batch_size) == (split, batch_size)


def test_a_synthetic_root_gets_the_split_of_its_layout(tmp_path: Path) -> None:
    write_lines(tmp_path / "cub" / "images.txt", ["1 a/a.png"])
    write_lines(tmp_path / "tiny" / "wnids.txt", ["n01"])
    published = ("--dataset", "synthetic", "--protocol", "paper-as-published")
    assert _options(*published, "--data-root", str(tmp_path / "cub")).split == "paper-test"
    assert _options(*published, "--data-root", str(tmp_path / "tiny")).split == "val"
    assert _options("--dataset", "synthetic", "--data-root", str(tmp_path / "cub")).split == "test"
    with pytest.raises(ConfigurationError, match="make-synthetic"):
        _options(*published, "--data-root", str(tmp_path))
