"""Tiny-ImageNet wnids to ImageNet-1k logits through the shipped wnid list."""

from __future__ import annotations

import pytest

from evaluation.datasets import imagenet1k_indices
from evaluation.datasets.class_map import imagenet1k_wnids
from evaluation.errors import ClassMapError


def test_shipped_list_is_the_sorted_imagenet1k_order() -> None:
    wnids = imagenet1k_wnids()
    assert len(wnids) == 1000 == len(set(wnids))
    assert list(wnids) == sorted(wnids)
    assert wnids[0] == "n01440764"  # tench, logit 0
    assert wnids[999] == "n15075141"  # toilet tissue, logit 999


def test_indices_by_line_number() -> None:
    assert imagenet1k_indices(["n01443537", "n01440764", "n15075141"]) == [1, 0, 999]
    assert imagenet1k_indices([]) == []


def test_unknown_wnids_are_listed() -> None:
    wnids = ["n01440764", "n99000000", *[f"n9900000{k}" for k in range(1, 7)]]
    with pytest.raises(ClassMapError) as error:
        imagenet1k_indices(wnids)
    message = str(error.value)
    assert message.startswith("7 class ids are not ImageNet-1k wnids: n99000000, n99000001")
    assert "and 2 more" in message
