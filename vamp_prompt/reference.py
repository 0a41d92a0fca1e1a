"""The naive computation, kept as the reference the fast path is tested and benchmarked against.

Per image and per sample: the full image towers (prompted and zero-shot, separately), then the
whole text tower on the full 77-token context for every class. No cache, no truncation, no
chunking. Same modules and weights as :class:`~vamp_prompt.model.VaMPModel`.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch.nn import functional as F

from .latents import latent_offsets, sample_latents
from .model import VaMPModel, head_logits


@torch.no_grad()
def naive_sample_logits(
    model: VaMPModel,
    images: torch.Tensor,
    head: str = "fusion",
    n_samples: int = 1,
    mean_only: bool = False,
    noise: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Sample logits (B, S, C), one image and one sample at a time.

    ``noise`` (P, B, S, K, D) fixes the posterior draws so results match the fast path exactly.
    """
    cfg, base, latents = model.cfg, model.base, model.latents
    vt, tt = model.vision_tower, model.text_tower
    tokens = base.class_token_ids(model.classnames, model.template).to(images.device)
    n_classes = tokens.shape[0]
    deterministic = latents is None or mean_only or not cfg.variational
    n_draws = 1 if deterministic else n_samples
    text_prompts = base.text_layout.has_prompts
    rows = []
    for b in range(images.shape[0]):
        image = images[b : b + 1]
        per_sample = []
        for s in range(n_draws):
            # Image towers, run in full for this sample.
            zero_shot = vt(image, None, read_only=False).cls
            vision = vt(
                image,
                base.vision_tokens() if base.vision_layout.has_prompts else None,
                zero_shot=False,
                read_only=False,
            )
            feats = (
                base.image_features(vision, vt) if vision.states is not None else {h: vision.cls for h in base.heads}
            )
            # Text prompts of this image and sample.
            prompts = base.text_tokens()
            if latents is not None:
                mean, logvar = latents.posterior_params(F.normalize(zero_shot.float(), dim=-1))
                eps = None if noise is None else noise[:, b : b + 1, s : s + 1]
                z = sample_latents(mean, None if deterministic else logvar, 1, base.n_tokens, noise=eps)[:, 0, 0]
                prompts = prompts + latent_offsets(z, cfg, prompts)
            expanded = prompts[:, None].expand(-1, n_classes, -1, -1) if text_prompts else None
            text = F.normalize(tt(tokens, expanded, truncate=False).float(), dim=-1)
            scale = model.logit_scale.float()
            logits = {h: scale * F.normalize(f.float(), dim=-1) @ text.t() for h, f in feats.items()}
            per_sample.append(head_logits(logits["cls"], logits.get("rep"), head, cfg.fusion_alpha))
        rows.append(torch.cat(per_sample, dim=0))
    return torch.stack(rows)
