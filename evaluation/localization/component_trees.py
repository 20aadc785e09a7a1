"""Best V1 and V2 IoU of a quantised map at every threshold level, from two union-find sweeps.

The brute force runs one ``cv2.findContours(RETR_TREE)`` per map and threshold. The masks
``S > L`` of one map are nested, so two union-find sweeps over its pixels, sorted once by level
(counting sort, 256 levels), give what every level's contours yield:

1. **Background** (4-connected, levels ascending): after the pixels ``S <= L`` are added, a
   component that touches no frame edge is a hole, and ``findContours`` traces a hole contour
   through the foreground pixels 4-adjacent to it: its bounding rectangle is the hole's, widened
   by one pixel on every side. The sweep also gives each pixel its *fill level* ``F``, the level
   at which the background around it first reaches the frame edge (grayscale hole filling), so
   ``F > L`` is the mask with its holes filled; and it counts the mask's 8-connected components
   as its Euler number plus its holes (``4 E = Q1 - Q3 - 2 QD`` over 2x2 pixel blocks, updated
   per pixel from a table of neighbourhoods).
2. **Filled** (8-connected, ``F`` descending): the components of ``F > L`` are the outermost
   components of the mask with everything they enclose. Each one's outer contour has its
   bounding rectangle, and ``cv2.contourArea`` of that contour, a polygon through pixel centres,
   is ``Q4 + Q3 / 2`` over the 2x2 blocks of the filled component (``Qk``: blocks with ``k``
   filled corners; four corners lie inside the polygon, three cut off a half-block triangle,
   fewer add nothing). A hole or a nested component lies inside an outermost contour, is no
   larger (equal for a one-pixel-wide ring) and comes after it in OpenCV's depth-first order,
   so V1, ``max(contours, key=cv2.contourArea)``, is the filled component of largest area.

V2's boxes are the outer contours and the holes, plus components nested inside holes. Those are rare
on CAM-like maps (about one level in 200): when the component count exceeds the number of filled
components, or two filled components share the largest area (OpenCV's contour order then decides
V1), the level is reported *unresolved* and :mod:`evaluation.localization.sweeps` runs
``cv2.findContours`` for it. Every rectangle is scored against the ground-truth boxes inside the
sweep with the IoU of :func:`evaluation.localization.boxes.box_iou` (the same float64 operations),
so a map's result is two rows of 256 values. The sweeps are compiled with numba and release the GIL:
threads run maps in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_WSOLEVAL, _PAPER, _STRICT = 0, 1, 2
CONVENTION_CODES = {"wsoleval": _WSOLEVAL, "paper": _PAPER, "strict": _STRICT}

_BACKGROUND, _FILLED = 0, 1

# The 8 neighbours as (dx, dy), in the bit order of the neighbourhood masks.
_NEIGHBOURS = ((-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1))
# The other three corners of each of the four 2x2 blocks that hold a pixel.
_BLOCKS = (
    ((-1, -1), (0, -1), (-1, 0)),
    ((0, -1), (1, -1), (1, 0)),
    ((-1, 0), (-1, 1), (0, 1)),
    ((1, 0), (0, 1), (1, 1)),
)


def _neighbour_groups(four_connected: bool) -> tuple[np.ndarray, np.ndarray]:
    """For each 8-bit mask of already-added neighbours, one neighbour per connected group.

    Neighbours that are adjacent to each other are already in one component, so a new pixel
    needs one union per group, not one per neighbour. With 4-connectivity only groups holding a
    4-neighbour of the pixel touch it.

    Returns:
        ``(256, 4)`` neighbour indices (``-1`` padding) and ``(256,)`` group counts.
    """
    representatives = np.full((256, 4), -1, dtype=np.int64)
    counts = np.zeros(256, dtype=np.int64)
    for mask in range(256):
        present = [i for i in range(8) if mask >> i & 1]
        group = {i: i for i in present}

        def root(i: int, group: dict[int, int] = group) -> int:
            while group[i] != i:
                i = group[i]
            return i

        for a in present:
            for b in present:
                dx = abs(_NEIGHBOURS[a][0] - _NEIGHBOURS[b][0])
                dy = abs(_NEIGHBOURS[a][1] - _NEIGHBOURS[b][1])
                if (dx + dy == 1) if four_connected else (max(dx, dy) == 1):
                    group[root(a)] = root(b)
        chosen: list[int] = []
        for i in present:
            touches = abs(_NEIGHBOURS[i][0]) + abs(_NEIGHBOURS[i][1]) == 1 or not four_connected
            if touches and all(root(i) != root(j) for j in chosen):
                chosen.append(i)
        counts[mask] = len(chosen)
        representatives[mask, : len(chosen)] = chosen
    return representatives, counts


def _area_gains() -> np.ndarray:
    """Twice the area a pixel adds to its filled component, for each mask of filled neighbours.

    A 2x2 block's twice-area is 1 at three filled corners and 2 at four, so the pixel adds 1 for
    each of its four blocks that it brings to three or four.
    """
    gains = np.zeros(256, dtype=np.int64)
    for mask in range(256):
        for block in _BLOCKS:
            filled = 1 + sum(mask >> _NEIGHBOURS.index(corner) & 1 for corner in block)
            gains[mask] += filled >= 3
    return gains


def _quad_term(foreground: list[tuple[int, int]]) -> int:
    """A 2x2 block's term of ``4 E``: +1 with one foreground pixel, -1 with three, -2 diagonal."""
    if len(foreground) == 2:
        (ax, ay), (bx, by) = foreground
        return -2 if ax != bx and ay != by else 0
    return {1: 1, 3: -1}.get(len(foreground), 0)


