"""The reference metadata format of ``clovaai/wsolevaluation`` (``metadata/<DATASET>/<split>/``).

Four comma-separated files, every line keyed by ``<relpath>`` (the image id, relative to the
image root):

- ``image_ids.txt``: ``<relpath>``, one per line; it defines the order.
- ``class_labels.txt``: ``<relpath>,<label>`` with 0-based integer labels.
- ``image_sizes.txt``: ``<relpath>,<W>,<H>``, the original size in pixels. The reference leaves
  it empty for OpenImages: an empty file means "read the sizes from the files", the image headers
  when the image folder is given, else each image's first mask (mask variant).
- ``localization.txt``, either boxes ``<relpath>,<x0>,<y0>,<x1>,<y1>`` (0-based inclusive pixel
  coordinates, one line per box, several lines for several boxes) or masks
  ``<relpath>,<mask_png>[,<ignore_png>]`` (one line per instance mask; the ignore mask only on the
  image's first line, later lines leave it empty or omit the column).

The format carries no class names: class ``k`` is named ``"k"`` and the class count is the largest
label plus one.
"""

from __future__ import annotations

from pathlib import Path

from evaluation.datasets.images import read_image_size
from evaluation.datasets.parsing import parse_box, parse_int, read_rows, require_files
from evaluation.datasets.records import Box, DatasetIndex, ImageRecord
from evaluation.errors import ConfigurationError, DataFormatError
from evaluation.io import atomic_write_text

METADATA_FILES = ("image_ids.txt", "class_labels.txt", "image_sizes.txt", "localization.txt")


def read_wsol_metadata(
    metadata_dir: str | Path,
    image_root: str | Path | None = None,
    mask_root: str | Path | None = None,
    split: str | None = None,
) -> DatasetIndex:
    """Read one split in the reference metadata format.

    Args:
        metadata_dir: Folder holding the four metadata files.
        image_root: Folder the relative paths refer to. When given, record paths are absolute
            and every image must exist; when ``None`` (scoring without images) record paths are
            the relative paths and nothing is checked on disk.
        mask_root: Folder the mask paths refer to (default: ``image_root``); masks must exist
            when it is set.
        split: Split name stored in the index (default: the folder name of ``metadata_dir``).

    Returns:
        The index named ``"wsol-metadata"``, records in ``image_ids.txt`` order.

    Raises:
        MissingFilesError: A metadata file, image or mask is absent.
        DataFormatError: A line has a wrong field count, a non-numeric or negative number, a
            duplicate id, an id unknown to ``image_ids.txt`` or missing from another file, an
            inverted box or a box outside the image, or mixes box and mask lines; or
            ``image_sizes.txt`` is empty and no image or mask folder gives the sizes.
    """
    folder = Path(metadata_dir)
    require_files((folder / name for name in METADATA_FILES), "metadata files", folder)
    ids_path = folder / "image_ids.txt"
    order: dict[str, int] = {}
    for line, (relpath,) in read_rows(ids_path, ",", (1,), "<relpath>"):
        if relpath in order:
            raise DataFormatError(
                ids_path, line, f"duplicate image id {relpath!r} (first on line {order[relpath]})"
            )
        order[relpath] = line

    labels_path = folder / "class_labels.txt"
    labels: dict[str, int] = {}
    for line, (relpath, label) in _keyed_rows(labels_path, order, (2,), "<relpath>,<label>"):
        labels[relpath] = parse_int(labels_path, line, label, "label", minimum=0)
    _require_all(labels_path, order, labels)

    image_base = None if image_root is None else Path(image_root)
    mask_base = image_base if mask_root is None else Path(mask_root)
    sizes_path = folder / "image_sizes.txt"
    sizes = _read_sizes(sizes_path, order)
    if sizes is None and image_base is not None:
        require_files((image_base / relpath for relpath in order), "images", image_base)
        sizes = {relpath: read_image_size(image_base / relpath) for relpath in order}
    boxes, masks, ignores = _read_localization(folder / "localization.txt", order, sizes, mask_base)
    if sizes is None:
        sizes = _sizes_from_masks(sizes_path, order, masks, mask_base)

    records = [
        ImageRecord(
            image_id=relpath,
            path=Path(relpath) if image_base is None else image_base / relpath,
            label=labels[relpath],
            boxes=tuple(boxes.get(relpath, ())),
            size=sizes[relpath],
            mask_path=masks[relpath][0] if relpath in masks else None,
            extra_mask_paths=tuple(masks[relpath][1:]) if relpath in masks else (),
            ignore_path=ignores.get(relpath),
        )
        for relpath in order
    ]
    if image_base is not None:
        require_files((r.path for r in records), "images", image_base)
    if mask_base is not None:
        wanted = [p for r in records for p in (*r.mask_paths, r.ignore_path) if p is not None]
        require_files(wanted, "mask files", mask_base)
    num_classes = max(labels.values(), default=-1) + 1
    names = [str(k) for k in range(num_classes)]
    return DatasetIndex(
        name="wsol-metadata",
        split=folder.name if split is None else split,
        records=records,
        class_names=names,
        class_ids=list(names),
    )


def _read_sizes(path: Path, order: dict[str, int]) -> dict[str, tuple[int, int]] | None:
    """``image_sizes.txt`` as ``{relpath: (W, H)}``; ``None`` when it has no line for any image."""
    sizes: dict[str, tuple[int, int]] = {}
    for line, (relpath, width, height) in _keyed_rows(path, order, (3,), "<relpath>,<W>,<H>"):
        sizes[relpath] = (
            parse_int(path, line, width, "width W", minimum=1),
            parse_int(path, line, height, "height H", minimum=1),
        )
    if not sizes and order:
        return None
    _require_all(path, order, sizes)
    return sizes


