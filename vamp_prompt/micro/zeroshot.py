"""Zero-shot classification with the hand-crafted template, on rendered images or arrays."""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from ..clip_backbone import tokenize
from .captions import class_prompts
from .model import encode_text_to_eot, images_to_tensor
from .world import (
    DOWNSTREAM_STYLE,
    PRETRAIN_STYLE,
    Combo,
    Style,
    all_combos,
    class_name,
    held_out_in_pretraining,
    render,
)

TEMPLATE = "a photo of a {}."


@torch.no_grad()
def class_text_features(model: torch.nn.Module, names: Sequence[str], template: str = TEMPLATE) -> torch.Tensor:
    """Normalised text features of ``template.format(name)`` (C, E)."""
    return F.normalize(encode_text_to_eot(model, tokenize(class_prompts(names, template))), dim=-1)


@torch.no_grad()
def image_features(model: torch.nn.Module, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """Normalised image features of CLIP-normalised images (N, E)."""
    return F.normalize(
        torch.cat([model.encode_image(images[i : i + batch]) for i in range(0, len(images), batch)]), dim=-1
    )


@torch.no_grad()
def zero_shot_logits(
    model: torch.nn.Module, images: torch.Tensor, names: Sequence[str], template: str = TEMPLATE
) -> torch.Tensor:
    """CLIP's zero-shot logits: exp(logit_scale) * cos(image, text) (N, C)."""
    text = class_text_features(model, names, template)
    return model.logit_scale.exp() * image_features(model, images) @ text.t()


def accuracy_on(
    model: torch.nn.Module,
    combos: Sequence[Combo],
    style: Style,
    per_class: int,
    seed: int,
    candidates: Optional[Sequence[Combo]] = None,
) -> float:
    """Top-1 over ``candidates`` (default: ``combos``) of ``per_class`` images of each combo."""
    rng = np.random.default_rng(seed)
    candidates = list(candidates or combos)
    shown = [c for c in combos for _ in range(per_class)]
    labels = torch.tensor([candidates.index(c) for c in shown])
    logits = zero_shot_logits(model, images_to_tensor(render(shown, style, rng)), [class_name(c) for c in candidates])
    return float((logits.argmax(1) == labels).float().mean())


def zero_shot_report(model: torch.nn.Module, per_class: int = 10, seed: int = 12345) -> Dict[str, float]:
    """Zero-shot accuracy on seen and held-out combinations (64-way each, chance 1/64), the
    held-out ones among all 256 classes, and the same in the benchmark's shifted style."""
    combos = all_combos()
    held = [c for c in combos if held_out_in_pretraining(c)]
    seen_all = [c for c in combos if not held_out_in_pretraining(c)]
    seen = [seen_all[i] for i in np.random.default_rng(seed).choice(len(seen_all), 64, replace=False)]
    out: Dict[str, float] = {"chance_64way": 1 / 64, "chance_256way": 1 / 256}
    for tag, style in (("", PRETRAIN_STYLE), ("downstream_", DOWNSTREAM_STYLE)):
        out[f"{tag}seen_64way"] = accuracy_on(model, seen, style, per_class, seed)
        out[f"{tag}heldout_64way"] = accuracy_on(model, held, style, per_class, seed + 1)
        out[f"{tag}heldout_256way"] = accuracy_on(model, held, style, per_class, seed + 1, combos)
    return {k: round(v, 4) for k, v in out.items()}
