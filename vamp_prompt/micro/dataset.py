"""The micro benchmark as a dataset in the CoOp layout, with its split file.

    <root>/micro_shapes/images/<colour>_<pattern>_<shape>/<split>_<i>.png
    <root>/micro_shapes/split_zhou_MicroShapes.json
    <root>/micro_shapes/classes.json          (which classes are base / new / unseen in pretraining)

Images are drawn in the shifted downstream style (:data:`~vamp_prompt.micro.world.DOWNSTREAM_STYLE`:
smaller off-centre objects, noise, clutter and a share of ambiguous images). Base and new classes
use disjoint shapes: base classes are seen combinations of four shapes, new classes combinations
of the other four, half of them never shown in pretraining. Labels 0..B-1 are the base classes,
so the family's rule (the first half of the sorted labels is base) picks them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Dict, List, Tuple

import numpy as np

from ..data.splits import SplitEntry, write_split_file
from .world import DOWNSTREAM_STYLE, SHAPES, Combo, all_combos, class_name, held_out_in_pretraining, render

DATASET_DIR = "micro_shapes"
IMAGE_SUBDIR = "images"
SPLIT_FILENAME = "split_zhou_MicroShapes.json"
BASE_SHAPES: Tuple[str, ...] = ("circle", "square", "triangle", "star")


@dataclass(frozen=True)
class DatasetSpec:
    """What determines the dataset (its hash keys the cache)."""

    seed: int = 0
    classes_per_half: int = 16
    train_per_class: int = 20
    val_per_class: int = 8
    test_per_class: int = 16
    image_size: int = 32

    def to_dict(self) -> dict:
        return asdict(self)


def choose_classes(spec: DatasetSpec) -> Tuple[List[Combo], List[Combo]]:
    """Base classes (seen in pretraining, base shapes) and new classes (the other shapes; half
    of them held out of pretraining), each sorted."""
    rng = np.random.default_rng(spec.seed)
    base_shapes = {SHAPES.index(s) for s in BASE_SHAPES}
    combos = all_combos()
    base_pool = [c for c in combos if c[0] in base_shapes and not held_out_in_pretraining(c)]
    new_seen = [c for c in combos if c[0] not in base_shapes and not held_out_in_pretraining(c)]
    new_held = [c for c in combos if c[0] not in base_shapes and held_out_in_pretraining(c)]
    k = spec.classes_per_half
    pick = lambda pool, n: sorted(pool[i] for i in rng.choice(len(pool), n, replace=False))  # noqa
    base = pick(base_pool, k)
    new = sorted(pick(new_held, k // 2) + pick(new_seen, k - k // 2))
    return base, new


def folder_name(combo: Combo) -> str:
    return class_name(combo).replace(" ", "_")


def write_dataset(root: str, spec: DatasetSpec) -> str:
    """Write the dataset under ``root``; returns its folder. Deterministic from ``spec``."""
    from PIL import Image

    base, new = choose_classes(spec)
    classes = base + new
    dataset_dir = os.path.join(root, DATASET_DIR)
    image_dir = os.path.join(dataset_dir, IMAGE_SUBDIR)
    split: Dict[str, List[SplitEntry]] = {"train": [], "val": [], "test": []}
    counts = {"train": spec.train_per_class, "val": spec.val_per_class, "test": spec.test_per_class}
    rng = np.random.default_rng(spec.seed + 1000)
    for label, combo in enumerate(classes):
        folder = folder_name(combo)
        os.makedirs(os.path.join(image_dir, folder), exist_ok=True)
        for part, n in counts.items():
            images = render([combo] * n, DOWNSTREAM_STYLE, rng, spec.image_size)
            for i, img in enumerate(images):
                rel = f"{folder}/{part}_{i:03d}.png"
                Image.fromarray((img * 255).round().astype(np.uint8)).save(os.path.join(image_dir, rel))
                split[part].append((rel, label, class_name(combo)))
    write_split_file(os.path.join(dataset_dir, SPLIT_FILENAME), split, overwrite=True)
    meta = {
        "spec": spec.to_dict(),
        "base": [class_name(c) for c in base],
        "new": [class_name(c) for c in new],
        "new_unseen_in_pretraining": [class_name(c) for c in new if held_out_in_pretraining(c)],
        "style": asdict(DOWNSTREAM_STYLE),
    }
    with open(os.path.join(dataset_dir, "classes.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return dataset_dir
