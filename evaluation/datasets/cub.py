"""CUB-200-2011 in its distributed layout.

::

    CUB_200_2011/
      images.txt              <image_id> <relpath>          (relpath under images/)
      image_class_labels.txt  <image_id> <class_id>         (1-based)
      train_test_split.txt    <image_id> <is_training>      (1 = train, 0 = test)
      bounding_boxes.txt      <image_id> <x> <y> <w> <h>    (floats, pixels)
      classes.txt             <class_id> <NNN.Class_Name>
      images/<NNN.Class_Name>/<file>.jpg
      segmentations/<NNN.Class_Name>/<file>.png             (optional, CUB's separate download)

Labels are ``class_id - 1``. Boxes follow the field's rule (wsolevaluation, reference §2.12):
``x0 = int(x), y0 = int(y), x1 = min(int(x + w), W - 1), y1 = min(int(y + h), H - 1)``, one pixel
wider than the strict ``x + w - 1``; published CUB numbers are measured against these boxes.
Each record also keeps the infoCAM authors' reading, ``(x, y, x + w, y + h)`` as raw floats
(:func:`authors_box`; ``--protocol paper-as-published`` maps these, unclipped).

Splits: ``train`` and ``test`` (the official split), ``all``, and the infoCAM authors' halves of
the test split, ``paper-val`` and ``paper-test``: within each class, the test images in
``images.txt`` order at even positions (0, 2, ...) form ``paper-val`` (2,916 images) and those at
odd positions ``paper-test`` (2,878 images, the split the authors report on).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evaluation.datasets.images import image_size
from evaluation.datasets.parsing import check_box, parse_float, parse_int, read_rows, require_files
from evaluation.datasets.records import Box, DatasetIndex, ImageRecord
from evaluation.errors import ConfigurationError, DataFormatError, WSOLError
from evaluation.paths import is_folder
from evaluation.progress import Progress

CUB_SPLITS = ("train", "test", "all", "paper-val", "paper-test")
EDGE_TOLERANCE = 5
"""How many pixels a box's end ``x + w`` (``y + h``) may lie past the image width (height).

The field's rule clips ``int(x + w)`` to ``W - 1``: a box drawn to the border ends at
``x + w = W``, one pixel past the last column, and 36 of the 5,794 real test boxes need that clip
(reference §2.12). 5 px accepts such boxes with a margin for annotation rounding; a box that ends
further out, starts outside the image or has no width or height is corrupt data and is reported
as ``bounding_boxes.txt:<line>``.
"""


def cub_box(x: float, y: float, w: float, h: float, size: tuple[int, int]) -> Box:
    """Convert a CUB ``x y w h`` box to the inclusive box of the field's rule (see module doc)."""
    width, height = size
    return (
        float(int(x)),
        float(int(y)),
        float(min(int(x + w), width - 1)),
        float(min(int(y + h), height - 1)),
    )


def authors_box(x: float, y: float, w: float, h: float) -> Box:
    """The infoCAM authors' reading of a CUB ``x y w h`` box: ``(x, y, x + w, y + h)`` unclipped."""
    return (x, y, x + w, y + h)


