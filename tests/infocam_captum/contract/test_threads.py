"""A thread pool serving explanations from one attribution object: every map is its own."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from infocam_captum import (
    LayerCam,
    LayerClassActivationMap,
    LayerGradCamPlusPlus,
    LayerInfoCam,
    LayerInfoCamPlus,
    LayerScoreCam,
    LayerXGradCam,
)

from ..toy_models import SmallCnn

THREADS = 4
CALLS_PER_THREAD = 40
FC_METHODS = [LayerClassActivationMap, LayerInfoCam, LayerInfoCamPlus]
HEADLESS_METHODS = [LayerGradCamPlusPlus, LayerXGradCam, LayerCam, LayerScoreCam]
SETTINGS = [
    *[(method, head) for method in FC_METHODS for head in ("classifier", "automatic")],
    *[(method, "none") for method in HEADLESS_METHODS],
]


@pytest.mark.parametrize(
    ("method", "head"), SETTINGS, ids=[f"{m.__name__}-{h}" for m, h in SETTINGS]
)
def test_threads_sharing_one_object_get_their_own_maps(method, head):
    model = SmallCnn(num_classes=5).eval()
    attribution = method(
        model, model.layer, **({"classifier": model.fc} if head == "classifier" else {})
    )
    batches = [torch.randn(2, 3, 8, 8) for _ in range(THREADS)]
    targets = [[t % 5, (t + 2) % 5] for t in range(THREADS)]
    expected = [attribution.attribute(x, target=t) for x, t in zip(batches, targets, strict=True)]
    assert all(not torch.equal(expected[0], other) for other in expected[1:])
    start = threading.Barrier(THREADS)

    def serve(index: int) -> list[str]:
        start.wait()
        failures = []
        for call in range(CALLS_PER_THREAD):
            try:
                maps = attribution.attribute(batches[index], target=targets[index])
            except Exception as error:  # the old race raised HeadNotFoundError here
                failures.append(f"thread {index} call {call}: {error!r}")
                continue
            if not torch.equal(maps, expected[index]):
                failures.append(f"thread {index} call {call}: another thread's map")
        return failures

    with ThreadPoolExecutor(THREADS) as pool:
        failures = [failure for result in pool.map(serve, range(THREADS)) for failure in result]
    assert failures == []
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()) == 0
