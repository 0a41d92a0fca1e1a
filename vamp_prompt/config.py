"""Configuration of the VaMP core, validated when built (independent of Dassl/yacs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Dict, Tuple

#: The paper's ablation rows, in order; each adds one component to the previous one.
VARIANTS: Tuple[str, ...] = ("mmrl", "sample_specific", "variational", "vamp")
#: The multi-modal prompt bases VaMP builds on (the first is the paper's main one).
BASES: Tuple[str, ...] = ("mmrl", "maple")
#: Names of the row without VaMP's parts: the base alone (``mmrl`` is the paper's first row).
BASE_ONLY: Tuple[str, ...] = ("maple", "base")
INFERENCE_MODES: Tuple[str, ...] = ("monte_carlo", "mean")
PRIOR_CODES: Tuple[str, ...] = ("posterior_mean", "prototype", "prototype_instance")
POSTERIOR_TOKENS: Tuple[str, ...] = ("shared", "tokenwise")
PROJ_REP_INITS: Tuple[str, ...] = ("random", "clip")
OFFSET_SCALES: Tuple[str, ...] = ("absolute", "relative")
CODE_SCALES: Tuple[str, ...] = ("unit", "sqrt_dim")
KL_REDUCTIONS: Tuple[str, ...] = ("mean", "sum")
HEADS: Tuple[str, ...] = ("fusion", "cls", "rep")


@dataclass
class VaMPConfig:
    """Every knob of the model; defaults follow MMRL/VaMP for ViT-B/16 (see README, config keys)."""

    variant: str = "vamp"  # row: mmrl (or maple / base) | sample_specific | variational | vamp
    base: str = "mmrl"  # the multi-modal prompt base: mmrl | maple
    # MMRL base
    n_rep_tokens: int = 5  # K, tokens of the representation space / prompts per layer
    rep_dim: int = 512  # d_r, width of the shared representation space R
    first_prompt_layer: int = 6  # 1-indexed; prompts enter blocks first..last of both towers
    rep_init_std: float = 0.02  # R ~ N(0, std^2)
    proj_rep_init: str = "random"  # random (official MMRL) | clip (copy of CLIP's visual proj)
    fusion_alpha: float = 0.7  # a: fusion = a * cls + (1 - a) * rep (logits and CE)
    consistency_weight: float = 1.0  # lambda of the two zero-shot consistency terms
    # MaPLe base
    n_ctx: int = 2  # learned context tokens (replace the first n_ctx words)
    prompt_depth: int = 9  # slots: the input + blocks 1..prompt_depth-1
    ctx_init: str = "a photo of a"  # the words the context starts from ('' = random)
    # both bases
    logit_scale: float = 0.0  # 0: the base's (MMRL 100, MaPLe CLIP's); < 0: CLIP's; > 0
    # VaMP
    posterior_tokens: str = "shared"  # shared (one Gaussian per slot) | tokenwise (K x D means)
    generator_rank: int = 6  # bottleneck width r of each generator / prior MLP
    latent_scale: float = 0.02  # text token offset = latent_scale * z (see offset_scale)
    offset_scale: str = "absolute"  # absolute: c = latent_scale | relative: latent_scale * rms(T_i)
    code_scale: str = "unit"  # posterior input: normalise(f_x) (unit) or times sqrt(E)
    init_logvar: float = 0.0  # initial posterior log-variance (sigma = 1 in latent units)
    logvar_min: float = -8.0  # clamp of every predicted log-variance (fp32)
    logvar_max: float = 4.0
    prior_code: str = "posterior_mean"  # class code: posterior_mean | prototype | prototype_instance
    prototype_grad: bool = False  # gradients through the posterior-mean prototypes
    kl_weight: float = 0.1  # beta of the negative ELBO
    kl_reduction: str = "mean"  # KL over the K x d latent dims: mean | sum (summed over layers)
    train_samples: int = 1  # posterior samples per training image
    test_samples: int = 10  # S, Monte-Carlo samples at evaluation
    inference: str = "monte_carlo"  # monte_carlo | mean (z = mu, one pass)
    text_chunk_mb: float = 256.0  # activation budget of one chunk of text sequences

    def __post_init__(self) -> None:
        _choice("variant", self.variant, VARIANTS + BASE_ONLY)
        _choice("base", self.base, BASES)
        if self.variant in BASES and self.variant != self.base:
            raise ValueError(
                f"variant {self.variant!r} is the {self.variant} base alone, but base is "
                f"{self.base!r}: use variant {self.base!r} (or 'base')"
            )
        _choice("posterior_tokens", self.posterior_tokens, POSTERIOR_TOKENS)
        _choice("proj_rep_init", self.proj_rep_init, PROJ_REP_INITS)
        _choice("offset_scale", self.offset_scale, OFFSET_SCALES)
        _choice("code_scale", self.code_scale, CODE_SCALES)
        _choice("inference", self.inference, INFERENCE_MODES)
        _choice("prior_code", self.prior_code, PRIOR_CODES)
        _choice("kl_reduction", self.kl_reduction, KL_REDUCTIONS)
        for name in (
            "n_rep_tokens",
            "rep_dim",
            "first_prompt_layer",
            "generator_rank",
            "train_samples",
            "test_samples",
            "n_ctx",
            "prompt_depth",
        ):
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
    def n_tokens(self) -> int:
        """K, prompt tokens per slot: MMRL's representation tokens or MaPLe's context length."""
        return self.n_ctx if self.base == "maple" else self.n_rep_tokens

    @property
    def base_only(self) -> bool:
        """The base alone (MMRL or MaPLe reproduced): no VaMP part."""
        return self.variant in BASES + ("base",)

    @property
    def sample_specific(self) -> bool:
        """Text prompts depend on the image (every row but the base alone)."""
        return not self.base_only

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
