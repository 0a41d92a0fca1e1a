"""The training objective: MMRL's likelihood terms and VaMP's negative ELBO, in one place.

    -ELBO = E_q[ -log p(y | x, z) ]  +  beta * sum_i KL( q(z_i | x) || p(z_i | o_y) )

The expectation is estimated with the S reparameterised samples; -log p(y|x,z) is MMRL's loss
(cross-entropy of the class and representation heads plus the zero-shot consistency terms).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch
from torch.nn import functional as F


def gaussian_kl(mean_q: torch.Tensor, logvar_q: torch.Tensor, mean_p: torch.Tensor,
                logvar_p: torch.Tensor) -> torch.Tensor:
    """Elementwise KL(N(mean_q, exp(logvar_q)) || N(mean_p, exp(logvar_p))), in fp32:

        0.5 * (logvar_p - logvar_q + exp(logvar_q - logvar_p) + (mean_q - mean_p)^2 / exp(logvar_p) - 1)

    (The variance ratio is taken as one exponential so that q == p gives exactly 0.)
    """
    mean_q, logvar_q, mean_p, logvar_p = (t.float() for t in (mean_q, logvar_q, mean_p, logvar_p))
    return 0.5 * (logvar_p - logvar_q + torch.exp(logvar_q - logvar_p)
                  + (mean_q - mean_p).pow(2) * torch.exp(-logvar_p) - 1.0)


def layer_kl(mean_q: torch.Tensor, logvar_q: torch.Tensor, mean_p: torch.Tensor,
             logvar_p: torch.Tensor, n_tokens: int, reduction: str) -> torch.Tensor:
    """KL over one layer's K x D latent tokens, summed over layers, averaged over the batch.

    Inputs are (P, B, D); the K tokens of a layer share their mean and variance, so the KL of
    the K x D Gaussian is K times the KL over D. ``reduction='mean'`` divides by K x D.
    """
    kl = gaussian_kl(mean_q, logvar_q, mean_p, logvar_p)  # (P, B, D)
    per_layer = kl.mean(-1) if reduction == "mean" else kl.sum(-1) * n_tokens
    return per_layer.sum(0).mean()


def repeat_labels(labels: torch.Tensor, n_samples: int) -> torch.Tensor:
    """(B,) -> (B * S,): each label once per sample, matching logits reshaped from (B, S, C)."""
    return labels[:, None].expand(-1, n_samples).reshape(-1)


def consistency_terms(image_feature: torch.Tensor, zero_shot_image: torch.Tensor,
                      text_zero_shot_cos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MMRL's regularisers 1 - cos(f_cls, f_zs) and 1 - mean_c cos(t_c, t_c^zs).

    ``text_zero_shot_cos`` is cos(t_c, t_c^zs) per prompt set and class, (M, C): M = 1 for
    MMRL, B*S for VaMP (the mean then also runs over images and samples).
    """
    image_term = 1.0 - F.cosine_similarity(image_feature.float(), zero_shot_image.float(), -1)
    return image_term.mean(), 1.0 - text_zero_shot_cos.float().mean()


@dataclass
class LossParts:
    total: torch.Tensor
    likelihood: torch.Tensor      # -log p(y | x, z), averaged over samples (MMRL's loss)
    kl: torch.Tensor              # sum over layers of the KL, before beta
    ce_cls: torch.Tensor
    ce_rep: torch.Tensor
    image_consistency: torch.Tensor
    text_consistency: torch.Tensor

    def as_floats(self) -> Dict[str, float]:
        return {k: float(v.detach()) for k, v in self.__dict__.items()}


def negative_elbo(logits_cls: torch.Tensor, logits_rep: torch.Tensor, labels: torch.Tensor,
                  image_feature: torch.Tensor, zero_shot_image: torch.Tensor,
                  text_zero_shot_cos: torch.Tensor, fusion_alpha: float, consistency_weight: float,
                  kl: Optional[torch.Tensor], kl_weight: float) -> LossParts:
    """The objective. logits are (B, S, C); with ``kl=None`` (deterministic rows) it is MMRL's loss.

    likelihood = a * CE(cls) + (1 - a) * CE(rep) + lambda * (image + text consistency)
    total      = likelihood + beta * KL
    """
    b, s, c = logits_cls.shape
    targets = repeat_labels(labels, s)
    ce_cls = F.cross_entropy(logits_cls.float().reshape(b * s, c), targets)
    ce_rep = F.cross_entropy(logits_rep.float().reshape(b * s, c), targets)
    image_term, text_term = consistency_terms(image_feature, zero_shot_image, text_zero_shot_cos)
    likelihood = (fusion_alpha * ce_cls + (1.0 - fusion_alpha) * ce_rep
                  + consistency_weight * (image_term + text_term))
    kl_value = likelihood.new_zeros(()) if kl is None else kl
    return LossParts(total=likelihood + kl_weight * kl_value, likelihood=likelihood, kl=kl_value,
                     ce_cls=ce_cls, ce_rep=ce_rep, image_consistency=image_term,
                     text_consistency=text_term)