def _sizes_from_masks(
    sizes_path: Path, order: dict[str, int], masks: dict[str, list[Path]], mask_base: Path | None
) -> dict[str, tuple[int, int]]:
    """Each image's size from the header of its first mask (``image_sizes.txt`` is empty).

    Raises:
        DataFormatError: There is no mask folder to read them from.
        MissingFilesError: A first mask is absent.
    """
    if mask_base is None or not masks:
        raise DataFormatError(
            sizes_path,
            None,
            "the file is empty (as in the reference's OpenImages metadata): the image sizes are "
            "read from the images or the masks, but no image or mask folder was given",
        )
    firsts = {relpath: masks[relpath][0] for relpath in order}
    require_files(firsts.values(), "mask files", mask_base)
    return {relpath: read_image_size(path) for relpath, path in firsts.items()}


def _keyed_rows(
    path: Path, order: dict[str, int], columns: tuple[int, ...], layout: str
) -> list[tuple[int, list[str]]]:
    """Rows of ``path`` whose first field is a known, not yet repeated image id."""
    seen: dict[str, int] = {}
    rows = read_rows(path, ",", columns, layout)
    for line, fields in rows:
        relpath = fields[0]
        if relpath not in order:
            raise DataFormatError(path, line, f"image id {relpath!r} is not in image_ids.txt")
        if relpath in seen:
            raise DataFormatError(
                path, line, f"duplicate image id {relpath!r} (first on line {seen[relpath]})"
            )
        seen[relpath] = line
    return rows


def _require_all(path: Path, order: dict[str, int], found: dict[str, object]) -> None:
    """Raise if an id of ``image_ids.txt`` has no line in ``path``."""
    for relpath, line in order.items():
        if relpath not in found:
            raise DataFormatError(
                path, None, f"no line for image id {relpath!r} (image_ids.txt:{line})"
            )


def _read_localization(
    path: Path,
    order: dict[str, int],
    sizes: dict[str, tuple[int, int]] | None,
    mask_base: Path | None,
) -> tuple[dict[str, list[Box]], dict[str, list[Path]], dict[str, Path]]:
    """Parse ``localization.txt`` (box or mask variant) into per-id boxes, masks, ignore masks.

    ``sizes`` is ``None`` when ``image_sizes.txt`` is empty and no image folder was given: boxes
    cannot be checked then, so a box line raises.
    """
    box_layout = "<relpath>,<x0>,<y0>,<x1>,<y1>"
    mask_layout = "<relpath>,<mask_png>,<ignore_png>"
    rows = read_rows(path, ",", (2, 3, 5), f"{box_layout}' or '{mask_layout}")
    boxes: dict[str, list[Box]] = {}
    masks: dict[str, list[Path]] = {}
    ignores: dict[str, Path] = {}
    variant = len(rows[0][1]) == 5 if rows else True
    for line, fields in rows:
        relpath = fields[0]
        if relpath not in order:
            raise DataFormatError(path, line, f"image id {relpath!r} is not in image_ids.txt")
        if (len(fields) == 5) != variant:
            expected = box_layout if variant else mask_layout
            raise DataFormatError(
                path, line, f"mixes box and mask lines: expected '{expected}' like line 1"
            )
        if variant:
            if sizes is None:
                raise DataFormatError(
                    path.parent / "image_sizes.txt",
                    None,
                    "the file is empty: boxes need the image sizes; list them, or give the "
                    "image folder to read them from",
                )
            boxes.setdefault(relpath, []).append(parse_box(path, line, fields[1:], sizes[relpath]))
            continue
        if not fields[1]:
            raise DataFormatError(path, line, "empty mask path")
        first = relpath not in masks
        ignore = fields[2] if len(fields) == 3 else ""
        if ignore and not first:
            raise DataFormatError(
                path, line, "ignore mask given on a later line: only an image's first line names it"
            )
        masks.setdefault(relpath, []).append(_join(mask_base, fields[1]))
        if ignore:
            ignores[relpath] = _join(mask_base, ignore)
    _require_all(path, order, boxes if variant else masks)
    return boxes, masks, ignores


def _join(base: Path | None, relpath: str) -> Path:
    return Path(relpath) if base is None else base / relpath


def write_wsol_metadata(
    index: DatasetIndex, output_dir: str | Path, image_root: str | Path
) -> None:
    """Write ``index`` in the reference metadata format (box variant), each file atomically.

    Args:
        index: Records with integer-valued boxes; every record needs at least one box.
        output_dir: Folder to write the four files into (created when absent).
        image_root: Folder the written relative paths refer to; every record path must lie
            under it.

    Raises:
        ConfigurationError: A record path is not under ``image_root``, a record has no box, or a
            box coordinate is not an integer.
    """
    root = Path(image_root)
    ids, labels, sizes, boxes = [], [], [], []
    for record in index.records:
        try:
            relpath = record.path.relative_to(root).as_posix()
        except ValueError:
            raise ConfigurationError(
                f"image {record.path} is not under the image root {root}"
            ) from None
        if not record.boxes:
            raise ConfigurationError(f"image {relpath} has no box to write to localization.txt")
        ids.append(relpath)
        labels.append(f"{relpath},{record.label}")
        sizes.append(f"{relpath},{record.size[0]},{record.size[1]}")
        for box in record.boxes:
            if not all(float(v).is_integer() for v in box):
                raise ConfigurationError(f"image {relpath}: box {box} has non-integer coordinates")
            boxes.append(relpath + "," + ",".join(str(int(v)) for v in box))
    out = Path(output_dir)
    for name, lines in zip(METADATA_FILES, (ids, labels, sizes, boxes), strict=True):
        atomic_write_text(out / name, "".join(f"{line}\n" for line in lines))

