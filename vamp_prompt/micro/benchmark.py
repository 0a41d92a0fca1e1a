"""The micro benchmark's zero-shot row and its table.

The zero-shot row is CLIP with the hand-crafted template, evaluated on the same test images as
the trained rows (the base half and the new half of the split file, Dassl's test transform: the
32 px PNGs, CLIP-normalised), written as ``metrics.json`` + ``DONE`` in the run-folder layout the
results command reads:

    OUTPUT/base2new/{train_base,test_new}/micro_shapes/shots_<K>/ZeroshotCLIP/zeroshot/seed<S>/

The table (``OUTPUT/tables/micro_benchmark.{md,csv}``) has one row per method: mean +- std over
seeds of base / new accuracy, the harmonic mean (per seed, then averaged), ECE and NLL, and the
magnitudes of VaMP's parts after training (offset spread and posterior sigma on the test images,
the KL of the last training epoch).
"""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..atomic import atomic_write_text, write_done_marker
from ..data.splits import read_split_file, subsample_label_map
from ..metrics import UncertaintyAccumulator, write_metrics_json
from ..results import collect_runs, harmonic_mean
from .dataset import DATASET_DIR, IMAGE_SUBDIR, SPLIT_FILENAME
from .model import images_to_tensor
from .zeroshot import TEMPLATE, zero_shot_logits

ZEROSHOT_TRAINER, ZEROSHOT_CFG = "ZeroshotCLIP", "zeroshot"
#: (label, trainer folder, config folder) of the table's rows, in order.
ROWS: Tuple[Tuple[str, str, str], ...] = (
    ("Zero-shot CLIP", ZEROSHOT_TRAINER, ZEROSHOT_CFG),
    ("MMRL", "VaMP", "micro_mmrl"),
    ("+ sample-specific", "VaMP", "micro_sample_specific"),
    ("+ variational", "VaMP", "micro_variational"),
    ("+ class-aware prior (VaMP)", "VaMP", "micro_vamp"),
)
PHASES = {"base": "train_base", "new": "test_new"}


def _load_images(image_dir: str, entries) -> torch.Tensor:
    from PIL import Image

    arrays = [
        np.asarray(Image.open(os.path.join(image_dir, rel)).convert("RGB"), dtype=np.float32) / 255.0
        for rel, _, _ in entries
    ]
    return images_to_tensor(np.stack(arrays))


def zero_shot_split(
    clip_model: torch.nn.Module, data_root: str, subsample: str, split: str = "test", template: str = TEMPLATE
) -> Dict[str, float]:
    """Zero-shot metrics on the ``subsample`` (base | new) classes of the micro dataset."""
    dataset_dir = os.path.join(data_root, DATASET_DIR)
    entries = read_split_file(os.path.join(dataset_dir, SPLIT_FILENAME))
    mapping = subsample_label_map((y for _, y, _ in entries["train"]), subsample)
    chosen = [e for e in entries[split] if mapping is None or e[1] in mapping]
    names: Dict[int, str] = {}
    for _, y, name in chosen:
        names[mapping[y] if mapping else y] = name
    labels = torch.tensor([mapping[y] if mapping else y for _, y, _ in chosen])
    images = _load_images(os.path.join(dataset_dir, IMAGE_SUBDIR), chosen)
    logits = zero_shot_logits(clip_model, images, [names[i] for i in range(len(names))], template)
    metrics = UncertaintyAccumulator()
    metrics.update(logits, labels)
    return metrics.compute()


def write_zero_shot_runs(
    clip_path: str, data_root: str, output: str, seeds: Sequence[int], shots: int = 16
) -> List[str]:
    """The zero-shot row's run folders (identical for every seed: zero-shot has no randomness)."""
    from ..clip_backbone import load_clip

    model = load_clip(clip_path)
    written = []
    for subsample, phase in PHASES.items():
        summary = None
        for seed in seeds:
            run = os.path.join(
                output, "base2new", phase, DATASET_DIR, f"shots_{shots}", ZEROSHOT_TRAINER, ZEROSHOT_CFG, f"seed{seed}"
            )
            if os.path.isfile(os.path.join(run, "DONE")):
                continue
            summary = summary or zero_shot_split(model, data_root, subsample)
            os.makedirs(run, exist_ok=True)
            write_metrics_json(
                os.path.join(run, "metrics.json"),
                summary,
                {
                    "dataset": "MicroShapes",
                    "subsample": subsample,
                    "split": "test",
                    "head": "zero-shot",
                    "variant": "zeroshot",
                    "seed": seed,
                    "template": TEMPLATE,
                    "clip": clip_path,
                },
            )
            write_done_marker(run, "zero-shot evaluation")
            print(f"zero-shot {subsample}: accuracy {summary['accuracy']:.2f}% -> {run}")
            written.append(run)
    return written


def _stats(values: List[float]) -> Tuple[Optional[float], Optional[float]]:
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _fmt(mean: Optional[float], std: Optional[float], digits: int = 2) -> str:
    return "-" if mean is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _train_metric(run_dir: Path, key: str) -> Optional[float]:
    path = run_dir / "train_metrics.json"
    if not path.is_file():
        return None
    value = json.loads(path.read_text()).get(key)
    return float(value) if isinstance(value, (int, float)) else None


