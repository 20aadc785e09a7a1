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

Splits: ``train`` and ``test`` (the official split), ``all``, and the infoCAM authors' halves of
the test split, ``paper-val`` and ``paper-test``: within each class, the test images in
``images.txt`` order at even positions (0, 2, ...) form ``paper-val`` (2,916 images) and those at
odd positions ``paper-test`` (2,878 images, the split the authors report on).
"""

from __future__ import annotations

from pathlib import Path

from evaluation.datasets.images import read_image_size
from evaluation.datasets.parsing import check_box, parse_float, parse_int, read_rows, require_files
from evaluation.datasets.records import Box, DatasetIndex, ImageRecord
from evaluation.errors import ConfigurationError, DataFormatError

CUB_SPLITS = ("train", "test", "all", "paper-val", "paper-test")


def cub_box(x: float, y: float, w: float, h: float, size: tuple[int, int]) -> Box:
    """Convert a CUB ``x y w h`` box to the inclusive box of the field's rule (see module doc)."""
    width, height = size
    return (
        float(int(x)),
        float(int(y)),
        float(min(int(x + w), width - 1)),
        float(min(int(y + h), height - 1)),
    )


def read_cub(root: str | Path, split: str) -> DatasetIndex:
    """Read one split of CUB-200-2011.

    Args:
        root: The ``CUB_200_2011`` folder (holding ``images.txt``).
        split: One of ``train``, ``test``, ``all``, ``paper-val``, ``paper-test``.

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
        DataFormatError: Malformed, duplicate, inconsistent or out-of-image annotations.
    """
    if split not in CUB_SPLITS:
        raise ConfigurationError(f"unknown CUB split {split!r}: choose one of {CUB_SPLITS}")
    base = Path(root)
    class_ids = _read_classes(base / "classes.txt")
    paths = _read_keyed(base / "images.txt", 2, "<image_id> <relpath>")
    labels_path = base / "image_class_labels.txt"
    labels = _read_keyed(labels_path, 2, "<image_id> <class_id>", paths)
    splits_path = base / "train_test_split.txt"
    is_train = _read_keyed(splits_path, 2, "<image_id> <is_training_image>", paths)
    boxes_path = base / "bounding_boxes.txt"
    raw_boxes = _read_keyed(boxes_path, 5, "<image_id> <x> <y> <width> <height>", paths)

    chosen: list[tuple[int, int]] = []  # (image id, 0-based label)
    for image_id in paths:
        line, (_, flag) = is_train[image_id]
        if flag not in ("0", "1"):
            raise DataFormatError(
                splits_path, line, f"is_training_image must be 0 or 1, not {flag!r}"
            )
        label_line, (_, class_text) = labels[image_id]
        class_id = parse_int(labels_path, label_line, class_text, "class_id", minimum=1)
        if class_id > len(class_ids):
            raise DataFormatError(
                labels_path, label_line, f"class_id {class_id} is not in classes.txt"
            )
        if split == "all" or (flag == "1") == (split == "train"):
            chosen.append((image_id, class_id - 1))
    if split.startswith("paper-"):
        chosen = _paper_half(chosen, split == "paper-val")

    images = base / "images"
    require_files((images / paths[i][1][1] for i, _ in chosen), "images", images)
    segmentations = base / "segmentations"
    masks = segmentations.is_dir()
    if masks:
        wanted = (segmentations / Path(paths[i][1][1]).with_suffix(".png") for i, _ in chosen)
        require_files(wanted, "segmentations", segmentations)

    records = []
    for image_id, label in chosen:
        relpath = paths[image_id][1][1]
        path = images / relpath
        size = read_image_size(path)
        line, fields = raw_boxes[image_id]
        x, y, w, h = (
            parse_float(boxes_path, line, f, n)
            for f, n in zip(fields[1:], ("x", "y", "width", "height"), strict=True)
        )
        if w < 0 or h < 0:
            raise DataFormatError(boxes_path, line, f"negative width or height ({w}, {h})")
        if x < 0 or y < 0:
            raise DataFormatError(boxes_path, line, f"box corner ({x}, {y}) is left of or above 0")
        box = cub_box(x, y, w, h, size)
        check_box(boxes_path, line, box, size)
        records.append(
            ImageRecord(
                image_id=relpath,
                path=path,
                label=label,
                boxes=(box,),
                size=size,
                mask_path=segmentations / Path(relpath).with_suffix(".png") if masks else None,
            )
        )
    names = [_readable(class_id) for class_id in class_ids]
    return DatasetIndex("cub", split, records, names, class_ids)


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
    known: dict[int, tuple[int, list[str]]] | None = None,
) -> dict[int, tuple[int, list[str]]]:
    """Rows keyed by their integer image id: ``{id: (line, fields)}``.

    Ids must be unique and, when ``known`` is given, exactly those of ``known``.
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
        for image_id, (line, _) in known.items():
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

