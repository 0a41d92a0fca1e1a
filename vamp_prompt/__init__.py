"""VaMP: variational multi-modal prompt learning for CLIP, for the Dassl/CoOp family.

The core (this package's top level) needs only torch and openai-clip. The Dassl trainer lives in
:mod:`vamp_prompt.engine` and the CoOp-format datasets in :mod:`vamp_prompt.data`; both import
Dassl and are loaded only when asked for.
"""
from .bases import MaPLePrompts, MMRLPrompts, PromptBase, build_base
from .clip_backbone import (TINY_ARCH, VIT_B16_ARCH, build_random_clip, load_clip,
                            save_random_clip, tokenize)
from .config import BASES, HEADS, INFERENCE_MODES, VARIANTS, VaMPConfig
from .losses import LossParts, gaussian_kl, layer_kl, negative_elbo
from .model import ModelOutput, VaMPModel, average_probabilities
from .prototypes import PrototypeBank, frozen_image_features

__version__ = "0.2.0"

__all__ = [
    "BASES", "HEADS", "INFERENCE_MODES", "TINY_ARCH", "VARIANTS", "VIT_B16_ARCH", "LossParts",
    "MMRLPrompts", "MaPLePrompts", "ModelOutput", "PromptBase", "PrototypeBank", "VaMPConfig",
    "VaMPModel", "average_probabilities", "build_base", "build_random_clip",
    "frozen_image_features", "gaussian_kl", "layer_kl", "load_clip", "negative_elbo",
    "save_random_clip", "tokenize",
]