def table_rows(output: str, shots: int = 16) -> List[Dict[str, object]]:
    """One dict per row of :data:`ROWS` with mean / std of every column."""
    runs = [r for r in collect_runs(Path(output)) if r.ok and r.dataset == DATASET_DIR and r.shots == str(shots)]
    rows = []
    for label, trainer, cfg in ROWS:
        by_phase = {
            p: {r.seed: r for r in runs if r.trainer == trainer and r.cfg_dir == cfg and r.phase == phase}
            for p, phase in PHASES.items()
        }
        seeds = sorted(set(by_phase["base"]) & set(by_phase["new"]))
        row: Dict[str, object] = {"method": label, "config": cfg, "seeds": len(seeds)}
        cols = {
            "base": [by_phase["base"][s].accuracy for s in seeds],
            "new": [by_phase["new"][s].accuracy for s in seeds],
            "hm": [harmonic_mean(by_phase["base"][s].accuracy, by_phase["new"][s].accuracy) for s in seeds],
        }
        for part in ("base", "new"):
            for key in (
                "ece",
                "nll",
                "mutual_information",
                "prompt_offset_spread",
                "prompt_sigma",
                "prompt_noise_size",
            ):
                vals = [by_phase[part][s].metrics.get(key) for s in seeds]
                cols[f"{key}_{part}"] = [v for v in vals if v is not None]
        for key in ("kl", "nll", "prompt_offset_spread", "prompt_sigma"):
            vals = [_train_metric(by_phase["base"][s].path, key) for s in seeds]
            cols[f"train_{key}"] = [v for v in vals if v is not None]
        for key, values in cols.items():
            row[key], row[f"{key}_std"] = _stats([float(v) for v in values])
        rows.append(row)
    return rows


def write_table(output: str, shots: int = 16) -> str:
    """Write ``OUTPUT/tables/micro_benchmark.{md,csv}``; returns the markdown."""
    rows = table_rows(output, shots)
    f = lambda r, k, d=2: _fmt(r[k], r[f"{k}_std"], d)  # noqa: E731
    lines = [
        f"## Micro benchmark (MicroShapes, {shots} shots, mean ± std over seeds)",
        "",
        "| Method | Seeds | Base | New | HM | ECE base | ECE new | NLL base | NLL new |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['seeds']} | {f(r, 'base')} | {f(r, 'new')} | "
            f"{f(r, 'hm')} | {f(r, 'ece_base')} | {f(r, 'ece_new')} | "
            f"{f(r, 'nll_base', 3)} | {f(r, 'nll_new', 3)} |"
        )
    lines += [
        "",
        "Magnitudes of VaMP's parts after training (offset spread across images and "
        "noise size in units of the shared tokens' rms; sigma in latent units; KL and "
        "likelihood of the last training epoch; MI = mutual information on new classes):",
        "",
        "| Method | Offset spread (test, base) | Sigma (test, base) | Noise size | KL (train) | NLL (train) | MI new |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows[1:]:
        lines.append(
            f"| {r['method']} | {f(r, 'prompt_offset_spread_base', 4)} | "
            f"{f(r, 'prompt_sigma_base', 3)} | {f(r, 'prompt_noise_size_base', 4)} | "
            f"{f(r, 'train_kl', 4)} | {f(r, 'train_nll', 3)} | "
            f"{f(r, 'mutual_information_new', 4)} |"
        )
    text = "\n".join(lines) + "\n"
    tables = os.path.join(output, "tables")
    os.makedirs(tables, exist_ok=True)
    atomic_write_text(os.path.join(tables, "micro_benchmark.md"), text)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(os.path.join(tables, "micro_benchmark.csv"), buf.getvalue())
    return text


def tuning_table(root: str) -> str:
    """``ROOT/tuning.md``: validation numbers of every setting folder under ``ROOT`` (written by
    ``scripts/vamp/micro_tune.sh``): base / new / HM accuracy, ECE, and the parts' magnitudes."""
    lines = [
        "| Setting | Overrides | Base (val) | New (val) | HM | ECE base | Offset spread | Sigma | KL (train) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for folder in sorted(Path(root).iterdir()):
        settings = folder / "settings.txt"
        if not settings.is_file():
            continue
        found: Dict[str, dict] = {}
        for phase in PHASES.values():
            for path in folder.glob(f"base2new/{phase}/*/*/*/*/seed*/metrics.json"):
                found[phase] = {**json.loads(path.read_text()), "_dir": path.parent}
        if len(found) < 2:
            continue
        b, n = found["train_base"], found["test_new"]
        kl = _train_metric(b["_dir"], "kl")
        val = lambda d, k, fmt: "-" if d.get(k) is None else format(d[k], fmt)  # noqa: E731
        lines.append(
            f"| {folder.name} | {settings.read_text().strip()} | {b['accuracy']:.2f} | "
            f"{n['accuracy']:.2f} | {harmonic_mean(b['accuracy'], n['accuracy']):.2f} | "
            f"{val(b, 'ece', '.2f')} | {val(b, 'prompt_offset_spread', '.4f')} | "
            f"{val(b, 'prompt_sigma', '.3f')} | {'-' if kl is None else format(kl, '.4f')} |"
        )
    text = "\n".join(lines) + "\n"
    atomic_write_text(os.path.join(root, "tuning.md"), text)
    return text
