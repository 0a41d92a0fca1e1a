"""Small, safe checkpoints: only what VaMP trains, plus the metadata that guards reuse.

A checkpoint is a plain dict of tensors, numbers and strings (``torch.load(weights_only=True)``
reads it). The frozen CLIP is never stored: it is reloaded from MODEL.BACKBONE.NAME.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, Optional, Sequence

import torch

from ..atomic import atomic_output
from .config import CORE_TO_YACS

FORMAT = "vamp-checkpoint-v2"  # v2: base + latents modules (v1: before the MaPLe base)
_EPOCH_FILE = re.compile(r"model\.pth\.tar-(\d+)")
#: Core config fields that change parameter shapes: a mismatch cannot be loaded.
ARCHITECTURE_KEYS = (
    "base",
    "variant",
    "n_rep_tokens",
    "rep_dim",
    "first_prompt_layer",
    "n_ctx",
    "prompt_depth",
    "posterior_tokens",
    "prior_code",
    "generator_rank",
)


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or does not fit this run."""


def save_checkpoint(payload: Dict[str, Any], path: str) -> None:
    """Write atomically (temporary file + rename), so an interruption never leaves half a file."""
    with atomic_output(path, "wb") as handle:
        torch.save(dict(payload, format=FORMAT), handle)


def load_checkpoint(path: str) -> Dict[str, Any]:
    if not os.path.isfile(path):
        raise CheckpointError(
            f"No checkpoint at {path}. Train first (the train script writes it), or point "
            "--model-dir / --load-epoch at an existing model.pth.tar-<epoch>."
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"Cannot read checkpoint {path}: {err}. It may be truncated or "
            "not a VaMP checkpoint; delete it and train again."
        ) from err
    if (
        isinstance(payload, dict)
        and str(payload.get("format", "")).startswith("vamp-checkpoint-")
        and payload.get("format") != FORMAT
    ):
        raise CheckpointError(
            f"{path} was written by another version of vamp_prompt (format "
            f"{payload['format']}, this version reads {FORMAT}). Fix: train "
            "again with this version (a new --output-dir keeps the old run)."
        )
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a VaMP checkpoint (format "
            f"{payload.get('format') if isinstance(payload, dict) else '?'}, "
            f"expected {FORMAT})."
        )
    return payload


def check_architecture(payload: Dict[str, Any], current: Dict[str, Any], path: str) -> None:
    saved = payload.get("vamp_config", {})
    for key in ARCHITECTURE_KEYS:
        if key in saved and saved[key] != current[key]:
            raise CheckpointError(
                f"{path} was trained with TRAINER.VAMP.{CORE_TO_YACS[key]}={saved[key]!r}, but this "
                f"run has {current[key]!r}. Fix: pass TRAINER.VAMP.{CORE_TO_YACS[key]} "
                f"{saved[key]!r} (or use the config the model was trained with)."
            )


def check_class_set(
    payload: Dict[str, Any],
    classnames: Sequence[str],
    dataset: str,
    subsample: str,
    task: str,
    path: str,
    resuming: bool,
) -> None:
    """Refuse a checkpoint whose training classes do not belong with this run.

    Resuming needs exactly the same classes. Evaluating within the same dataset needs the same
    classes, except base-to-new testing on 'new' (the checkpoint must be the 'base' model).
    Cross-dataset / domain-generalisation targets may have any class set.
    """
    saved_classes = list(payload.get("classnames", []))
    same_dataset = payload.get("dataset") == dataset
    if not resuming and not same_dataset and task in ("XD", "DG"):
        return
    if not resuming and subsample == "new":
        if not same_dataset or payload.get("subsample") not in ("base",):
            raise CheckpointError(
                f"{path} was trained on {payload.get('dataset')} ({payload.get('subsample')} "
                f"classes); testing {dataset} new classes needs the model trained on {dataset} "
                "base classes (base2new_train.sh with the same dataset and seed)."
            )
        return
    if list(classnames) != saved_classes or not same_dataset:
        first_diff = next(
            (f"{a!r} vs {b!r}" for a, b in zip(saved_classes, classnames) if a != b),
            f"{len(saved_classes)} vs {len(classnames)} classes",
        )
        raise CheckpointError(
            f"{path} was trained on another class set ({payload.get('dataset')}, "
            f"{payload.get('subsample')} classes; first difference: {first_diff}) than this run "
            f"({dataset}, {subsample}). Fix: use the model directory of this dataset and class "
            "split, or a fresh --output-dir to train from scratch."
        )


def latest_epoch_file(directory: str) -> Optional[str]:
    """The newest ``model.pth.tar-<epoch>`` in a directory, or None."""
    if not os.path.isdir(directory):
        return None
    epochs = [int(m.group(1)) for m in map(_EPOCH_FILE.fullmatch, os.listdir(directory)) if m]
    return os.path.join(directory, f"model.pth.tar-{max(epochs)}") if epochs else None
