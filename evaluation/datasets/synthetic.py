"""A synthetic WSOL dataset written in the real CUB or Tiny-ImageNet layout.

Each image shows one object whose class is its design, shape x texture x colour (6 shapes, 6
textures, 8 colours; the (shape, texture) pair alone is unique for up to 36 classes, so the ~10%
greyscale images stay recognisable). The object varies in position, scale (30-60% of the shorter
side) and aspect (0.65-1.55). A context object that every class shares, a brown "branch" with a
wood grain, lies against the object outside its box (below it in 60% of the images, else above,
left or right), like the branch under a bird: it co-occurs with every object, so it helps no
class, and a map that spreads onto it loses IoU. The background is a smooth random colour field
with small clutter (discs, strokes) and pixel noise. Only the object depends on the class.

Ground truth comes from the drawing itself: the mask is the set of object pixels and the box its
tight bounding box (inclusive). Layouts (read back by :func:`read_cub` and
:func:`read_tiny_imagenet`):

- ``cub``: ``images.txt``, ``image_class_labels.txt``, ``train_test_split.txt``,
  ``bounding_boxes.txt`` (``x y w h`` floats with ``w = x1 - x0 + 1``, so the field's rule that the
  reader applies gives ``x1 + 1`` clipped to ``W - 1``, exactly as on the real data),
  ``classes.txt``, ``images/<NNN.Name>/<Name>_<i>.jpg`` and
  ``segmentations/<NNN.Name>/<Name>_<i>.png`` (as CUB's separate segmentation download). Images
  have one side ``size`` and the other 70-100% of it.
- ``tiny-imagenet``: ``wnids.txt`` (made-up wnids ``n99000000``, ...), ``words.txt``,
  ``train/<wnid>/images/<wnid>_<i>.JPEG`` with ``train/<wnid>/<wnid>_boxes.txt``,
  ``val/images/val_<i>.JPEG`` with ``val/val_annotations.txt`` (classes interleaved), and
  ``segmentations/train/<wnid>/<stem>.png``, ``segmentations/val/<stem>.png``. Images are
  ``size x size``.

Masks are 8-bit PNGs, 255 on the object and 0 elsewhere. ``synthetic.json`` records the spec.
Everything is a function of the spec: image ``i`` of class ``k`` draws from
``numpy.random.default_rng([seed, k, i])``; JPEGs are written at quality 90. The tree is built in
a temporary folder beside ``out`` and renamed into place at the end; files and folders get the
modes of the user's umask, as ``mkdir`` and ``open`` give them.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from evaluation.errors import ConfigurationError
from evaluation.io import default_folder_mode

LAYOUTS = ("cub", "tiny-imagenet")
SHAPES = ("ellipse", "box", "triangle", "diamond", "cross", "ring")
TEXTURES = ("plain", "hstripes", "vstripes", "diagonal", "checker", "dots")
COLOURS = {
    "red": (0.85, 0.12, 0.10),
    "blue": (0.12, 0.30, 0.90),
    "yellow": (0.95, 0.85, 0.10),
    "green": (0.10, 0.70, 0.20),
    "purple": (0.55, 0.15, 0.75),
    "orange": (0.98, 0.50, 0.05),
    "cyan": (0.10, 0.80, 0.85),
    "pink": (0.95, 0.45, 0.70),
}
MAX_CLASSES = len(SHAPES) * len(TEXTURES) * len(COLOURS)
_BRANCH = np.array([0.42, 0.27, 0.12])


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate.

    Attributes:
        layout: ``cub`` or ``tiny-imagenet``.
        classes: Number of classes ``K`` (1 to 288).
        images_per_class: Images per class ``N`` over both splits (at least 2).
        size: Image side in pixels (the longer side for ``cub``), 32 to 1024.
        seed: Seed; the same spec writes byte-identical files.
        test_fraction: Share of each class's images in the test split (``test`` for ``cub``,
            ``val`` for ``tiny-imagenet``); at least one image per class goes to each split.
        greyscale_fraction: Probability that an image is saved as 1-channel greyscale.
    """

    layout: str = "cub"
    classes: int = 10
    images_per_class: int = 30
    size: int = 96
    seed: int = 0
    test_fraction: float = 0.3
    greyscale_fraction: float = 0.1

    def __post_init__(self) -> None:
        """Check every field.

        Raises:
            ConfigurationError: A field is out of range.
        """
        checks = [
            (self.layout in LAYOUTS, f"layout must be one of {LAYOUTS}, not {self.layout!r}"),
            (1 <= self.classes <= MAX_CLASSES, f"classes must be 1..{MAX_CLASSES}"),
            (self.images_per_class >= 2, "images_per_class must be at least 2"),
            (32 <= self.size <= 1024, "size must be 32..1024 pixels"),
            (self.seed >= 0, "seed must be >= 0"),
            (0.0 < self.test_fraction < 1.0, "test_fraction must lie in (0, 1)"),
            (0.0 <= self.greyscale_fraction <= 1.0, "greyscale_fraction must lie in [0, 1]"),
        ]
        for ok, problem in checks:
            if not ok:
                raise ConfigurationError(f"synthetic dataset: {problem}")

    @property
    def test_per_class(self) -> int:
        """Test images per class: ``round(N * test_fraction)`` clipped to ``1..N-1``."""
        wanted = round(self.images_per_class * self.test_fraction)
        return min(max(wanted, 1), self.images_per_class - 1)


