"""Reading images with errors that name the file (no Dassl import)."""

from __future__ import annotations

import os
from typing import Any

from .errors import CorruptImageError, DatasetLayoutError

__all__ = ["check_readable_image"]


def check_readable_image(path: str) -> Any:
    """Open ``path`` as an RGB ``PIL.Image``, raising a clear error if that fails.

    A drop-in for ``dassl.utils.read_image``: returns the decoded RGB image.
    Raises :class:`DatasetLayoutError` if the file does not exist and
    :class:`CorruptImageError` (a subclass) if it cannot be decoded; both
    messages name ``path``.
    """
    from PIL import Image

    if not os.path.isfile(path):
        raise DatasetLayoutError(
            f"Image {path} does not exist. The dataset folder is incomplete or was moved after "
            f"its split/cache files were written: re-extract the dataset, or move stale "
            f"split_fewshot/*.pkl caches aside so they are rebuilt."
        )
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("RGB")
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, ... on bad data
        raise CorruptImageError(
            f"Image {path} cannot be read ({type(exc).__name__}: {exc}). The file is corrupt or "
            f"truncated: re-download or re-extract it (or remove it from the split file)."
        ) from exc
