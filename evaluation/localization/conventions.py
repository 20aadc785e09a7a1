"""The three box conventions, chosen by a string everywhere in :mod:`evaluation.localization`.

``"wsoleval"`` (default): bit for bit the reference evaluation of Choe et al. (CVPR 2020,
``clovaai/wsolevaluation``, ``compute_bboxes_from_scoremaps`` and ``calculate_multiple_iou``).

- quantisation ``S = uint8(s * 255)`` (truncation, in the map's float type) of the min-max
  normalised map ``s``;
- at threshold ``tau`` a pixel is foreground iff ``S > int(tau * max(S))`` (strict; ``max(S)`` is
  255 after min-max, 0 for a zeroed map, whose every mask is then empty);
- contours from ``cv2.findContours(RETR_TREE, CHAIN_APPROX_SIMPLE)``, holes and nested
  components included; V1 keeps the first contour of largest ``cv2.contourArea`` in OpenCV's
  order (what ``max(contours, key=cv2.contourArea)`` returns), V2 keeps every contour;
- box ``(x, y, min(x + w, W - 1), min(y + h, H - 1))`` from ``cv2.boundingRect`` = ``(x, y, w,
  h)``: one pixel too large on the right and bottom except at the border, as in every published
  MaxBoxAcc; no contour gives ``[0, 0, 0, 0]`` (a 1x1 box at the origin);
- IoU on inclusive boxes, areas ``(x1 - x0 + 1) * (y1 - y0 + 1)``, intersection clamped at 0, a
  union <= 0 gives 0.

``"paper"``: the infoCAM authors' evaluation code (inherited from ADL, ``junsukchoe/ADL``).

- quantisation through ``intensity_to_rgb(cam, "cubehelix", normalize=True)`` then
  ``cv2.cvtColor(RGB2GRAY)``: min-max in float64, colour-map index ``min(int(s * 256), 255)``,
  the gray level of that cubehelix colour (within 1 of ``255 * s``, monotone);
- foreground ``gray > int(tau * max(gray))``, the largest contour as above;
- box ``[x, y, x + w, y + h]`` unclipped (it may reach ``W`` and ``H``), ``[0, 0, 1, 1]`` when
  there is no contour (a 2x2 box);
- IoU with the +1 inclusive areas but the intersection **not** clamped: two disjoint boxes whose
  gaps are negative on both axes get a positive "intersection", so two 1x1 boxes one pixel apart
  diagonally score IoU 1. A union <= 0 gives 0 (the original divides by it).

``"strict"``: the same masks and contours as ``"wsoleval"``, without the off-by-ones.

- box ``(x, y, x + w - 1, y + h - 1)``: exactly the pixels of the contour's bounding rectangle;
- no contour means no box (IoU 0, a miss);
- IoU as in ``"wsoleval"``.

Ground-truth boxes are inclusive ``x0, y0, x1, y1`` pixel coordinates in the evaluation frame.
Quantisation is :mod:`evaluation.localization.quantization`, contours
:mod:`evaluation.localization.contours`, boxes and IoU :mod:`evaluation.localization.boxes`.
"""

from __future__ import annotations

from evaluation.errors import ConfigurationError

CONVENTIONS = ("wsoleval", "paper", "strict")


def check_convention(convention: str) -> str:
    """Return ``convention`` if it is one of :data:`CONVENTIONS`.

    Raises:
        ConfigurationError: The name is unknown.
    """
    if convention not in CONVENTIONS:
        raise ConfigurationError(
            f"unknown box convention {convention!r}: use one of {', '.join(CONVENTIONS)}"
        )
    return convention
