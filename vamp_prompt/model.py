"""VaMP model: frozen CLIP towers + trainable prompt modules, with the fast flattened text pass.

Per batch of B images with S posterior samples and C classes:
  * one image pass gives the zero-shot feature f_x and the prompted CLS / representation features;
  * the text blocks before the first prompt layer run once per class set (cached), each class
    prompt cut after its own EOT (classes grouped by prompt length);
  * the remaining text blocks (the last one at the EOT row only) run on the (B*S) x C sequences
    as flattened chunks whose size comes from a memory budget; in training, chunks are recomputed
    in the backward pass (checkpointing), so peak memory does not grow with the number of classes.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from .clip_backbone import tokenize
from .config import VaMPConfig
from .losses import LossParts, layer_kl, negative_elbo
from .prompts import RepresentationSpace, TextPromptDistributions, class_code, sample_latents
from .towers import (ClassBuckets, PromptedTextTower, PromptedVisionTower, PromptSchedule,
                     TextPrefix)

logger = logging.getLogger(__name__)


@dataclass
class ModelOutput:
    logits_cls: torch.Tensor          # (B, S, C)  100 * cos(f_cls, t)
    logits_rep: torch.Tensor          # (B, S, C)  100 * cos(f_rep, t)
    image_feature: torch.Tensor       # (B, E) prompted CLS feature
    zero_shot_image: torch.Tensor     # (B, E) frozen CLIP feature (f_x before normalisation)
    text_zero_shot_cos: torch.Tensor  # (M, C) cos(t, t_zs) per prompt set; M = 1 (MMRL) or B*S
    posterior_mean: Optional[torch.Tensor] = None    # (P, B, D) latent means, fp32
    posterior_logvar: Optional[torch.Tensor] = None  # (P, B, D), None when deterministic

    def logits(self, head: str, fusion_alpha: float) -> torch.Tensor:
        return head_logits(self.logits_cls, self.logits_rep, head, fusion_alpha)


def head_logits(logits_cls: torch.Tensor, logits_rep: torch.Tensor, head: str,
                fusion_alpha: float) -> torch.Tensor:
    """Logits of one head: ``cls``, ``rep`` or ``fusion`` = a * cls + (1 - a) * rep."""
    if head == "cls":
        return logits_cls
    if head == "rep":
        return logits_rep
    if head == "fusion":
        return fusion_alpha * logits_cls + (1.0 - fusion_alpha) * logits_rep
    raise ValueError(f"unknown head {head!r}; expected fusion, cls or rep")


def average_probabilities(sample_logits: torch.Tensor) -> torch.Tensor:
    """Predictive distribution: the mean over samples of softmax(logits), in fp32. (B,S,C)->(B,C)"""
    return sample_logits.float().softmax(dim=-1).mean(dim=1)


class PromptLearner(nn.Module):
    """Everything VaMP trains: R and its projections, proj_rep, the posterior and prior networks."""

    def __init__(self, cfg: VaMPConfig, n_layers: int, text_width: int, vision_width: int,
                 embed_dim: int, frozen_proj: torch.Tensor):
        super().__init__()
        self.representation = RepresentationSpace(cfg.n_rep_tokens, cfg.rep_dim, n_layers,
                                                  text_width, vision_width, cfg.rep_init_std)
        # proj_rep starts as a copy of CLIP's frozen visual projection, then trains on its own.
        self.proj_rep = nn.Parameter(frozen_proj.detach().clone().float())
        self.distributions = (TextPromptDistributions(cfg, n_layers, embed_dim, text_width)
                              if cfg.sample_specific else None)


class VaMPModel(nn.Module):
    """CLIP ViT with MMRL prompts and VaMP's sample-specific variational text prompts."""

    def __init__(self, clip_model: nn.Module, cfg: VaMPConfig):
        super().__init__()
        depth = len(clip_model.transformer.resblocks)
        vision_depth = len(clip_model.visual.transformer.resblocks)
        if vision_depth != depth:
            raise ValueError(f"towers of different depth ({vision_depth} vs {depth})")
        if cfg.first_prompt_layer > depth:
            raise ValueError(f"first_prompt_layer={cfg.first_prompt_layer} but the CLIP towers "
                             f"have {depth} layers")
        self.cfg = cfg
        self.schedule = PromptSchedule(cfg.first_prompt_layer - 1, depth)
        self.text_tower = PromptedTextTower(clip_model, self.schedule)
        self.vision_tower = PromptedVisionTower(clip_model.visual, self.schedule)
        self.register_buffer("logit_scale", clip_model.logit_scale.detach().exp().clone())
        self.text_tower.requires_grad_(False)
        self.vision_tower.requires_grad_(False)
        embed_dim = clip_model.text_projection.shape[1]
        self.prompt_learner = PromptLearner(cfg, self.schedule.num_layers, self.text_tower.width,
                                            self.vision_tower.width, embed_dim,
                                            clip_model.visual.proj)
        self.register_buffer("prototypes", torch.zeros(0, embed_dim), persistent=False)
        self.classnames: List[str] = []
        self.template = "a photo of a {}."
        self._class_cache: Optional[tuple] = None

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
        """Trainable parameters per component (the paper: MMRL 4,992,256; VaMP about 5.132M)."""
        pl = self.prompt_learner
        rep = pl.representation
        counts = {
            "representation_space": rep.tokens.numel(),
            "text_projections": sum(p.numel() for p in rep.to_text.parameters()),
            "vision_projections": sum(p.numel() for p in rep.to_vision.parameters()),
            "proj_rep": pl.proj_rep.numel(),
            "posterior_networks": 0,
            "prior_networks": 0,
        }
        if pl.distributions is not None:
            counts["posterior_networks"] = sum(
                p.numel() for p in pl.distributions.posterior.parameters())
            if pl.distributions.prior is not None:
                counts["prior_networks"] = sum(
                    p.numel() for p in pl.distributions.prior.parameters())
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

    def set_prototypes(self, prototypes: torch.Tensor) -> None:
        """Class prototypes o_y (C, E) of the training classes, for the class-aware prior."""
        self.prototypes = prototypes.detach().float().to(self.logit_scale.device)

    def _cache_key(self, device: torch.device) -> tuple:
        params = list(self.text_tower.parameters())
        autocast = torch.is_autocast_enabled(device.type)
        return (tuple(self.classnames), self.template, device, autocast,
                torch.get_autocast_dtype(device.type) if autocast else None,
                tuple((p.data_ptr(), p._version) for p in params))

    def class_states(self, device: torch.device) -> Tuple[ClassBuckets, torch.Tensor]:
        """(class prompts bucketed by length with their text prefixes, normalised zero-shot text
        features (C, E)).

        Both depend only on the frozen text tower and the class set, so they are computed once
        and reused by every batch, image and sample; the key includes the weights' version
        counters, device and precision, so the cache is never stale.
        """
        if not self.classnames:
            raise RuntimeError("call set_classes(classnames, template) before the forward pass")
        key = self._cache_key(device)
        if self._class_cache is None or self._class_cache[0] != key:
            prompts = [self.template.format(name) for name in self.classnames]
            with torch.no_grad():
                buckets = self.text_tower.prefix_buckets(tokenize(prompts).to(device))
                zero_shot = self.encode_text_sets(buckets, None)[0]
            self._class_cache = (key, buckets, F.normalize(zero_shot.float(), dim=-1))
        return self._class_cache[1], self._class_cache[2]

    # ------------------------------------------------------------------------------- text pass
    def sequences_per_chunk(self, seq_len: int, dtype: torch.dtype, grad: bool) -> int:
        """How many text sequences fit the activation budget ``text_chunk_mb``.

        Per sequence and block: about 16 width-sized vectors per token (norms, q/k/v, attention
        output, 4x MLP hidden, residual) plus the heads x L x L attention scores; in training the
        recomputed chunk keeps every prompted block's activations alive for the backward pass.
        """
        width = self.text_tower.width
        heads = self.text_tower.transformer.resblocks[0].attn.num_heads
        elem = torch.finfo(dtype).bits // 8 if dtype.is_floating_point else 4
        per_block = (16 * seq_len * width + 2 * heads * seq_len * seq_len) * elem
        blocks = max(1, self.schedule.num_layers) if grad else 2
        budget = self.cfg.text_chunk_mb * 2 ** 20
        return max(1, int(budget // (per_block * blocks)))

    def encode_text_sets(self, buckets: ClassBuckets, prompt_sets: Optional[torch.Tensor],
                         reduce: Optional[Callable[[torch.Tensor, torch.Tensor, torch.Tensor],
                                                   torch.Tensor]] = None) -> torch.Tensor:
        """Text of every (prompt set, class) pair: prompt_sets (P, M, K, D) -> (M, C, E or k).

        ``prompt_sets=None`` encodes the classes without prompts (M = 1). Within each length
        bucket the M x C_b sequences are processed as flattened chunks (pair i = set i // C_b,
        class i % C_b). ``reduce(features (n, E), set_index (n,), class_index (n,)) -> (n, k)``
        is applied inside each chunk, so only k numbers per pair outlive it and memory does not
        grow with M x C x E. In training, chunks are recomputed in the backward pass when there is
        more than one.
        """
        n_sets = 1 if prompt_sets is None else prompt_sets.shape[1]
        n_prompt = 0 if prompt_sets is None else prompt_sets.shape[2]
        grad = torch.is_grad_enabled() and prompt_sets is not None and prompt_sets.requires_grad
        pieces = [(index, prefix, self.sequences_per_chunk(
            prefix.states.shape[0] + n_prompt, self._compute_dtype(prefix), grad))
            for index, prefix in buckets.buckets]
        use_checkpoint = grad and sum(
            -(-n_sets * index.numel() // chunk) for index, _, chunk in pieces) > 1

        values, slots = [], []
        for class_index, prefix, chunk in pieces:
            n_local = class_index.numel()

            def run(pair: torch.Tensor, sets: Optional[torch.Tensor], prefix=prefix,
                    class_index=class_index, n_local=n_local) -> torch.Tensor:
                set_index = pair // n_local
                feats = self.text_tower.from_prefix(prefix, pair % n_local, sets,
                                                    None if sets is None else set_index)
                if reduce is None:
                    return feats
                return reduce(feats, set_index, class_index[pair % n_local])

            for start in range(0, n_sets * n_local, chunk):
                pair = torch.arange(start, min(start + chunk, n_sets * n_local),
                                    device=class_index.device)
                if use_checkpoint:
                    values.append(checkpoint(run, pair, prompt_sets, use_reentrant=False))
                else:
                    values.append(run(pair, prompt_sets))
                slots.append((pair // n_local) * buckets.num_classes + class_index[pair % n_local])
        order = torch.argsort(torch.cat(slots))
        return torch.cat(values)[order].reshape(n_sets, buckets.num_classes, -1)

    @staticmethod
    def _compute_dtype(prefix: TextPrefix) -> torch.dtype:
        device = prefix.states.device.type
        return (torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device)
                else prefix.states.dtype)

    # ---------------------------------------------------------------------------------- forward
    def forward(self, images: torch.Tensor, n_samples: Optional[int] = None,
                mean_only: bool = False, noise: Optional[torch.Tensor] = None,
                generator: Optional[torch.Generator] = None) -> ModelOutput:
        """Logits of all heads for S posterior samples per image.

        ``n_samples`` defaults to ``train_samples`` when the prompt modules are in training mode
        and ``test_samples`` otherwise; the deterministic rows and ``mean_only`` (z = mu) always
        compute a single sample.
        """
        cfg = self.cfg
        pl = self.prompt_learner
        buckets, zero_shot_text = self.class_states(images.device)
        has_prompts = self.schedule.num_layers > 0

        # Image side: one pass for the zero-shot and the prompted features.
        vision_prompts = pl.representation.vision_tokens() if has_prompts else None
        states, zero_shot_image, image_feature = self.vision_tower(images, vision_prompts)
        if states is not None:
            rep_tokens = states[1:1 + cfg.n_rep_tokens].mean(0)
            rep_feature = self.vision_tower.visual.ln_post(rep_tokens) @ pl.proj_rep.to(
                rep_tokens.dtype)
        else:
            rep_feature = image_feature
        image_dirs = torch.stack([F.normalize(image_feature.float(), dim=-1),
                                  F.normalize(rep_feature.float(), dim=-1)], dim=1)  # (B, 2, E)

        # Text prompts: shared (MMRL) or one set per image and sample (VaMP).
        base = pl.representation.text_tokens()  # (P, K, D)
        post_mean = post_logvar = None
        if pl.distributions is None or not has_prompts:
            n_samples = 1
            prompt_sets = base[:, None]
        else:
            image_code = F.normalize(zero_shot_image.float(), dim=-1)
            post_mean, post_logvar = pl.distributions.posterior_params(image_code)
            stochastic = post_logvar is not None and not mean_only
            if n_samples is None:
                n_samples = cfg.train_samples if pl.training else cfg.test_samples
            n_samples = n_samples if stochastic else 1
            z = sample_latents(post_mean, post_logvar if stochastic else None, n_samples,
                               cfg.n_rep_tokens, generator, noise)
            p, b = z.shape[:2]
            prompt_sets = base[:, None] + cfg.latent_scale * z.reshape(p, b * n_samples,
                                                                       *z.shape[3:])

        batch = images.shape[0]
        if prompt_sets.shape[1] == 1:
            # One prompt set for all images: C text features, scored against every image.
            text = self.encode_text_sets(buckets, prompt_sets)[0] if has_prompts \
                else zero_shot_text
            text = F.normalize(text.float(), dim=-1)                       # (C, E)
            cos = torch.einsum("bhe,ce->bhc", image_dirs, text)[:, None]   # (B, 1, 2, C)
            text_cos = (text * zero_shot_text).sum(-1)[None]               # (1, C)
        else:
            # One prompt set per (image, sample): reduce each chunk to 3 cosines per pair.
            def scores(feats: torch.Tensor, set_index: torch.Tensor,
                       class_index: torch.Tensor) -> torch.Tensor:
                t = F.normalize(feats.float(), dim=-1)
                heads = torch.einsum("nhe,ne->nh", image_dirs[set_index // n_samples], t)
                zs = (t * zero_shot_text[class_index]).sum(-1, keepdim=True)
                return torch.cat([heads, zs], dim=-1)

            pair_scores = self.encode_text_sets(buckets, prompt_sets, scores)  # (B*S, C, 3)
            cos = pair_scores.reshape(batch, n_samples, -1, 3)[..., :2].transpose(2, 3)
            text_cos = pair_scores[..., 2]                                     # (B*S, C)

        scale = self.logit_scale.float()
        return ModelOutput(logits_cls=scale * cos[:, :, 0], logits_rep=scale * cos[:, :, 1],
                           image_feature=image_feature, zero_shot_image=zero_shot_image,
                           text_zero_shot_cos=text_cos, posterior_mean=post_mean,
                           posterior_logvar=post_logvar)

    # ------------------------------------------------------------------------------------- loss
    def kl_divergence(self, out: ModelOutput, labels: torch.Tensor) -> Optional[torch.Tensor]:
        """sum_i KL(q(z_i|x) || p(z_i)), batch mean; the prior is class-aware for full VaMP."""
        if out.posterior_logvar is None:
            return None
        pl = self.prompt_learner
        if self.cfg.class_prior:
            if self.prototypes.shape[0] == 0:
                raise RuntimeError("full VaMP needs class prototypes: call set_prototypes() "
                                   "(see compute_prototypes) before training")
            code = class_code(self.prototypes, labels,
                              F.normalize(out.zero_shot_image.float(), dim=-1),
                              self.cfg.prior_code)
            prior_mean, prior_logvar = pl.distributions.prior_params(code)
        else:
            prior_mean = torch.zeros_like(out.posterior_mean)
            prior_logvar = torch.zeros_like(out.posterior_mean)
        return layer_kl(out.posterior_mean, out.posterior_logvar, prior_mean, prior_logvar,
                        self.cfg.n_rep_tokens, self.cfg.kl_reduction)

    def loss(self, out: ModelOutput, labels: torch.Tensor) -> LossParts:
        """Negative ELBO (see :mod:`vamp_prompt.losses`)."""
        return negative_elbo(out.logits_cls, out.logits_rep, labels, out.image_feature,
                             out.zero_shot_image, out.text_zero_shot_cos,
                             self.cfg.fusion_alpha, self.cfg.consistency_weight,
                             self.kl_divergence(out, labels), self.cfg.kl_weight)

    # -------------------------------------------------------------------------------- inference
    @torch.no_grad()
    def predict(self, images: torch.Tensor, head: str = "fusion", n_samples: Optional[int] = None,
                mean_only: Optional[bool] = None,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Sample logits (B, S, C) of ``head``; average them with :func:`average_probabilities`."""
        if mean_only is None:
            mean_only = self.cfg.inference == "mean"
        out = self.forward(images, n_samples=n_samples, mean_only=mean_only, generator=generator)
        return out.logits(head, self.cfg.fusion_alpha)

    @torch.no_grad()
    def zero_shot_image_features(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised frozen-CLIP image features (no prompts), (B, E) in fp32."""
        _, zero_shot, _ = self.vision_tower(images, None)
        return F.normalize(zero_shot.float(), dim=-1)


@torch.no_grad()
def compute_prototypes(model: VaMPModel,
                       batches: Iterable[Tuple[torch.Tensor, torch.Tensor]],
                       num_classes: int) -> torch.Tensor:
    """o_y = mean over class-y images of the normalised frozen CLIP feature, (C, E) in fp32.

    ``batches`` yields (images, labels) (test-time transform, no augmentation).
    """
    sums = None
    counts = torch.zeros(num_classes)
    for images, labels in batches:
        feats = model.zero_shot_image_features(images).cpu()
        if sums is None:
            sums = torch.zeros(num_classes, feats.shape[1])
        sums.index_add_(0, labels.cpu(), feats)
        counts += torch.bincount(labels.cpu(), minlength=num_classes).float()
    if sums is None or (counts == 0).any():
        missing = [] if sums is None else torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"no training images for classes {missing or 'all'}: cannot build "
                         "the class-aware prior's prototypes")
    return sums / counts[:, None]
