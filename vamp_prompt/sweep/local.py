"""The local launcher: the jobs one after another on this machine (what the shell loops did).

Each job's script skips a finished run itself and resumes an interrupted one. A failed training
job's evaluations are not run; a failure does not stop the sweep; the failures are returned.
"""

from __future__ import annotations

import logging
from typing import List, Optional, Sequence

from .job import run_command
from .plan import Job, Settings, command_line, job_command
from .state import JobRecord, SweepState, save_state

__all__ = ["run_local"]

logger = logging.getLogger(__name__)


def run_local(jobs: Sequence[Job], settings: Settings, state: SweepState) -> List[str]:
    """Run ``jobs`` in order; return the names of the failed ones (``train dtd seed1 ...``)."""
    for job in jobs:
        _record(state, job, settings, note="not run yet")
    save_state(state)
    failed_keys = set()
    failures: List[str] = []
    for job in jobs:
        if job.after in failed_keys:
            _record(state, job, settings, note="not run: its training job failed")
            save_state(state)
            continue
        argv, env = job_command(job, settings)
        code = run_command(argv, env)
        _record(state, job, settings, exit_code=code, note="" if code == 0 else "failed")
        save_state(state)
        if code != 0:
            failed_keys.add(job.key)
            failures.append(job.name)
            logger.error("%s failed with exit code %d", job.name, code)
    return failures


def _record(state: SweepState, job: Job, settings: Settings, exit_code: Optional[int] = None, note: str = "") -> None:
    command = command_line(job, settings)
    state.jobs[job.key] = JobRecord(
        key=job.key,
        name=job.name,
        kind=job.kind,
        command=command,
        after=job.after,
        launcher="local",
        exit_code=exit_code,
        note=note,
    )
