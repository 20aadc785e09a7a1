"""The attribution metrics equal Quantus 0.6's on the same maps and boxes (skips without it).

Quantus is in the ``compare`` extra (installed with ``pip install --no-deps quantus==0.6.0``: it
requires the GUI OpenCV build, which must not sit beside ``opencv-python-headless``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from evaluation.localization.attribution import attribution_metrics, region_masks
from evaluation.statistics.records import ATTRIBUTION_METRICS

quantus = pytest.importorskip("quantus")

BATCH, HEIGHT, WIDTH = 8, 28, 24


def maps_and_boxes() -> tuple[np.ndarray, torch.Tensor]:
    """Signed smooth maps with a positive total, and one or two GT boxes per image."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    maps = np.empty((BATCH, HEIGHT, WIDTH))
    boxes = torch.full((BATCH, 2, 4), float("nan"), dtype=torch.float64)
    for b in range(BATCH):
        cy, cx = rng.uniform(4, HEIGHT - 4), rng.uniform(4, WIDTH - 4)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / rng.uniform(10, 60))
        maps[b] = blob + 0.1 * rng.normal(size=(HEIGHT, WIDTH)) - 0.05
        x0, y0 = rng.integers(0, WIDTH // 2), rng.integers(0, HEIGHT // 2)
        boxes[b, 0] = torch.tensor([x0, y0, x0 + rng.integers(3, 10), y0 + rng.integers(3, 10)])
        if b % 2:
            boxes[b, 1] = torch.tensor([cx - 2, cy - 2, cx + 2, cy + 2]).floor()
    return maps, boxes


def quantus_scores(maps: np.ndarray, regions: np.ndarray, top_k: int) -> dict[str, np.ndarray]:
    """Each metric through Quantus' own classes (no normalisation, no absolute value)."""
    arguments = {
        "model": None, "x_batch": np.zeros((BATCH, 1, HEIGHT, WIDTH)),
        "y_batch": np.zeros(BATCH, dtype=int), "a_batch": maps[:, None],
        "s_batch": regions[:, None].astype(float),
    }
    common = {"disable_warnings": True, "normalise": False, "abs": False}
    metrics = {
        "pointing_game": quantus.PointingGame(**common),
        "energy_pointing_game": quantus.AttributionLocalisation(
            positive_attributions=True, **common),
        "relevance_mass_accuracy": quantus.RelevanceMassAccuracy(**common),
        "relevance_rank_accuracy": quantus.RelevanceRankAccuracy(**common),
        "top_k_intersection": quantus.TopKIntersection(k=top_k, **common),
        "auc": quantus.AUC(**common),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: np.asarray(metric(**arguments), dtype=float)
                for name, metric in metrics.items()}


@pytest.mark.parametrize("top_k", [1, 50, HEIGHT * WIDTH - 1])
def test_every_metric_equals_quantus(top_k: int) -> None:
    maps, boxes = maps_and_boxes()
    regions = region_masks(boxes, (HEIGHT, WIDTH), None)
    ours = attribution_metrics(torch.from_numpy(maps), regions, tolerance=0, top_k=top_k)
    theirs = quantus_scores(maps, regions, top_k)
    assert (maps.sum(axis=(1, 2)) > 0).all()  # relevance mass is defined on every map
    for name, values in theirs.items():
        column = ours[:, ATTRIBUTION_METRICS.index(name)]
        np.testing.assert_allclose(column, values, rtol=1e-7, atol=1e-9, err_msg=name)
    # with no tolerance the tolerant pointing game is Quantus' pointing game too
    np.testing.assert_array_equal(ours[:, 1], theirs["pointing_game"])


def test_quantus_default_normalisation_changes_nothing() -> None:
    maps, boxes = maps_and_boxes()
    regions = region_masks(boxes, (HEIGHT, WIDTH), None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        normalised = quantus.RelevanceRankAccuracy(disable_warnings=True)(
            model=None, x_batch=np.zeros((BATCH, 1, HEIGHT, WIDTH)),
            y_batch=np.zeros(BATCH, dtype=int), a_batch=maps[:, None],
            s_batch=regions[:, None].astype(float))
    ours = attribution_metrics(torch.from_numpy(maps), torch.from_numpy(regions))
    np.testing.assert_allclose(ours[:, ATTRIBUTION_METRICS.index("relevance_rank_accuracy")],
                               normalised)
