"""``wsol-bench demo`` with small sizes: data -> training -> evaluation -> reports, then reuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.cli import main


def _demo(output: Path, images_per_class: str = "8") -> list[str]:
    return [
        "demo", "--output", str(output), "--classes", "3", "--images-per-class",
        images_per_class, "--epochs", "1", "--num-workers", "0",
    ]


def test_demo_runs_and_reuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "demo"
    assert main(_demo(output)) == 0
    out = capsys.readouterr().out
    for label in ("| CAM |", "| Grad-CAM |", "| infoCAM |", "| infoCAM+ |"):
        assert label in out
    assert "chance 33.3%" in out and "reports:" in out
    results = json.loads((output / "run" / "results.json").read_text())
    assert list(results["methods"]) == ["cam", "gradcam", "infocam", "infocam+"]
    assert results["dataset"]["name"] == "synthetic-cub"
    assert results["protocol"]["frame_size"] == [64, 64]
    assert results["model"]["checkpoint"].endswith("checkpoint-last.pt")
    for name in ("report.md", "report.html", "gallery.npz"):
        assert (output / "run" / name).is_file()
    first = (output / "run" / "results.json").read_text()

    # the same sizes again: everything is reused, nothing recomputed
    assert main(_demo(output)) == 0
    assert "making a synthetic" not in capsys.readouterr().out
    assert (output / "run" / "results.json").read_text() == first

    # other sizes: the demo's folders are replaced
    assert main(_demo(output, images_per_class="6")) == 0
    assert "making a synthetic" in capsys.readouterr().out
    results = json.loads((output / "run" / "results.json").read_text())
    assert results["dataset"]["num_images"] == 6  # 3 classes x round(6 * 0.3) test images
