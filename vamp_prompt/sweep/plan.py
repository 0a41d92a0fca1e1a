"""The jobs of a sweep: which runs a protocol needs, where each one writes, and its command line.

A job is one call of a single-job script (``scripts/vamp/base2new_train.sh`` ...), exactly as a
user types it, so skipping finished runs (the ``DONE`` marker), resuming interrupted training and
refusing bad input stay in one place whichever launcher runs the job. :func:`job_command` is the
only place that builds that command line.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from vamp_prompt.results import BASE2NEW_DATASETS, CROSS_TARGETS, DG_TARGETS

__all__ = [
    "ABLATION_CONFIGS",
    "DEFAULT_CONFIGS",
    "DEFAULT_DATASETS",
    "DEFAULT_SEEDS",
    "PROTOCOLS",
    "Job",
    "Settings",
    "SweepError",
    "command_line",
    "is_done",
    "job_command",
    "plan_jobs",
]

TRAINER = "VaMP"
PROTOCOLS = ("base2new", "xd", "ablation")
ABLATION_CONFIGS = (
    "vit_b16_base2new_ablation_mmrl",
    "vit_b16_base2new_ablation_sample_specific",
    "vit_b16_base2new_ablation_variational",
    "vit_b16_base2new",
)
DEFAULT_CONFIGS = {"base2new": ("vit_b16_base2new",), "xd": ("vit_b16_cross_dataset",), "ablation": ABLATION_CONFIGS}
DEFAULT_DATASETS = {"base2new": BASE2NEW_DATASETS, "ablation": BASE2NEW_DATASETS, "xd": CROSS_TARGETS + DG_TARGETS}
DEFAULT_SEEDS = (1, 2, 3)
DONE_MARKER = "DONE"
_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+$")


class SweepError(Exception):
    """Bad sweep input or a launcher that cannot work: one message naming the problem and the fix."""


@dataclass(frozen=True)
class Settings:
    """What all jobs of a sweep share: the scripts' environment and the config overrides."""

    repo: Path  # the checkout holding scripts/, configs/ and train.py
    data: Path  # $DATA
    output: Path  # $OUTPUT
    shots: int = 16  # $SHOTS
    python: str = "python"  # $PYTHON, the interpreter the scripts run train.py with
    overrides: Tuple[str, ...] = ()  # KEY VALUE ... passed to every script
    source: str = "imagenet"  # $SOURCE, the cross-dataset source


@dataclass(frozen=True)
class Job:
    """One run: a training job, or an evaluation job that needs the training job ``after``."""

    key: str  # the run folder relative to the output root (unique)
    kind: str  # train | test
    script: str  # a file in scripts/vamp/
    dataset: str
    seed: int
    cfg: str  # $CFG for the script (ImageNet may then use <cfg>_imagenet)
    after: Optional[str] = None  # key of the training job an evaluation job needs

    @property
    def name(self) -> str:
        return f"{self.kind} {self.dataset} seed{self.seed} ({self.cfg})"


def is_done(settings: Settings, job: Job) -> bool:
    """True when the job's run folder holds the completion marker its script writes."""
    return (settings.output / job.key / DONE_MARKER).is_file()


def job_command(job: Job, settings: Settings) -> Tuple[List[str], Dict[str, str]]:
    """The command line and environment of a job: the single-job script, as a user runs it."""
    args = [str(job.seed)] if job.script == "xd_train.sh" else [job.dataset, str(job.seed)]
    argv = ["bash", str(settings.repo / "scripts" / "vamp" / job.script), *args, *settings.overrides]
    env = {
        "DATA": str(settings.data),
        "OUTPUT": str(settings.output),
        "SHOTS": str(settings.shots),
        "PYTHON": settings.python,
        "CFG": job.cfg,
        "SOURCE": settings.source,
    }
    return argv, env


def command_line(job: Job, settings: Settings) -> str:
    """:func:`job_command` as one shell line, for the state file and the user."""
    argv, env = job_command(job, settings)
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " + shlex.join(argv)


