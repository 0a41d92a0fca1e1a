"""The multi-modal prompt bases VaMP builds on: their shared, deterministic prompts and heads.

A base says where each tower takes prompt tokens (a :class:`~vamp_prompt.towers.PromptLayout`
per tower), produces the shared tokens of every slot, turns class names into token ids, and
reads its image heads off the vision tower. VaMP's sample-specific variational part is added on
top of ``text_tokens()`` by :mod:`vamp_prompt.latents`; the vision side stays the base's own.

* :class:`MMRLPrompts` -- MMRL (CVPR 2025, yunncheng/MMRL): a shared space R (K x d_r) mapped
  into both towers per layer; two heads (CLS, and the representation tokens through
  ``proj_rep``), fused ``a * cls + (1 - a) * rep``; logits ``100 * cos``.
* :class:`MaPLePrompts` -- MaPLe (CVPR 2023, muzairkhattak/multimodal-prompt-learning): learned
  text context at the input and deep text prompts, vision prompts coupled to them by linear maps;
  one head; logits ``exp(logit_scale) * cos``.
"""

from __future__ import annotations

import copy
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

from .clip_backbone import tokenize
from .config import VaMPConfig
from .towers import END, FRONT, PromptedVisionTower, PromptLayout, VisionOutput

#: MMRL multiplies cosines by a fixed 100 (trainers/mmrl.py); CLIP ViT-B/16's exp(logit_scale)
#: is 100.0 up to fp16 rounding, but a random or small CLIP has another temperature.
MMRL_LOGIT_SCALE = 100.0


def cloned_linears(in_dim: int, out_dim: int, n: int) -> nn.ModuleList:
    """One ``nn.Linear`` initialised once and deep-copied n times (all start identical), as both
    official codebases build their per-layer projections."""
    layer = nn.Linear(in_dim, out_dim)
    return nn.ModuleList(copy.deepcopy(layer) for _ in range(n))


class PromptBase(nn.Module):
    """Interface shared by the bases (see the module docstring)."""

    heads: Tuple[str, ...] = ("cls",)
    text_layout: PromptLayout
    vision_layout: PromptLayout
    n_tokens: int

    def text_tokens(self) -> torch.Tensor:
        """(P, K, D_text): the shared text tokens of every text slot."""
        raise NotImplementedError

    def vision_tokens(self) -> torch.Tensor:
        """(P_v, K, D_vision): the shared vision tokens of every vision slot."""
        raise NotImplementedError

    def class_token_ids(self, classnames: Sequence[str], template: str) -> torch.Tensor:
        """Token ids (C, 77) of the class sequences the prompted text tower runs on."""
        raise NotImplementedError

    def zero_shot_prompts(self, classnames: Sequence[str], template: str) -> List[str]:
        """The hand-crafted class prompts of the frozen zero-shot text features."""
        return [template.format(name) for name in classnames]

    def image_features(self, vision: VisionOutput, tower: PromptedVisionTower) -> Dict[str, torch.Tensor]:
        """Image feature of each head, (N, E) each."""
        return {"cls": vision.cls}

    def logit_scale(self, clip_logit_scale: torch.Tensor, override: float) -> torch.Tensor:
        """The factor on the cosines: ``override`` > 0, CLIP's own if < 0, else the base's rule."""
        if override > 0:
            return torch.tensor(float(override))
        return clip_logit_scale.detach().float().exp()

    def parameter_counts(self) -> Dict[str, int]:
        raise NotImplementedError


class MMRLPrompts(PromptBase):
    """MMRL's representation space R and its per-layer projections F_t^i, F_v^i; ``proj_rep``."""

    heads = ("cls", "rep")

    def __init__(
        self,
        cfg: VaMPConfig,
        depth: int,
        text_width: int,
        vision_width: int,
        embed_dim: int,
        clip_visual_proj: torch.Tensor,
    ):
        super().__init__()
        n_layers = depth - cfg.first_prompt_layer + 1
        self.n_tokens = cfg.n_rep_tokens
        self.text_layout = PromptLayout(cfg.first_prompt_layer - 1, n_layers, depth, FRONT)
        self.vision_layout = PromptLayout(cfg.first_prompt_layer - 1, n_layers, depth, FRONT)
        self.tokens = nn.Parameter(torch.randn(cfg.n_rep_tokens, cfg.rep_dim) * cfg.rep_init_std)
        self.to_text = cloned_linears(cfg.rep_dim, text_width, n_layers)
        self.to_vision = cloned_linears(cfg.rep_dim, vision_width, n_layers)
        if cfg.proj_rep_init == "clip":
            proj_rep = clip_visual_proj.detach().clone().float()
        else:  # the official code: a fresh width^-0.5 * N(0, 1) matrix (not in CLIP's checkpoint)
            proj_rep = vision_width**-0.5 * torch.randn(vision_width, embed_dim)
        self.proj_rep = nn.Parameter(proj_rep)

    def text_tokens(self) -> torch.Tensor:
        return torch.stack([proj(self.tokens) for proj in self.to_text])

    def vision_tokens(self) -> torch.Tensor:
        return torch.stack([proj(self.tokens) for proj in self.to_vision])

    def class_token_ids(self, classnames: Sequence[str], template: str) -> torch.Tensor:
        return tokenize(self.zero_shot_prompts(classnames, template))

    def image_features(self, vision: VisionOutput, tower: PromptedVisionTower) -> Dict[str, torch.Tensor]:
        """cls: CLIP's CLS read-out; rep: CLIP's frozen ``ln_post`` on each of the K representation
        tokens, then their mean, then ``proj_rep``:  f_rep = (1/K) sum_k ln_post(h_k) @ proj_rep."""
        tokens = tower.prompt_states(vision.states, self.n_tokens)  # (K, N, D)
        pooled = tower.visual.ln_post(tokens).mean(0)
        return {"cls": vision.cls, "rep": pooled @ self.proj_rep.to(pooled.dtype)}

    def logit_scale(self, clip_logit_scale: torch.Tensor, override: float) -> torch.Tensor:
        if override == 0:
            return torch.tensor(MMRL_LOGIT_SCALE)
        return super().logit_scale(clip_logit_scale, override)

    def parameter_counts(self) -> Dict[str, int]:
        return {
            "representation_space": self.tokens.numel(),
            "text_projections": sum(p.numel() for p in self.to_text.parameters()),
            "vision_projections": sum(p.numel() for p in self.to_vision.parameters()),
            "proj_rep": self.proj_rep.numel(),
        }


