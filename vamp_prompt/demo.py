"""Inputs of the CPU demo: a synthetic DTD-layout dataset and a tiny random CLIP.

``bash scripts/vamp/demo.sh`` calls ``python -m vamp_prompt.demo WORKDIR`` and then runs the real
base-to-new scripts on what it wrote. Accuracies on random weights mean nothing; the demo shows
the pipeline (data reading, training, checkpoints, evaluation, tables, plots) working.
"""

from __future__ import annotations

import argparse
import os
from typing import Optional, Sequence

from .clip_backbone import save_random_clip

DEMO_IMAGE_SIZE = 64  # the tiny CLIP's input resolution


def prepare(workdir: str, num_classes: int = 10, images_per_class: int = 40, seed: int = 0) -> dict:
    """Write ``WORKDIR/data/dtd`` (real DTD layout and split file) and ``WORKDIR/tiny_clip.pt``.

    Existing files are kept, so the command can be repeated.
    """
    from .data import write_synthetic_dataset

    data_root = os.path.join(workdir, "data")
    clip_path = os.path.join(workdir, "tiny_clip.pt")
    dataset_dir = os.path.join(data_root, "dtd")
    if not (os.path.isdir(dataset_dir) and os.listdir(dataset_dir)):
        write_synthetic_dataset(
            "DescribableTextures", data_root, num_classes, images_per_class, image_size=DEMO_IMAGE_SIZE, seed=seed
        )
    if not os.path.isfile(clip_path):
        save_random_clip(clip_path, seed=seed)
    return {"data": data_root, "clip": clip_path}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Write the demo's synthetic data and tiny CLIP.")
    parser.add_argument("workdir", help="folder to write data/ and tiny_clip.pt into")
    args = parser.parse_args(argv)
    paths = prepare(args.workdir)
    print(f"DATA={paths['data']}")
    print(f"CLIP={paths['clip']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
