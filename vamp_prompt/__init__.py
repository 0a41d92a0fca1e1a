"""VaMP: variational multi-modal prompt learning for CLIP, for the Dassl/CoOp family.

The core (this package's top level) needs only torch and openai-clip. The Dassl trainer lives in
:mod:`vamp_prompt.engine` and the CoOp-format datasets in :mod:`vamp_prompt.data`; both import
Dassl and are loaded only when asked for.

The names below are imported on first use, so that tools which need no model (the results tables,
the sweep launcher and its Slurm jobs' wrappers) start without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_EXPORTS = {
    "MaPLePrompts": "bases",
    "MMRLPrompts": "bases",
    "PromptBase": "bases",
    "build_base": "bases",
    "TINY_ARCH": "clip_backbone",
    "VIT_B16_ARCH": "clip_backbone",
    "build_random_clip": "clip_backbone",
    "load_clip": "clip_backbone",
    "save_random_clip": "clip_backbone",
    "tokenize": "clip_backbone",
    "BASES": "config",
    "HEADS": "config",
    "INFERENCE_MODES": "config",
    "VARIANTS": "config",
    "VaMPConfig": "config",
    "LossParts": "losses",
    "gaussian_kl": "losses",
    "layer_kl": "losses",
    "negative_elbo": "losses",
    "ModelOutput": "model",
    "VaMPModel": "model",
    "average_probabilities": "model",
    "PrototypeBank": "prototypes",
    "frozen_image_features": "prototypes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .bases import MaPLePrompts, MMRLPrompts, PromptBase, build_base  # noqa: F401
    from .clip_backbone import (  # noqa: F401
        TINY_ARCH,
        VIT_B16_ARCH,
        build_random_clip,
        load_clip,
        save_random_clip,
        tokenize,
    )
    from .config import BASES, HEADS, INFERENCE_MODES, VARIANTS, VaMPConfig  # noqa: F401
    from .losses import LossParts, gaussian_kl, layer_kl, negative_elbo  # noqa: F401
    from .model import ModelOutput, VaMPModel, average_probabilities  # noqa: F401
    from .prototypes import PrototypeBank, frozen_image_features  # noqa: F401
