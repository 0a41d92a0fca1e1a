"""The micro CLIP: the real openai-clip architecture, small, and a text pass cut at EOT."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict

import numpy as np
import torch
from torch import nn

from ..clip_backbone import import_clip
from ..towers import PromptedTextTower, PromptLayout

#: CLIP's image normalisation (also the benchmark configs' INPUT.PIXEL_MEAN / PIXEL_STD).
PIXEL_MEAN = (0.48145466, 0.4578275, 0.40821073)
PIXEL_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class MicroArch:
    """Constructor arguments of ``clip.model.CLIP``; widths are multiples of 64 because
    ``clip.model.build_model`` derives heads = width // 64. 12 layers per tower, so VaMP's
    prompt layers 6..12 exist."""

    embed_dim: int = 64
    image_resolution: int = 32
    vision_layers: int = 12
    vision_width: int = 64
    vision_patch_size: int = 8
    context_length: int = 77
    vocab_size: int = 49408
    transformer_width: int = 64
    transformer_heads: int = 1
    transformer_layers: int = 12

    def to_dict(self) -> Dict[str, int]:
        return asdict(self)


def build_micro_clip(arch: MicroArch, seed: int) -> nn.Module:
    """A freshly initialised fp32 CLIP with ``arch`` (seeded, global RNG state restored)."""
    clip = import_clip()
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = clip.model.CLIP(**arch.to_dict())
    finally:
        torch.random.set_rng_state(state)
    return model.float()


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) floats in [0, 1] -> CLIP-normalised (N, 3, H, W) tensor."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    mean = torch.tensor(PIXEL_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(PIXEL_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def encode_text_to_eot(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """``model.encode_text`` computed only up to the longest caption's end-of-text token.

    Exact: the causal mask means no position attends to anything after itself, and the feature
    is read at the EOT position, so the padding after the last EOT never matters. This is the
    project's text tower without prompt slots (:class:`~vamp_prompt.towers.PromptedTextTower`,
    which truncates after the longest EOT); it shares ``model``'s parameters, so gradients reach
    them.
    """
    layout = PromptLayout(first=0, n_slots=0, depth=len(model.transformer.resblocks))
    return PromptedTextTower(model, layout)(tokens)
