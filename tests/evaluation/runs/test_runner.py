"""``wsol-bench evaluate`` end to end: numbers, files, resume, torchrun, errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from evaluation.cli import main
from evaluation.datasets import SyntheticSpec, load_dataset, make_synthetic
from evaluation.localization import LocalizationAccumulator
from evaluation.models.backbones import build_model
from evaluation.statistics.bootstrap import BootstrapSettings
from evaluation.statistics.records import ATTRIBUTION_METRICS
from infocam_captum import LayerClassActivationMap, LayerInfoCam

PROJECT = Path(__file__).resolve().parents[3]
METHODS = "cam,gradcam,infocam,infocam+"


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data") / "synthetic"
    return make_synthetic(root, SyntheticSpec(classes=4, images_per_class=10, size=48, seed=1))


def _args(root: Path, output: Path, *extra: str, random_init: bool = True) -> list[str]:
    """An evaluate command line; ``random_init``: the untrained small CNN (a smoke test)."""
    return [
        "evaluate", "--dataset", "synthetic", "--data-root", str(root), "--model", "small-cnn",
        "--image-size", "32", "--batch-size", "2", "--num-workers", "0", "--output", str(output),
        *(["--random-init"] if random_init else []), *extra,
    ]


def _numbers(results: dict) -> dict:
    """The results that must not depend on timing, resumption or the number of processes."""
    methods = {
        name: {k: v for k, v in values.items() if k != "images_per_second"}
        for name, values in results["methods"].items()
    }
    return {"methods": methods, "classification": results["classification"]}


@pytest.fixture(scope="module")
def single_run(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("runs") / "single"
    assert main(_args(synthetic_root, output, "--methods", METHODS, "--save-every", "2")) == 0
    return output


def test_results_equal_an_independent_computation(single_run: Path, synthetic_root: Path) -> None:
    results = json.loads((single_run / "results.json").read_text())
    torch.manual_seed(0)  # the default --seed: the same random weights
    model = build_model("small-cnn", 4)
    data = load_dataset(
        "synthetic", synthetic_root, "test", normalization=(model.mean, model.std), image_size=32
    )
    assert results["dataset"]["num_images"] == len(data) == 12
    images = torch.stack([data[i]["image"] for i in range(len(data))])
    labels = torch.tensor([data[i]["label"] for i in range(len(data))])
    boxes = torch.stack([data[i]["boxes"] for i in range(len(data))])
    masks = torch.stack([data[i]["mask"] for i in range(len(data))])
    with torch.no_grad():
        logits = model.module(images)
    topk = logits.topk(4, dim=1).indices
    cam = LayerClassActivationMap(model.module, model.layer, classifier=model.classifier)
    info = LayerInfoCam(model.module, model.layer, classifier=model.classifier)
    expected_maps = {
        "cam": cam.attribute(images, target=labels),
        "infocam": info.attribute(images, target=labels, window=3, padding="same"),
    }
    for name, maps in expected_maps.items():
        accumulator = LocalizationAccumulator(frame_size=(32, 32), convention="wsoleval")
        accumulator.update(maps, boxes, labels, topk_predictions=topk, masks=masks)
        got = {k: v for k, v in results["methods"][name].items()
               if k not in ("images_per_second", "attribution")}
        expected = accumulator.compute(BootstrapSettings(resamples=1000, seed=0))
        for key in ATTRIBUTION_METRICS:  # float32 maps of another computation order
            assert got.pop(key) == pytest.approx(expected.pop(key), rel=1e-5)
            assert got["intervals"].pop(key) == pytest.approx(
                expected["intervals"].pop(key), rel=1e-5)
        assert got == expected
    top1 = 100.0 * float((logits.argmax(1) == labels).float().mean())
    assert results["classification"]["top1_cls"] == pytest.approx(top1)
    assert results["protocol"] == {
        "name": "wsoleval", "frame_size": [32, 32], "window": 3, "padding": "same",
        "convention": "wsoleval", "fixed_threshold": 0.2, "class_map": None,
    }


def test_results_schema_and_files(single_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = json.loads((single_run / "results.json").read_text())
    assert results["schema_version"] == 1
    assert set(results) >= {
        "config", "run", "environment", "dataset", "model", "protocol", "classification",
        "methods", "throughput", "gallery",
    }
    assert list(results["methods"]) == METHODS.split(",")
    for values in results["methods"].values():
        assert values["images_per_second"] > 0
        assert len(values["curves"]["v1"]["50"]) == len(values["thresholds"]) == 100
    assert results["model"]["name"] == "small-cnn" and results["model"]["layer"] == "features"
    assert results["environment"]["world_size"] == 1
    assert results["run"]["resumed_from_images"] == 0
    assert results["throughput"]["forward_images_per_second"] > 0
    for name in ("report.md", "report.html", "gallery.npz", "state/rank0-of-1.pt"):
        assert (single_run / name).is_file()
    with np.load(single_run / "gallery.npz", allow_pickle=False) as archive:
        gallery = {key: archive[key] for key in archive.files}
    count = results["gallery"]["count"]
    assert gallery["images"].shape == (count, 32, 32, 3) and gallery["images"].dtype == np.uint8
    assert gallery["maps"].shape == (4, count, 32, 32)
    assert gallery["maps"].min() >= 0 and gallery["maps"].max() <= 1
    assert gallery["pred_boxes"].shape == (4, count, 4) and gallery["ious"].shape == (4, count)
    assert list(gallery["methods"]) == METHODS.split(",")
    for row, ious in zip(gallery["roles"], gallery["ious"], strict=True):
        assert set(row) <= {"", "best", "worst", "sample"}
        # ranked at the method's best threshold: the best and worst of the whole split, so also
        # of the gallery (whose IoU is recomputed from its own maps)
        assert ious[row == "best"][0] == pytest.approx(ious.max(), abs=1e-4)
        assert ious[row == "worst"][0] == pytest.approx(ious.min(), abs=1e-4)
    # the gallery's IoU is that of its predicted box with the best GT box (recomputed here)
    from evaluation.localization.boxes import box_iou

    j, i = 0, int(np.flatnonzero(gallery["roles"][0] == "best")[0])
    gt = torch.from_numpy(gallery["gt_boxes"][i])
    gt = gt[~torch.isnan(gt).any(1)]
    iou = box_iou(torch.from_numpy(gallery["pred_boxes"][j, i])[None], gt)[0].max()
    assert float(iou) == pytest.approx(float(gallery["ious"][j, i]), abs=1e-6)


def test_finished_run_is_not_redone(
    single_run: Path, synthetic_root: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = (single_run / "results.json").read_text()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished run was evaluated again")

    monkeypatch.setattr(LocalizationAccumulator, "update", refuse)
    assert main(_args(synthetic_root, single_run, "--methods", METHODS, "--save-every", "2")) == 0
    assert (single_run / "results.json").read_text() == before
    assert "| CAM |" in capsys.readouterr().out


_KILLER = """
import os, signal, sys
import evaluation.localization.accumulator as metrics
original = metrics.LocalizationAccumulator.update
calls = [0]
def update(self, *args, **kwargs):
    calls[0] += 1
    if calls[0] > {limit}:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, *args, **kwargs)
