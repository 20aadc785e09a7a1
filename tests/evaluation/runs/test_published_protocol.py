"""``--protocol paper-as-published`` end to end on CUB- and Tiny-layout data, beside ``paper``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.cli import main
from evaluation.datasets import SyntheticSpec, make_synthetic
from evaluation.runs.published import authors_split, quirks
from tests.evaluation.statistics.test_running_mean import authors_loop

WARNING = ("wsol-bench: warning: paper-as-published reproduces the authors' quirks; cite these "
           "numbers only to compare with the paper")


@pytest.fixture(scope="module")
def cub_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data") / "cub"
    return make_synthetic(root, SyntheticSpec(classes=4, images_per_class=20, size=48, seed=1))


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 classes (the authors' rule for infoCAM+ needs them), one val image each."""
    root = tmp_path_factory.mktemp("data") / "tiny"
    spec = SyntheticSpec("tiny-imagenet", classes=200, images_per_class=2, size=32, seed=2,
                         test_fraction=0.5)
    return make_synthetic(root, spec)


def _evaluate(root: Path, output: Path, protocol: str, methods: str, *extra: str) -> dict:
    args = ["evaluate", "--dataset", "synthetic", "--data-root", str(root), "--model",
            "small-cnn", "--random-init", "--methods", methods, "--protocol", protocol,
            "--num-workers", "0", "--bootstrap-resamples", "20", "--gallery", "2",
            "--output", str(output), *extra]
    assert main(args) == 0
    return json.loads((output / "results.json").read_text())