@dataclass(frozen=True)
class ClassDesign:
    """The look of one class."""

    shape: str
    texture: str
    colour: str

    @property
    def name(self) -> str:
        """``"Red_Plain_Ellipse"``."""
        return "_".join(part.capitalize() for part in (self.colour, self.texture, self.shape))


def class_design(k: int) -> ClassDesign:
    """Design of class ``k``: ``(shape, texture)`` unique for ``k < 36``, the triple for all ``k``.

    With ``p = k mod 36``: shape ``p mod 6``, texture ``(p mod 6 + p div 6) mod 6``, colour
    ``(k + k div 36) mod 8`` (classes ``36 m`` apart differ in colour since 37 m is not 0 mod 8).
    """
    pair = k % 36
    colour = list(COLOURS)[(k + k // 36) % len(COLOURS)]
    return ClassDesign(SHAPES[pair % 6], TEXTURES[(pair % 6 + pair // 6) % 6], colour)


@dataclass(frozen=True)
class Rendering:
    """One drawn image and its ground truth.

    Attributes:
        image: uint8 (H, W, 3), or (H, W) when greyscale.
        mask: bool (H, W), the object's pixels.
        box: Tight inclusive ``(x0, y0, x1, y1)`` of ``mask``.
        context_box: Inclusive box of the context object (disjoint from ``box``).
    """

    image: np.ndarray
    mask: np.ndarray
    box: tuple[int, int, int, int]
    context_box: tuple[int, int, int, int]


def render(spec: SyntheticSpec, label: int, number: int) -> Rendering:
    """Draw image ``number`` of class ``label`` (deterministic in ``spec.seed``, label, number)."""
    rng = np.random.default_rng([spec.seed, label, number])
    width, height = _image_size(spec, rng)
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    canvas = _background(rng, height, width)
    _clutter(rng, canvas, ys, xs)
    window, context = _place(rng, width, height)
    _branch(rng, canvas, context)
    mask = _object(rng, canvas, class_design(label), window)
    canvas += rng.normal(0.0, 0.025, canvas.shape).astype(np.float32)
    pixels = (np.clip(canvas, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if rng.random() < spec.greyscale_fraction:
        pixels = np.asarray(Image.fromarray(pixels, "RGB").convert("L"))
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = (int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1]))
    return Rendering(pixels, mask, box, context)


def make_synthetic(out: str | Path, spec: SyntheticSpec | None = None) -> Path:
    """Write a synthetic dataset tree at ``out`` (see the module doc for the layouts).

    Args:
        out: Destination folder; it must not exist or be empty.
        spec: What to generate (default :class:`SyntheticSpec`).

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigurationError: ``out`` exists and is not an empty folder.
    """
    spec = spec or SyntheticSpec()
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigurationError(f"{target} exists and is not empty: choose a new folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        os.chmod(staging, default_folder_mode())  # as mkdir would make it, not mkdtemp's 0o700
        (_write_cub if spec.layout == "cub" else _write_tiny)(staging, spec)
        payload = {"generator": "evaluation.datasets.synthetic", **asdict(spec)}
        (staging / "synthetic.json").write_text(json.dumps(payload, indent=2) + "\n")
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _write_cub(root: Path, spec: SyntheticSpec) -> None:
    designs = [class_design(k) for k in range(spec.classes)]
    folders = [f"{k + 1:03d}.{d.name}" for k, d in enumerate(designs)]
    n_train = spec.images_per_class - spec.test_per_class
    images, labels, split, boxes = [], [], [], []
    image_id = 0
    for k, folder in enumerate(folders):
        for i in range(spec.images_per_class):
            image_id += 1
            drawn = render(spec, k, i)
            relpath = f"{folder}/{designs[k].name}_{i:04d}"
            _save(root / "images" / f"{relpath}.jpg", root / "segmentations" / f"{relpath}.png",
                  drawn)
            x0, y0, x1, y1 = drawn.box
            images.append(f"{image_id} {relpath}.jpg")
            labels.append(f"{image_id} {k + 1}")
            split.append(f"{image_id} {int(i < n_train)}")
            boxes.append(f"{image_id} {x0:.1f} {y0:.1f} {x1 - x0 + 1:.1f} {y1 - y0 + 1:.1f}")
    classes = [f"{k + 1} {folder}" for k, folder in enumerate(folders)]
    files = {
        "images.txt": images,
        "image_class_labels.txt": labels,
        "train_test_split.txt": split,
        "bounding_boxes.txt": boxes,
        "classes.txt": classes,
    }
    for name, lines in files.items():
        (root / name).write_text("".join(f"{line}\n" for line in lines))


def _write_tiny(root: Path, spec: SyntheticSpec) -> None:
    wnids = [f"n{99000000 + k:08d}" for k in range(spec.classes)]
    n_train = spec.images_per_class - spec.test_per_class
    (root / "wnids.txt").write_text("".join(f"{w}\n" for w in wnids))
    words = [f"{w}\t{class_design(k).name.replace('_', ' ').lower()}" for k, w in enumerate(wnids)]
    (root / "words.txt").write_text("".join(f"{line}\n" for line in words))
    for k, wnid in enumerate(wnids):
        lines = []
        for i in range(n_train):
            drawn = render(spec, k, i)
            name = f"{wnid}_{i}"
            image = root / "train" / wnid / "images" / f"{name}.JPEG"
            _save(image, root / "segmentations" / "train" / wnid / f"{name}.png", drawn)
            lines.append("\t".join([f"{name}.JPEG", *map(str, drawn.box)]))
        (root / "train" / wnid / f"{wnid}_boxes.txt").write_text("".join(f"{x}\n" for x in lines))
    pairs = [(k, i) for k in range(spec.classes) for i in range(n_train, spec.images_per_class)]
    shuffle = np.random.default_rng([spec.seed, spec.classes, spec.images_per_class])
    order = shuffle.permutation(len(pairs))
    annotations = []
    for j, position in enumerate(order):
        k, i = pairs[position]
        drawn = render(spec, k, i)
        name = f"val_{j}"
        image = root / "val" / "images" / f"{name}.JPEG"
        _save(image, root / "segmentations" / "val" / f"{name}.png", drawn)
        annotations.append("\t".join([f"{name}.JPEG", wnids[k], *map(str, drawn.box)]))
    (root / "val" / "val_annotations.txt").write_text("".join(f"{x}\n" for x in annotations))


def _save(image_path: Path, mask_path: Path, drawn: Rendering) -> None:
    for path in (image_path, mask_path):
        path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.fromarray(drawn.image).save(buffer, "JPEG", quality=90)
    image_path.write_bytes(buffer.getvalue())
    mask = Image.fromarray(drawn.mask.astype(np.uint8) * 255, "L")
    mask.save(mask_path, "PNG", compress_level=1)


def _image_size(spec: SyntheticSpec, rng: np.random.Generator) -> tuple[int, int]:
    """``(W, H)``: square for Tiny; for CUB one side ``size``, the other 70-100% of it."""
    if spec.layout == "tiny-imagenet":
        return spec.size, spec.size
    short = round(spec.size * rng.uniform(0.7, 1.0))
    return (spec.size, short) if rng.random() < 0.6 else (short, spec.size)


def _bilinear_weights(n: int, cells: int) -> np.ndarray:
    """(n, cells) weights interpolating ``cells`` control points linearly over ``n`` pixels."""
    position = np.linspace(0.0, cells - 1.0, n)
    left = np.minimum(position.astype(int), cells - 2)
    frac = position - left
    weights = np.zeros((n, cells), dtype=np.float32)
    weights[np.arange(n), left] = 1.0 - frac
    weights[np.arange(n), left + 1] = frac
    return weights


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth, muted random colour field (H, W, 3) in [0, 1]."""
    cells = int(rng.integers(3, 6))
    grid = rng.uniform(0.15, 0.85, (cells, cells, 3)).astype(np.float32)
    grid = 0.5 * grid + 0.5 * grid.mean(axis=2, keepdims=True)
    rows, cols = _bilinear_weights(height, cells), _bilinear_weights(width, cells)
    along_rows = (rows @ grid.reshape(cells, cells * 3)).reshape(height, cells, 3)
    return np.ascontiguousarray((along_rows.transpose(0, 2, 1) @ cols.T).transpose(0, 2, 1))


def _clutter(rng: np.random.Generator, canvas: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> None:
    """Small discs and strokes of random colours, 3 to 8 of them."""
    height, width = canvas.shape[:2]
    side = min(height, width)
    for _ in range(int(rng.integers(3, 9))):
        colour = rng.uniform(0.05, 0.95, 3).astype(np.float32)
        if rng.random() < 0.5:
            radius = rng.uniform(0.015, 0.05) * side + 0.5
            cy, cx = rng.uniform(0, height), rng.uniform(0, width)
            hit = (ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2
        else:
            y0, x0 = rng.uniform(0, height), rng.uniform(0, width)
            angle, length = rng.uniform(0, np.pi), rng.uniform(0.1, 0.3) * side
            dy, dx = np.sin(angle), np.cos(angle)
            along = (ys - y0) * dy + (xs - x0) * dx
            across = np.abs((ys - y0) * dx - (xs - x0) * dy)
            hit = (across <= rng.uniform(0.5, 1.2)) & (along >= 0) & (along <= length)
        canvas[hit] = colour


def _place(
    rng: np.random.Generator, width: int, height: int
) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """Object window and context box, inclusive, disjoint and adjacent, both inside the image."""
    side = min(width, height)
    scale = rng.uniform(0.30, 0.60) * side
    aspect = np.exp(rng.uniform(np.log(0.65), np.log(1.55)))
    box_w = max(round(scale * np.sqrt(aspect)), 6)
    box_h = max(round(scale / np.sqrt(aspect)), 6)
    thick = max(round(rng.uniform(0.07, 0.12) * side), 2)
    where = rng.choice(4, p=[0.6, 0.15, 0.125, 0.125])  # below, above, left, right
    horizontal = where < 2
    if horizontal:
        box_h = min(box_h, height - thick)
    else:
        box_w = min(box_w, width - thick)
    extra_x, extra_y = (0, thick) if horizontal else (thick, 0)
    left = int(rng.integers(0, width - box_w - extra_x + 1))
    top = int(rng.integers(0, height - box_h - extra_y + 1))
    if where == 2:  # the context goes left: the object moves right of it
        left += thick
    if where == 1:
        top += thick
    window = (left, top, left + box_w - 1, top + box_h - 1)
    reach = rng.uniform(1.1, 1.6) * (box_w if horizontal else box_h) / 2.0
    if horizontal:
        centre = left + (box_w - 1) / 2.0
        c0, c1 = max(round(centre - reach), 0), min(round(centre + reach), width - 1)
        r0 = window[3] + 1 if where == 0 else top - thick
        return window, (c0, r0, c1, r0 + thick - 1)
    centre = top + (box_h - 1) / 2.0
    r0, r1 = max(round(centre - reach), 0), min(round(centre + reach), height - 1)
    c0 = left - thick if where == 2 else window[2] + 1
    return window, (c0, r0, c0 + thick - 1, r1)


def _branch(rng: np.random.Generator, canvas: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """The shared context object: a brown bar with a wood grain along its length."""
    x0, y0, x1, y1 = box
    h, w = y1 - y0 + 1, x1 - x0 + 1
    across = np.arange(h if w >= h else w, dtype=np.float32)
    along = np.arange(w if w >= h else h, dtype=np.float32)
    period = rng.uniform(2.5, 4.0)
    wobble = 0.3 * np.sin(along[None, :] / 3.0)
    grain = 0.8 + 0.2 * np.sin(2.0 * np.pi * across[:, None] / period + wobble)
    if w < h:
        grain = grain.T
    colour = _BRANCH * rng.uniform(0.85, 1.15)
    canvas[y0 : y1 + 1, x0 : x1 + 1] = grain[..., None] * colour


def _object(
    rng: np.random.Generator,
    canvas: np.ndarray,
    design: ClassDesign,
    window: tuple[int, int, int, int],
) -> np.ndarray:
    """Draw the class object into ``window``; return its mask over the whole image."""
    x0, y0, x1, y1 = window
    ys = np.arange(y0, y1 + 1, dtype=np.float32)[:, None]
    xs = np.arange(x0, x1 + 1, dtype=np.float32)[None, :]
    v = (ys - y0 + 0.5) / (y1 - y0 + 1) * 2.0 - 1.0
    u = (xs - x0 + 0.5) / (x1 - x0 + 1) * 2.0 - 1.0
    inside = _shape(design.shape, u, v)
    side = min(canvas.shape[:2])
    period = max(rng.uniform(0.08, 0.11) * side, 4.0)
    phase_y, phase_x = rng.uniform(0, period, 2)
    pattern = _texture(design.texture, ys + phase_y, xs + phase_x, period)
    colour = np.clip(
        np.array(COLOURS[design.colour], dtype=np.float32) * rng.uniform(0.85, 1.1)
        + rng.normal(0.0, 0.03, 3).astype(np.float32),
        0.0,
        1.0,
    )
    shade = (1.0 - 0.12 * v) * (1.0 - 0.6 * pattern)
    patch = canvas[y0 : y1 + 1, x0 : x1 + 1]
    patch[inside] = (shade[..., None] * colour)[inside]
    mask = np.zeros(canvas.shape[:2], dtype=bool)
    mask[y0 : y1 + 1, x0 : x1 + 1] = inside
    return mask


def _shape(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Membership of pixel centres ``(u, v)`` in ``[-1, 1]^2`` (v grows downwards)."""
    if shape == "ellipse":
        inside = u**2 + v**2 <= 1.0
    elif shape == "box":
        inside = np.ones(np.broadcast_shapes(u.shape, v.shape), dtype=bool)
    elif shape == "triangle":
        inside = np.abs(u) <= (v + 1.0) / 2.0
    elif shape == "diamond":
        inside = np.abs(u) + np.abs(v) <= 1.0
    elif shape == "cross":
        inside = np.minimum(np.abs(u), np.abs(v)) <= 0.34
    else:  # ring
        radius = u**2 + v**2
        inside = (radius <= 1.0) & (radius >= 0.42)
    return inside


def _texture(texture: str, ys: np.ndarray, xs: np.ndarray, period: float) -> np.ndarray:
    """Dark-pattern indicator in {0, 1} (float) on pixel coordinates."""
    half = period / 2.0
    if texture == "plain":
        pattern = np.zeros(1)
    elif texture == "hstripes":
        pattern = np.floor(ys / half) % 2
    elif texture == "vstripes":
        pattern = np.floor(xs / half) % 2
    elif texture == "diagonal":
        pattern = np.floor((xs + ys) / (half * 1.41)) % 2
    elif texture == "checker":
        pattern = (np.floor(xs / half) + np.floor(ys / half)) % 2
    else:  # dots
        dy, dx = ys % period - half, xs % period - half
        pattern = dy**2 + dx**2 <= (0.32 * period) ** 2
    return np.broadcast_to(pattern, (ys.shape[0], xs.shape[1])).astype(np.float32)
