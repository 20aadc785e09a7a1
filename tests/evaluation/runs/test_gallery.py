"""Per-image IoU returned by the accumulator and the gallery's selection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from evaluation.localization import LocalizationAccumulator
from evaluation.localization.boxes import box_iou
from evaluation.localization.contours import boxes_at_thresholds
from evaluation.localization.quantization import normalize_score_maps
from evaluation.runs.gallery import select_gallery


@pytest.mark.parametrize("convention", ["wsoleval", "paper", "strict"])
def test_recorded_ious_match_an_independent_box_computation(convention: str) -> None:
    torch.manual_seed(4)
    maps = torch.randn(6, 1, 5, 5).cumsum(2).cumsum(3)
    maps[2] = 1.0  # constant map: zeroed, empty masks
    gt = torch.full((6, 2, 4), math.nan)
    gt[:, 0] = torch.tensor([4.0, 6.0, 20.0, 25.0])
    gt[1, 1] = torch.tensor([0.0, 0.0, 31.0, 31.0])
    gt[3, 1] = torch.tensor([10.0, 2.0, 30.0, 12.0])
    accumulator = LocalizationAccumulator((32, 32), fixed_threshold=0.25, convention=convention)
    ious = accumulator.update(maps, gt, torch.zeros(6, dtype=torch.long))
    assert ious.shape == (6, 101)
    normalized = normalize_score_maps(maps, (32, 32), convention).maps
    taus = [0.0, 0.2, 0.45, 0.7, 0.25]
    columns = [0, 20, 45, 70, 100]  # the last column is the fixed threshold
    for i in range(6):
        rows = gt[i][~torch.isnan(gt[i]).any(1)]
        for tau, column in zip(taus, columns, strict=True):
            box = boxes_at_thresholds(normalized[i], [tau], convention)[0]
            expected = 0.0
            if len(box):
                iou = box_iou(torch.from_numpy(box).double(), rows, convention)
                expected = max(float(iou.max()), 0.0)
            assert float(ious[i, column]) == pytest.approx(expected, abs=1e-9)


def test_select_gallery_roles_and_ties() -> None:
    ious = {
        "cam": np.array([0.1, 0.9, 0.9, 0.0, 0.5, 0.0], dtype=np.float32),
        "infocam": np.array([0.3, 0.3, 0.3, 0.3, 0.3, 0.3], dtype=np.float32),
    }
    positions, roles = select_gallery(ious, samples=3, extremes=1)
    # samples 0, 2 (rounded 2.5), 5; cam: best 1 (first of the tie), worst 3; infocam: best 0
    # (first), worst 1 (the first other than its best)
    assert positions == [0, 2, 5, 1, 3]
    assert roles["cam"] == ["sample", "sample", "sample", "best", "worst"]
    assert roles["infocam"] == ["best", "sample", "sample", "worst", ""]
    positions, roles = select_gallery(ious, samples=0, extremes=2)
    assert positions == [1, 2, 3, 5, 0]
    assert roles["cam"] == ["best", "best", "worst", "worst", ""]