metrics.LocalizationAccumulator.update = update
from evaluation.cli import main
sys.exit(main({args!r}))
"""


def test_resume_after_sigkill_gives_the_same_numbers(
    single_run: Path, synthetic_root: Path, tmp_path: Path
) -> None:
    output = tmp_path / "killed"
    args = _args(synthetic_root, output, "--methods", METHODS, "--save-every", "2")
    # 4 methods x 2 images per batch: killed inside batch 4, after the save at batch 2
    code = _KILLER.format(limit=13, args=args)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, env=env, check=False)
    assert killed.returncode == -signal.SIGKILL
    assert (output / "state" / "rank0-of-1.pt").is_file()
    assert not (output / "results.json").exists()
    assert main(args) == 0
    resumed = json.loads((output / "results.json").read_text())
    assert resumed["run"]["resumed_from_images"] == 4  # batches 1-2 were not redone
    uninterrupted = json.loads((single_run / "results.json").read_text())
    assert _numbers(resumed) == _numbers(uninterrupted)


def test_torchrun_two_processes_equal_one(
    single_run: Path, synthetic_root: Path, tmp_path: Path
) -> None:
    output = tmp_path / "torchrun"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "evaluation", *_args(synthetic_root, output, "--methods", METHODS),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command, cwd=PROJECT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((output / "results.json").read_text())
    assert results["environment"]["world_size"] == 2
    assert sorted(p.name for p in (output / "state").iterdir()) == [
        "rank0-of-2.pt", "rank1-of-2.pt"
    ]
    uninterrupted = json.loads((single_run / "results.json").read_text())
    assert _numbers(results) == _numbers(uninterrupted)  # intervals included: exact
    with np.load(output / "records.npz") as gathered, np.load(single_run / "records.npz") as one:
        assert sorted(gathered.files) == sorted(one.files)
        for key in one.files:
            assert np.array_equal(gathered[key], one[key], equal_nan=one[key].dtype.kind == "f")
    assert done.stdout.count("| CAM |") == 1  # rank 0 alone prints


def test_box_worker_processes_give_the_same_numbers(
    single_run: Path, synthetic_root: Path, tmp_path: Path
) -> None:
    output = tmp_path / "box-workers"
    args = _args(synthetic_root, output, "--methods", METHODS, "--box-workers", "1")
    assert main(args) == 0
    results = json.loads((output / "results.json").read_text())
    uninterrupted = json.loads((single_run / "results.json").read_text())
    assert _numbers(results) == _numbers(uninterrupted)


def test_dotted_captum_method_evaluates(synthetic_root: Path, tmp_path: Path) -> None:
    output = tmp_path / "dotted"
    methods = "gradcam,captum.attr.LayerGradientXActivation"
    assert main(_args(synthetic_root, output, "--methods", methods, "--limit", "4")) == 0
    results = json.loads((output / "results.json").read_text())
    values = results["methods"]["captum.attr.LayerGradientXActivation"]
    assert values["num_images"] == 4 and 0 <= values["maxboxacc"] <= 100


def test_cam_family_and_input_level_methods_evaluate_with_their_options(
    synthetic_root: Path, tmp_path: Path
) -> None:
    output = tmp_path / "family"
    smooth = "captum.attr.Saliency+smoothgrad"
    methods = f"cam,gradcam++,xgradcam,layercam,scorecam,{smooth}"
    args = _args(synthetic_root, output, "--methods", methods, "--limit", "4",
                 "--method-option", "scorecam.batch_size=16",
                 "--method-option", f"{smooth}.nt_samples=2", "--input-reduction", "l2")
    assert main(args) == 0
    results = json.loads((output / "results.json").read_text())
    assert list(results["methods"]) == methods.split(",")
    assert results["methods"]["scorecam"]["attribution"] == {
        "kind": "layer", "class": "infocam_captum.scorecam.LayerScoreCam", "noise_tunnel": None,
        "options": {"batch_size": 16}, "defaults": {}, "reduction": None,
    }
    record = results["methods"][smooth]["attribution"]
    assert record["kind"] == "input" and record["noise_tunnel"] == "smoothgrad"
    assert record["options"] == {"nt_samples": 2} and record["reduction"] == "l2"
    assert results["methods"]["gradcam++"]["attribution"]["kind"] == "gradient"
    assert results["config"]["method_options"] == [
        "scorecam.batch_size=16", f"{smooth}.nt_samples=2"
    ]
    for values in results["methods"].values():
        assert values["num_images"] == 4 and values["images_per_second"] > 0
    report = (output / "report.md").read_text()
    assert "Score-CAM" in report and "Saliency+smoothgrad" in report


def test_paper_protocol_defaults(synthetic_root: Path, tmp_path: Path) -> None:
    output = tmp_path / "paper"
    args = _args(synthetic_root, output, "--methods", "infocam+", "--protocol", "paper",
                 "--limit", "2", "--gallery", "0")
    assert main(args) == 0
    results = json.loads((output / "results.json").read_text())
    assert results["protocol"]["window"] == 4 and results["protocol"]["padding"] == "full"
    assert results["protocol"]["convention"] == "paper" and results["gallery"] is None


def test_other_configuration_in_run_dir_needs_overwrite(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "conflict"
    assert main(_args(synthetic_root, output, "--methods", "cam", "--limit", "2")) == 0
    capsys.readouterr()
    assert main(_args(synthetic_root, output, "--methods", "cam", "--limit", "4")) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "another configuration" in error and "limit: 2 -> 4" in error
    assert "--overwrite" in error
    assert main(_args(synthetic_root, output, "--methods", "cam", "--limit", "4",
                      "--overwrite")) == 0
    assert json.loads((output / "results.json").read_text())["dataset"]["num_images"] == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--methods", "cam,scorecamm"), "unknown method 'scorecamm'"),
        (("--method-option", "cam.window=3"), "cam is computed by the runner"),
        (("--model", "resnet5"), "unknown model 'resnet5'"),
        (("--data-root", "/no/such/folder"), "/no/such/folder"),
        (("--limit", "0"), "limit must be >= 1"),
        (("--checkpoint", "/no/such/model.pt"), "does not exist"),
    ],
)
def test_bad_arguments_are_one_line_errors(
    synthetic_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    change: tuple[str, str], message: str,
) -> None:
    flag, value = change
    args = _args(synthetic_root, tmp_path / "bad", random_init=flag != "--checkpoint")
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("wsol-bench: error:")
    assert message in error


def test_efficientnet_lite0_on_tiny_imagenet_classifies_far_above_chance(
    tiny_imagenet_root: Path, tmp_path: Path
) -> None:
    output = tmp_path / "lite0"
    args = [
        "evaluate", "--dataset", "tiny-imagenet", "--data-root", str(tiny_imagenet_root),
        "--split", "val", "--model", "efficientnet-lite0", "--class-map", "imagenet1k",
        "--methods", "cam,infocam", "--limit", "64", "--batch-size", "32", "--num-workers", "0",
        "--gallery", "0", "--output", str(output),
    ]
    assert main(args) == 0
    results = json.loads((output / "results.json").read_text())
    assert results["dataset"]["num_images"] == 64 and results["dataset"]["num_classes"] == 200
    assert results["model"]["num_classes"] == 1000
    assert results["classification"]["top1_cls"] > 25.0  # chance: 0.5%
    assert results["classification"]["top5_cls"] > 50.0
    assert results["methods"]["cam"]["maxboxacc"] > 20.0


def test_train_evaluate_report_compare_through_the_cli(
    synthetic_root: Path, single_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train_dir = tmp_path / "train"
    assert main([
        "train", "--dataset", "synthetic", "--data-root", str(synthetic_root), "--model",
        "small-cnn", "--image-size", "32", "--epochs", "1", "--batch-size", "8", "--output",
        str(train_dir), "--no-progress",
    ]) == 0
    checkpoint = train_dir / "checkpoint-last.pt"
    output = tmp_path / "trained"
    assert main(_args(synthetic_root, output, "--methods", "cam,infocam+", "--checkpoint",
                      str(checkpoint), random_init=False)) == 0
    results = json.loads((output / "results.json").read_text())
    assert results["model"]["checkpoint"] == str(checkpoint.resolve())
    assert len(results["config"]["checkpoint_sha256"]) == 64
    (output / "report.md").unlink()
    assert main(["report", str(output)]) == 0
    assert (output / "report.md").is_file()
    assert main(["compare", str(single_run), str(output), "--output", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "compare.md").is_file()
    capsys.readouterr()
    # the checkpoint is part of the run's identity: another checkpoint is another run
    torch.save(torch.load(checkpoint, weights_only=True) | {"epoch": 2}, checkpoint)
    assert main(_args(synthetic_root, output, "--methods", "cam,infocam+", "--checkpoint",
                      str(checkpoint), random_init=False)) == 2
    assert "checkpoint_sha256" in capsys.readouterr().err