@pytest.fixture(scope="module")
def cub_runs(cub_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    runs = tmp_path_factory.mktemp("runs")
    for protocol in ("paper", "paper-as-published"):
        _evaluate(cub_data, runs / protocol, protocol, "cam,infocam", "--image-size", "32",
                  "--split", "paper-test", "--batch-size", "5")
    return {"paper": runs / "paper", "published": runs / "paper-as-published"}


def _recomputed_published(run: Path, method: str, batch_size: int) -> dict[str, float]:
    """GT-known and Top-1 Loc from records.npz through a replica of the authors' meter."""
    with np.load(run / "records.npz") as records:
        row = list(records["methods"]).index(method)
        steps = len(records["thresholds"]) + 1
        bits = np.unpackbits(records["hits"][row], axis=-1, bitorder="little")[..., :steps]
        fixed = bits[:, 0, list(records["deltas"]).index(50), -1].astype(bool)
        top1 = records["top1"].astype(bool)
    return {"gt_known_loc": authors_loop(fixed, batch_size),
            "top1_loc": authors_loop(fixed & top1, batch_size)}


def test_cub_results_name_the_quirks_and_the_published_values(cub_runs: dict[str, Path]) -> None:
    results = json.loads((cub_runs["published"] / "results.json").read_text())
    protocol = results["protocol"]
    assert protocol["name"] == "paper-as-published" and protocol["convention"] == "paper"
    assert (protocol["window"], protocol["padding"]) == (4, "full")
    assert [q["name"] for q in protocol["quirks"]] == [
        "running-mean-accuracy", "cam-region-summed", "cub-boxes-unclipped"
    ]
    assert protocol["cam"] == "region-summed (--conv-cam)"
    assert protocol["running_mean_batch_size"] == 5
    assert results["dataset"]["split"] == "paper-test" and results["dataset"]["num_images"] == 12
    for method in ("cam", "infocam"):
        published = results["methods"][method]["published"]
        assert published == _recomputed_published(cub_runs["published"], method, 5)
    paper = json.loads((cub_runs["paper"] / "results.json").read_text())
    assert "quirks" not in paper["protocol"]
    assert all("published" not in values for values in paper["methods"].values())


def test_cam_alone_changes_between_the_protocols(cub_runs: dict[str, Path]) -> None:
    galleries = {}
    for name, run in cub_runs.items():
        with np.load(run / "gallery.npz") as gallery:
            galleries[name] = {key: gallery[key] for key in ("methods", "maps", "image_ids")}
    paper, published = galleries["paper"], galleries["published"]
    shared = sorted(set(paper["image_ids"]) & set(published["image_ids"]))  # the samples at least
    assert len(shared) >= 2
    rows = {name: [list(g["image_ids"]).index(i) for i in shared] for name, g in galleries.items()}
    cam, info = list(paper["methods"]).index("cam"), list(paper["methods"]).index("infocam")
    np.testing.assert_array_equal(paper["maps"][info][rows["paper"]],
                                  published["maps"][info][rows["published"]])
    difference = paper["maps"][cam][rows["paper"]] - published["maps"][cam][rows["published"]]
    assert np.abs(difference).max() > 0.05


def test_the_authors_defaults_and_the_warning(
    cub_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = _evaluate(cub_data, tmp_path / "run", "paper-as-published", "cam",
                        "--image-size", "32", "--limit", "6")
    assert results["config"]["split"] == "paper-test"
    assert results["config"]["batch_size"] == 128
    assert results["protocol"]["running_mean_batch_size"] == 128
    # one batch of 6: the running mean is the final ratio
    published = results["methods"]["cam"]["published"]
    assert published["gt_known_loc"] == pytest.approx(results["methods"]["cam"]["gt_known_loc"])
    assert capsys.readouterr().err.splitlines().count(WARNING) == 1
    report = (tmp_path / "run" / "report.md").read_text()
    assert "**For comparison with the paper only.**" in report
    assert "Quirk cub-boxes-unclipped: CUB boxes are the raw x, y, x + w, y + h floats" in report
    assert "GT-known Loc (published)" in report
    html = (tmp_path / "run" / "report.html").read_text()
    assert "For comparison with the paper only." in html and "Quirk cam-region-summed" in html


def test_tiny_layout_misread_boxes_and_infocam_plus(tiny_data: Path, tmp_path: Path) -> None:
    results = _evaluate(tiny_data, tmp_path / "run", "paper-as-published", "cam,infocam+",
                        "--image-size", "32", "--batch-size", "64")
    assert results["config"]["split"] == "val" and results["dataset"]["num_images"] == 200
    assert [q["name"] for q in results["protocol"]["quirks"]] == [
        "running-mean-accuracy", "infocam+-rank-200-contrast", "cam-region-summed",
        "tiny-imagenet-boxes-misread", "tiny-imagenet-split",
    ]
    for method in ("cam", "infocam+"):
        assert results["methods"][method]["published"] == _recomputed_published(
            tmp_path / "run", method, 64)
    lines = (tiny_data / "val" / "val_annotations.txt").read_text().splitlines()
    annotated = {f[0]: [float(v) for v in f[2:]] for f in (line.split("\t") for line in lines)}
    with np.load(tmp_path / "run" / "gallery.npz") as gallery:
        for image_id, boxes in zip(gallery["image_ids"], gallery["gt_boxes"], strict=True):
            x0, y0, x1, y1 = annotated[str(image_id).removeprefix("val/images/")]
            misread = np.array([x0, y0, x0 + x1, y0 + y1])  # 32 px images in a 32 px frame:
            np.testing.assert_allclose(boxes[0], misread / 32 * 31 + 1, rtol=1e-6)  # L = 31


def test_fewer_than_200_classes_stop_infocam_plus(
    cub_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["evaluate", "--dataset", "synthetic", "--data-root", str(cub_data), "--model",
            "small-cnn", "--random-init", "--methods", "infocam+", "--protocol",
            "paper-as-published", "--num-workers", "0", "--output", str(tmp_path / "run")]
    assert main(args) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("wsol-bench: error: infoCAM+ under --protocol paper-as-published")
    assert "needs at least 200 classes and their code crashes here; use --protocol paper" in error


def test_compare_keeps_the_protocols_in_separate_tables(
    cub_runs: dict[str, Path], tmp_path: Path
) -> None:
    assert main(["compare", str(cub_runs["paper"]), str(cub_runs["published"]),
                 "--output", str(tmp_path)]) == 0
    markdown = (tmp_path / "compare.md").read_text()
    assert "## Group 1: synthetic-cub · paper-test · protocol paper ·" in markdown
    assert "## Group 2: synthetic-cub · paper-test · protocol paper-as-published ·" in markdown
    assert "they differ in protocol" in markdown


def test_authors_split_and_quirks_per_dataset(cub_data: Path, tiny_data: Path) -> None:
    assert authors_split("cub", Path("anywhere")) == "paper-test"
    assert authors_split("tiny-imagenet", Path("anywhere")) == "val"
    assert authors_split("synthetic", cub_data) == "paper-test"
    assert authors_split("synthetic", tiny_data) == "val"
    assert authors_split("wsol-metadata", Path("anywhere")) is None
    assert [q["name"] for q in quirks("cub", 128, ["gradcam"])] == [
        "running-mean-accuracy", "cub-boxes-unclipped"
    ]
    assert "after every batch of 128 images" in quirks("cub", 128, [])[0]["description"]
