"""The yacs side: every ``TRAINER.VAMP.*`` key, and the mapping to :class:`VaMPConfig`."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Dict

import yaml

from ..config import VaMPConfig

#: TRAINER.VAMP keys: (default, meaning). The README's config table is written from this.
VAMP_KEYS: Dict[str, tuple] = {
    "VARIANT": ("vamp", "row: mmrl (MaPLe: maple) = the base alone | sample_specific | variational | vamp"),
    "BASE": ("mmrl", "multi-modal prompt base: mmrl | maple"),
    "N_REP_TOKENS": (5, "MMRL: K, representation tokens / prompt tokens per layer"),
    "REP_DIM": (0, "d_r, width of the representation space; <= 0: per-dataset default (512, EuroSAT 2048)"),
    "FIRST_PROMPT_LAYER": (6, "1-indexed first prompt layer of both towers (6: layers 6..12)"),
    "REP_INIT_STD": (0.02, "MMRL: R ~ N(0, std^2)"),
    "PROJ_REP_INIT": (
        "random",
        "MMRL: proj_rep starts as width^-0.5 * N(0, 1) (random, the official "
        "code) | a copy of CLIP's visual projection (clip)",
    ),
    "N_CTX": (2, "MaPLe: learned context tokens, replacing the first N_CTX words of CTX_INIT"),
    "PROMPT_DEPTH": (9, "MaPLe: prompt slots (the input + blocks 1..PROMPT_DEPTH-1)"),
    "CTX_INIT": ("a photo of a", "MaPLe: the prompt's words; the context starts from the first N_CTX ('' = random)"),
    "LOGIT_SCALE": (0.0, "0: the base's (MMRL: 100, MaPLe: exp of CLIP's logit_scale); < 0: CLIP's; > 0: this value"),
    "ALPHA": (0.7, "fusion weight a of the class head (1 - a for the representation head)"),
    "LAMBDA": (-1.0, "weight of the zero-shot consistency terms; < 0: per-dataset default"),
    "TEMPLATE": ("", "hand-crafted text template with {}; empty: per-dataset default"),
    "POSTERIOR_TOKENS": (
        "shared",
        "shared (one Gaussian per slot, K tokens draw their own noise) | tokenwise (a K x D mean / variance per slot)",
    ),
    "GENERATOR_RANK": (6, "bottleneck width of each posterior / prior MLP"),
    "LATENT_SCALE": (
        0.02,
        "text prompt offset = LATENT_SCALE * z (OFFSET_SCALE absolute) or LATENT_SCALE * rms(T_i) * z (relative)",
    ),
    "OFFSET_SCALE": ("absolute", "absolute | relative: the offset in units of the shared tokens' rms"),
    "CODE_SCALE": ("unit", "posterior input: normalise(f_x) (unit) | times sqrt(E) (sqrt_dim)"),
    "INIT_LOGVAR": (0.0, "initial posterior log-variance"),
    "LOGVAR_MIN": (-8.0, "smooth lower bound of predicted log-variances"),
    "LOGVAR_MAX": (4.0, "smooth upper bound of predicted log-variances"),
    "PRIOR_CODE": (
        "posterior_mean",
        "class code of the prior: posterior_mean (per slot, mean of the "
        "class's posterior means) | prototype | prototype_instance",
    ),
    "PROTOTYPE_GRAD": (False, "gradients flow through the posterior-mean prototypes"),
    "BETA": (0.1, "KL weight of the negative ELBO"),
    "KL_REDUCTION": ("mean", "KL over the K x d latent dims: mean | sum (always summed over layers)"),
    "TRAIN_SAMPLES": (1, "posterior samples per training image"),
    "TEST_SAMPLES": (10, "S, Monte-Carlo samples per test image"),
    "INFERENCE": ("monte_carlo", "monte_carlo (average S samples' probabilities) | mean (z = mu)"),
    "TEXT_CHUNK_MB": (256.0, "activation budget (MB) of one chunk of text sequences"),
    "PREC": (
        "auto",
        "auto (fp16 autocast on CUDA, fp32 on CPU) | fp32 | fp16 | bf16; posterior, KL and softmax stay fp32",
    ),
    "EVAL_HEAD": ("auto", "auto | fusion | cls | rep (auto: see README, which head predicts)"),
    "SAVE_PER_IMAGE": (False, "write per_image.csv (path, label, prediction, confidence, entropy, MI)"),
    "UNCERTAINTY_ANALYSIS": (False, "after testing, write uncertainty/ (S sweep, latents) for plots"),
    "PROTOTYPE_BATCH_SIZE": (64, "batch size of the offline prototype pass"),
    "CUDNN_BENCHMARK": (False, "torch.backends.cudnn.benchmark (faster convolutions, not deterministic)"),
}

_TO_CORE = {
    "VARIANT": "variant",
    "BASE": "base",
    "N_REP_TOKENS": "n_rep_tokens",
    "REP_DIM": "rep_dim",
    "FIRST_PROMPT_LAYER": "first_prompt_layer",
    "REP_INIT_STD": "rep_init_std",
    "PROJ_REP_INIT": "proj_rep_init",
    "N_CTX": "n_ctx",
    "PROMPT_DEPTH": "prompt_depth",
    "CTX_INIT": "ctx_init",
    "LOGIT_SCALE": "logit_scale",
    "POSTERIOR_TOKENS": "posterior_tokens",
    "PROTOTYPE_GRAD": "prototype_grad",
    "OFFSET_SCALE": "offset_scale",
    "CODE_SCALE": "code_scale",
    "ALPHA": "fusion_alpha",
    "LAMBDA": "consistency_weight",
    "GENERATOR_RANK": "generator_rank",
    "LATENT_SCALE": "latent_scale",
    "INIT_LOGVAR": "init_logvar",
    "LOGVAR_MIN": "logvar_min",
    "LOGVAR_MAX": "logvar_max",
    "PRIOR_CODE": "prior_code",
    "BETA": "kl_weight",
    "KL_REDUCTION": "kl_reduction",
    "TRAIN_SAMPLES": "train_samples",
    "TEST_SAMPLES": "test_samples",
    "INFERENCE": "inference",
    "TEXT_CHUNK_MB": "text_chunk_mb",
}


class ConfigError(ValueError):
    """A config value VaMP cannot run with; the message names the key and the fix."""


#: Core field name -> yacs key, for messages.
CORE_TO_YACS = {core: key for key, core in _TO_CORE.items()}

TASKS = ("B2N", "XD", "DG", "FS")
#: MMRL's scripts call cross-dataset "CD".
TASK_ALIASES = {"CD": "XD"}


def canonical_task(task: str) -> str:
    """B2N (base-to-new), XD (cross-dataset; MMRL's CD), DG (domain generalisation), FS."""
    task = TASK_ALIASES.get(str(task).upper(), str(task).upper())
    if task not in TASKS:
        raise ConfigError(f"TASK must be one of {TASKS} (or MMRL's CD), got {task!r}")
    return task


def add_vamp_config(cfg: Any) -> None:
    """Declare every key VaMP reads (idempotent; existing values are kept).

    Adds ``TRAINER.VAMP.*``, and ``DATASET.SUBSAMPLE_CLASSES`` ('all') and ``TASK`` ('B2N') only
    if the host codebase has not declared them already (MaPLe/MMRL forks do).
    """
    from yacs.config import CfgNode as CN

    was_frozen = cfg.is_frozen()
    cfg.defrost()
    if "VAMP" not in cfg.TRAINER:
        cfg.TRAINER.VAMP = CN()
    for key, (default, _) in VAMP_KEYS.items():
        if key not in cfg.TRAINER.VAMP:
            cfg.TRAINER.VAMP[key] = default
    if "SUBSAMPLE_CLASSES" not in cfg.DATASET:
        cfg.DATASET.SUBSAMPLE_CLASSES = "all"
    if "TASK" not in cfg:
        cfg.TASK = "B2N"
    if was_frozen:
        cfg.freeze()


@lru_cache(maxsize=1)
def dataset_defaults() -> Dict[str, Dict[str, Any]]:
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs", "dataset_defaults.yaml")
    with open(path) as f:
        return yaml.safe_load(f)


#: What a dataset without an entry in dataset_defaults.yaml gets.
FALLBACK_DEFAULTS = {"template": "a photo of a {}.", "lambda": 1.0, "rep_dim": 512}
_reported_unknown: set = set()


def resolved_dataset_settings(cfg: Any) -> Dict[str, Any]:
    """Template, lambda and d_r for this run: explicit config values, else per-dataset defaults.

    A dataset name without an entry falls back to :data:`FALLBACK_DEFAULTS`, said once per name.
    """
    v = cfg.TRAINER.VAMP
    name = cfg.DATASET.NAME
    defaults = dataset_defaults().get(name)
    if defaults is None:
        defaults = FALLBACK_DEFAULTS
        unset = [
            key
            for key, value in (
                ("TEMPLATE", v.TEMPLATE),
                ("LAMBDA", float(v.LAMBDA) >= 0),
                ("REP_DIM", int(v.REP_DIM) > 0),
            )
            if not value
        ]
        if unset and name not in _reported_unknown:
            _reported_unknown.add(name)
            print(
                f"Note: dataset {name!r} has no entry in vamp_prompt/configs/dataset_defaults.yaml; "
                f"using template {defaults['template']!r}, lambda {defaults['lambda']}, d_r "
                f"{defaults['rep_dim']} (set {', '.join('TRAINER.VAMP.' + k for k in unset)} "
                "to choose)",
                flush=True,
            )
    return {
        "template": v.TEMPLATE or defaults["template"],
        "lambda": float(v.LAMBDA) if float(v.LAMBDA) >= 0 else float(defaults["lambda"]),
        "rep_dim": int(v.REP_DIM) if int(v.REP_DIM) > 0 else int(defaults["rep_dim"]),
    }


def vamp_config_from_cfg(cfg: Any) -> VaMPConfig:
    """The one mapping from yacs keys to the core's validated config."""
    v = cfg.TRAINER.VAMP
    values = {core: v[key] for key, core in _TO_CORE.items()}
    settings = resolved_dataset_settings(cfg)
    values["consistency_weight"] = settings["lambda"]
    values["rep_dim"] = settings["rep_dim"]
    for key in (
        "rep_init_std",
        "fusion_alpha",
        "consistency_weight",
        "latent_scale",
        "init_logvar",
        "logvar_min",
        "logvar_max",
        "kl_weight",
        "text_chunk_mb",
        "logit_scale",
    ):
        values[key] = float(values[key])
    return VaMPConfig(**values)
