"""``wsol-bench score`` through ``evaluation.cli.main``: results, report file, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evaluation.cli import main
from evaluation.localization import LocalizationAccumulator
from tests.evaluation.localization.map_strategies import smooth_map
from tests.evaluation.unprivileged import run_cli

IMAGES = {  # id: (label, (W, H), boxes, map shape)
    "001.A/img_1.jpg": (0, (448, 224), [(10, 20, 300, 200)], (224, 224)),
    "001.A/img_2.jpg": (1, (100, 200), [(0, 0, 99, 199), (5, 5, 20, 30)], (14, 14)),
    "002.B/img_3.jpg": (2, (224, 224), [(50, 60, 150, 170)], (224, 224)),
}


def write_dataset(root: Path) -> tuple[Path, Path]:
    meta, maps = root / "metadata", root / "scoremaps"
    meta.mkdir(parents=True)
    ids = list(IMAGES)
    (meta / "image_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (meta / "class_labels.txt").write_text("".join(f"{i},{IMAGES[i][0]}\n" for i in ids))
    (meta / "image_sizes.txt").write_text(
        "".join(f"{i},{IMAGES[i][1][0]},{IMAGES[i][1][1]}\n" for i in ids)
    )
    (meta / "localization.txt").write_text(
        "".join(f"{i},{','.join(map(str, b))}\n" for i in ids for b in IMAGES[i][2])
    )
    for seed, image_id in enumerate(ids):
        path = maps / f"{image_id}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, smooth_map(seed, (5, 5), IMAGES[image_id][3]))
    return meta, maps


def expected_result(maps: Path, topk: torch.Tensor | None = None) -> dict:
    """What ``wsol-bench evaluate``'s path (raw tensors, torch bicubic) gives for these maps."""
    acc = LocalizationAccumulator()
    for k, image_id in enumerate(IMAGES):
        label, (width, height), boxes, _ = IMAGES[image_id]
        gt = torch.full((1, 2, 4), float("nan"), dtype=torch.float64)
        for j, (x0, y0, x1, y1) in enumerate(boxes):
            gt[0, j] = torch.tensor([int(x0 * 224 / width), int(y0 * 224 / height),
                                     int(x1 * 224 / width), int(y1 * 224 / height)])
        raw = torch.from_numpy(np.load(maps / f"{image_id}.npy"))[None]
        acc.update(raw, gt, torch.tensor([label]), None if topk is None else topk[k : k + 1])
    return acc.compute()


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["score", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_score_writes_the_report_and_prints_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta, maps = write_dataset(tmp_path)
    predictions = tmp_path / "predictions.csv"
    predictions.write_text(
        "image_id,top1,top2\n001.A/img_1.jpg,0,1\n001.A/img_2.jpg,2,1\n002.B/img_3.jpg,2,0\n"
    )
    output = tmp_path / "out" / "score.json"
    code, out, err = run(["--metadata", str(meta), "--scoremaps", str(maps), "--output",
                          str(output), "--predictions", str(predictions), "--workers", "2"],
                         capsys)
    assert code == 0, err
    report = json.loads(output.read_text())
    expected = expected_result(maps, torch.tensor([[0, 1], [2, 1], [2, 0]]))
    for key, value in expected.items():
        if key in ("energy_pointing_game", "relevance_mass_accuracy"):
            # Sums of the frame's values: OpenCV's bicubic (score) and torch's (evaluate) round
            # the 14x14 map's upsampled values differently in the last bits.
            assert report[key] == pytest.approx(value, rel=1e-12), key
        else:
            assert report[key] == value, key
    for key in ("maxboxacc", "maxboxacc_v2", "boxacc_v2_by_iou", "best_threshold_by_iou",
                "gt_known_loc", "num_images", "num_nonfinite_maps", "convention", "top1_loc",
                "top5_loc", "top1_cls"):
        assert key in report
    assert report["num_images"] == 3 and report["top1_cls"] == pytest.approx(200 / 3)
    assert "MaxBoxAccV2" in out and "GT-known Loc @ tau 0.2" in out and str(output) in out
    assert report["interval"] == {
        "method": "percentile bootstrap", "resamples": 1000, "seed": 0, "level": 0.95,
        "unit": "images", "best_threshold": "re-selected inside every resample"}
    for key in ("maxboxacc", "gt_known_loc", "pointing_game", "auc"):
        low, high = report["intervals"][key]
        assert low <= report[key] <= high, key
        assert f"{report[key]:6.2f} [{low:.2f}, {high:.2f}]" in out, key
    assert "Pointing game" in out and "within 15 px" in out and "Top-1000 intersection" in out


def test_score_options_reach_the_accumulator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta, maps = write_dataset(tmp_path)
    output = tmp_path / "s.json"
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps), "--output", str(output),
                        "--cam-threshold", "0.35", "--cam-curve-interval", "0.1",
                        "--iou-thresholds", "40", "60", "--convention", "strict",
                        "--workers", "1"], capsys)
    assert code == 0, err
    report = json.loads(output.read_text())
    assert report["convention"] == "strict" and report["fixed_threshold"] == 0.35
    assert len(report["thresholds"]) == 10 and list(report["boxacc_v2_by_iou"]) == ["40", "60"]
    assert report["top1_loc"] is None


def check_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("wsol-bench: error: ")
    for fragment in fragments:
        assert fragment in err


def test_missing_score_maps_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta, maps = write_dataset(tmp_path)
    (maps / "002.B" / "img_3.jpg.npy").unlink()
    (maps / "001.A" / "img_1.jpg.npy").unlink()
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps), "--output",
                        str(tmp_path / "x.json")], capsys)
    # The message shows the paths looked for (id + ".npy" under --scoremaps).
    check_error(code, err, "2 score maps", str(maps / "001.A" / "img_1.jpg.npy"),
                str(maps / "002.B" / "img_3.jpg.npy"))
    assert not (tmp_path / "x.json").exists()