def _euler_changes() -> np.ndarray:
    """Change of ``4 E`` (8-connected foreground) when a pixel turns background.

    Indexed by the mask of neighbours that are background already (outside the frame included).
    """
    changes = np.zeros(256, dtype=np.int64)
    for mask in range(256):
        for block in _BLOCKS:
            others = [c for c in block if not mask >> _NEIGHBOURS.index(c) & 1]
            changes[mask] += _quad_term(others) - _quad_term([*others, (0, 0)])
    return changes


_GROUPS_8, _COUNTS_8 = _neighbour_groups(four_connected=False)
_GROUPS_4, _COUNTS_4 = _neighbour_groups(four_connected=True)
_AREA_GAINS = _area_gains()
_EULER_CHANGES = _euler_changes()


@njit(cache=True, nogil=True, inline="always")
def _find(parent: np.ndarray, x: int) -> int:  # pragma: no cover - compiled
    """Root of ``x``, compressing the path (unsigned indices: no negative-index test)."""
    x = np.uint64(x)
    root = x
    while np.uint64(parent[root]) != root:
        root = np.uint64(parent[root])
    while np.uint64(parent[x]) != root:
        following = np.uint64(parent[x])
        parent[x] = root
        x = following
    return np.int64(root)


@njit(cache=True, nogil=True)
def _counting_sort(
    values: np.ndarray, pixels: np.ndarray, order: np.ndarray, start: np.ndarray
) -> None:  # pragma: no cover - compiled
    """``order[start[v]:start[v + 1]]`` = the pixels of level ``v``, in raster order."""
    start[:] = 0
    for i in range(pixels.shape[0]):
        start[values[pixels[i]] + 1] += 1
    for v in range(256):
        start[v + 1] += start[v]
    cursor = start[:256].copy()
    for i in range(pixels.shape[0]):
        p = pixels[i]
        order[cursor[values[p]]] = p
        cursor[values[p]] += 1


@njit(cache=True, nogil=True)
def _best_iou(
    x: int, y: int, w: int, h: int, gt: np.ndarray, convention: int, height: int, width: int
) -> float:  # pragma: no cover - compiled
    """Best IoU of the box of rectangle ``x, y, w, h`` with the valid rows of ``gt``, >= 0."""
    x1, y1 = x + w - 1, y + h - 1
    if convention == _WSOLEVAL:
        x1, y1 = min(x + w, width - 1), min(y + h, height - 1)
    elif convention == _PAPER:
        x1, y1 = x + w, y + h
    a0, a1, a2, a3 = float(x), float(y), float(x1), float(y1)
    area_a = (a2 - a0 + 1.0) * (a3 - a1 + 1.0)
    best = 0.0
    for g in range(gt.shape[0]):
        b0, b1, b2, b3 = gt[g, 0], gt[g, 1], gt[g, 2], gt[g, 3]
        if b0 != b0 or b1 != b1 or b2 != b2 or b3 != b3:
            continue
        inter_w = min(a2, b2) - max(a0, b0) + 1.0
        inter_h = min(a3, b3) - max(a1, b1) + 1.0
        if convention != _PAPER:
            inter_w, inter_h = max(inter_w, 0.0), max(inter_h, 0.0)
        inter = inter_w * inter_h
        union = area_a + (b2 - b0 + 1.0) * (b3 - b1 + 1.0) - inter
        if union > 0.0:
            best = max(best, inter / union)
    return best


@njit(cache=True, nogil=True)
def rect_ious(
    rects: np.ndarray, gt: np.ndarray, convention: int, height: int, width: int
) -> np.ndarray:  # pragma: no cover - compiled
    """Best IoU (clamped at 0) of each ``x, y, w, h`` rectangle's box with the valid ``gt`` rows.

    Args:
        rects: ``(n, 4)`` int64 ``cv2.boundingRect`` rectangles in frame coordinates.
        gt: ``(G, 4)`` float64 inclusive ground-truth boxes, NaN rows ignored.
        convention: A code of :data:`CONVENTION_CODES`.
        height: Frame height.
        width: Frame width.
    """
    out = np.empty(rects.shape[0])
    for i in range(rects.shape[0]):
        x, y, w, h = rects[i, 0], rects[i, 1], rects[i, 2], rects[i, 3]
        out[i] = _best_iou(x, y, w, h, gt, convention, height, width)
    return out


