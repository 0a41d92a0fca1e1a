"""Slurm options of a sweep: defaults for one GPU per job, a small YAML file, then flags.

Example file (``--slurm-config slurm.yaml``; every key is optional)::

    partition: gpu
    account: my_project
    qos: normal
    gpus_per_job: 1
    cpus_per_job: 8
    mem_gb: 32
    time_min: 480            # per job; a job that reaches it is requeued and resumes
    array_parallelism: 64    # jobs of one array running at once
    max_timeouts: 3          # requeues after reaching the time limit (pre-emptions are not counted)
    constraint: a100
    setup: ["module load cuda", "source ~/venvs/vamp/bin/activate"]
    sbatch: {exclude: node17}  # any other sbatch option
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

import yaml

from .plan import SweepError

__all__ = ["SlurmOptions", "describe", "executor_parameters", "load_options"]


@dataclass
class SlurmOptions:
    """What each job asks Slurm for. ``gpus_per_job`` or ``mem_gb`` 0: not asked for."""

    partition: Optional[str] = None
    account: Optional[str] = None
    qos: Optional[str] = None
    gpus_per_job: int = 1
    cpus_per_job: int = 8
    mem_gb: float = 32.0
    time_min: int = 480
    array_parallelism: int = 64
    max_timeouts: int = 3
    constraint: Optional[str] = None
    setup: List[str] = field(default_factory=list)
    sbatch: Dict[str, Any] = field(default_factory=dict)


_INTS = ("gpus_per_job", "cpus_per_job", "time_min", "array_parallelism", "max_timeouts")
_STRS = ("partition", "account", "qos", "constraint")


def load_options(path: Optional[str] = None, **flags: Any) -> SlurmOptions:
    """Defaults, then the YAML file at ``path``, then the flags that are not None."""
    values: Dict[str, Any] = {}
    source = "the command line"
    if path:
        source = path
        try:
            with open(path, encoding="utf-8") as handle:
                loaded = yaml.safe_load(handle) or {}
        except OSError as err:
            raise SweepError(
                f"Cannot read the Slurm config {path}: {err.strerror}. Fix: pass an existing file to --slurm-config."
            ) from None
        except yaml.YAMLError as err:
            raise SweepError(f"{path} is not valid YAML: {err}. Fix: correct the file.") from None
        if not isinstance(loaded, dict):
            raise SweepError(f"{path} must hold a mapping of options (key: value). Fix: see README, 'Sweeps on Slurm'.")
        values.update(loaded)
    values.update({k: v for k, v in flags.items() if v is not None})
    return _validated(values, source)


def _validated(values: Mapping[str, Any], source: str) -> SlurmOptions:
    names = [f.name for f in dataclasses.fields(SlurmOptions)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise SweepError(
            f"Unknown Slurm option(s) {', '.join(unknown)} in {source}. Fix: use "
            f"{', '.join(names)} (other sbatch options go under 'sbatch')."
        )
    options = SlurmOptions(**values)
    for name in _INTS:
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SweepError(f"Slurm option {name} in {source} must be a whole number >= 0, got {value!r}.")
    if options.time_min < 1 or options.array_parallelism < 1:
        raise SweepError(f"Slurm options time_min and array_parallelism in {source} must be >= 1.")
    if isinstance(options.mem_gb, bool) or not isinstance(options.mem_gb, (int, float)) or options.mem_gb < 0:
        raise SweepError(f"Slurm option mem_gb in {source} must be a number >= 0, got {options.mem_gb!r}.")
    for name in _STRS:
        value = getattr(options, name)
        if value is not None and not isinstance(value, str):
            setattr(options, name, str(value))
    if not isinstance(options.setup, list) or not all(isinstance(s, str) for s in options.setup):
        raise SweepError(f"Slurm option setup in {source} must be a list of shell lines.")
    if not isinstance(options.sbatch, dict):
        raise SweepError(f"Slurm option sbatch in {source} must be a mapping of sbatch options.")
    return options


def executor_parameters(options: SlurmOptions, job_name: str, dependency: Optional[str] = None) -> Dict[str, Any]:
    """Parameters for ``submitit.SlurmExecutor.update_parameters``, for one submission."""
    extra: Dict[str, Any] = {"requeue": True}  # Slurm may requeue it (pre-emption, node failure)
    if dependency:
        extra["kill-on-invalid-dep"] = "yes"  # a failed training job cancels its evaluations
    extra.update(options.sbatch)
    params: Dict[str, Any] = {
        "job_name": job_name,
        "time": options.time_min,
        "nodes": 1,
        "ntasks_per_node": 1,
        "cpus_per_task": options.cpus_per_job,
        "array_parallelism": options.array_parallelism,
        "stderr_to_stdout": True,
        "dependency": dependency,
        "additional_parameters": extra,
        "partition": options.partition,
        "account": options.account,
        "qos": options.qos,
        "constraint": options.constraint,
        "setup": list(options.setup) or None,
        "gpus_per_node": options.gpus_per_job or None,
        "mem": f"{int(options.mem_gb * 1024)}MB" if options.mem_gb else None,
    }
    return params


def describe(options: SlurmOptions) -> str:
    """One line for the user: what each job asks for."""
    parts = [
        f"{options.gpus_per_job} GPU",
        f"{options.cpus_per_job} CPUs",
        f"{options.mem_gb:g} GB" if options.mem_gb else "default memory",
        f"{options.time_min} min",
    ]
    parts += [f"{k} {getattr(options, k)}" for k in _STRS if getattr(options, k)]
    return ", ".join(parts)
