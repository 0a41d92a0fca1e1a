"""Shared fixtures: a tiny random CLIP with the real structure, saved as a state dict."""

from __future__ import annotations

import os

os.environ.setdefault("OUTDATED_IGNORE", "1")  # wilds (via Dassl) would look for updates online

import pytest
import torch

from vamp_prompt import build_random_clip, save_random_clip


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory) -> str:
    """A random CLIP (width 64, 12 layers per tower, patch 32, 64 px) written as a state dict."""
    return save_random_clip(str(tmp_path_factory.mktemp("clip") / "tiny_clip.pt"), seed=0)


@pytest.fixture()
def tiny_clip():
    return build_random_clip(seed=0)


@pytest.fixture()
def images() -> torch.Tensor:
    return torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))


CLASSNAMES = ["banded", "blotchy", "chequered", "crystalline texture of long name", "dog"]