def plan_jobs(
    protocol: str,
    settings: Settings,
    datasets: Optional[Sequence[str]] = None,
    seeds: Optional[Sequence[int]] = None,
    cfgs: Optional[Sequence[str]] = None,
) -> List[Job]:
    """Every job of a sweep, each training job followed by the evaluation jobs that need it."""
    if protocol not in PROTOCOLS:
        raise SweepError(f"Unknown protocol '{protocol}'. Fix: choose one of {', '.join(PROTOCOLS)}.")
    datasets = tuple(datasets or DEFAULT_DATASETS[protocol])
    seeds = tuple(seeds or DEFAULT_SEEDS)
    cfgs = tuple(cfgs or DEFAULT_CONFIGS[protocol])
    _check(settings, datasets + ((settings.source,) if protocol == "xd" else ()), cfgs)
    shots = f"shots_{settings.shots}"
    jobs: List[Job] = []
    for cfg in cfgs:
        if protocol == "xd":
            for seed in seeds:
                train = Job(
                    f"cross_dataset/train_source/{settings.source}/{shots}/{TRAINER}/{cfg}/seed{seed}",
                    "train",
                    "xd_train.sh",
                    settings.source,
                    seed,
                    cfg,
                )
                jobs.append(train)
                jobs += [
                    Job(
                        f"cross_dataset/test_target/{dataset}/{shots}/{TRAINER}/{cfg}/seed{seed}",
                        "test",
                        "xd_test.sh",
                        dataset,
                        seed,
                        cfg,
                        after=train.key,
                    )
                    for dataset in datasets
                ]
            continue
        for dataset in datasets:
            variant = _base2new_variant(settings.repo, cfg, dataset)
            for seed in seeds:
                tail = f"{dataset}/{shots}/{TRAINER}/{variant}/seed{seed}"
                train = Job(f"base2new/train_base/{tail}", "train", "base2new_train.sh", dataset, seed, cfg)
                jobs += [
                    train,
                    Job(f"base2new/test_new/{tail}", "test", "base2new_test.sh", dataset, seed, cfg, after=train.key),
                ]
    return jobs


def _base2new_variant(repo: Path, cfg: str, dataset: str) -> str:
    """The config the base-to-new scripts use: ImageNet takes ``<cfg>_imagenet`` where it exists."""
    if dataset == "imagenet" and (repo / "configs" / "trainers" / TRAINER / f"{cfg}_imagenet.yaml").is_file():
        return f"{cfg}_imagenet"
    return cfg


def _check(settings: Settings, datasets: Sequence[str], cfgs: Sequence[str]) -> None:
    """Refuse, before anything runs, what every job of the sweep would fail on."""
    repo = settings.repo
    if not (repo / "scripts" / "vamp" / "base2new_train.sh").is_file():
        raise SweepError(
            f"{repo} is not a checkout of this project (no scripts/vamp/). Fix: run from the checkout or pass --repo."
        )
    if not str(settings.data) or not settings.data.is_dir():
        raise SweepError(
            f"Dataset root '{settings.data}' does not exist. Fix: set DATA (or --data) "
            "to the folder holding the datasets."
        )
    known = sorted(p.stem for p in (repo / "configs" / "datasets").glob("*.yaml"))
    for dataset in datasets:
        if dataset not in known:
            raise SweepError(
                f"Unknown dataset '{dataset}' (no configs/datasets/{dataset}.yaml). Fix: choose from {' '.join(known)}."
            )
    for cfg in cfgs:
        if not (repo / "configs" / "trainers" / TRAINER / f"{cfg}.yaml").is_file():
            raise SweepError(
                f"Unknown config '{cfg}' (no configs/trainers/{TRAINER}/{cfg}.yaml). "
                "Fix: pass a file name from that folder, without .yaml."
            )
    overrides = settings.overrides
    if len(overrides) % 2:
        raise SweepError(
            f"Config overrides must be KEY VALUE pairs, got {' '.join(overrides)}. "
            "Fix: put the sweep's options first, then KEY VALUE pairs."
        )
    for key in overrides[::2]:
        if not _KEY_RE.match(key):
            raise SweepError(
                f"'{key}' is not a config key (KEY VALUE pairs such as OPTIM.MAX_EPOCH 5 "
                "go last). Fix: put the sweep's options before the overrides."
            )
        if key == "DATASET.NUM_SHOTS":
            raise SweepError(
                "Set the number of shots with SHOTS=K or --shots K (it names the output "
                "folder), not with a DATASET.NUM_SHOTS override."
            )
