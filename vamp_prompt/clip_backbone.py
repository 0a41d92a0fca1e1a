"""Loading the frozen CLIP backbone (from a model name or a local file) and tokenising.

`openai-clip` (import name ``clip``) does ``from pkg_resources import packaging`` at import time.
``pkg_resources`` ships only with setuptools < 81, which this project requires for that reason;
:func:`import_clip` turns a failure into a message that names the fix.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import sys
import warnings
from types import ModuleType
from typing import Any, Dict, Optional, Sequence, Union

import torch
from torch import nn

logger = logging.getLogger(__name__)

#: Shape of OpenAI CLIP ViT-B/16 (what the paper uses), for random-weight benchmarks and demos.
VIT_B16_ARCH: Dict[str, int] = dict(
    embed_dim=512,
    image_resolution=224,
    vision_layers=12,
    vision_width=768,
    vision_patch_size=16,
    context_length=77,
    vocab_size=49408,
    transformer_width=512,
    transformer_heads=8,
    transformer_layers=12,
)

#: A tiny CLIP with the real structure (12 layers per tower) for tests and the CPU demo.
TINY_ARCH: Dict[str, int] = dict(
    embed_dim=32,
    image_resolution=64,
    vision_layers=12,
    vision_width=64,
    vision_patch_size=32,
    context_length=77,
    vocab_size=49408,
    transformer_width=64,
    transformer_heads=1,
    transformer_layers=12,
)


def import_clip() -> ModuleType:
    """Import openai-clip's ``clip`` package, explaining the known setuptools breakage.

    Forks such as MaPLe ship their own top-level ``clip`` with an incompatible ``CLIP`` class; when
    such a package shadows openai-clip (the fork's folder is first on ``sys.path``), openai-clip is
    loaded from its installed location under a private module name instead.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
            init = _openai_clip_init()
            current = sys.modules.get("clip")
            if current is not None and (init is None or _same_file(current.__file__, init)):
                return current
            if init is None:  # not installed as a distribution: trust the import path
                import clip

                return clip
            spec = importlib.util.find_spec("clip") if current is None else None
            if spec is not None and _same_file(spec.origin, init):
                import clip

                return clip
            return _load_private_clip(init)
    except ModuleNotFoundError as err:
        if err.name == "pkg_resources":
            raise ImportError(
                "openai-clip needs `pkg_resources`, which setuptools>=81 no longer ships. "
                "Fix: pip install 'setuptools<81' (this project declares it; reinstall with "
                "`pip install -e .`)."
            ) from err
        if err.name == "clip":
            raise ImportError("The `clip` package is missing. Fix: pip install openai-clip") from err
        raise


def _openai_clip_init() -> Optional[str]:
    try:
        dist = importlib.metadata.distribution("openai-clip")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = os.path.realpath(str(dist.locate_file("clip/__init__.py")))
    return path if os.path.isfile(path) else None


def _same_file(a: Optional[str], b: str) -> bool:
    return a is not None and os.path.realpath(a) == b


def _load_private_clip(init: str) -> ModuleType:
    name = "_vamp_openai_clip"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[os.path.dirname(init)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def tokenize(texts: Union[str, Sequence[str]], context_length: int = 77) -> torch.Tensor:
    """CLIP BPE token ids, shape (N, context_length), truncated rather than failing on long text."""
    clip = import_clip()
    with torch.device("cpu"):  # token ids live on the CPU, whatever device context is active
        return clip.tokenize(texts, context_length=context_length, truncate=True)


def _state_dict_from_file(path: str) -> Dict[str, torch.Tensor]:
    """Read a plain (possibly wrapped) state dict, or an OpenAI TorchScript archive."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as plain_err:  # a TorchScript archive, a truncated file, ...
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = torch.jit.load(path, map_location="cpu").state_dict()
        except Exception:
            raise ValueError(
                f"Cannot read CLIP weights from {path}: {plain_err}. Expected an OpenAI CLIP "
                "TorchScript archive (e.g. ViT-B-16.pt) or a file saved with "
                "torch.save(model.state_dict(), path)."
            ) from plain_err
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or "text_projection" not in obj:
        raise ValueError(
            f"{path} does not hold a CLIP state dict (no 'text_projection' key). Expected an "
            "OpenAI CLIP TorchScript archive or torch.save(clip_model.state_dict(), path)."
        )
    return obj


def architecture_of(state_dict: Dict[str, torch.Tensor]) -> Dict[str, int]:
    """Constructor arguments of a ViT CLIP, read off its weights' shapes.

    (``clip.model.build_model`` does the same but first casts the model to fp16, which would round
    fp32 weights; we keep them exact.)
    """

    def blocks(prefix: str) -> int:
        index = 2 if prefix == "transformer" else 3
        return len({k.split(".")[index] for k in state_dict if k.startswith(prefix + ".resblocks.")})

    patch = state_dict["visual.conv1.weight"].shape[-1]
    grid = round((state_dict["visual.positional_embedding"].shape[0] - 1) ** 0.5)
    width = state_dict["ln_final.weight"].shape[0]
    return dict(
        embed_dim=state_dict["text_projection"].shape[1],
        image_resolution=patch * grid,
        vision_layers=blocks("visual.transformer"),
        vision_width=state_dict["visual.conv1.weight"].shape[0],
        vision_patch_size=patch,
        context_length=state_dict["positional_embedding"].shape[0],
        vocab_size=state_dict["token_embedding.weight"].shape[0],
        transformer_width=width,
        transformer_heads=width // 64,
        transformer_layers=blocks("transformer"),
    )


#: ``MODEL.BACKBONE.NAME micro``: the micro CLIP of :mod:`vamp_prompt.micro` (seed 0, cached).
MICRO_NAME = "micro"


def resolve_clip_weights(name_or_path: str, download_root: Optional[str] = None) -> str:
    """Map a model name (e.g. ``ViT-B/16``) to its cached file, downloading once; pass paths through."""
    expanded = os.path.expanduser(name_or_path)
    if os.path.isfile(expanded):
        return expanded
    if name_or_path == MICRO_NAME:  # the project's micro CLIP, pretrained once and cached
        from .micro.artifacts import pretrained_clip

        return pretrained_clip()
    clip = import_clip()
    if name_or_path in clip.available_models():
        root = download_root or os.path.expanduser("~/.cache/clip")
        try:
            return clip.clip._download(clip.clip._MODELS[name_or_path], root)
        except Exception as err:
            raise RuntimeError(
                f"Could not download CLIP '{name_or_path}' into {root} ({err}). Offline? Copy the "
                f"weights file there, or pass its path: MODEL.BACKBONE.NAME /path/to/ViT-B-16.pt"
            ) from err
    raise FileNotFoundError(
        f"CLIP weights '{name_or_path}' not found: not a file, and not one of "
        f"{clip.available_models()}. Fix: set MODEL.BACKBONE.NAME to a model name or a local path."
    )


def load_clip(
    name_or_path: str, device: Union[str, torch.device] = "cpu", download_root: Optional[str] = None
) -> nn.Module:
    """Build a frozen fp32 CLIP (eval mode, no gradients) whose architecture comes from the weights."""
    clip = import_clip()
    path = resolve_clip_weights(name_or_path, download_root)
    state_dict = _state_dict_from_file(path)
    if "visual.proj" not in state_dict:
        raise ValueError(f"{path} is a ResNet CLIP; VaMP needs a ViT CLIP (e.g. ViT-B/16).")
    model = clip.model.CLIP(**architecture_of(state_dict))
    model.load_state_dict(
        {k: v for k, v in state_dict.items() if k not in ("input_resolution", "context_length", "vocab_size")}
    )
    model = model.float().to(device)
    model.eval()
    model.requires_grad_(False)
    logger.info("Loaded CLIP from %s", path)
    return model


def build_random_clip(seed: int = 0, **arch: Any) -> nn.Module:
    """A CLIP with random weights and the given architecture (defaults: :data:`TINY_ARCH`)."""
    clip = import_clip()
    spec = dict(TINY_ARCH)
    spec.update(arch)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = clip.model.CLIP(**spec)
    finally:
        torch.random.set_rng_state(generator_state)
    return model.float().eval().requires_grad_(False)


def save_random_clip(path: str, seed: int = 0, **arch: Any) -> str:
    """Write a random CLIP as a plain state dict, loadable by :func:`load_clip`."""
    model = build_random_clip(seed=seed, **arch)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(model.state_dict(), path)
    return path
