"""VaMP model: frozen CLIP towers + a prompt base (MMRL or MaPLe) + VaMP's text latents.

Per batch of B images with S posterior samples and C classes:
  * one image pass gives the prompted head features and, where needed, the zero-shot feature f_x;
  * the text blocks before the first prompt slot run once per class set (cached), each class
    prompt cut after its own EOT (:mod:`vamp_prompt.text_pass`);
  * the remaining text blocks run on the (B*S) x C sequences in bounded chunks, reduced to
    cosines inside each chunk.
The prompt injection lives in :mod:`vamp_prompt.towers`, the objective in
:mod:`vamp_prompt.losses`, the posterior / prior networks in :mod:`vamp_prompt.latents`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .bases import PromptBase, build_base
from .config import VaMPConfig
from .latents import TextLatents, latent_offsets, sample_latents
from .losses import LossParts, layer_kl, negative_elbo
from .prototypes import PrototypeBank, class_codes
from .text_pass import encode_text_sets
from .towers import ClassBuckets, PromptedTextTower, PromptedVisionTower


@dataclass
class ModelOutput:
    logits_cls: torch.Tensor  # (B, S, C)  scale * cos(f_cls, t)
    logits_rep: Optional[torch.Tensor]  # (B, S, C)  scale * cos(f_rep, t); MMRL only
    image_feature: torch.Tensor  # (B, E) prompted CLS feature
    zero_shot_image: Optional[torch.Tensor]  # (B, E) frozen CLIP feature f_x (unnormalised)
    text_zero_shot_cos: Optional[torch.Tensor]  # (M, C) cos(t, t_zs) per prompt set; MMRL only
    posterior_mean: Optional[torch.Tensor] = None  # (P, B, T, D) latent means, fp32
    posterior_logvar: Optional[torch.Tensor] = None  # (P, B, T, D), None when deterministic

    def logits(self, head: str, fusion_alpha: float) -> torch.Tensor:
        return head_logits(self.logits_cls, self.logits_rep, head, fusion_alpha)


def head_logits(
    logits_cls: torch.Tensor, logits_rep: Optional[torch.Tensor], head: str, fusion_alpha: float
) -> torch.Tensor:
    """Logits of one head: ``cls``, ``rep`` or ``fusion`` = a * cls + (1 - a) * rep.

    A base with one head (MaPLe) answers every head with it.
    """
    if head not in ("fusion", "cls", "rep"):
        raise ValueError(f"unknown head {head!r}; expected fusion, cls or rep")
    if head == "cls" or logits_rep is None:
        return logits_cls
    if head == "rep":
        return logits_rep
    return fusion_alpha * logits_cls + (1.0 - fusion_alpha) * logits_rep


def average_probabilities(sample_logits: torch.Tensor) -> torch.Tensor:
    """Predictive distribution: the mean over samples of softmax(logits), in fp32. (B,S,C)->(B,C)"""
    return sample_logits.float().softmax(dim=-1).mean(dim=1)


class PromptLearner(nn.Module):
    """Everything VaMP trains: the base's shared prompts and the text latents' networks."""

    def __init__(self, base: PromptBase, latents: Optional[TextLatents]):
        super().__init__()
        self.base = base
        self.latents = latents


class VaMPModel(nn.Module):
    """CLIP ViT with a multi-modal prompt base and VaMP's sample-specific variational prompts."""

    def __init__(self, clip_model: nn.Module, cfg: VaMPConfig):
        super().__init__()
        depth = len(clip_model.transformer.resblocks)
        if len(clip_model.visual.transformer.resblocks) != depth:
            raise ValueError(f"towers of different depth ({len(clip_model.visual.transformer.resblocks)} vs {depth})")
        self.cfg = cfg
        base = build_base(cfg, clip_model)
        self.text_tower = PromptedTextTower(clip_model, base.text_layout)
        self.vision_tower = PromptedVisionTower(clip_model.visual, base.vision_layout)
        self.text_tower.requires_grad_(False)
        self.vision_tower.requires_grad_(False)
        embed_dim = clip_model.text_projection.shape[1]
        latents = (
            TextLatents(cfg, base.text_layout.n_slots, base.n_tokens, embed_dim, self.text_tower.width)
            if cfg.sample_specific and base.text_layout.has_prompts
            else None
        )
        self.prompt_learner = PromptLearner(base, latents)
        self.register_buffer("logit_scale", base.logit_scale(clip_model.logit_scale, cfg.logit_scale).clone())
        self.prototype_bank = PrototypeBank(embed_dim)
        self.classnames: List[str] = []
        self.template = "a photo of a {}."
        self._class_cache: Optional[tuple] = None
        self._text_cache: Optional[tuple] = None
        #: ``split`` or ``joined`` (the previous fast path; benchmark before/after), both exact.
        self.text_pass_method = "split"
        #: the vision towers' last block at the read rows only (False: every row, as before).
        self.vision_read_only = True

    @property
    def base(self) -> PromptBase:
        return self.prompt_learner.base

    @property
    def latents(self) -> Optional[TextLatents]:
        return self.prompt_learner.latents

    # ----------------------------------------------------------------- frozen / trainable split
    def train(self, mode: bool = True) -> "VaMPModel":
        """Only the prompt modules switch to training mode; CLIP stays in eval mode."""
        super().train(mode)
        self.text_tower.eval()
        self.vision_tower.eval()
        return self

    def trainable_parameters(self) -> List[nn.Parameter]:
        return [p for p in self.prompt_learner.parameters() if p.requires_grad]

    def trainable_state_dict(self) -> Dict[str, torch.Tensor]:
        """What a checkpoint needs: the prompt modules only (a few MB; CLIP is reloaded)."""
        return {k: v.detach().cpu() for k, v in self.prompt_learner.state_dict().items()}

    def load_trainable_state_dict(self, state: Dict[str, torch.Tensor]) -> None:
        self.prompt_learner.load_state_dict(state)

    def parameter_counts(self) -> Dict[str, int]:
        """Trainable parameters per component (MMRL 4,992,256 and MaPLe 3,555,072 for ViT-B/16)."""
        counts = dict(self.base.parameter_counts())
        latents = self.latents
        counts["posterior_networks"] = 0 if latents is None else sum(p.numel() for p in latents.posterior.parameters())
        counts["prior_networks"] = (
            0 if latents is None or latents.prior is None else sum(p.numel() for p in latents.prior.parameters())
        )
        counts["total"] = sum(counts.values())
        return counts

    # ----------------------------------------------------------------------- class set and caches
    def set_classes(self, classnames: Sequence[str], template: str = "a photo of a {}.") -> None:
        """Choose the class set and hand-crafted template; caches refresh on the next forward."""
        if "{}" not in template:
            raise ValueError(f"template {template!r} needs a '{{}}' for the class name")
        self.classnames = [str(c).replace("_", " ") for c in classnames]
        self.template = template
        self._class_cache = None
        self._text_cache = None

    def set_prototype_features(self, features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
        """The offline frozen features (N, E) and labels of the training images (class prior)."""
        self.prototype_bank.set(features, labels, num_classes)

    @property
    def needs_zero_shot_text(self) -> bool:
        return "rep" in self.base.heads  # MMRL's text consistency term

    def _cache_key(self, device: torch.device) -> tuple:
        params = list(self.text_tower.parameters())
        autocast = torch.is_autocast_enabled(device.type)
        return (
            tuple(self.classnames),
            self.template,
            device,
            autocast,
            torch.get_autocast_dtype(device.type) if autocast else None,
            tuple((p.data_ptr(), p._version) for p in params),
        )

    def class_states(self, device: torch.device) -> Tuple[ClassBuckets, Optional[torch.Tensor]]:
        """(class prompts bucketed by length with their text prefixes, normalised zero-shot text
        features (C, E), or None where the base does not use them).

        Both depend only on the frozen text tower and the class set, so they are computed once
        and reused by every batch, image and sample; the key includes the weights' version
        counters, device and precision, so the cache is never stale.
        """
        if not self.classnames:
            raise RuntimeError("call set_classes(classnames, template) before the forward pass")
        key = self._cache_key(device)
        if self._class_cache is None or self._class_cache[0] != key:
            ids = self.base.class_token_ids(self.classnames, self.template).to(device)
            with torch.no_grad():
                buckets = self.text_tower.prefix_buckets(ids)
                zero_shot = self.zero_shot_text_features(device) if self.needs_zero_shot_text else None
            self._class_cache = (key, buckets, zero_shot)
        return self._class_cache[1], self._class_cache[2]

    @torch.no_grad()
    def zero_shot_text_features(self, device: torch.device) -> torch.Tensor:
        """Normalised frozen-CLIP text features of the hand-crafted class prompts, (C, E) fp32."""
        from .clip_backbone import tokenize

        ids = tokenize(self.base.zero_shot_prompts(self.classnames, self.template)).to(device)
        features = self.text_tower(ids, None)
        return F.normalize(features.float(), dim=-1)

    def shared_text_features(
        self, buckets: ClassBuckets, prompt_sets: Optional[torch.Tensor], device: torch.device
    ) -> torch.Tensor:
        """Normalised text features (C, E) of one prompt set for every image of the batch.

        Without latents (the set is the base's own) and without gradients they depend only on
        the class set and the prompt parameters, so they are kept until either changes (the key
        holds the parameters' version counters), as the official MMRL keeps its text features
        during evaluation.
        """
        cacheable = not torch.is_grad_enabled() and self.latents is None  # else image-specific
        if cacheable:
            key = (
                self._cache_key(device),
                self.text_pass_method,
                prompt_sets is None,
                tuple((p.data_ptr(), p._version) for p in self.base.parameters()),
            )
            if self._text_cache is not None and self._text_cache[0] == key:
                return self._text_cache[1]
        text = encode_text_sets(
            self.text_tower, buckets, prompt_sets, self.cfg.text_chunk_mb, method=self.text_pass_method
        )[0]
        text = F.normalize(text.float(), dim=-1)
        if cacheable:
            self._text_cache = (key, text)
        return text

    # ---------------------------------------------------------------------------------- forward
    def text_prompt_sets(
        self,
        zero_shot_image: Optional[torch.Tensor],
        n_samples: int,
        mean_only: bool,
        noise: Optional[torch.Tensor],
        generator: Optional[torch.Generator],
    ):
        """Text prompt sets (P, M, K, D): one shared set (the base alone, M = 1) or one per image
        and sample (M = B * S), with the posterior's mean and log-variance."""
        shared = self.base.text_tokens()  # (P, K, D)
        if self.latents is None:
            return shared[:, None], 1, None, None
        image_code = F.normalize(zero_shot_image.float(), dim=-1)
        mean, logvar = self.latents.posterior_params(image_code)
        stochastic = logvar is not None and not mean_only
        n_samples = n_samples if stochastic else 1
        z = sample_latents(mean, logvar if stochastic else None, n_samples, self.base.n_tokens, generator, noise)
        p, b = z.shape[:2]
        offsets = latent_offsets(z, self.cfg, shared).reshape(p, b * n_samples, *z.shape[3:])
        return shared[:, None] + offsets, n_samples, mean, logvar

    def forward(
        self,
        images: torch.Tensor,
        n_samples: Optional[int] = None,
        mean_only: bool = False,
        noise: Optional[torch.Tensor] = None,
        generator: Optional[torch.Generator] = None,
        loss_terms: bool = True,
    ) -> ModelOutput:
        """Logits of all heads for S posterior samples per image.

        ``n_samples`` defaults to ``train_samples`` when the prompt modules are in training mode
        and ``test_samples`` otherwise; the deterministic rows and ``mean_only`` (z = mu) always
        compute a single sample. ``noise`` (P, B, S, K, D) fixes the posterior draws.
        ``loss_terms=False`` skips what only the loss reads (MMRL's consistency terms: the frozen
        image feature where the latents do not need it, and ``text_zero_shot_cos``).
        """
        cfg, base = self.cfg, self.base
        buckets, zero_shot_text = self.class_states(images.device)
        if not loss_terms:
            zero_shot_text = None
        text_prompts = base.text_layout.has_prompts
        vision_prompts = base.vision_tokens() if base.vision_layout.has_prompts else None
        need_zero_shot = self.latents is not None or ("rep" in base.heads and loss_terms)
        vision = self.vision_tower(images, vision_prompts, zero_shot=need_zero_shot, read_only=self.vision_read_only)
        features = (
            base.image_features(vision, self.vision_tower)
            if vision.states is not None
            else {head: vision.cls for head in base.heads}
        )
        image_dirs = torch.stack([F.normalize(features[h].float(), dim=-1) for h in base.heads], dim=1)  # (B, H, E)

        if n_samples is None:
            n_samples = cfg.train_samples if self.prompt_learner.training else cfg.test_samples
        prompt_sets, n_samples, post_mean, post_logvar = self.text_prompt_sets(
            vision.zero_shot, n_samples, mean_only, noise, generator
        )

        batch = images.shape[0]
        budget = cfg.text_chunk_mb
        if prompt_sets.shape[1] == 1:
            # One prompt set for all images: C text features, scored against every image.
            text = self.shared_text_features(buckets, prompt_sets if text_prompts else None, images.device)  # (C, E)
            cos = torch.einsum("bhe,ce->bhc", image_dirs, text)[:, None]  # (B, 1, H, C)
            text_cos = None if zero_shot_text is None else (text * zero_shot_text).sum(-1)[None]
        else:
            # One prompt set per (image, sample): reduce each chunk to a few cosines per pair.
            def scores(feats: torch.Tensor, set_index: torch.Tensor, class_index: torch.Tensor) -> torch.Tensor:
                t = F.normalize(feats.float(), dim=-1)
                out = [torch.einsum("nhe,ne->nh", image_dirs[set_index // n_samples], t)]
                if zero_shot_text is not None:
                    out.append((t * zero_shot_text[class_index]).sum(-1, keepdim=True))
                return torch.cat(out, dim=-1)

            pair_scores = encode_text_sets(
                self.text_tower, buckets, prompt_sets, budget, scores, method=self.text_pass_method
            )
            n_heads = image_dirs.shape[1]
            cos = pair_scores.reshape(batch, n_samples, -1, pair_scores.shape[-1])
            cos = cos[..., :n_heads].transpose(2, 3)  # (B, S, H, C)
            text_cos = pair_scores[..., n_heads] if zero_shot_text is not None else None

        scale = self.logit_scale.float()
        logits = {h: scale * cos[:, :, i] for i, h in enumerate(base.heads)}
        return ModelOutput(
            logits_cls=logits["cls"],
            logits_rep=logits.get("rep"),
            image_feature=features["cls"],
            zero_shot_image=vision.zero_shot,
            text_zero_shot_cos=text_cos,
            posterior_mean=post_mean,
            posterior_logvar=post_logvar,
        )

    # ------------------------------------------------------------------------------------- loss
    def prior_codes(
        self, labels: torch.Tensor, zero_shot_image: Optional[torch.Tensor], mode: Optional[str] = None
    ) -> List[torch.Tensor]:
        """The class-aware prior's input for each slot (see :mod:`vamp_prompt.prototypes`)."""
        image_code = None if zero_shot_image is None else F.normalize(zero_shot_image.float(), -1)
        codes = class_codes(
            mode or self.cfg.prior_code,
            self.prototype_bank,
            labels,
            image_code,
            self.latents.posterior_means,
            self.cfg.prototype_grad,
        )
        n_slots = self.base.text_layout.n_slots
        return [codes] * n_slots if codes.dim() == 2 else list(codes)

    def kl_divergence(self, out: ModelOutput, labels: torch.Tensor) -> Optional[torch.Tensor]:
        """sum_i KL(q(z_i|x) || p(z_i)), batch mean; the prior is class-aware for full VaMP."""
        if out.posterior_logvar is None:
            return None
        if self.cfg.class_prior:
            prior_mean, prior_logvar = self.latents.prior_params(self.prior_codes(labels, out.zero_shot_image))
        else:
            prior_mean = torch.zeros_like(out.posterior_mean)
            prior_logvar = torch.zeros_like(out.posterior_mean)
        return layer_kl(
            out.posterior_mean,
            out.posterior_logvar,
            prior_mean,
            prior_logvar,
            self.base.n_tokens,
            self.cfg.kl_reduction,
        )

    def loss(self, out: ModelOutput, labels: torch.Tensor) -> LossParts:
        """Negative ELBO (see :mod:`vamp_prompt.losses`)."""
        return negative_elbo(
            out.logits_cls,
            out.logits_rep,
            labels,
            out.image_feature,
            out.zero_shot_image,
            out.text_zero_shot_cos,
            self.cfg.fusion_alpha,
            self.cfg.consistency_weight,
            self.kl_divergence(out, labels),
            self.cfg.kl_weight,
        )

    @torch.no_grad()
    def class_prior_means(self) -> Optional[torch.Tensor]:
        """Prior means of every training class, (P, C, T, D), for the latent plots (or None)."""
        latents = self.latents
        if latents is None or latents.prior is None or self.prototype_bank.empty:
            return None
        classes = torch.arange(self.prototype_bank.num_classes, device=self.prototype_bank.features.device)
        mode = "prototype" if self.cfg.prior_code == "prototype_instance" else None  # no image
        return latents.prior_params(self.prior_codes(classes, None, mode))[0]

    def noise_shape(self, n_samples: int) -> Optional[Tuple[int, int, int, int]]:
        """Shape (P, S, K, D) of one image's posterior noise, or None where nothing is drawn."""
        if self.latents is None or not self.cfg.variational:
            return None
        return (self.base.text_layout.n_slots, n_samples, self.base.n_tokens, self.text_tower.width)

    # -------------------------------------------------------------------------------- inference
    @torch.no_grad()
    def predict(
        self,
        images: torch.Tensor,
        head: str = "fusion",
        n_samples: Optional[int] = None,
        mean_only: Optional[bool] = None,
        noise: Optional[torch.Tensor] = None,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """Sample logits (B, S, C) of ``head``; average them with :func:`average_probabilities`."""
        if mean_only is None:
            mean_only = self.cfg.inference == "mean"
        out = self.forward(
            images, n_samples=n_samples, mean_only=mean_only, noise=noise, generator=generator, loss_terms=False
        )
        return out.logits(head, self.cfg.fusion_alpha)

    @torch.no_grad()
    def zero_shot_image_features(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised frozen-CLIP image features (no prompts), (B, E) in fp32."""
        return F.normalize(self.vision_tower(images, None).cls.float(), dim=-1)
