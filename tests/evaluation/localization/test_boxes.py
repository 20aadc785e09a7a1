"""Box geometry and IoU against the reference and hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evaluation.localization.boxes import box_iou, rects_to_boxes
from evaluation.localization.reference import reference_multiple_iou, reference_paper_iou


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [([1, 2, 5, 6], [3, 1, 4, 5], 8 / 27), ([1, 2, 5, 6], [1, 2, 5, 6], 1.0),
     ([0, 0, 0, 0], [0, 0, 0, 0], 1.0), ([0, 0, 3, 3], [5, 5, 6, 6], 0.0)],
)
def test_golden_iou(a: list[int], b: list[int], expected: float) -> None:
    iou = box_iou(torch.tensor([a]), torch.tensor([b]))
    assert iou.dtype == torch.float64
    assert float(iou[0, 0]) == pytest.approx(expected, abs=0, rel=1e-15)


def test_iou_many_against_many_matches_reference() -> None:
    rng = np.random.default_rng(0)
    a = np.sort(rng.integers(0, 40, (7, 2, 2)), axis=1).transpose(0, 2, 1).reshape(7, 4)
    b = np.sort(rng.integers(0, 40, (5, 2, 2)), axis=1).transpose(0, 2, 1).reshape(5, 4)
    a, b = a[:, [0, 2, 1, 3]], b[:, [0, 2, 1, 3]]
    ours = box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert np.array_equal(ours, reference_multiple_iou(a, b))


def test_paper_iou_keeps_the_unclamped_intersection() -> None:
    a, b = torch.tensor([[0, 0, 0, 0]]), torch.tensor([[2, 2, 2, 2]])
    assert float(box_iou(a, b, "paper")) == 1.0 == reference_paper_iou([0, 0, 0, 0], [2, 2, 2, 2])
    assert float(box_iou(a, b, "wsoleval")) == 0.0
    far = torch.tensor([[9, 9, 9, 9]])
    assert float(box_iou(a, far, "paper")) == 0.0


def test_rects_to_boxes_on_arrays_and_tensors() -> None:
    rects = np.array([[2, 3, 4, 5], [6, 0, 4, 2]])
    expected = {"wsoleval": [[2, 3, 6, 7], [6, 0, 9, 2]], "paper": [[2, 3, 6, 8], [6, 0, 10, 2]],
                "strict": [[2, 3, 5, 7], [6, 0, 9, 1]]}
    for convention, boxes in expected.items():
        assert rects_to_boxes(rects, (8, 10), convention).tolist() == boxes
        assert rects_to_boxes(torch.from_numpy(rects), (8, 10), convention).tolist() == boxes
