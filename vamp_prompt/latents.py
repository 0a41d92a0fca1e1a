"""VaMP's sample-specific, variational text prompts: posterior and prior networks, sampling.

Text tokens of prompt slot i for image b and sample s:

    t_i(b, s) = T_i + c_i * z_i(b, s),   z_i ~ q(z_i | x_b) = N(mu_i, diag(sigma_i^2))

with T_i the base's shared tokens (MMRL: F_t^i(R); MaPLe: its context / deep prompt), c_i the
offset scale (:func:`latent_offsets`) and [mu_i, log sigma_i^2] = phi_i(u), a bottleneck MLP of
the frozen zero-shot image feature u = normalise(f_x) (times sqrt(E) with ``code_scale``
``sqrt_dim``, so its entries are of unit size). The
deterministic "sample-specific" row uses z_i = mu_i; MMRL / MaPLe use z_i = 0.

Latent shapes: means and log-variances are (P, B, T, D) with T = 1 (``shared``: the K tokens of
a slot share one Gaussian, each token draws its own noise) or T = K (``tokenwise``: each token has
its own mean and variance, z_i in R^(K x D) as the paper writes it); samples are (P, B, S, K, D).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .config import VaMPConfig

Gaussian = Tuple[torch.Tensor, Optional[torch.Tensor]]  # mean, log-variance (None: deterministic)


def soft_clamp(x: torch.Tensor, low: float, high: float, sharpness: float = 2.0) -> torch.Tensor:
    """A smooth bound into (low, high): identity in the middle, gradient everywhere.

        y = high - softplus(high - (low + softplus(x - low)))    (softplus with ``sharpness``)

    Unlike a hard clamp it never stops gradients, so a log-variance pushed past a bound can come
    back. Deviation from x is below exp(-sharpness * d) / sharpness at distance d from a bound.
    """
    y = low + F.softplus(x - low, beta=sharpness)
    return high - F.softplus(high - y, beta=sharpness)


class GaussianHead(nn.Module):
    """Bottleneck MLP ``code -> r -> (mean, log-variance)`` over T x D, computed in fp32.

    ``tokens`` = 1: one D-vector per head output (shared by the K tokens). ``tokens`` = K: a
    low-rank token-wise head, mean_k = W (h * g_k) + b_k with per-token gains g_k (r) and biases
    b_k (D) around one shared W (r x D). A code that already has a token axis (B, K, in) is mapped
    token by token. The mean head starts at zero (a fresh model equals its base in the mean
    approximation); the log-variance head starts at ``init_logvar``.
    """

    def __init__(
        self, in_dim: int, out_dim: int, rank: int, tokens: int, with_variance: bool, init_logvar: float = 0.0
    ):
        super().__init__()
        self.tokens = tokens
        self.trunk = nn.Sequential(nn.Linear(in_dim, rank), nn.GELU())
        self.mean = _TokenLinear(rank, out_dim, tokens, bias_init=0.0)
        self.logvar = _TokenLinear(rank, out_dim, tokens, bias_init=init_logvar) if with_variance else None

    def forward(self, code: torch.Tensor) -> Gaussian:
        """code (B, in) or (B, T, in) -> mean, log-variance (B, T, D) in fp32."""
        with torch.autocast(device_type=code.device.type, enabled=False):
            h = self.trunk(code.float())
            if h.dim() == 2:
                h = h[:, None, :]
            return self.mean(h), None if self.logvar is None else self.logvar(h)


class _TokenLinear(nn.Module):
    """(B, T', r) -> (B, T, D): a shared zero-initialised linear map, with per-token gains and
    biases when T > 1 (gains start at 1)."""

    def __init__(self, rank: int, out_dim: int, tokens: int, bias_init: float):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_dim, rank))
        self.bias = nn.Parameter(torch.full((tokens, out_dim), float(bias_init)))
        self.gain = nn.Parameter(torch.ones(tokens, rank)) if tokens > 1 else None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.gain is not None:
            h = h * self.gain
        return h @ self.weight.t() + self.bias


class TextLatents(nn.Module):
    """Per-slot posterior networks phi_i(f_x) and, for full VaMP, prior networks psi_i(c_y)."""

    def __init__(self, cfg: VaMPConfig, n_slots: int, n_tokens: int, feature_dim: int, text_width: int):
        super().__init__()
        self.cfg = cfg
        self.n_tokens = n_tokens
        tokens = n_tokens if cfg.posterior_tokens == "tokenwise" else 1
        self.posterior = nn.ModuleList(
            GaussianHead(feature_dim, text_width, cfg.generator_rank, tokens, cfg.variational, cfg.init_logvar)
            for _ in range(n_slots)
        )
        self.prior = None
        if cfg.class_prior:
            code_dim = text_width if cfg.prior_code == "posterior_mean" else feature_dim
            self.prior = nn.ModuleList(
                GaussianHead(code_dim, text_width, cfg.generator_rank, tokens, True, cfg.init_logvar)
                for _ in range(n_slots)
            )

    def bound(self, logvar: torch.Tensor) -> torch.Tensor:
        return soft_clamp(logvar, self.cfg.logvar_min, self.cfg.logvar_max)

    def scaled(self, image_code: torch.Tensor) -> torch.Tensor:
        """The posterior's input: the normalised image feature, times sqrt(E) if asked."""
        if self.cfg.code_scale == "sqrt_dim":
            return image_code * image_code.shape[-1] ** 0.5
        return image_code

    def posterior_params(self, image_code: torch.Tensor) -> Gaussian:
        """(P, B, T, D) means and log-variances (None in the deterministic rows), fp32."""
        image_code = self.scaled(image_code)
        outs = [net(image_code) for net in self.posterior]
        mean = torch.stack([m for m, _ in outs])
        if not self.cfg.variational:
            return mean, None
        return mean, self.bound(torch.stack([v for _, v in outs]))

    def posterior_means(self, image_code: torch.Tensor) -> torch.Tensor:
        """Posterior means only (P, B, T, D): the class prototypes are built from these."""
        image_code = self.scaled(image_code)
        return torch.stack([net(image_code)[0] for net in self.posterior])

    def prior_params(self, class_codes: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Class-aware prior N(mu_hat_i, sigma_hat_i^2) per slot, (P, B, T, D) in fp32.

        ``class_codes[i]`` is slot i's class code: (B, E) for the feature prototypes, or
        (B, T, D) for the posterior-mean prototypes.
        """
        if self.prior is None:
            raise RuntimeError("this variant has no class-aware prior (its prior is N(0, I))")
        if self.cfg.prior_code != "posterior_mean":  # feature codes: scaled like the posterior's
            class_codes = [self.scaled(code) for code in class_codes]
        outs = [net(code) for net, code in zip(self.prior, class_codes)]
        return (torch.stack([m for m, _ in outs]), self.bound(torch.stack([v for _, v in outs])))


def sample_latents(
    mean: torch.Tensor,
    logvar: Optional[torch.Tensor],
    n_samples: int,
    n_tokens: int,
    generator: Optional[torch.Generator] = None,
    noise: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Reparameterised draws z = mu + sigma * eps, one eps per token: (P, B, S, K, D) in fp32.

    ``logvar=None`` (deterministic rows, mean approximation) returns z = mu for every sample.
    ``noise`` (P, B, S, K, D) overrides eps (per-image seeded draws, or tests comparing paths).
    """
    p, b, t, d = mean.shape
    mu = (
        mean[:, :, None].expand(p, b, n_samples, n_tokens, d)
        if t == 1
        else mean[:, :, None].expand(p, b, n_samples, t, d)
    )
    if logvar is None:
        return mu
    if noise is None:
        noise = torch.randn(p, b, n_samples, n_tokens, d, device=mean.device, dtype=torch.float32, generator=generator)
    return mu + torch.exp(0.5 * logvar)[:, :, None] * noise.to(mean.device, torch.float32)


def per_image_noise(seeds: Sequence[int], shape: Tuple[int, int, int, int], device: torch.device) -> torch.Tensor:
    """eps for each image from its own CPU generator: shape (P, S, K, D) per image -> (P, B, S, K, D).

    With ``seeds`` derived from (run seed, image index in the split) every image gets the same
    draws whatever batch it shares and whatever the batch size or device (drawn on the CPU).
    """
    p, n_samples, k, d = shape
    draws = [
        torch.randn(n_samples, p, k, d, generator=torch.Generator().manual_seed(int(s))) for s in seeds
    ]  # sample-major, so the first S draws of a larger S are the same
    return torch.stack(draws).permute(2, 0, 1, 3, 4).to(device)


def image_seed(run_seed: int, index: int) -> int:
    """A 63-bit seed for image ``index`` of a split under ``run_seed`` (splitmix64 mixing)."""
    x = (int(run_seed) * 0x9E3779B97F4A7C15 + int(index) + 1) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (x ^ (x >> 31)) & 0x7FFFFFFFFFFFFFFF


def latent_offsets(z: torch.Tensor, cfg: VaMPConfig, shared: torch.Tensor) -> torch.Tensor:
    """The image-dependent part of the text tokens of each slot, added to the shared tokens T_i:

        absolute:  latent_scale * z_i
        relative:  latent_scale * rms(T_i) * z_i      (rms over the slot's K x D shared tokens)

    ``z`` is (P, ..., K, D), ``shared`` the shared tokens (P, K, D). The relative form measures the
    offset in units of the tokens it perturbs: the blocks read prompts through a LayerNorm, so
    only the offset's size relative to T_i changes what they see. rms(T_i) is a scale, not a path
    for gradients (detached).
    """
    if cfg.offset_scale == "relative":
        rms = shared.detach().float().pow(2).mean((-1, -2)).sqrt()
        return (cfg.latent_scale * rms).view(-1, *([1] * (z.dim() - 1))) * z
    return cfg.latent_scale * z


class LatentStatistics:
    """How much the sampled prompt part moves the text tokens, over an evaluation split.

    Per slot i, with c_i the offset scale and T_i the shared tokens (all relative to rms(T_i)):
      * ``offset_spread``: the spread across images of the mean offset c_i * mu_i(x)
        (sqrt of the per-dimension variance over images, averaged over dimensions);
      * ``offset_size``: rms of c_i * mu_i(x) (how far the mean prompt is from T_i);
      * ``noise_size``: c_i * mean sigma_i (the sampled part's typical size);
      * ``sigma``: the mean posterior sigma in latent units.
    Each is averaged over slots.
    """

    def __init__(self) -> None:
        self.count = 0
        self.sum_mean = self.sum_sq = self.sum_sigma = None
        self.scale = None

    @torch.no_grad()
    def update(self, mean: torch.Tensor, logvar: Optional[torch.Tensor], cfg: VaMPConfig, shared: torch.Tensor) -> None:
        """``mean`` / ``logvar`` (P, B, T, D) of one batch, ``shared`` (P, K, D)."""
        ones = torch.ones(mean.shape[0], 1, 1, 1, device=mean.device)
        scale = latent_offsets(ones, cfg, shared).flatten()  # c_i, (P,)
        rms = shared.detach().float().pow(2).mean((-1, -2)).sqrt()
        offset = mean.float() * (scale / rms).view(-1, 1, 1, 1)  # relative units
        flat = offset.flatten(2)  # (P, B, T*D)
        self.count += flat.shape[1]
        self.sum_mean = _add(self.sum_mean, flat.sum(1))
        self.sum_sq = _add(self.sum_sq, flat.pow(2).sum(1))
        if logvar is not None:
            sigma = torch.exp(0.5 * logvar.float()).flatten(2).mean(-1).sum(1)  # (P,)
            self.sum_sigma = _add(self.sum_sigma, sigma)
        self.scale = (scale / rms).cpu()

    def compute(self) -> dict:
        if not self.count:
            return {}
        mean = self.sum_mean / self.count
        second = self.sum_sq / self.count
        spread = (second - mean.pow(2)).clamp_min(0).mean(-1).sqrt()  # (P,)
        out = {"offset_spread": float(spread.mean()), "offset_size": float(second.mean(-1).sqrt().mean())}
        if self.sum_sigma is not None:
            sigma = self.sum_sigma.cpu() / self.count
            out["sigma"] = float(sigma.mean())
            out["noise_size"] = float((sigma * self.scale).mean())
        return out


def _add(total: Optional[torch.Tensor], value: torch.Tensor) -> torch.Tensor:
    return value if total is None else total + value
