"""Sweeps of the paper's protocols (base-to-new, cross-dataset, ablation) on this machine or on Slurm.

One entry point, ``python -m vamp_prompt.sweep``, used by ``scripts/vamp/*_all.sh``:

- :mod:`.plan`: the jobs of a protocol, their run folders, and the one function that builds a
  job's command line (a call of a single-job script);
- :mod:`.job`: running that command, and the submitit callable that is requeued when interrupted;
- :mod:`.local`: the local launcher (one job after another);
- :mod:`.options`, :mod:`.slurm`: Slurm options and submission through submitit;
- :mod:`.state`, :mod:`.status`: the sweep state file and ``status``.
"""

from .plan import Job, Settings, SweepError, job_command, plan_jobs

__all__ = ["Job", "Settings", "SweepError", "job_command", "plan_jobs"]