def test_a_map_with_the_wrong_number_of_dimensions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta, maps = write_dataset(tmp_path)
    np.save(maps / "001.A" / "img_2.jpg.npy", np.zeros((2, 4, 4), np.float32))
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps)], capsys)
    check_error(code, err, "img_2.jpg.npy", "shape (2, 4, 4); expected a 2-D (H, W) array")


def test_malformed_metadata_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta, maps = write_dataset(tmp_path)
    (meta / "class_labels.txt").write_text("001.A/img_1.jpg,0\n001.A/img_2.jpg,one\n")
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps)], capsys)
    check_error(code, err, "class_labels.txt:2")


def test_ids_missing_from_one_metadata_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta, maps = write_dataset(tmp_path)
    lines = (meta / "image_sizes.txt").read_text().splitlines()
    (meta / "image_sizes.txt").write_text("\n".join(lines[:2]) + "\n")
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps)], capsys)
    check_error(code, err, "image_sizes.txt", "002.B/img_3.jpg")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("001.A/img_1.jpg,0\n001.A/img_2.jpg,x\n", "predictions.csv:2"),
     ("001.A/img_1.jpg,0\nzzz.jpg,1\n", "predictions.csv:2: image id 'zzz.jpg'"),
     ("001.A/img_1.jpg,0\n", "no prediction for 2 image ids"),
     ("001.A/img_1.jpg,0,1\n001.A/img_2.jpg,1\n", "predictions.csv:2: 1 predictions")],
)
def test_bad_predictions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, fragment: str
) -> None:
    meta, maps = write_dataset(tmp_path)
    predictions = tmp_path / "predictions.csv"
    predictions.write_text(text)
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps), "--predictions",
                        str(predictions)], capsys)
    check_error(code, err, fragment)


def test_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta, maps = write_dataset(tmp_path)
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(tmp_path / "nope")], capsys)
    check_error(code, err, "not a folder")
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps),
                        "--cam-curve-interval", "0"], capsys)
    check_error(code, err, "--cam-curve-interval")
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps),
                        "--iou-thresholds", "0"], capsys)
    check_error(code, err, "IoU thresholds")
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps), "--workers", "0"],
                       capsys)
    check_error(code, err, "--workers must be at least 1")


def write_mask_metadata(root: Path) -> tuple[Path, Path, Path]:
    """OpenImages' layout: mask lines, the ignore mask on the first line, image_sizes.txt empty."""
    meta, masks, maps = root / "meta", root / "masks", root / "maps"
    meta.mkdir()
    (meta / "image_ids.txt").write_text("o/a.jpg\n")
    (meta / "class_labels.txt").write_text("o/a.jpg,3\n")
    (meta / "image_sizes.txt").write_text("")
    (meta / "localization.txt").write_text("o/a.jpg,o/a_m1.png,o/a_ig.png\no/a.jpg,o/a_m2.png,\n")
    (masks / "o").mkdir(parents=True)
    for name, rows in (("a_m1.png", slice(0, 10)), ("a_m2.png", slice(30, 40)),
                       ("a_ig.png", slice(0, 20))):
        grey = np.zeros((50, 60), np.uint8)
        grey[rows, 10:50] = 255
        Image.fromarray(grey).save(masks / "o" / name)
    (maps / "o").mkdir(parents=True)
    np.save(maps / "o" / "a.jpg.npy", smooth_map(0, (4, 4), (16, 16)))
    return meta, masks, maps


def test_mask_metadata_reports_pxap_and_no_box_metrics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meta, masks, maps = write_mask_metadata(tmp_path)
    output = tmp_path / "s.json"
    code, out, err = run(["--metadata", str(meta), "--scoremaps", str(maps), "--masks",
                          str(masks), "--output", str(output)], capsys)
    assert code == 0, err
    report = json.loads(output.read_text())
    assert 0 < report["pxap"] <= 100 and report["num_images"] == 1
    assert "maxboxacc" not in report and report["masks"] == str(masks)
    assert "PxAP" in out and "box metrics not measured" in out and "MaxBoxAcc" not in out


def test_masks_and_metadata_must_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meta, masks, maps = write_mask_metadata(tmp_path)
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps)], capsys)
    check_error(code, err, "image_sizes.txt", "no image or mask folder was given")
    (meta / "image_sizes.txt").write_text("o/a.jpg,60,50\n")
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps)], capsys)
    check_error(code, err, "lists masks, not boxes: give --masks DIR")
    code, _, err = run(["--metadata", str(meta), "--scoremaps", str(maps), "--masks",
                        str(tmp_path / "none")], capsys)
    check_error(code, err, "--masks", "is not a folder")
    box_meta, box_maps = write_dataset(tmp_path / "boxes")
    code, _, err = run(["--metadata", str(box_meta), "--scoremaps", str(box_maps), "--masks",
                        str(masks)], capsys)
    check_error(code, err, "--masks given", "lists boxes, not masks")


def test_a_mask_this_user_cannot_read_is_one_line(tmp_path: Path) -> None:
    meta, masks, maps = write_mask_metadata(tmp_path)
    mask = masks / "o" / "a_m2.png"
    mask.chmod(0o000)
    try:
        done = run_cli(["score", "--metadata", str(meta), "--scoremaps", str(maps), "--masks",
                        str(masks), "--output", str(tmp_path / "s.json")])
    finally:
        mask.chmod(0o644)
    check_error(done.returncode, done.stderr, f"{mask}: permission denied: cannot read")
    assert not (tmp_path / "s.json").exists()