def read_cub(
    root: str | Path,
    split: str,
    progress: Progress | None = None,
    on_unreadable: Callable[[WSOLError], None] | None = None,
) -> DatasetIndex:
    """Read one split of CUB-200-2011.

    Every line of every annotation file is validated whatever the split (the files are small):
    a malformed line of a training image is reported when the test split is read. Only the
    chosen split's images are opened (for their sizes) and must exist; images of the other
    split are not needed.

    Args:
        root: The ``CUB_200_2011`` folder (holding ``images.txt``).
        split: One of ``train``, ``test``, ``all``, ``paper-val``, ``paper-test``.
        progress: Counts the images whose size is read (its total is set here).
        on_unreadable: Called with the error of each image whose size cannot be read, which is
            then left out of the index (default: the error is raised).

    Returns:
        The index named ``"cub"``; records in ``images.txt`` order, image ids the paths under
        ``images/`` (``001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg``, as the
        reference's metadata and ``wsol-bench convert`` write them), class ids the folder names
        (``001.Black_footed_Albatross``) and class names with the number and underscores removed
        (``Black footed Albatross``). Records have a ``mask_path`` when ``segmentations/``
        exists.

    Raises:
        ConfigurationError: Unknown split.
        MissingFilesError: An annotation file, image or segmentation is absent.
        DataFormatError: Malformed, duplicate, inconsistent or out-of-image annotations (a box
            ending more than :data:`EDGE_TOLERANCE` pixels past the image edge included).
    """
    if split not in CUB_SPLITS:
        raise ConfigurationError(f"unknown CUB split {split!r}: choose one of {CUB_SPLITS}")
    base = Path(root)
    class_ids = _read_classes(base / "classes.txt")
    paths, lines = _read_paths(base / "images.txt")
    labels = _read_labels(base / "image_class_labels.txt", lines, len(class_ids))
    is_train = _read_split_flags(base / "train_test_split.txt", lines)
    boxes_path = base / "bounding_boxes.txt"
    raw_boxes = _read_boxes(boxes_path, lines)

    chosen = [
        (image_id, labels[image_id])
        for image_id in paths
        if split == "all" or is_train[image_id] == (split == "train")
    ]
    if split.startswith("paper-"):
        chosen = _paper_half(chosen, split == "paper-val")

    images = base / "images"
    require_files((images / paths[i] for i, _ in chosen), "images", images)
    segmentations = base / "segmentations"
    masks = is_folder(segmentations, "segmentations")
    if masks:
        wanted = (segmentations / Path(paths[i]).with_suffix(".png") for i, _ in chosen)
        require_files(wanted, "segmentations", segmentations)

    if progress is not None:
        progress.set_total(len(chosen))
    records = []
    for image_id, label in chosen:
        relpath = paths[image_id]
        path = images / relpath
        size = image_size(path, on_unreadable)
        if progress is not None:
            progress.update()
        if size is None:
            continue
        line, xywh = raw_boxes[image_id]
        records.append(
            ImageRecord(
                image_id=relpath,
                path=path,
                label=label,
                boxes=(_fit_box(boxes_path, line, xywh, size),),
                size=size,
                mask_path=segmentations / Path(relpath).with_suffix(".png") if masks else None,
                authors_boxes=(authors_box(*xywh),),
            )
        )
    names = [_readable(class_id) for class_id in class_ids]
    return DatasetIndex("cub", split, records, names, class_ids)


def _read_paths(path: Path) -> tuple[dict[int, str], dict[int, int]]:
    """``images.txt``: image id -> path under ``images/``, and image id -> line; both unique."""
    paths: dict[int, str] = {}
    lines: dict[int, int] = {}
    first_line: dict[str, int] = {}
    for image_id, (line, (_, relpath)) in _read_keyed(path, 2, "<image_id> <relpath>").items():
        if relpath in first_line:
            raise DataFormatError(
                path, line, f"duplicate image path {relpath} (first on line {first_line[relpath]})"
            )
        first_line[relpath] = line
        paths[image_id] = relpath
        lines[image_id] = line
    return paths, lines


def _read_labels(path: Path, known: dict[int, int], num_classes: int) -> dict[int, int]:
    """``image_class_labels.txt``: image id -> 0-based label, every line checked."""
    labels: dict[int, int] = {}
    for image_id, (line, (_, text)) in _read_keyed(path, 2, "<image_id> <class_id>", known).items():
        class_id = parse_int(path, line, text, "class_id", minimum=1)
        if class_id > num_classes:
            raise DataFormatError(path, line, f"class_id {class_id} is not in classes.txt")
        labels[image_id] = class_id - 1
    return labels


def _read_split_flags(path: Path, known: dict[int, int]) -> dict[int, bool]:
    """``train_test_split.txt``: image id -> is a training image, every line checked."""
    layout = "<image_id> <is_training_image>"
    flags: dict[int, bool] = {}
    for image_id, (line, (_, flag)) in _read_keyed(path, 2, layout, known).items():
        if flag not in ("0", "1"):
            raise DataFormatError(path, line, f"is_training_image must be 0 or 1, not {flag!r}")
        flags[image_id] = flag == "1"
    return flags


