"""Exceptions and message helpers for the dataset readers (no Dassl import)."""

from __future__ import annotations

import os

__all__ = [
    "DatasetLayoutError",
    "CorruptImageError",
    "DATASETS_MD_URL",
    "docs_hint",
]

#: Where the family documents how to download and arrange each dataset.
DATASETS_MD_URL = "https://github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md"

#: Opt-in switch for building a missing split file from the raw files.
BUILD_SPLITS_ENV = "VAMP_BUILD_SPLITS"


class DatasetLayoutError(FileNotFoundError, ValueError):
    """A dataset on disk does not have the layout the reader expects.

    Subclasses both ``FileNotFoundError`` (a file or folder is missing) and
    ``ValueError`` (a file is present but malformed), so either ``except``
    clause catches it. The message names the offending path and the fix.
    """


class CorruptImageError(DatasetLayoutError):
    """An image file exists but cannot be decoded."""


def docs_hint(section: str) -> str:
    """Return the pointer to the family's download instructions for ``section``."""
    return f"see the '{section}' section of {DATASETS_MD_URL}"


def build_splits_enabled() -> bool:
    """True when the user opted in to building missing split files (env var)."""
    return os.environ.get(BUILD_SPLITS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
