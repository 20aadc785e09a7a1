"""Random score maps and boxes for property tests (smooth CAM-like maps and blocky maps)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st


def smooth_map(seed: int, cells: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """A CAM-like float32 map: Gaussian noise on a coarse grid, bicubic upsampled."""
    rng = np.random.default_rng(seed)
    coarse = torch.from_numpy(rng.standard_normal(cells).astype(np.float32))
    fine = F.interpolate(coarse[None, None], size=size, mode="bicubic", align_corners=False)
    return fine[0, 0].numpy()


def blocky_map(seed: int, cells: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Plateaus of 4 levels in blocks: many equal-area contours, holes and nested parts."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 4, size=cells).astype(np.float32)
    rows = np.minimum(np.arange(size[0]) * cells[0] // size[0], cells[0] - 1)
    cols = np.minimum(np.arange(size[1]) * cells[1] // size[1], cells[1] - 1)
    return coarse[np.ix_(rows, cols)]


@st.composite
def score_maps(draw: st.DrawFn, size: tuple[int, int] = (32, 32)) -> np.ndarray:
    """A smooth or blocky float32 map of ``size``."""
    seed = draw(st.integers(0, 2**31 - 1))
    cells = (draw(st.integers(2, 9)), draw(st.integers(2, 9)))
    maker = draw(st.sampled_from([smooth_map, smooth_map, blocky_map]))
    return maker(seed, cells, size)


@st.composite
def gt_boxes(draw: st.DrawFn, size: tuple[int, int] = (32, 32), most: int = 3) -> np.ndarray:
    """``(G, 4)`` inclusive boxes inside a ``(H, W)`` frame, degenerate and border ones included."""
    height, width = size
    boxes = []
    for _ in range(draw(st.integers(1, most))):
        x0 = draw(st.integers(0, width - 1))
        y0 = draw(st.integers(0, height - 1))
        x1 = draw(st.integers(x0, width - 1))
        y1 = draw(st.integers(y0, height - 1))
        boxes.append([x0, y0, x1, y1])
    return np.asarray(boxes, dtype=np.float64)
