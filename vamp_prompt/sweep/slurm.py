"""Submitting a sweep to Slurm with submitit, and asking Slurm about its jobs (no accounting).

Training jobs go in one job array; the evaluation jobs of each training job are submitted with
``--dependency=afterok:<training job>`` and ``--kill-on-invalid-dep=yes``, so they start only
after it succeeded and are cancelled if it failed. A job whose run folder holds ``DONE`` is not
submitted (its evaluations then go without dependency), nor is one still queued or running from
an earlier submission of any sweep into the same output folder.
"""

from __future__ import annotations

import getpass
import logging
import shutil
import subprocess
import time
from itertools import groupby
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import submitit

from .job import SweepJob
from .options import SlurmOptions, executor_parameters
from .plan import Job, Settings, SweepError, command_line, is_done, job_command
from .state import JobRecord, SweepState, list_states, load_state, save_state

__all__ = ["LIVE_STATES", "SubmitSummary", "query_jobs", "submit_sweep"]

logger = logging.getLogger(__name__)

# squeue's states of a job that has not ended (it may still run, or run again).
LIVE_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
        "RESV_DEL_HOLD",
    }
)


def require_slurm() -> None:
    missing = [tool for tool in ("sbatch", "squeue", "scontrol", "srun") if shutil.which(tool) is None]
    if missing:
        raise SweepError(
            f"Slurm's commands are not on PATH (missing: {', '.join(missing)}). Fix: "
            "run on a machine that submits to the cluster (a login node), or use "
            "--launcher local."
        )


def query_jobs(job_ids: Sequence[str]) -> Dict[str, Tuple[str, str]]:
    """``{job_id: (state, reason)}`` for the jobs Slurm still knows, ended ones included
    (they stay known for the cluster's MinJobAge, 5 minutes by default)."""
    wanted = {str(j) for j in job_ids if j}
    if not wanted:
        return {}
    require_slurm()
    cmd = ["squeue", "--noheader", "--array", "--states=all", f"--user={getpass.getuser()}", "--format=%i|%T|%r"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise SweepError(
            f"squeue failed: {proc.stderr.strip() or proc.returncode}. Fix: check that "
            "the Slurm controller is reachable (sinfo), then try again."
        )
    found: Dict[str, Tuple[str, str]] = {}
    for line in proc.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 3 and parts[0] in wanted:
            found[parts[0]] = (parts[1], parts[2])
    return found


def live_jobs(state: SweepState) -> Dict[str, JobRecord]:
    """The records of jobs still queued or running, by run key, in every sweep of the output."""
    records: List[JobRecord] = [r for r in state.jobs.values() if r.job_id]
    for path in list_states(Path(state.output)):
        if path != state.path:
            records += [r for r in load_state(path).jobs.values() if r.job_id]
    queue = query_jobs([r.job_id for r in records])
    return {r.key: r for r in records if r.job_id in queue and queue[r.job_id][0] in LIVE_STATES}


class SubmitSummary:
    """Counts of what a submission did, for the user."""

    def __init__(self) -> None:
        self.submitted: List[str] = []
        self.skipped_done: List[str] = []
        self.kept_live: List[str] = []

    def __str__(self) -> str:
        return (
            f"{len(self.submitted)} submitted, {len(self.skipped_done)} finished (skipped), "
            f"{len(self.kept_live)} already queued or running (kept)"
        )


def submit_sweep(jobs: Sequence[Job], settings: Settings, options: SlurmOptions, state: SweepState) -> SubmitSummary:
    """Submit the jobs that are neither finished nor already queued; record them in ``state``."""
    require_slurm()
    folder = state.folder / "slurm"
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=options.max_timeouts)
    live = live_jobs(state)
    summary = SubmitSummary()
    ids: Dict[str, str] = {}  # run key -> Slurm job id of every unfinished training job

    def pending(group: Sequence[Job]) -> List[Job]:
        todo = []
        for job in group:
            if is_done(settings, job):
                summary.skipped_done.append(job.key)
                _record(
                    state,
                    job,
                    settings,
                    job_id=None,
                    earlier=state.jobs.get(job.key),
                    note="finished (DONE): not resubmitted",
                )
            elif job.key in live:
                summary.kept_live.append(job.key)
                ids[job.key] = live[job.key].job_id
                _record(
                    state,
                    job,
                    settings,
                    job_id=None,
                    earlier=live[job.key],
                    note="already queued or running: not resubmitted",
                )
            else:
                todo.append(job)
        return todo

    trains = [j for j in jobs if j.kind == "train"]
    new = _submit(executor, pending(trains), settings, options, state, f"vamp-{state.protocol}-train", dependency=None)
    ids.update(new)
    summary.submitted += list(new)
    tests = [j for j in jobs if j.kind == "test"]  # in plan order: grouped by training job
    for after, group in groupby(tests, key=lambda j: j.after):
        dependency = f"afterok:{ids[after]}" if after in ids else None
        new = _submit(
            executor,
            pending(list(group)),
            settings,
            options,
            state,
            f"vamp-{state.protocol}-test",
            dependency=dependency,
        )
        summary.submitted += list(new)
    save_state(state)
    return summary