class MaPLePrompts(PromptBase):
    """MaPLe's context ``ctx`` (K x D_text, the shallow text prompt), its deep text prompts for
    blocks 1..depth-1, and the coupling maps text -> vision for each slot.

    Class sequences are the words of ``"<ctx_init> <name>."`` with the first K words' tokens taken
    out: the K learned tokens are inserted in their place at the input, so they take positions
    1..K as in MaPLe ("of a" and the name follow).
    """

    def __init__(self, cfg: VaMPConfig, depth: int, text_width: int, vision_width: int, token_embedding: nn.Embedding):
        super().__init__()
        if cfg.prompt_depth > depth:
            raise ValueError(f"prompt_depth={cfg.prompt_depth} but the CLIP towers have {depth} layers")
        n_ctx, n_deep = cfg.n_ctx, cfg.prompt_depth - 1
        self.n_tokens = n_ctx
        self.text_layout = PromptLayout(0, cfg.prompt_depth, depth, FRONT, at_input=True)
        self.vision_layout = PromptLayout(0, cfg.prompt_depth, depth, END, at_input=True)
        self.prefix_text = cfg.ctx_init.replace("_", " ").strip()
        if self.prefix_text:
            ids = tokenize(self.prefix_text)[0]
            words = int(ids.argmax()) - 1  # tokens between SOS and EOT
            if n_ctx > words:
                raise ValueError(
                    f"n_ctx={n_ctx} but ctx_init {cfg.ctx_init!r} has only {words} "
                    "tokens to initialise the context from"
                )
            with torch.no_grad():
                weight = token_embedding.weight
                ctx = weight[ids[1 : 1 + n_ctx].to(weight.device)].detach().clone().float()
        else:  # MaPLe's random initialisation; the placeholder words are "X X ..."
            ctx = torch.randn(n_ctx, text_width) * 0.02
            self.prefix_text = " ".join(["X"] * n_ctx)
        self.ctx = nn.Parameter(ctx)
        self.proj = nn.Linear(text_width, vision_width)
        self.deep_text = nn.Parameter(torch.randn(n_deep, n_ctx, text_width) * 0.02)
        self.deep_proj = cloned_linears(text_width, vision_width, n_deep)

    def text_tokens(self) -> torch.Tensor:
        return torch.cat([self.ctx[None], self.deep_text], dim=0)

    def vision_tokens(self) -> torch.Tensor:
        deep = [proj(self.deep_text[i]) for i, proj in enumerate(self.deep_proj)]
        return torch.stack([self.proj(self.ctx)] + deep)

    def class_token_ids(self, classnames: Sequence[str], template: str) -> torch.Tensor:
        ids = tokenize([f"{self.prefix_text} {name}." for name in classnames])
        k = self.n_tokens
        pad = torch.zeros(ids.shape[0], k, dtype=ids.dtype)
        return torch.cat([ids[:, :1], ids[:, 1 + k :], pad], dim=1)

    def parameter_counts(self) -> Dict[str, int]:
        return {
            "context": self.ctx.numel(),
            "context_projection": sum(p.numel() for p in self.proj.parameters()),
            "deep_text_prompts": self.deep_text.numel(),
            "deep_projections": sum(p.numel() for p in self.deep_proj.parameters()),
        }


def build_base(cfg: VaMPConfig, clip_model: nn.Module) -> PromptBase:
    """The base named by ``cfg.base`` for this CLIP."""
    depth = len(clip_model.transformer.resblocks)
    text_width = clip_model.ln_final.weight.shape[0]
    vision_width = clip_model.visual.conv1.out_channels
    if cfg.base == "maple":
        return MaPLePrompts(cfg, depth, text_width, vision_width, clip_model.token_embedding)
    if cfg.first_prompt_layer > depth:
        raise ValueError(f"first_prompt_layer={cfg.first_prompt_layer} but the CLIP towers have {depth} layers")
    return MMRLPrompts(
        cfg, depth, text_width, vision_width, clip_model.text_projection.shape[1], clip_model.visual.proj
    )
