"""The training objective: the base's likelihood terms and VaMP's negative ELBO, in one place.

    -ELBO = E_q[ -log p(y | x, z) ]  +  beta * sum_i KL( q(z_i | x) || p(z_i | o_y) )

The expectation is estimated with the S reparameterised samples. -log p(y|x,z) is the base's
loss: MMRL's (cross-entropy of the class and representation heads, weighted a and 1 - a, plus
the zero-shot consistency terms weighted lambda) or MaPLe's (cross-entropy of its one head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch
from torch.nn import functional as F


def gaussian_kl(
    mean_q: torch.Tensor, logvar_q: torch.Tensor, mean_p: torch.Tensor, logvar_p: torch.Tensor
) -> torch.Tensor:
    """Elementwise KL(N(mean_q, exp(logvar_q)) || N(mean_p, exp(logvar_p))), in fp32:

        0.5 * ( [exp(v) - 1 - v] + (mean_q - mean_p)^2 / exp(logvar_p) ),   v = logvar_q - logvar_p

    The bracket is computed as ``expm1(v) - v`` and bounded below by 0 (it is >= 0 in exact
    arithmetic; the textbook form ``exp(v) - v - 1`` rounds to small negative values in fp32), so
    the KL is never negative and exactly 0 when q == p.
    """
    mean_q, logvar_q, mean_p, logvar_p = (t.float() for t in (mean_q, logvar_q, mean_p, logvar_p))
    v = logvar_q - logvar_p
    variance_term = (torch.expm1(v) - v).clamp_min(0.0)
    return 0.5 * (variance_term + (mean_q - mean_p).pow(2) * torch.exp(-logvar_p))


def layer_kl(
    mean_q: torch.Tensor,
    logvar_q: torch.Tensor,
    mean_p: torch.Tensor,
    logvar_p: torch.Tensor,
    n_tokens: int,
    reduction: str,
) -> torch.Tensor:
    """KL over each slot's K x D latent tokens, summed over slots, averaged over the batch.

    Inputs are (P, B, T, D) with T = 1 (the K tokens share one Gaussian: the K x D KL is K times
    the D-dim one) or T = K. ``reduction='sum'`` is the KL of the K x D Gaussian; ``'mean'``
    divides it by K x D (a per-dimension KL).
    """
    kl = gaussian_kl(mean_q, logvar_q, mean_p, logvar_p)  # (P, B, T, D)
    per_slot = kl.sum((-1, -2)) * (n_tokens / kl.shape[-2])
    if reduction == "mean":
        per_slot = per_slot / (n_tokens * kl.shape[-1])
    return per_slot.sum(0).mean()


def repeat_labels(labels: torch.Tensor, n_samples: int) -> torch.Tensor:
    """(B,) -> (B * S,): each label once per sample, matching logits reshaped from (B, S, C)."""
    return labels[:, None].expand(-1, n_samples).reshape(-1)


def consistency_terms(
    image_feature: torch.Tensor, zero_shot_image: torch.Tensor, text_zero_shot_cos: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """MMRL's regularisers 1 - cos(f_cls, f_zs) and 1 - mean_c cos(t_c, t_c^zs).

    ``text_zero_shot_cos`` is cos(t_c, t_c^zs) per prompt set and class, (M, C): M = 1 for
    MMRL, B*S for VaMP (the mean then also runs over images and samples).
    """
    image_term = 1.0 - F.cosine_similarity(image_feature.float(), zero_shot_image.float(), -1)
    return image_term.mean(), 1.0 - text_zero_shot_cos.float().mean()


@dataclass
class LossParts:
    total: torch.Tensor
    likelihood: torch.Tensor  # -log p(y | x, z), averaged over samples (the base's loss)
    kl: torch.Tensor  # sum over slots of the KL, before beta
    ce_cls: torch.Tensor
    ce_rep: torch.Tensor
    image_consistency: torch.Tensor
    text_consistency: torch.Tensor

    def as_floats(self) -> Dict[str, float]:
        return {k: float(v.detach()) for k, v in self.__dict__.items()}


def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    b, s, c = logits.shape
    return F.cross_entropy(logits.float().reshape(b * s, c), repeat_labels(labels, s))


def negative_elbo(
    logits_cls: torch.Tensor,
    logits_rep: Optional[torch.Tensor],
    labels: torch.Tensor,
    image_feature: torch.Tensor,
    zero_shot_image: Optional[torch.Tensor],
    text_zero_shot_cos: Optional[torch.Tensor],
    fusion_alpha: float,
    consistency_weight: float,
    kl: Optional[torch.Tensor],
    kl_weight: float,
) -> LossParts:
    """The objective; logits are (B, S, C). ``kl=None``: a deterministic row (the base's loss).

    MMRL:  likelihood = a * CE(cls) + (1 - a) * CE(rep) + lambda * (image + text consistency)
    MaPLe: likelihood = CE(cls)            (``logits_rep=None``, no consistency terms)
    total = likelihood + beta * KL
    """
    ce_cls = _cross_entropy(logits_cls, labels)
    zero = ce_cls.new_zeros(())
    if logits_rep is None:
        ce_rep = image_term = text_term = zero
        likelihood = ce_cls
    else:
        ce_rep = _cross_entropy(logits_rep, labels)
        image_term, text_term = consistency_terms(image_feature, zero_shot_image, text_zero_shot_cos)
        likelihood = (
            fusion_alpha * ce_cls + (1.0 - fusion_alpha) * ce_rep + consistency_weight * (image_term + text_term)
        )
    kl_value = zero if kl is None else kl
    return LossParts(
        total=likelihood + kl_weight * kl_value,
        likelihood=likelihood,
        kl=kl_value,
        ce_cls=ce_cls,
        ce_rep=ce_rep,
        image_consistency=image_term,
        text_consistency=text_term,
    )
