"""The two cached artefacts of the micro benchmark: the pretrained micro CLIP and the dataset."""

from __future__ import annotations

import json
import os
import time
from typing import Optional

import torch


def pretrained_clip(
    seed: int = 0, steps: Optional[int] = None, force: bool = False, cache: Optional[str] = None, log=print
) -> str:
    """Path of the cached micro CLIP for (seed, steps), pretraining it first if needed."""
    from ..clip_backbone import load_clip
    from .pretrain import PretrainSpec, pretrain
    from .store import WEIGHTS_NAME, cached_folder, save_weights
    from .zeroshot import zero_shot_report

    # The shape-only warm-up is the first quarter of the steps (150 of the default 600).
    spec = (
        PretrainSpec(seed=seed)
        if steps is None
        else PretrainSpec(seed=seed, steps=steps, shape_warmup=round(steps / 4))
    )

    def build(folder: str) -> dict:
        model, summary = pretrain(spec, log=log)
        path = os.path.join(folder, WEIGHTS_NAME)
        digest = save_weights(model, path)
        start = time.time()
        report = zero_shot_report(load_clip(path))
        log(f"zero-shot ({time.time() - start:.0f}s): {json.dumps(report)}")
        return {
            "command": f"python -m vamp_prompt.micro pretrain --seed {seed} --steps {spec.steps}",
            "sha256": digest,
            "torch": torch.__version__,
            **summary,
            "zero_shot": report,
        }

    folder = cached_folder("clip", spec.to_dict(), build, root=cache, force=force)
    return os.path.join(folder, WEIGHTS_NAME)


def micro_dataset(seed: int = 0, force: bool = False, cache: Optional[str] = None, **sizes) -> str:
    """DATA root holding ``micro_shapes/`` (cached)."""
    from .dataset import DatasetSpec, write_dataset
    from .store import cached_folder

    spec = DatasetSpec(seed=seed, **sizes)

    def build(folder: str) -> dict:
        start = time.time()
        write_dataset(folder, spec)
        return {
            "command": f"python -m vamp_prompt.micro dataset --seed {seed}",
            "seconds": round(time.time() - start, 1),
        }

    return cached_folder("data", spec.to_dict(), build, root=cache, force=force)