@njit(cache=True, nogil=True)
def _sweep(
    kind: int,
    values: np.ndarray,
    pixels: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    outside: np.ndarray,
    requested: np.ndarray,
    gt: np.ndarray,
    convention: int,
    frame: tuple[int, int],
    fill: np.ndarray,
    components: np.ndarray,
    v1_iou: np.ndarray,
    v2_iou: np.ndarray,
    unresolved: np.ndarray,
    work: np.ndarray,
    box: np.ndarray,
    order: np.ndarray,
    start: np.ndarray,
    added: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """One union-find sweep, background or filled (see the module docstring).

    The hot loop indexes arrays with unsigned integers (``np.uint64``) where it can: numba then
    drops its negative-index test, about 15% of the sweep's time.

    The background sweep writes ``fill`` and ``components`` (per level) and the holes' IoU into
    ``v2_iou``; the filled sweep reads them and writes ``v1_iou``, the outer contours' IoU and
    ``unresolved``.
    """
    height, width = frame
    stride = width + 2
    offsets = np.array(
        [-stride - 1, -stride, -stride + 1, -1, 1, stride - 1, stride, stride + 1]
    )
    background = kind == _BACKGROUND
    groups, group_counts = (_GROUPS_4, _COUNTS_4) if background else (_GROUPS_8, _COUNTS_8)
    parent, extra, roots, where, following, tail = work
    _counting_sort(values if background else fill, pixels, order, start)
    added[:] = 0
    count = 0  # live components; extra[root]: touches the edge (background) or 2 x area (filled)
    euler4 = 4  # 4 x the Euler number of the foreground; all pixels are foreground at first
    for step in range(256):
        v = step if background else 255 - step
        for i in range(start[v], start[v + 1]):
            p = order[i]
            here = np.uint64(p)
            x, y = xs[here], ys[here]
            up = np.uint64(p - stride - 1)
            mid = np.uint64(p - 1)
            down = np.uint64(p + stride - 1)
            mask = (
                added[up]
                | added[up + np.uint64(1)] << 1
                | added[up + np.uint64(2)] << 2
                | added[mid] << 3
                | added[mid + np.uint64(2)] << 4
                | added[down] << 5
                | added[down + np.uint64(1)] << 6
                | added[down + np.uint64(2)] << 7
            )
            added[here] = 1
            key = np.uint64(mask)
            r = -1
            for g in range(group_counts[key]):
                other = _find(parent, p + offsets[groups[key, g]])
                if r < 0:
                    r = other
                    continue
                if other == r:
                    continue
                if background:
                    if extra[r] != extra[other]:
                        # A hole opens to the outside: its pixels' fill level is this level.
                        walk = other if extra[r] else r
                        while walk >= 0:
                            fill[walk] = v
                            walk = following[walk]
                    extra[r] |= extra[other]
                    following[tail[r]] = other
                    tail[r] = tail[other]
                else:
                    extra[r] += extra[other]
                parent[other] = r
                box[r, 0] = min(box[r, 0], box[other, 0])
                box[r, 1] = min(box[r, 1], box[other, 1])
                box[r, 2] = max(box[r, 2], box[other, 2])
                box[r, 3] = max(box[r, 3], box[other, 3])
                last = roots[count - 1]
                roots[where[other]] = last
                where[last] = where[other]
                count -= 1
            if r < 0:
                r = p
                parent[p] = p
                box[p, 0] = box[p, 2] = x
                box[p, 1] = box[p, 3] = y
                extra[p] = 0
                roots[count] = p
                where[p] = count
                count += 1
                if background:
                    following[p] = -1
                    tail[p] = p
                    if outside[p]:
                        extra[p] = 1
                        fill[p] = v
            else:
                root = np.uint64(r)
                parent[here] = r
                if not (background and extra[root]):  # the outside needs no rectangle
                    box[root, 0] = min(box[root, 0], x)
                    box[root, 1] = min(box[root, 1], y)
                    box[root, 2] = max(box[root, 2], x)
                    box[root, 3] = max(box[root, 3], y)
                if background:
                    if extra[root]:
                        fill[here] = v
                    elif outside[here]:
                        extra[r] = 1
                        fill[p] = v
                        walk = r
                        while walk >= 0:
                            fill[walk] = v
                            walk = following[walk]
                    else:
                        following[p] = -1
                        following[tail[r]] = p
                        tail[r] = p
            if background:
                euler4 += _EULER_CHANGES[np.uint64(mask | outside[here])]
            else:
                extra[np.uint64(r)] += _AREA_GAINS[key]
        level = v if background else v - 1
        if level < 0 or not requested[level]:
            continue
        if background:
            holes = 0
            for j in range(count):
                r = roots[j]
                if extra[r]:
                    continue
                holes += 1
                iou = _best_iou(
                    box[r, 0] - 1, box[r, 1] - 1, box[r, 2] - box[r, 0] + 3,
                    box[r, 3] - box[r, 1] + 3, gt, convention, height, width,
                )
                v2_iou[level] = max(v2_iou[level], iou)
            components[level] = euler4 // 4 + holes
            continue
        if count == 0:
            continue
        best, ties = roots[0], 0
        for j in range(count):
            r = roots[j]
            iou = _best_iou(
                box[r, 0], box[r, 1], box[r, 2] - box[r, 0] + 1, box[r, 3] - box[r, 1] + 1,
                gt, convention, height, width,
            )
            v2_iou[level] = max(v2_iou[level], iou)
            if extra[r] > extra[best]:
                best, ties = r, 0
            elif extra[r] == extra[best] and r != best:
                ties += 1
        v1_iou[level] = _best_iou(
            box[best, 0], box[best, 1], box[best, 2] - box[best, 0] + 1,
            box[best, 3] - box[best, 1] + 1, gt, convention, height, width,
        )
        unresolved[level] = ties > 0 or components[level] != count


@njit(cache=True, nogil=True)
def level_ious(
    levels_maps: np.ndarray, requested: np.ndarray, gt: np.ndarray, convention: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Best IoU of the V1 box and of the V2 boxes of every map at every requested level.

    Args:
        levels_maps: ``(B, H, W)`` uint8 quantised maps.
        requested: ``(B, 256)`` bool, the levels ``L`` (mask ``S > L``) to report.
        gt: ``(B, G, 4)`` float64 inclusive ground-truth boxes, NaN rows ignored.
        convention: A code of :data:`CONVENTION_CODES`.

    Returns:
        ``v1_iou`` and ``v2_iou``, ``(B, 256)`` float64: the best IoU (clamped at 0) of the
        largest contour's box and of any contour's box with a ground-truth box, -1 where the
        mask has no contour; and ``unresolved``, ``(B, 256)`` bool: levels whose V1 or V2 value
        needs OpenCV's contour search (a tie in largest area, or a component inside a hole).
    """
    batch, height, width = levels_maps.shape
    stride = width + 2
    padded = (height + 2) * stride
    pixels = np.empty(height * width, dtype=np.int32)
    xs = np.zeros(padded, dtype=np.int32)
    ys = np.zeros(padded, dtype=np.int32)
    outside = np.zeros(padded, dtype=np.uint8)  # neighbours beyond the frame edge, as a mask
    for y in range(height):
        for x in range(width):
            p = (y + 1) * stride + x + 1
            pixels[y * width + x] = p
            xs[p], ys[p] = x, y
            for k, (dx, dy) in enumerate(_NEIGHBOURS):
                if not (0 <= x + dx < width and 0 <= y + dy < height):
                    outside[p] |= 1 << k
    values = np.zeros(padded, dtype=np.uint8)
    fill = np.zeros(padded, dtype=np.uint8)
    components = np.zeros(256, dtype=np.int64)
    work = np.empty((6, padded), dtype=np.int32)
    box = np.empty((padded, 4), dtype=np.int32)
    order = np.empty(height * width, dtype=np.int32)
    start = np.zeros(257, dtype=np.int64)
    added = np.zeros(padded, dtype=np.uint8)
    v1_iou = np.full((batch, 256), -1.0)
    v2_iou = np.full((batch, 256), -1.0)
    unresolved = np.zeros((batch, 256), dtype=np.bool_)
    for b in range(batch):
        for y in range(height):
            values[(y + 1) * stride + 1 : (y + 1) * stride + 1 + width] = levels_maps[b, y]
        for kind in (_BACKGROUND, _FILLED):
            _sweep(
                kind, values, pixels, xs, ys, outside, requested[b], gt[b], convention,
                (height, width), fill, components, v1_iou[b], v2_iou[b], unresolved[b], work,
                box, order, start, added,
            )
    return v1_iou, v2_iou, unresolved


def warm_up() -> None:
    """Compile the sweeps now (or load them from numba's cache), not inside a timed batch."""
    level_ious(np.zeros((1, 1, 1), np.uint8), np.zeros((1, 256), bool), np.zeros((1, 0, 4)), 0)
    rect_ious(np.zeros((0, 4), np.int64), np.zeros((0, 4)), 0, 1, 1)
