"""Score-map files: what is accepted (2-D, (1, H, W), integers) and what is refused, and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.datasets.score_maps import check_score_map, map_path, read_score_map
from evaluation.errors import ScoreMapError


def saved(tmp_path: Path, array: np.ndarray) -> Path:
    path = tmp_path / "img_1.jpg.npy"
    np.save(path, array)
    return path


def test_float_maps_are_read_as_they_are(tmp_path: Path) -> None:
    values = np.random.default_rng(0).random((7, 5))
    np.testing.assert_array_equal(read_score_map(saved(tmp_path, values)), values)
    assert read_score_map(saved(tmp_path, values)).dtype == np.float64
    half = values.astype(np.float16)
    got = read_score_map(saved(tmp_path, half))
    assert got.dtype == np.float16  # kept: the frame widens it to float64, as the reference
    np.testing.assert_array_equal(got, half)


def test_integer_heat_maps_and_a_leading_axis_of_one_are_accepted(tmp_path: Path) -> None:
    heat = np.arange(12, dtype=np.uint8).reshape(1, 3, 4) * 20
    got = read_score_map(saved(tmp_path, heat))
    assert got.shape == (3, 4) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, heat[0])
    large = np.array([[2**24 + 1, 0]], dtype=np.int64)  # not a float32: kept exact
    assert read_score_map(saved(tmp_path, large))[0, 0] == 2**24 + 1


def test_a_map_path_is_the_id_with_npy_appended(tmp_path: Path) -> None:
    assert map_path(tmp_path, "001.A/img_1.jpg") == tmp_path / "001.A" / "img_1.jpg.npy"


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((4, 4), dtype=bool), "a boolean mask is not a score map"),
        (np.zeros((3, 4, 4), np.float32), "shape (3, 4, 4); expected a 2-D (H, W) array"),
        (np.zeros((4, 4, 1), np.float32), "shape (4, 4, 1)"),
        (np.zeros(16, np.float32), "shape (16,)"),
        (np.float32(1.0), "shape ()"),
        (np.zeros((0, 4), np.float32), "shape (0, 4)"),
        (np.zeros((1, 0, 4), np.float32), "shape (0, 4)"),
        (np.array([["a"]]), "dtype <U1 holds no numbers"),
        (np.zeros((2, 2), np.complex64), "dtype complex64 holds no numbers"),
    ],
)
def test_arrays_that_are_no_score_map(tmp_path: Path, array: np.ndarray, message: str) -> None:
    path = saved(tmp_path, array)
    with pytest.raises(ScoreMapError) as error:
        read_score_map(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    with pytest.raises(ScoreMapError):
        check_score_map(np.asarray(array), path)


def _savez_as_npy(path: Path) -> None:
    with path.open("wb") as handle:  # savez to a file object keeps the .npy name
        np.savez(handle, m=np.zeros((4, 4)))


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: _savez_as_npy(p), "an .npz archive, not one .npy array"),
        (lambda p: p.write_bytes(b""), "not a readable .npy array"),
        (lambda p: np.save(p, np.zeros((64, 64))) or p.write_bytes(p.read_bytes()[:200]),
         "not a readable .npy array"),
        (lambda p: p.write_text("0.1 0.2\n0.3 0.4\n"), "not a readable .npy array"),
        (lambda p: np.save(p, np.array([{"a": 1}]), allow_pickle=True),
         "not a readable .npy array"),
    ],
    ids=["npz", "empty", "truncated", "text", "pickled-object"],
)
def test_files_that_are_no_npy_array(tmp_path: Path, write: object, message: str) -> None:
    path = tmp_path / "img_1.jpg.npy"
    write(path)  # type: ignore[operator]
    with pytest.raises(ScoreMapError) as error:
        read_score_map(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
