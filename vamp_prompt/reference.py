"""The naive computation, kept as the reference the fast path is tested and benchmarked against.

Per image and per sample: the full image towers (prompted and zero-shot, separately), then the
whole 12-block text tower on the full 77-token context for every class. No cache, no truncation,
no chunking. Same modules and weights as :class:`~vamp_prompt.model.VaMPModel`.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch.nn import functional as F

from .clip_backbone import tokenize
from .model import VaMPModel, head_logits
from .prompts import sample_latents


@torch.no_grad()
def naive_sample_logits(model: VaMPModel, images: torch.Tensor, head: str = "fusion",
                        n_samples: int = 1, mean_only: bool = False,
                        noise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Sample logits (B, S, C), one image and one sample at a time.

    ``noise`` (P, B, S, K, D) fixes the posterior draws so results match the fast path exactly.
    """
    cfg = model.cfg
    pl = model.prompt_learner
    vt, tt = model.vision_tower, model.text_tower
    depth = model.schedule.depth
    tokens = tokenize([model.template.format(c) for c in model.classnames]).to(images.device)
    n_classes = tokens.shape[0]
    deterministic = pl.distributions is None or mean_only or not cfg.variational
    n_draws = 1 if deterministic else n_samples
    has_prompts = model.schedule.num_layers > 0
    rows = []
    for b in range(images.shape[0]):
        image = images[b:b + 1]
        per_sample = []
        for s in range(n_draws):
            # Image towers, run in full for this sample.
            zero_shot = vt.project_cls(vt.run(vt.embed(image), 0, depth, None))
            if has_prompts:
                states = vt.run(vt.embed(image), 0, depth, pl.representation.vision_tokens())
                image_feature = vt.project_cls(states)
                rep = vt.visual.ln_post(states[1:1 + cfg.n_rep_tokens].mean(0)) @ pl.proj_rep
            else:
                image_feature = rep = zero_shot
            # Text prompts of this image and sample.
            text_prompts = pl.representation.text_tokens()
            if pl.distributions is not None and has_prompts:
                mean, logvar = pl.distributions.posterior_params(
                    F.normalize(zero_shot.float(), dim=-1))
                eps = None if noise is None else noise[:, b:b + 1, s:s + 1]
                z = sample_latents(mean, None if deterministic else logvar, 1,
                                   cfg.n_rep_tokens, noise=eps)[:, 0, 0]
                text_prompts = text_prompts + cfg.latent_scale * z
            expanded = text_prompts[:, None].expand(-1, n_classes, -1, -1) if has_prompts \
                else None
            text = F.normalize(tt(tokens, expanded, truncate=False).float(), dim=-1)
            scale = model.logit_scale.float()
            cls = scale * F.normalize(image_feature.float(), dim=-1) @ text.t()
            rep_logits = scale * F.normalize(rep.float(), dim=-1) @ text.t()
            per_sample.append(head_logits(cls, rep_logits, head, cfg.fusion_alpha))
        rows.append(torch.cat(per_sample, dim=0))
    return torch.stack(rows)
