"""Running one job's command, on this machine or inside a Slurm job that submitit started.

On Slurm, submitit sends the job its pre-emption signal (USR2) when the job is pre-empted or about
to reach its time limit; it then calls :meth:`SweepJob.checkpoint` and requeues the job. The
requeued job runs the same script in the same output folder, and the trainer resumes from the
last epoch it finished (``prompt_learner/resume.pth.tar``). The script itself ignores that signal,
so that submitit's handler, not the signal, decides what happens.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
from typing import Dict, List, Mapping, Optional, Sequence

from submitit.helpers import Checkpointable, DelayedSubmission

__all__ = ["JobFailed", "SweepJob", "run_command"]

logger = logging.getLogger(__name__)


class JobFailed(RuntimeError):
    """A job's script exited with an error; the message says where its output is."""


def _requeue_signal() -> int:
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")  # submitit's own setting
    return getattr(signal, f"SIG{name}", signal.SIGUSR2)


def _ignore_requeue_signal() -> None:  # runs in the child, before exec
    signal.signal(_requeue_signal(), signal.SIG_IGN)


def run_command(argv: Sequence[str], env: Mapping[str, str], cwd: Optional[str] = None) -> int:
    """Run ``argv`` with ``env`` added to this process's environment; return its exit code.

    Output goes where this process's output goes. The command runs in its own process group,
    which is ended with it if this process is interrupted (Ctrl-C, or a requeue on Slurm).
    """
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    sys.stdout.flush()
    sys.stderr.flush()
    proc = subprocess.Popen(
        list(argv), cwd=cwd, env=full_env, start_new_session=True, preexec_fn=_ignore_requeue_signal
    )
    try:
        return proc.wait()
    except BaseException:
        _end_group(proc)
        raise


def _end_group(proc: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


class SweepJob(Checkpointable):
    """The callable submitit runs in a Slurm job: one script, requeued when interrupted."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], run_dir: str) -> None:
        self.name = name
        self.argv: List[str] = list(argv)
        self.env: Dict[str, str] = dict(env)
        self.run_dir = run_dir

    def __call__(self) -> str:
        _log_to_stderr()
        logger.info("%s: %s", self.name, shlex.join(self.argv))
        env = dict(self.env)
        cpus = os.environ.get("SLURM_CPUS_PER_TASK")
        if cpus and "OMP_NUM_THREADS" not in os.environ:  # torch would use every core of the node
            env["OMP_NUM_THREADS"] = cpus
        code = run_command(self.argv, env)
        if code != 0:
            raise JobFailed(
                f"{self.name} failed with exit code {code}. Its output is above in this "
                f"log; the run's own log is {os.path.join(self.run_dir, 'log.txt')}."
            )
        return f"{self.name}: finished"

    def checkpoint(self) -> DelayedSubmission:
        """Called by submitit on time-out or pre-emption: rerun the same script after the requeue
        (training then resumes from its last finished epoch)."""
        logger.warning(
            "%s interrupted (time limit or pre-emption): requeued; training resumes from its last finished epoch in %s",
            self.name,
            self.run_dir,
        )
        return super().checkpoint()


def _log_to_stderr() -> None:
    """Inside a job nobody has configured logging: send this package's messages to the log."""
    root = logging.getLogger("vamp_prompt")
    if not root.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("vamp_prompt %(levelname)s (%(asctime)s) - %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
