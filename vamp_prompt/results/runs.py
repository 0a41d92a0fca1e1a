"""Reading run folders: the output layout, one run's status and metrics, the paper's numbers."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__package__)  # "vamp_prompt.results", as before the split

BASE2NEW_DATASETS = (
    "imagenet",
    "caltech101",
    "oxford_pets",
    "stanford_cars",
    "oxford_flowers",
    "food101",
    "fgvc_aircraft",
    "sun397",
    "dtd",
    "eurosat",
    "ucf101",
)
CROSS_TARGETS = BASE2NEW_DATASETS[1:]
DG_TARGETS = ("imagenet_v2", "imagenet_sketch", "imagenet_a", "imagenet_r")
DATASET_ALIASES = {"imagenetv2": "imagenet_v2"}  # CoOp's config file name for ImageNet-V2
PHASES = {"base2new": ("train_base", "test_new"), "cross_dataset": ("train_source", "test_target")}
DONE_MARKER = "DONE"
EXTRA_KEYS = ("ece", "nll", "brier", "macro_f1", "predictive_entropy", "mutual_information")

_ACC_RE = re.compile(r"^\*\s*accuracy:\s*([-+0-9.eE]+)\s*%")
_METRIC_RE = re.compile(r"^\*\s*([a-z_0-9]+):\s*([-+0-9.eE]+)\s*%?\s*$")
_SEED_RE = re.compile(r"^seed(\d+)$")


@dataclass
class RunResult:
    """One run folder and what could be read from it."""

    path: Path
    setting: str  # base2new | cross_dataset
    phase: str  # train_base | test_new | train_source | test_target
    dataset: str
    shots: str
    trainer: str
    cfg: str  # the group's config name (a per-dataset variant "<cfg>_<dataset>" counts as <cfg>)
    seed: int
    status: str = "ok"  # ok | unfinished (no DONE) | no_accuracy
    accuracy: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    source: str = ""  # metrics.json or the log file name
    cfg_dir: str = ""  # the config folder's own name

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def group(self) -> tuple[str, str, str]:
        return (self.trainer, self.cfg, self.shots)


def parse_log(text: str) -> dict[str, float]:
    """Final test metrics of a Dassl log: ``* name: value[%]`` lines after the last
    ``Finish training`` (or ``Evaluate on the *test* set``) line; the last value wins.
    Empty dict when there is no such block or no accuracy in it."""
    lines = text.splitlines()
    start = None
    for marker in ("Finish training", "Evaluate on the *test* set"):
        hits = [i for i, line in enumerate(lines) if marker in line]
        if hits:
            start = hits[-1]
            break
    if start is None:
        return {}
    found: dict[str, float] = {}
    for line in lines[start + 1 :]:
        line = line.strip()
        match = _METRIC_RE.match(line)
        if match and match.group(1) not in ("total", "correct"):
            try:
                found[match.group(1)] = float(match.group(2))
            except ValueError:
                continue
    return found if "accuracy" in found else {}


def _log_files(run_dir: Path) -> list[Path]:
    """Log files, newest first (Dassl names a second run's log ``log.txt-<timestamp>``)."""
    logs = sorted(run_dir.glob("log.txt-*"), reverse=True)
    if (run_dir / "log.txt").is_file():
        logs.append(run_dir / "log.txt")
    return [p for p in logs if p.is_file()]


def _read_metrics_json(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    if data.get("split", "test") != "test":  # e.g. a validation pass: use the log instead
        return {}
    return {
        k: float(v)
        for k, v in data.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }


def read_run(run_dir: Path) -> tuple[str, float | None, dict[str, float], str]:
    """``(status, accuracy, metrics, source)`` of one run folder."""
    metrics: dict[str, float] = {}
    source = ""
    json_path = run_dir / "metrics.json"
    if json_path.is_file():
        metrics = _read_metrics_json(json_path)
        source = "metrics.json" if "accuracy" in metrics else ""
    if "accuracy" not in metrics:
        for log in _log_files(run_dir):
            try:
                parsed = parse_log(log.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
            if parsed:
                metrics = {**parsed, **metrics}
                source = log.name
                break
    accuracy = metrics.get("accuracy")
    if not (run_dir / DONE_MARKER).exists():
        status = "unfinished"
    elif accuracy is None:
        status = "no_accuracy"
    else:
        status = "ok"
    return status, accuracy, metrics, source


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir())
    except OSError:
        return []


def group_config(cfg: str, dataset: str) -> str:
    """``<cfg>_<dataset>`` -> ``<cfg>``: per-dataset config variants (the scripts run ImageNet
    base-to-new with ``vit_b16_base2new_imagenet``) join the group of their base config."""
    suffix = f"_{dataset}"
    return cfg[: -len(suffix)] if cfg.endswith(suffix) and len(cfg) > len(suffix) else cfg


def collect_runs(root: Path, config_name: str | None = None, trainer: str | None = None) -> list[RunResult]:
    """Every ``seed<S>`` folder of the layout in the package docstring (optionally one config /
    trainer; the config filter matches the folder name or its group name)."""
    runs = []
    for setting, phases in PHASES.items():
        for phase in phases:
            for seed_dir in sorted((root / setting / phase).glob("*/shots_*/*/*/seed*")):
                match = _SEED_RE.match(seed_dir.name)
                if not match or not seed_dir.is_dir():
                    continue
                cfg_dir, tr_dir, shots_dir, ds_dir = list(seed_dir.parents)[:4]
                dataset = DATASET_ALIASES.get(ds_dir.name.lower(), ds_dir.name.lower())
                cfg = group_config(cfg_dir.name, dataset)
                if trainer and tr_dir.name != trainer:
                    continue
                if config_name and config_name not in (cfg, cfg_dir.name):
                    continue
                status, acc, metrics, source = read_run(seed_dir)
                runs.append(
                    RunResult(
                        path=seed_dir,
                        setting=setting,
                        phase=phase,
                        dataset=dataset,
                        shots=shots_dir.name[len("shots_") :],
                        trainer=tr_dir.name,
                        cfg=cfg,
                        seed=int(match.group(1)),
                        status=status,
                        accuracy=acc,
                        metrics=metrics,
                        source=source,
                        cfg_dir=cfg_dir.name,
                    )
                )
    return runs


def load_paper_numbers(path: Path | None = None) -> dict[str, Any]:
    """The paper's numbers (``vamp_prompt/paper_numbers.yaml``, beside this package); {} if
    unreadable."""
    path = path or Path(__file__).parent.with_name("paper_numbers.yaml")
    try:
        import yaml

        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except Exception as exc:  # noqa: BLE001  (missing file or PyYAML: tables still work)
        logger.warning("paper numbers unavailable (%s): %s", path, exc)
        return {}
