"""Trainable prompt modules: the MMRL representation space and VaMP's text-prompt distributions.

Text prompt tokens of prompt layer i for image b and sample s (VaMP):

    t_i(b, s) = F_t^i(R) + latent_scale * z_i(b, s),   z_i ~ q(z_i | x_b) = N(mu_i, diag(sigma_i^2))

with [mu_i, log sigma_i^2] = phi_i(f_x) a bottleneck MLP of the frozen zero-shot image feature.
The deterministic "sample-specific" row uses z_i = mu_i; MMRL uses z_i = 0. Vision prompt tokens
F_v^i(R) are shared by all images.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .config import VaMPConfig


class RepresentationSpace(nn.Module):
    """MMRL's shared space R (K x d_r) and its per-layer projections into both towers."""

    def __init__(self, n_tokens: int, rep_dim: int, n_layers: int, text_width: int,
                 vision_width: int, init_std: float = 0.02):
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(n_tokens, rep_dim) * init_std)
        self.to_text = nn.ModuleList(nn.Linear(rep_dim, text_width) for _ in range(n_layers))
        self.to_vision = nn.ModuleList(nn.Linear(rep_dim, vision_width) for _ in range(n_layers))

    def text_tokens(self) -> torch.Tensor:
        """(P, K, D_text): F_t^i(R) for each prompt layer."""
        return torch.stack([proj(self.tokens) for proj in self.to_text])

    def vision_tokens(self) -> torch.Tensor:
        """(P, K, D_vision): F_v^i(R) for each prompt layer."""
        return torch.stack([proj(self.tokens) for proj in self.to_vision])


class GaussianMLP(nn.Module):
    """Bottleneck MLP in -> r -> (mean, log-variance) over ``out_dim``, computed in fp32.

    The mean head starts at zero, so a fresh model equals MMRL in the mean approximation.
    Without ``with_variance`` it is the deterministic generator of the sample-specific row.
    """

    def __init__(self, in_dim: int, out_dim: int, rank: int, with_variance: bool,
                 init_logvar: float = 0.0):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(in_dim, rank), nn.GELU())
        self.mean = nn.Linear(rank, out_dim)
        nn.init.zeros_(self.mean.weight)
        nn.init.zeros_(self.mean.bias)
        self.logvar = nn.Linear(rank, out_dim) if with_variance else None
        if self.logvar is not None:
            nn.init.zeros_(self.logvar.weight)
            nn.init.constant_(self.logvar.bias, init_logvar)

    def forward(self, code: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        with torch.autocast(device_type=code.device.type, enabled=False):
            h = self.trunk(code.float())
            return self.mean(h), None if self.logvar is None else self.logvar(h)


class TextPromptDistributions(nn.Module):
    """Per-layer posterior networks phi_i(f_x) and, for full VaMP, prior networks psi_i(c_y)."""

    def __init__(self, cfg: VaMPConfig, n_layers: int, feature_dim: int, text_width: int):
        super().__init__()
        self.cfg = cfg
        self.posterior = nn.ModuleList(
            GaussianMLP(feature_dim, text_width, cfg.generator_rank, cfg.variational,
                        cfg.init_logvar) for _ in range(n_layers))
        self.prior = None
        if cfg.class_prior:
            self.prior = nn.ModuleList(
                GaussianMLP(feature_dim, text_width, cfg.generator_rank, True, 0.0)
                for _ in range(n_layers))

    def _clamp(self, logvar: torch.Tensor) -> torch.Tensor:
        return logvar.clamp(self.cfg.logvar_min, self.cfg.logvar_max)

    def posterior_params(self, image_code: torch.Tensor
                         ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """(P, B, D) means and log-variances (None in the deterministic rows), fp32."""
        outs = [net(image_code) for net in self.posterior]
        mean = torch.stack([m for m, _ in outs])
        if not self.cfg.variational:
            return mean, None
        return mean, self._clamp(torch.stack([v for _, v in outs]))

    def prior_params(self, class_code: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Class-aware prior N(mu_hat, sigma_hat^2), (P, B, D) in fp32 (full VaMP only)."""
        if self.prior is None:
            raise RuntimeError("this variant has no class-aware prior (its prior is N(0, I))")
        outs = [net(class_code) for net in self.prior]
        return torch.stack([m for m, _ in outs]), self._clamp(torch.stack([v for _, v in outs]))


def sample_latents(mean: torch.Tensor, logvar: Optional[torch.Tensor], n_samples: int,
                   n_tokens: int, generator: Optional[torch.Generator] = None,
                   noise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Reparameterised draws z = mu + sigma * eps, one eps per token: (P, B, S, K, D) in fp32.

    ``logvar=None`` (deterministic rows, mean approximation) returns z = mu for every sample.
    ``noise`` (P, B, S, K, D) overrides eps, for tests comparing two computation paths.
    """
    p, b, d = mean.shape
    mu = mean[:, :, None, None, :].expand(p, b, n_samples, n_tokens, d)
    if logvar is None:
        return mu
    if noise is None:
        noise = torch.randn(p, b, n_samples, n_tokens, d, device=mean.device,
                            dtype=torch.float32, generator=generator)
    sigma = torch.exp(0.5 * logvar)[:, :, None, None, :]
    return mu + sigma * noise


def class_code(prototypes: torch.Tensor, labels: torch.Tensor,
               image_feature: Optional[torch.Tensor], mode: str) -> torch.Tensor:
    """The prior's input c_y: normalise(o_y), or normalise(o_y + f_x) (``prototype_instance``)."""
    code = prototypes[labels].float()
    if mode == "prototype_instance":
        code = code + image_feature.float()
    return F.normalize(code, dim=-1)
