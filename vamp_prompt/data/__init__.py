"""CoOp-format datasets (the eleven + four ImageNet variants) as a Dassl dataset library.

Light parts (errors, split files, image checks, the synthetic writer) import no
Dassl; the reader classes and :func:`register_datasets` import Dassl when
first used::

    from vamp_prompt.data import register_datasets
    register_datasets()          # adds ImageNet, Caltech101, ... to DATASET_REGISTRY
"""

from __future__ import annotations

from typing import Any, List

from .errors import CorruptImageError, DatasetLayoutError
from .images import check_readable_image
from .registry import (
    DATASET_CLASSES,
    DATASET_NAMES,
    REGISTERED_CLASSES,
    REGISTERED_NAMES,
    get_dataset_class,
    register_datasets,
)
from .splits import (
    SUBSAMPLE_CHOICES,
    fewshot_cache_path,
    read_split_file,
    subsample_label_map,
    write_split_file,
)

__all__ = [
    "DatasetLayoutError",
    "CorruptImageError",
    "check_readable_image",
    "DATASET_CLASSES",
    "DATASET_NAMES",
    "REGISTERED_CLASSES",
    "REGISTERED_NAMES",
    "get_dataset_class",
    "register_datasets",
    "SUBSAMPLE_CHOICES",
    "fewshot_cache_path",
    "read_split_file",
    "write_split_file",
    "subsample_label_map",
    "SYNTHETIC_DATASETS",
    "write_synthetic_dataset",
    *DATASET_NAMES,
]


def __getattr__(name: str) -> Any:
    # The reader classes need Dassl: import their modules on first access.
    if name in REGISTERED_CLASSES:
        return get_dataset_class(name)
    if name in ("SYNTHETIC_DATASETS", "write_synthetic_dataset"):
        # Lazy so that `python -m vamp_prompt.data.synthetic` runs without a runpy warning.
        from . import synthetic

        return getattr(synthetic, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