def _read_boxes(
    path: Path, known: dict[int, int]
) -> dict[int, tuple[int, tuple[float, float, float, float]]]:
    """``bounding_boxes.txt``: image id -> (line, ``x y w h``), every line checked.

    Checks what needs no image: finite numbers, a corner at or right of and below 0, and a
    positive width and height.
    """
    layout = "<image_id> <x> <y> <width> <height>"
    boxes: dict[int, tuple[int, tuple[float, float, float, float]]] = {}
    for image_id, (line, fields) in _read_keyed(path, 5, layout, known).items():
        x, y, w, h = (
            parse_float(path, line, f, n)
            for f, n in zip(fields[1:], ("x", "y", "width", "height"), strict=True)
        )
        if w <= 0 or h <= 0:
            raise DataFormatError(
                path, line, f"width and height must be positive, found {w:g} x {h:g}"
            )
        if x < 0 or y < 0:
            raise DataFormatError(path, line, f"box corner ({x:g}, {y:g}) is left of or above 0")
        boxes[image_id] = (line, (x, y, w, h))
    return boxes


def _fit_box(
    path: Path, line: int, xywh: tuple[float, float, float, float], size: tuple[int, int]
) -> Box:
    """The inclusive box of the field's rule, after checking ``xywh`` against the image size."""
    x, y, w, h = xywh
    width, height = size
    if x > width - 1 or y > height - 1:
        raise DataFormatError(
            path, line, f"box corner ({x:g}, {y:g}) lies outside the {width}x{height} image"
        )
    if x + w > width + EDGE_TOLERANCE or y + h > height + EDGE_TOLERANCE:
        raise DataFormatError(
            path,
            line,
            f"box ({x:g}, {y:g}, {w:g}, {h:g}) ends at ({x + w:g}, {y + h:g}), more than "
            f"{EDGE_TOLERANCE} px past the {width}x{height} image; fix or remove the line",
        )
    box = cub_box(x, y, w, h, size)
    check_box(path, line, box, size)
    return box


def _read_classes(path: Path) -> list[str]:
    """Class folder names from ``classes.txt``; ids must run 1, 2, ... in order."""
    names: list[str] = []
    for line, (number, name) in read_rows(path, None, (2,), "<class_id> <class_name>"):
        class_id = parse_int(path, line, number, "class_id", minimum=1)
        if class_id != len(names) + 1:
            raise DataFormatError(
                path, line, f"class ids must run 1, 2, ... in order: expected {len(names) + 1}"
            )
        names.append(name)
    return names


def _read_keyed(
    path: Path,
    columns: int,
    layout: str,
    known: dict[int, int] | None = None,
) -> dict[int, tuple[int, list[str]]]:
    """Rows keyed by their integer image id: ``{id: (line, fields)}``.

    Ids must be unique and, when ``known`` (image id -> its line in ``images.txt``) is given,
    exactly those of ``known``.
    """
    rows: dict[int, tuple[int, list[str]]] = {}
    for line, fields in read_rows(path, None, (columns,), layout):
        image_id = parse_int(path, line, fields[0], "image_id", minimum=1)
        if image_id in rows:
            raise DataFormatError(
                path, line, f"duplicate image_id {image_id} (first on line {rows[image_id][0]})"
            )
        if known is not None and image_id not in known:
            raise DataFormatError(path, line, f"image_id {image_id} is not in images.txt")
        rows[image_id] = (line, fields)
    if known is not None:
        for image_id, line in known.items():
            if image_id not in rows:
                raise DataFormatError(
                    path, None, f"no line for image_id {image_id} (images.txt:{line})"
                )
    return rows


def _paper_half(chosen: list[tuple[int, int]], even: bool) -> list[tuple[int, int]]:
    """The authors' per-class alternating half of the test images (even or odd positions)."""
    position: dict[int, int] = {}
    kept = []
    for image_id, label in chosen:
        k = position.get(label, 0)
        position[label] = k + 1
        if (k % 2 == 0) == even:
            kept.append((image_id, label))
    return kept


def _readable(class_id: str) -> str:
    """``"001.Black_footed_Albatross"`` -> ``"Black footed Albatross"``."""
    name = class_id.split(".", 1)[1] if "." in class_id else class_id
    return name.replace("_", " ")

