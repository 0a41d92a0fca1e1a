"""Configuration of the VaMP core, validated when built (independent of Dassl/yacs)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Tuple

#: The paper's ablation rows, in order; each adds one component to the previous one.
VARIANTS: Tuple[str, ...] = ("mmrl", "sample_specific", "variational", "vamp")
INFERENCE_MODES: Tuple[str, ...] = ("monte_carlo", "mean")
PRIOR_CODES: Tuple[str, ...] = ("prototype", "prototype_instance")
KL_REDUCTIONS: Tuple[str, ...] = ("mean", "sum")
HEADS: Tuple[str, ...] = ("fusion", "cls", "rep")


@dataclass
class VaMPConfig:
    """Every knob of the model; defaults follow MMRL/VaMP for ViT-B/16 (see README, config keys)."""

    variant: str = "vamp"                 # ablation row: mmrl | sample_specific | variational | vamp
    n_rep_tokens: int = 5                 # K, tokens of the representation space / prompts per layer
    rep_dim: int = 512                    # d_r, width of the shared representation space R
    first_prompt_layer: int = 6           # 1-indexed; prompts enter blocks first..last of both towers
    rep_init_std: float = 0.02            # R ~ N(0, std^2)
    fusion_alpha: float = 0.7             # a: fusion = a * cls + (1 - a) * rep (logits and CE)
    consistency_weight: float = 1.0       # lambda of the two zero-shot consistency terms
    generator_rank: int = 6               # bottleneck width r of each generator / prior MLP
    latent_scale: float = 0.02            # text token offset = latent_scale * z
    init_logvar: float = 0.0              # initial posterior log-variance (sigma = 1 in latent units)
    logvar_min: float = -8.0              # clamp of every predicted log-variance (fp32)
    logvar_max: float = 4.0
    prior_code: str = "prototype"         # class code of the prior: prototype | prototype_instance
    kl_weight: float = 0.1                # beta of the negative ELBO
    kl_reduction: str = "mean"            # KL over the K x d latent dims: mean | sum (summed over layers)
    train_samples: int = 1                # posterior samples per training image
    test_samples: int = 10                # S, Monte-Carlo samples at evaluation
    inference: str = "monte_carlo"        # monte_carlo | mean (z = mu, one pass)
    text_chunk_mb: float = 256.0          # activation budget of one chunk of text sequences

    def __post_init__(self) -> None:
        _choice("variant", self.variant, VARIANTS)
        _choice("inference", self.inference, INFERENCE_MODES)
        _choice("prior_code", self.prior_code, PRIOR_CODES)
        _choice("kl_reduction", self.kl_reduction, KL_REDUCTIONS)
        for name in ("n_rep_tokens", "rep_dim", "first_prompt_layer", "generator_rank",
                     "train_samples", "test_samples"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"VaMPConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.fusion_alpha <= 1.0:
            raise ValueError(f"fusion_alpha must lie in [0, 1], got {self.fusion_alpha}")
        if self.logvar_min >= self.logvar_max:
            raise ValueError("logvar_min must be below logvar_max")
        if self.kl_weight < 0 or self.consistency_weight < 0 or self.latent_scale <= 0:
            raise ValueError("kl_weight and consistency_weight must be >= 0, latent_scale > 0")
        if self.text_chunk_mb <= 0:
            raise ValueError("text_chunk_mb must be > 0")

    @property
    def sample_specific(self) -> bool:
        """Text prompts depend on the image (all rows but MMRL)."""
        return self.variant != "mmrl"

    @property
    def variational(self) -> bool:
        """Text prompts are sampled from a Gaussian posterior."""
        return self.variant in ("variational", "vamp")

    @property
    def class_prior(self) -> bool:
        """The KL's prior is class-aware (full VaMP) rather than N(0, I)."""
        return self.variant == "vamp"

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Dict[str, Any]) -> "VaMPConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise KeyError(f"Unknown VaMPConfig keys {unknown}; known keys: {sorted(known)}")
        return cls(**values)


def _choice(name: str, value: str, allowed: Tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"VaMPConfig.{name} must be one of {allowed}, got {value!r}")
