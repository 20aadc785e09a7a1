"""Tiny-ImageNet classes to ImageNet-1k logits.

Every Tiny-ImageNet wnid is an ImageNet-1k class. An ImageNet-1k classifier's logit ``k`` belongs to
line ``k`` (0-based) of the shipped ``evaluation/data/imagenet1k_wnids.txt``, the 1,000 wnids in the
standard (sorted) class-index order.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from evaluation.errors import ClassMapError


@cache
def imagenet1k_wnids() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k wnids in class-index order (from the package data)."""
    text = resources.files("evaluation").joinpath("data/imagenet1k_wnids.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def imagenet1k_indices(class_ids: list[str]) -> list[int]:
    """Map wnids to ImageNet-1k logit indices.

    Args:
        class_ids: Wnids, e.g. :attr:`DatasetIndex.class_ids` of Tiny-ImageNet (``wnids.txt``
            order).

    Returns:
        ``indices[k]`` is the ImageNet-1k logit of ``class_ids[k]``.

    Raises:
        ClassMapError: A wnid is not an ImageNet-1k class (the message lists the first few).
    """
    position = {wnid: k for k, wnid in enumerate(imagenet1k_wnids())}
    unknown = [wnid for wnid in class_ids if wnid not in position]
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        shown = ", ".join(unknown[:5]) + more
        raise ClassMapError(
            f"{len(unknown)} class ids are not ImageNet-1k wnids: {shown}; only datasets whose "
            "classes are ImageNet-1k classes (e.g. Tiny-ImageNet) can use an ImageNet-1k head"
        )
    return [position[wnid] for wnid in class_ids]
