"""The sweep state file: every job of a sweep, its run folder, and where and how it was run.

``OUTPUT/sweeps/<name>/state.json`` is written when a sweep is submitted or run (and after each
submission or local job), and read by ``python -m vamp_prompt.sweep status``. Submitting the same
sweep again updates the records of its jobs and keeps those of jobs it no longer names.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from vamp_prompt.atomic import atomic_write_text

from .plan import SweepError

__all__ = ["JobRecord", "SweepState", "list_states", "load_state", "save_state", "state_path"]

STATE_DIR = "sweeps"
STATE_FILE = "state.json"


@dataclass
class JobRecord:
    """One job as launched. ``job_id`` is Slurm's (``123`` or ``123_4`` in an array)."""

    key: str
    name: str
    kind: str
    command: str
    after: Optional[str] = None
    launcher: str = "local"
    job_id: Optional[str] = None
    log: Optional[str] = None
    depends_on: Optional[str] = None  # the Slurm job id it waited for
    submitted: Optional[str] = None
    exit_code: Optional[int] = None  # local launcher
    note: str = ""  # e.g. "not run: its training job failed"


@dataclass
class SweepState:
    name: str
    protocol: str
    output: str
    launcher: str
    jobs: Dict[str, JobRecord] = field(default_factory=dict)
    updated: str = ""

    @property
    def folder(self) -> Path:
        return Path(self.output) / STATE_DIR / self.name

    @property
    def path(self) -> Path:
        return self.folder / STATE_FILE


def state_path(output: Path, name: str) -> Path:
    return Path(output) / STATE_DIR / name / STATE_FILE


def list_states(output: Path) -> List[Path]:
    """State files of all sweeps under ``output``, oldest first."""
    return sorted(Path(output).glob(f"{STATE_DIR}/*/{STATE_FILE}"), key=lambda p: p.stat().st_mtime)


def load_state(path: Path) -> SweepState:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        jobs = {key: JobRecord(**record) for key, record in raw.pop("jobs").items()}
        return SweepState(jobs=jobs, **raw)
    except OSError as err:
        raise SweepError(f"Cannot read the sweep state {path}: {err.strerror}.") from None
    except (ValueError, TypeError, KeyError) as err:
        raise SweepError(
            f"{path} is not a sweep state file ({err}). Fix: submit the sweep again; finished runs are skipped."
        ) from None


def save_state(state: SweepState) -> Path:
    state.updated = time.strftime("%Y-%m-%d %H:%M:%S")
    raw = dataclasses.asdict(state)
    return atomic_write_text(state.path, json.dumps(raw, indent=1) + "\n")
