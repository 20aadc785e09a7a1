r"""Tiny-ImageNet-200 in its distributed layout.

::

    tiny-imagenet-200/
      wnids.txt                        <wnid>, one per line: the class order (not sorted)
      words.txt                        <wnid>\t<comma-separated names> (may list more wnids)
      train/<wnid>/images/<file>.JPEG
      train/<wnid>/<wnid>_boxes.txt    <file>\t<x0>\t<y0>\t<x1>\t<y1>
      val/images/<file>.JPEG
      val/val_annotations.txt          <file>\t<wnid>\t<x0>\t<y0>\t<x1>\t<y1>
      segmentations/train/<wnid>/<stem>.png, segmentations/val/<stem>.png   (optional masks;
                                       only the synthetic generator writes them)

Boxes are already inclusive 0-based pixel coordinates (a full-image box is ``0 0 63 63``; one-pixel
boxes ``x0 == x1`` occur and are kept). Each record also keeps the box the infoCAM authors
evaluate against (:func:`authors_box`): their ``load_bbox_size`` reads ``x0 y0 x1 y1`` as
``x y w h``, so ``6 25 55 51`` becomes ``(6, 25, 61, 76)``; ``--protocol paper-as-published`` maps
that one. Labels follow ``wnids.txt`` order; class names are the
first name of the ``words.txt`` entry. Splits: ``train`` and ``val`` (``test`` has no labels).

Whatever the split, every line of every annotation file present is validated (the other split's
box files too: numbers, order and the left and top bounds; its images are not needed and not
opened, so the right and bottom bounds are checked for the chosen split only).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from evaluation.datasets.images import image_size
from evaluation.datasets.parsing import parse_box, read_rows, read_text, require_files
from evaluation.datasets.records import Box, DatasetIndex, ImageRecord
from evaluation.errors import AccessError, ConfigurationError, DataFormatError, WSOLError
from evaluation.paths import is_file, is_folder
from evaluation.progress import Progress

TINY_SPLITS = ("train", "val")
_IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def read_tiny_imagenet(
    root: str | Path,
    split: str,
    progress: Progress | None = None,
    on_unreadable: Callable[[WSOLError], None] | None = None,
) -> DatasetIndex:
    """Read one split of Tiny-ImageNet-200.

    Args:
        root: The ``tiny-imagenet-200`` folder (holding ``wnids.txt``).
        split: ``train`` (all images with their per-class box files) or ``val``.
        progress: Counts the images whose size is read (its total is set here).
        on_unreadable: Called with the error of each image whose size cannot be read, which is
            then left out of the index (default: the error is raised).

    Returns:
        The index named ``"tiny-imagenet"``. Train records are ordered by class (``wnids.txt``)
        then box-file line, val records by annotation line; image ids are the paths relative to
        ``root`` (``val/images/val_0.JPEG``), as ``wsol-bench convert`` writes them and the
        reference's metadata names images (its ILSVRC ids start with the split folder).

    Raises:
        ConfigurationError: Unknown split.
        MissingFilesError: An annotation file, image or mask is absent.
        DataFormatError: Malformed or duplicate lines, unknown wnids, images without an annotation
            line, inverted boxes or boxes outside the image.
    """
    if split not in TINY_SPLITS:
        raise ConfigurationError(
            f"unknown Tiny-ImageNet split {split!r}: choose one of {TINY_SPLITS} "
            "(the test images carry no labels)"
        )
    base = Path(root)
    wnids = _read_wnids(base / "wnids.txt")
    names = _read_words(base / "words.txt", wnids)
    train = _train_entries(base, wnids, required=split == "train")
    val = _val_entries(base, wnids, required=split == "val")
    entries, other = (train, val) if split == "train" else (val, train)
    for entry in other:
        parse_box(entry.source, entry.line, entry.box, None)
    masks_root = base / "segmentations" / split
    has_masks = is_folder(masks_root, "masks")

    require_files((base / split / e.image for e in entries), "images", base / split)
    if has_masks:
        require_files((masks_root / e.mask for e in entries), "masks", masks_root)
    if progress is not None:
        progress.set_total(len(entries))
    records = []
    for entry in entries:
        path = base / split / entry.image
        size = image_size(path, on_unreadable)
        if progress is not None:
            progress.update()
        if size is None:
            continue
        box = parse_box(entry.source, entry.line, entry.box, size)
        records.append(
            ImageRecord(
                image_id=f"{split}/{entry.image}",
                path=path,
                label=entry.label,
                boxes=(box,),
                size=size,
                mask_path=masks_root / entry.mask if has_masks else None,
                authors_boxes=(authors_box(box),),
            )
        )
    return DatasetIndex("tiny-imagenet", split, records, names, wnids)


def authors_box(box: Box) -> Box:
    """The infoCAM authors' misreading of an ``x0 y0 x1 y1`` line as ``x y w h``.

    Their ``load_bbox_size`` takes the third and fourth fields for a width and height, so the box
    they evaluate against is ``(x0, y0, x0 + x1, y0 + y1)`` (module doc).
    """
    x0, y0, x1, y1 = box
    return (x0, y0, x0 + x1, y0 + y1)


class _Entry(NamedTuple):
    """One annotation line: the image and where its box fields come from."""

    image: str  # path relative to the split folder
    mask: str  # mask path relative to segmentations/<split>
    label: int
    source: Path  # annotation file
    line: int
    box: list[str]  # x0 y0 x1 y1 fields


def _read_wnids(path: Path) -> list[str]:
    wnids: list[str] = []
    seen: dict[str, int] = {}
    for line, (wnid,) in read_rows(path, None, (1,), "<wnid>"):
        if wnid in seen:
            raise DataFormatError(path, line, f"duplicate wnid {wnid} (first on line {seen[wnid]})")
        seen[wnid] = line
        wnids.append(wnid)
    if not wnids:
        raise DataFormatError(path, None, "no wnids: expected one class wnid per line")
    return wnids


def _read_words(path: Path, wnids: list[str]) -> list[str]:
    """The first name per class in ``words.txt`` (``"goldfish, Carassius auratus"``: goldfish).

    The file lists all 82,115 ImageNet wnids; only the lines of ``wnids`` are parsed further.
    """
    wanted = set(wnids)
    names: dict[str, str] = {}
    for line, text in enumerate(read_text(path).splitlines(), start=1):
        wnid, tab, words = text.partition("\t")
        if not tab:
            if not text.strip():
                continue
            raise DataFormatError(path, line, "expected '<wnid><TAB><names>', found no tab")
        if wnid in wanted:
            if wnid in names:
                raise DataFormatError(path, line, f"duplicate entry for wnid {wnid}")
            names[wnid] = words.split(",")[0].strip()
    missing = [w for w in wnids if w not in names]
    if missing:
        raise DataFormatError(
            path, None, f"no entry for {len(missing)} wnids of wnids.txt: {', '.join(missing[:5])}"
        )
    return [names[w] for w in wnids]


def _train_entries(base: Path, wnids: list[str], required: bool) -> list[_Entry]:
    """The lines of every ``train/<wnid>/<wnid>_boxes.txt``.

    For the chosen split (``required``) every file must exist and every image in the folders must
    have a line; otherwise absent files are skipped and the folders are not listed.
    """
    entries: list[_Entry] = []
    for label, wnid in enumerate(wnids):
        box_path = base / "train" / wnid / f"{wnid}_boxes.txt"
        if not required and not is_file(box_path, "annotation files"):
            continue
        layout = "<file> <x0> <y0> <x1> <y1>, tab-separated"
        seen: dict[str, int] = {}
        for line, fields in read_rows(box_path, None, (5,), layout):
            name = fields[0]
            if name in seen:
                raise DataFormatError(
                    box_path, line, f"duplicate image {name} (first on line {seen[name]})"
                )
            seen[name] = line
            mask = f"{wnid}/{Path(name).stem}.png"
            image = f"{wnid}/images/{name}"
            entries.append(_Entry(image, mask, label, box_path, line, fields[1:]))
        if required:
            _check_all_annotated(base / "train" / wnid / "images", seen, box_path)
    return entries


def _val_entries(base: Path, wnids: list[str], required: bool) -> list[_Entry]:
    """The lines of ``val/val_annotations.txt``, as :func:`_train_entries` those of train."""
    labels = {wnid: k for k, wnid in enumerate(wnids)}
    path = base / "val" / "val_annotations.txt"
    if not required and not is_file(path, "annotation files"):
        return []
    layout = "<file> <wnid> <x0> <y0> <x1> <y1>, tab-separated"
    entries: list[_Entry] = []
    seen: dict[str, int] = {}
    for line, fields in read_rows(path, None, (6,), layout):
        name, wnid = fields[0], fields[1]
        if wnid not in labels:
            raise DataFormatError(path, line, f"unknown wnid {wnid}: it is not in wnids.txt")
        if name in seen:
            raise DataFormatError(
                path, line, f"duplicate image {name} (first on line {seen[name]})"
            )
        seen[name] = line
        mask = f"{Path(name).stem}.png"
        entries.append(_Entry(f"images/{name}", mask, labels[wnid], path, line, fields[2:]))
    if required:
        _check_all_annotated(base / "val" / "images", seen, path)
    return entries


def _check_all_annotated(folder: Path, annotated: dict[str, int], annotations: Path) -> None:
    """Raise if ``folder`` holds an image file that has no line in ``annotations``."""
    if not is_folder(folder, "images"):
        return
    try:
        extra = sorted(
            entry.name
            for entry in folder.iterdir()
            if entry.suffix.lower() in _IMAGE_SUFFIXES and entry.name not in annotated
        )
    except PermissionError:
        raise AccessError(folder, "list this folder") from None
    if extra:
        raise DataFormatError(
            annotations,
            None,
            f"{len(extra)} images in {folder} have no annotation line here: {', '.join(extra[:5])}",
        )
