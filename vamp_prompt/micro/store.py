"""Cached micro CLIP weights and micro datasets, keyed by a hash of what generates them.

Folder: ``$VAMP_CACHE/micro`` (default ``~/.cache/vamp_prompt/micro``)::

    clip-<hash>/micro_clip.pt      fp16 state dict, loadable by vamp_prompt.clip_backbone
    clip-<hash>/meta.json          spec, command, wall time, sha256, zero-shot report
    data-<hash>/micro_shapes/      the benchmark dataset (CoOp layout + split file)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, Optional

import torch

from ..atomic import atomic_write_text

CACHE_ENV = "VAMP_CACHE"
WEIGHTS_NAME = "micro_clip.pt"


def cache_root() -> str:
    """``$VAMP_CACHE/micro`` or ``~/.cache/vamp_prompt/micro``."""
    base = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "vamp_prompt")
    return os.path.join(base, "micro")


def spec_hash(spec: Dict[str, Any]) -> str:
    """First 12 hex digits of the sha256 of the spec's canonical JSON."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_weights(model: torch.nn.Module, path: str) -> str:
    """fp16 plain state dict (CLIP's own storage precision); returns its sha256."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    torch.save({k: v.detach().half().cpu() for k, v in model.state_dict().items()}, tmp)
    os.replace(tmp, path)
    return file_sha256(path)


def read_meta(folder: str) -> Optional[dict]:
    path = os.path.join(folder, "meta.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_meta(folder: str, meta: dict) -> None:
    atomic_write_text(os.path.join(folder, "meta.json"), json.dumps(meta, indent=1) + "\n")


def cached_folder(
    kind: str, spec: Dict[str, Any], build: Callable[[str], dict], root: Optional[str] = None, force: bool = False
) -> str:
    """``<root>/<kind>-<hash>``, built once by ``build(tmp_folder) -> meta`` (atomically renamed
    into place, so an interrupted build leaves nothing behind)."""
    root = root or cache_root()
    folder = os.path.join(root, f"{kind}-{spec_hash(spec)}")
    if not force and read_meta(folder) is not None:
        return folder
    os.makedirs(root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{kind}-", dir=root)
    try:
        meta = build(tmp)
        write_meta(tmp, {"spec": spec, **meta})
        if os.path.isdir(folder):
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return folder
