"""Contrastive pretraining of the micro CLIP on the procedural world.

Loss per step (images i, captions j, logits l_ij = s cos(f_i, g_j), P the positive set: image i
has every attribute caption j names), the symmetric multi-positive InfoNCE

    L = 1/2 [ mean_i ( lse_j l_ij - lse_{j in P(i)} l_ij ) + mean_j ( lse_i l_ij - lse_{i in P(j)} l_ij ) ]

A batch is built from caption groups: an anchor combination plus variants that each change one
attribute (mostly the shape), two images per combination. The held-out combinations
(:func:`~vamp_prompt.micro.world.held_out_in_pretraining`) never appear.

Curriculum:

* captions: the first ``shape_warmup`` steps caption every image by its shape alone ("a photo of
  a {shape}."); after that a caption names one attribute (45%), two (10%) or all three (45%).
  Without the warm-up the shape words' text features collapsed (cosine 0.99998) and shape stayed
  at chance while colour was learned; with the warm-up but mostly full captions, shape dominated
  and colour fell near chance. One-attribute captions keep every attribute a target of its own.
* images: the first third of the steps draws centred, upright, fixed-size objects; the next
  third widens linearly to the full pretraining style.

Deterministic from the seed (one thread).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.nn import functional as F

from ..clip_backbone import tokenize
from .captions import Query, caption, positives, shape_caption
from .model import MicroArch, build_micro_clip, encode_text_to_eot, images_to_tensor
from .world import (
    COLOURS,
    EASY_STYLE,
    PATTERNS,
    PRETRAIN_STYLE,
    SHAPES,
    Combo,
    all_combos,
    blend,
    held_out_in_pretraining,
    render,
)


@dataclass(frozen=True)
class PretrainSpec:
    """Everything that determines the weights (its hash keys the cache)."""

    seed: int = 0
    steps: int = 600
    groups: int = 16  # caption groups per step
    group_size: int = 4  # anchor + variants
    images_per_combo: int = 2  # 16 x 4 x 2 = 128 images, 64 captions per step
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 50
    grad_clip: float = 1.0
    shape_variant: float = 0.6  # share of variants that change the shape
    shape_warmup: int = 150  # first steps: shape-only captions
    single_attribute: Tuple[float, float, float] = (0.15, 0.15, 0.15)  # captions naming one
    pair: float = 0.10  # captions naming two attributes (the rest name all three)
    arch: MicroArch = field(default_factory=MicroArch)

    def to_dict(self) -> dict:
        return asdict(self)


def pretraining_combos() -> List[Combo]:
    """The 192 combinations pretraining may show."""
    return [c for c in all_combos() if not held_out_in_pretraining(c)]


def _variant(anchor: Combo, rng: np.random.Generator, shape_share: float) -> Combo:
    sizes = (len(SHAPES), len(COLOURS), len(PATTERNS))
    for _ in range(50):
        draw = rng.uniform()
        attr = 0 if draw < shape_share else (1 if draw < (1 + shape_share) / 2 else 2)
        new = list(anchor)
        new[attr] = (anchor[attr] + 1 + int(rng.integers(sizes[attr] - 1))) % sizes[attr]
        if not held_out_in_pretraining(tuple(new)):
            return tuple(new)  # type: ignore[return-value]
    return anchor


def sample_batch(
    spec: PretrainSpec, rng: np.random.Generator, allowed: Sequence[Combo], shape_only: bool = False
) -> Tuple[List[Combo], List[str], List[Query]]:
    """Combinations of the images (``images_per_combo`` each) and one caption per combination
    (naming only the shape if ``shape_only``)."""
    combos: List[Combo] = []
    for _ in range(spec.groups):
        anchor = allowed[int(rng.integers(len(allowed)))]
        combos.append(anchor)
        combos += [_variant(anchor, rng, spec.shape_variant) for _ in range(spec.group_size - 1)]
    if shape_only:
        texts, queries = zip(*(shape_caption(c, rng) for c in combos))
    else:
        texts, queries = zip(*(caption(c, rng, spec.single_attribute, spec.pair) for c in combos))
    images = [c for c in combos for _ in range(spec.images_per_combo)]
    return images, list(texts), list(queries)


def multi_positive_infonce(logits: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE where every True entry of ``positive`` (images x captions) counts."""
    masked = logits.masked_fill(~positive, float("-inf"))
    image_side = torch.logsumexp(logits, 1) - torch.logsumexp(masked, 1)
    text_side = torch.logsumexp(logits, 0) - torch.logsumexp(masked, 0)
    return 0.5 * (image_side.mean() + text_side.mean())


def lr_at(step: int, spec: PretrainSpec) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < spec.warmup:
        return spec.lr * (step + 1) / spec.warmup
    progress = (step - spec.warmup) / max(1, spec.steps - spec.warmup)
    return spec.lr * 0.5 * (1 + math.cos(math.pi * progress))


def curriculum(step: int, steps: int):
    """Style at ``step``: easy for the first third, widening over the second, full after."""
    t = min(1.0, max(0.0, (step / max(1, steps) - 1 / 3) * 3))
    return blend(EASY_STYLE, PRETRAIN_STYLE, t)


class _TokenCache:
    def __init__(self) -> None:
        self.cache: Dict[str, torch.Tensor] = {}

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for text, row in zip(missing, tokenize(missing)):
                self.cache[text] = row
        return torch.stack([self.cache[t] for t in texts])


def pretrain(
    spec: PretrainSpec, log: Optional[Callable[[str], None]] = print, log_every: int = 50
) -> Tuple[torch.nn.Module, dict]:
    """Train a micro CLIP; returns the fp32 model and a summary (wall time, last losses)."""
    torch.manual_seed(spec.seed)
    rng = np.random.default_rng(spec.seed)
    model = build_micro_clip(spec.arch, spec.seed).train()
    optim = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay, foreach=True)
    allowed = pretraining_combos()
    tokens_of = _TokenCache()
    start, losses = time.time(), []
    for step in range(spec.steps):
        for group in optim.param_groups:
            group["lr"] = lr_at(step, spec)
        combos, texts, queries = sample_batch(spec, rng, allowed, step < spec.shape_warmup)
        images = images_to_tensor(render(combos, curriculum(step, spec.steps), rng, spec.arch.image_resolution))
        positive = torch.from_numpy(positives(combos, queries))
        img = F.normalize(model.encode_image(images), dim=-1)
        txt = F.normalize(encode_text_to_eot(model, tokens_of(texts)), dim=-1)
        logits = model.logit_scale.exp().clamp(max=100) * img @ txt.t()
        loss = multi_positive_infonce(logits, positive)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), spec.grad_clip)
        optim.step()
        losses.append(float(loss.detach()))
        if log and (step % log_every == 0 or step == spec.steps - 1):
            log(
                f"step {step + 1}/{spec.steps}  loss {np.mean(losses[-log_every:]):.3f}  "
                f"scale {float(model.logit_scale.detach().exp()):.1f}  {time.time() - start:.0f}s"
            )
    model.eval().requires_grad_(False)
    return model, {"pretrain_seconds": round(time.time() - start, 1), "final_loss": float(np.mean(losses[-log_every:]))}
