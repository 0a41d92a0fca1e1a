"""Registering the readers in Dassl's ``DATASET_REGISTRY``."""

from __future__ import annotations

import importlib
import logging
from typing import Any, Dict, List, Optional, Tuple

__all__ = [
    "DATASET_CLASSES",
    "DATASET_NAMES",
    "PROJECT_DATASET_CLASSES",
    "PROJECT_DATASET_NAMES",
    "REGISTERED_CLASSES",
    "REGISTERED_NAMES",
    "get_dataset_class",
    "register_datasets",
]

logger = logging.getLogger(__name__)

#: Registry name -> (module under vamp_prompt.data, attribute). Order: the family's table.
DATASET_CLASSES: Dict[str, Tuple[str, str]] = {
    "ImageNet": ("imagenet", "ImageNet"),
    "Caltech101": ("readers", "Caltech101"),
    "OxfordPets": ("readers", "OxfordPets"),
    "StanfordCars": ("readers", "StanfordCars"),
    "OxfordFlowers": ("readers", "OxfordFlowers"),
    "Food101": ("readers", "Food101"),
    "FGVCAircraft": ("readers", "FGVCAircraft"),
    "SUN397": ("readers", "SUN397"),
    "DescribableTextures": ("readers", "DescribableTextures"),
    "EuroSAT": ("readers", "EuroSAT"),
    "UCF101": ("readers", "UCF101"),
    "ImageNetV2": ("imagenet", "ImageNetV2"),
    "ImageNetSketch": ("imagenet", "ImageNetSketch"),
    "ImageNetA": ("imagenet", "ImageNetA"),
    "ImageNetR": ("imagenet", "ImageNetR"),
}

#: The fifteen registry names.
DATASET_NAMES: Tuple[str, ...] = tuple(DATASET_CLASSES)

#: The project's own datasets (not the family's): the micro benchmark.
PROJECT_DATASET_CLASSES: Dict[str, Tuple[str, str]] = {"MicroShapes": ("readers", "MicroShapes")}
PROJECT_DATASET_NAMES: Tuple[str, ...] = tuple(PROJECT_DATASET_CLASSES)
#: Every reader :func:`register_datasets` registers, and its name.
REGISTERED_CLASSES: Dict[str, Tuple[str, str]] = {**DATASET_CLASSES, **PROJECT_DATASET_CLASSES}
REGISTERED_NAMES: Tuple[str, ...] = tuple(REGISTERED_CLASSES)


def get_dataset_class(name: str) -> Any:
    """The reader class registered as ``name`` (imports Dassl)."""
    try:
        module, attr = REGISTERED_CLASSES[name]
    except KeyError:
        raise KeyError(f"Unknown dataset {name!r}; known: {', '.join(REGISTERED_NAMES)}") from None
    return getattr(importlib.import_module(f"{__package__}.{module}"), attr)


def _registered_names(registry: Any) -> List[str]:
    obj_map = getattr(registry, "_obj_map", None)
    if isinstance(obj_map, dict):
        return list(obj_map)
    return list(registry.registered_names())


def register_datasets(registry: Optional[Any] = None, skip_existing: bool = True) -> List[str]:
    """Register the fifteen readers and the project's micro benchmark (MicroShapes) in
    ``registry`` (default: Dassl's ``DATASET_REGISTRY``).

    With ``skip_existing`` (default), a name that is already registered (e.g. by a
    MaPLe/MMRL fork's own ``datasets/``) is left alone; otherwise it is replaced.
    Returns the names registered by this call.
    """
    if registry is None:
        from dassl.data.datasets import DATASET_REGISTRY

        registry = DATASET_REGISTRY
    done: List[str] = []
    existing = set(_registered_names(registry))
    for name in REGISTERED_NAMES:
        cls = get_dataset_class(name)
        if name in existing:
            if skip_existing:
                if registry.get(name) is not cls:
                    logger.info("Dataset %s is already registered; keeping the existing one", name)
                continue
            registry.register(cls, force=True)
        else:
            registry.register(cls)
        done.append(name)
    return done