def _submit(
    executor: submitit.SlurmExecutor,
    todo: Sequence[Job],
    settings: Settings,
    options: SlurmOptions,
    state: SweepState,
    name: str,
    dependency: Optional[str],
) -> Dict[str, str]:
    """Submit ``todo`` (an array when more than one); record and save each; return their ids."""
    if not todo:
        return {}
    executor.update_parameters(**executor_parameters(options, name, dependency=dependency))
    callables = []
    for job in todo:
        argv, env = job_command(job, settings)
        callables.append(SweepJob(job.name, argv, env, str(settings.output / job.key)))
    try:
        with executor.batch():
            handles = [executor.submit(fn) for fn in callables]
    except (subprocess.CalledProcessError, OSError, RuntimeError) as err:
        detail = getattr(err, "stderr", None) or getattr(err, "output", None) or err
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        save_state(state)
        raise SweepError(
            f"sbatch refused the jobs: {str(detail).strip()}. Fix: check the Slurm "
            "options (--partition, --account, --qos, --gpus-per-job, or the "
            "--slurm-config file)."
        ) from None
    new = {}
    for job, handle in zip(todo, handles):
        _record(
            state,
            job,
            settings,
            job_id=handle.job_id,
            log=str(handle.paths.stdout),
            depends_on=dependency.split(":", 1)[1] if dependency else None,
        )
        new[job.key] = handle.job_id
        logger.info(
            "submitted %s as job %s%s",
            job.name,
            handle.job_id,
            f" (after {dependency.split(':', 1)[1]})" if dependency else "",
        )
    save_state(state)
    return new


def _record(
    state: SweepState,
    job: Job,
    settings: Settings,
    job_id: Optional[str],
    log: Optional[str] = None,
    depends_on: Optional[str] = None,
    earlier: Optional[JobRecord] = None,
    note: str = "",
) -> None:
    """Record a job: newly submitted (``job_id``), or not submitted (keeping ``earlier``'s id)."""
    command = command_line(job, settings)
    submitted = time.strftime("%Y-%m-%d %H:%M:%S")
    if job_id is None and earlier is not None:
        job_id, log, depends_on, submitted = (earlier.job_id, earlier.log, earlier.depends_on, earlier.submitted)
    elif job_id is None:
        submitted = None
    state.jobs[job.key] = JobRecord(
        key=job.key,
        name=job.name,
        kind=job.kind,
        command=command,
        after=job.after,
        launcher="slurm",
        job_id=job_id,
        log=log,
        depends_on=depends_on,
        submitted=submitted,
        note=note,
    )
