"""Masks in the frame the reference's way: cv2 grey levels, nearest resize, then the threshold."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from evaluation.datasets.masks import (
    check_mask_rule,
    default_mask_rule,
    frame_label_mask,
    read_grey_mask,
)
from evaluation.datasets.transforms import Geometry, eval_geometry
from evaluation.errors import ConfigurationError, DataFormatError


def reference_label_mask(paths: list[Path], ignore: Path | None, side: int) -> np.ndarray:
    """wsolevaluation's get_mask, from its formulas: float32 grey, INTER_NEAREST, > 0.5."""

    def load(path: Path) -> np.ndarray:
        grey = np.float32(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
        return cv2.resize(grey, (side, side), interpolation=cv2.INTER_NEAREST) > 0.5

    foreground = np.stack([load(p) for p in paths]).any(axis=0)
    ignored = load(ignore) & ~foreground if ignore is not None else np.zeros_like(foreground)
    return foreground.astype(np.uint8) + 255 * ignored.astype(np.uint8)


def grey_png(path: Path, values: np.ndarray, mode: str = "L") -> Path:
    image = Image.fromarray(values, "L")
    if mode == "LA":
        image = Image.merge("LA", [image, Image.new("L", image.size, 7)])
    elif mode == "RGB":
        image = image.convert("RGB")
    image.save(path)
    return path


def test_grey_levels_of_l_la_and_rgb_masks(tmp_path: Path) -> None:
    values = np.array([[0, 1, 127, 128, 255]], dtype=np.uint8)
    for mode in ("L", "LA", "RGB"):
        grey = read_grey_mask(grey_png(tmp_path / f"{mode}.png", values, mode), (5, 1))
        assert grey.tolist() == values.tolist(), mode
    with pytest.raises(DataFormatError, match="mask is 5x1, the image is 2x2"):
        read_grey_mask(tmp_path / "L.png", (2, 2))
    (tmp_path / "bad.png").write_bytes(b"junk")
    with pytest.raises(DataFormatError, match="cannot decode the mask"):
        read_grey_mask(tmp_path / "bad.png")


def test_masks_off_the_frame_with_grey_levels_equal_the_reference(tmp_path: Path) -> None:
    # 300x200 masks to 224x224: cv2's nearest sampling (floor(x * 300 / 224)), not PIL's
    # (pixel centres), then any non-zero grey level is foreground.
    rng = np.random.default_rng(0)
    paths = []
    for k in range(3):
        values = rng.choice(np.array([0, 1, 60, 128, 255], np.uint8), size=(200, 300),
                            p=[0.6, 0.1, 0.1, 0.1, 0.1])
        paths.append(grey_png(tmp_path / f"m{k}.png", values))
    ignore, masks = paths[0], paths[1:]
    ours = frame_label_mask(masks, ignore, eval_geometry("wsoleval", 224), "positive", (300, 200))
    assert np.array_equal(ours, reference_label_mask(masks, ignore, 224))
    assert set(np.unique(ours).tolist()) == {0, 1, 255}
    pil = np.asarray(Image.open(masks[0]).resize((224, 224), Image.Resampling.NEAREST)) > 0
    assert not np.array_equal(pil, reference_label_mask([masks[0]], None, 224) == 1)


def test_the_majority_rule_keeps_grey_levels_above_127(tmp_path: Path) -> None:
    values = np.zeros((4, 4), np.uint8)
    values[0] = [1, 127, 128, 255]
    mask = grey_png(tmp_path / "m.png", values)
    geometry = Geometry("wsoleval", 4, 4)
    assert frame_label_mask([mask], None, geometry, "positive")[0].tolist() == [1, 1, 1, 1]
    assert frame_label_mask([mask], None, geometry, "majority")[0].tolist() == [0, 0, 1, 1]


def test_a_cropping_geometry_keeps_the_centre_window(tmp_path: Path) -> None:
    values = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    mask = grey_png(tmp_path / "m.png", values)
    geometry = Geometry("paper", 16, 8)  # resize 16, crop the centre 8 at offset 4
    full = cv2.resize(values, (16, 16), interpolation=cv2.INTER_NEAREST) > 127
    out = frame_label_mask([mask], None, geometry, "majority")
    assert np.array_equal(out, full[4:12, 4:12].astype(np.uint8))


def test_rules_and_defaults() -> None:
    assert default_mask_rule("wsoleval") == "positive"
    assert default_mask_rule("paper") == default_mask_rule("exact") == "majority"
    with pytest.raises(ConfigurationError, match="unknown mask rule 'half'"):
        check_mask_rule("half")
    with pytest.raises(ConfigurationError, match="at least one mask"):
        frame_label_mask([], None, Geometry("wsoleval", 4, 4))
