"""Shared fixtures: the real data beside the project, deterministic seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the project root; tests that need it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it ships beside the project in CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_imagenet_root(shared_data: Path) -> Path:
    """The real (reduced) Tiny-ImageNet-200 tree in its official layout."""
    root = shared_data / "tiny-imagenet-200"
    if not (root / "wnids.txt").is_file():
        pytest.skip(f"{root} holds no Tiny-ImageNet-200 tree")
    return root
