"""Where every job of a sweep stands: done, queued, running, failed or not run.

Sources, without Slurm accounting: the run folder's ``DONE`` marker (done, whatever else says),
``squeue`` for the jobs Slurm still knows, then submitit's result file for the ended ones, and for
the local launcher the exit code it recorded. A failure comes with the log to read first: the
job's own log, or, for an evaluation cancelled because its training failed, the training job's.
"""

from __future__ import annotations

import logging
import pickle
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from .plan import DONE_MARKER
from .slurm import LIVE_STATES, query_jobs
from .state import JobRecord, SweepState

__all__ = ["JobStatus", "STATUSES", "format_status", "job_statuses"]

logger = logging.getLogger(__name__)

STATUSES = ("done", "running", "queued", "failed", "not run")
_QUEUED = {"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD"}


@dataclass
class JobStatus:
    record: JobRecord
    status: str  # one of STATUSES
    detail: str = ""  # queue reason, or what went wrong
    log: Optional[str] = None

    @property
    def live(self) -> bool:
        return self.status in ("running", "queued")


def job_statuses(state: SweepState) -> List[JobStatus]:
    """The status of every job in ``state``, in its order."""
    output = Path(state.output)
    ids = [
        r.job_id
        for r in state.jobs.values()
        if r.launcher == "slurm" and r.job_id and not (output / r.key / DONE_MARKER).is_file()
    ]
    queue = query_jobs(ids) if ids else {}
    out = {}
    for record in state.jobs.values():
        if (output / record.key / DONE_MARKER).is_file():
            status = JobStatus(record, "done")
        elif record.launcher == "slurm" and record.job_id:
            status = _slurm_status(state, record, queue.get(record.job_id))
        elif record.exit_code:
            status = JobStatus(record, "failed", f"exit code {record.exit_code}", str(output / record.key / "log.txt"))
        else:
            status = JobStatus(record, "not run", record.note)
        training = out.get(record.after)
        if (
            status.status == "failed"
            and training is not None
            and training.status == "failed"
            and not (record.log and Path(record.log).is_file())
        ):
            # An evaluation that never started because its training failed: read that log.
            job = f" {training.record.job_id}" if training.record.job_id else ""
            status = JobStatus(record, "failed", f"never ran: its training job{job} failed", training.log)
        out[record.key] = status
    return list(out.values())


def _slurm_status(state: SweepState, record: JobRecord, queued: Optional[Tuple[str, str]]) -> JobStatus:
    after = state.jobs.get(record.after) if record.after else None
    if queued is not None:
        slurm_state, reason = queued
        if reason == "DependencyNeverSatisfied":  # pending for ever, or cancelled for it
            return JobStatus(
                record,
                "failed",
                f"never runs: its training job {record.depends_on} failed (scancel it if still pending)",
                after.log if after else None,
            )
        if slurm_state in _QUEUED:
            return JobStatus(record, "queued", reason if reason != "None" else "")
        if slurm_state in LIVE_STATES:
            return JobStatus(record, "running", slurm_state.lower() if slurm_state != "RUNNING" else "")
        detail = slurm_state.lower() + (f" ({reason})" if reason not in ("None", "") else "")
        return JobStatus(record, "failed", _error_line(record.log) or detail, record.log)
    detail = _result_error(state, record)
    return JobStatus(record, "failed", _error_line(record.log) or detail, record.log)


def _result_error(state: SweepState, record: JobRecord) -> str:
    """What submitit recorded for an ended job that Slurm no longer lists."""
    from submitit.core.utils import JobPaths

    path = JobPaths(state.folder / "slurm", job_id=record.job_id, task_id=0).result_pickle
    if not path.is_file():
        return "ended without a result (killed, or out of time or memory): see its log"
    try:
        with open(path, "rb") as handle:
            outcome, value = pickle.load(handle)
    except Exception as err:  # noqa: BLE001 - a damaged file is reported, not raised
        return f"unreadable result file {path}: {err}"
    if outcome == "success":
        return "finished without a DONE marker in its run folder"
    lines = [line for line in str(value).strip().splitlines() if line.strip()]
    return lines[-1] if lines else "failed"


def _error_line(log: Optional[str]) -> str:
    """The last ``ERROR: ...`` line the scripts or train.py wrote into a job's log."""
    if not log or not Path(log).is_file():
        return ""
    with open(log, encoding="utf-8", errors="replace") as handle:
        errors = [line.strip() for line in handle if line.startswith("ERROR")]
    return errors[-1] if errors else ""


def format_status(state: SweepState, statuses: List[JobStatus]) -> str:
    """A table of the jobs and a one-line count per status."""
    counts = Counter(s.status for s in statuses)
    summary = ", ".join(f"{counts[k]} {k}" for k in STATUSES if counts[k] or k != "not run")
    lines = [
        f"Sweep '{state.name}' ({state.protocol}, {state.launcher}): {len(statuses)} jobs: {summary}",
        f"  state file: {state.path}",
    ]
    width = max((len(s.record.name) for s in statuses), default=10)
    for s in statuses:
        job = f"job {s.record.job_id}" if s.record.job_id else ""
        line = f"  {s.status:<8} {s.record.name:<{width}}  {job:<12} {s.detail}".rstrip()
        lines.append(line)
        if s.status == "failed" and s.log:
            lines.append(f"  {'':<8} log: {s.log}")
    return "\n".join(lines)
