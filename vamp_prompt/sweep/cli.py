"""``python -m vamp_prompt.sweep``: run a protocol's jobs locally or on Slurm, and follow them.

    python -m vamp_prompt.sweep base2new [--launcher local|slurm] [--datasets dtd,eurosat]
        [--seeds 1,2,3] [--cfg NAME] [Slurm options] [KEY VALUE ...]
    python -m vamp_prompt.sweep xd ...           # --datasets are the targets
    python -m vamp_prompt.sweep ablation ...     # the four ablation rows unless --cfg
    python -m vamp_prompt.sweep status [--output DIR] [--name NAME] [--wait]

Exit codes: 0 done (or submitted), 1 some job failed, 2 bad input, 3 (status) jobs still queued or
running.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

from .plan import DEFAULT_CONFIGS, DEFAULT_DATASETS, PROTOCOLS, Job, Settings, SweepError, plan_jobs
from .state import SweepState, list_states, load_state, state_path

__all__ = ["main"]

logger = logging.getLogger("vamp_prompt.sweep")


def _names(text: str) -> List[str]:
    return [x for x in re.split(r"[,\s]+", text) if x]


def _seeds(text: str) -> List[int]:
    try:
        return [int(x) for x in _names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be whole numbers, got '{text}'") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vamp_prompt.sweep",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for protocol in PROTOCOLS:
        p = sub.add_parser(protocol, help=f"run the {protocol} sweep")
        p.add_argument(
            "--launcher",
            choices=("local", "slurm"),
            default="local",
            help="local: one job after another here (default); slurm: submit with submitit",
        )
        p.add_argument(
            "--datasets",
            type=_names,
            help="comma- or space-separated; default: " + " ".join(DEFAULT_DATASETS[protocol]),
        )
        p.add_argument("--seeds", type=_seeds, help="default: 1,2,3")
        p.add_argument(
            "--cfg",
            type=_names,
            help="trainer config name(s) in configs/trainers/VaMP; default: " + " ".join(DEFAULT_CONFIGS[protocol]),
        )
        p.add_argument("--data", default=os.environ.get("DATA", ""), help="datasets folder ($DATA)")
        p.add_argument(
            "--output", default=os.environ.get("OUTPUT") or "output", help="output root ($OUTPUT, default output)"
        )
        p.add_argument(
            "--shots", type=int, default=int(os.environ.get("SHOTS") or 16), help="shots per class ($SHOTS, default 16)"
        )
        p.add_argument(
            "--source",
            default=os.environ.get("SOURCE") or "imagenet",
            help="cross-dataset source ($SOURCE, default imagenet)",
        )
        p.add_argument(
            "--python",
            default=os.environ.get("PYTHON") or sys.executable,
            help="interpreter the scripts run train.py with ($PYTHON)",
        )
        p.add_argument("--repo", help="the project checkout (default: here, or the package's)")
        p.add_argument("--name", help=f"sweep name, for status (default: {protocol})")
        p.add_argument("--dry-run", action="store_true", help="list the jobs and commands only")
        slurm = p.add_argument_group("Slurm (--launcher slurm; flags override --slurm-config)")
        slurm.add_argument("--slurm-config", help="YAML file of the options below (README)")
        slurm.add_argument("--partition")
        slurm.add_argument("--account")
        slurm.add_argument("--qos")
        slurm.add_argument("--gpus-per-job", type=int, help="default 1 (0: ask for none)")
        slurm.add_argument("--cpus-per-job", type=int, help="default 8")
        slurm.add_argument("--mem-gb", type=float, help="default 32 (0: the cluster's default)")
        slurm.add_argument(
            "--time-min",
            type=int,
            help="time limit per job in minutes (default 480); a job reaching it is requeued and resumes",
        )
        slurm.add_argument("--array-parallelism", type=int, help="jobs of an array at once (64)")
        slurm.add_argument("--max-timeouts", type=int, help="requeues after time-outs (default 3)")
        p.add_argument(
            "overrides", nargs=argparse.REMAINDER, help="KEY VALUE config overrides for every job, after the options"
        )
    s = sub.add_parser("status", help="list the jobs of the sweeps in an output folder")
    s.add_argument("--output", default=os.environ.get("OUTPUT") or "output")
    s.add_argument("--name", help="one sweep (default: all under OUTPUT/sweeps)")
    s.add_argument("--wait", action="store_true", help="wait until no job is queued or running")
    s.add_argument("--poll", type=float, default=60.0, help="seconds between checks with --wait")
    s.add_argument("--no-tables", action="store_true", help="do not write the results tables")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = _parser().parse_args(argv)
    try:
        if args.command == "status":
            return _status(args)
        return _run(args)
    except SweepError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 2


def _default_repo() -> Path:
    here = Path.cwd()
    if (here / "scripts" / "vamp" / "base2new_train.sh").is_file():
        return here
    return Path(__file__).resolve().parents[2]


def _run(args: argparse.Namespace) -> int:
    if not args.data:
        raise SweepError("Set DATA (or --data) to the folder holding the datasets.")
    settings = Settings(
        repo=Path(args.repo).resolve() if args.repo else _default_repo(),
        data=Path(args.data).resolve(),
        output=Path(args.output).resolve(),
        shots=args.shots,
        python=args.python,
        overrides=tuple(args.overrides),
        source=args.source,
    )
    jobs = plan_jobs(args.command, settings, args.datasets, args.seeds, args.cfg)
    name = args.name or args.command
    if args.dry_run:
        from .plan import command_line

        for job in jobs:
            print(f"{job.name}\n    {command_line(job, settings)}")
        return 0
    path = state_path(settings.output, name)
    state = load_state(path) if path.is_file() else SweepState(name, args.command, str(settings.output), args.launcher)
    state.protocol, state.launcher = args.command, args.launcher
    if args.launcher == "slurm":
        return _submit(args, jobs, settings, state)
    from .local import run_local

    failures = run_local(jobs, settings, state)
    _write_tables(settings.output)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _submit(args: argparse.Namespace, jobs: List[Job], settings: Settings, state: SweepState) -> int:
    from .options import describe, load_options
    from .slurm import submit_sweep

    options = load_options(
        args.slurm_config,
        partition=args.partition,
        account=args.account,
        qos=args.qos,
        gpus_per_job=args.gpus_per_job,
        cpus_per_job=args.cpus_per_job,
        mem_gb=args.mem_gb,
        time_min=args.time_min,
        array_parallelism=args.array_parallelism,
        max_timeouts=args.max_timeouts,
    )
    logger.info("Slurm, per job: %s", describe(options))
    summary = submit_sweep(jobs, settings, options, state)
    logger.info("Sweep '%s': %s. State: %s", state.name, summary, state.path)
    logger.info(
        "Follow it with: %s -m vamp_prompt.sweep status --output %s --name %s [--wait]",
        os.path.basename(sys.executable),
        settings.output,
        state.name,
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from .status import format_status, job_statuses

    output = Path(args.output).resolve()
    paths = [state_path(output, args.name)] if args.name else list_states(output)
    if not paths or not paths[0].is_file():
        raise SweepError(
            f"No sweep{' ' + repr(args.name) if args.name else ''} under "
            f"{output / 'sweeps'}. Fix: pass the --output (and --name) the sweep "
            "was submitted with."
        )
    while True:
        states = [load_state(p) for p in paths]
        results = [(state, job_statuses(state)) for state in states]
        live = sum(s.live for _, statuses in results for s in statuses)
        if not (args.wait and live):
            break
        logger.info("%s: %d jobs queued or running; next check in %gs", time.strftime("%H:%M:%S"), live, args.poll)
        time.sleep(args.poll)
    for state, statuses in results:
        print(format_status(state, statuses))
    if live:
        return 3
    if not args.no_tables:
        _write_tables(output)
    done = all(s.status == "done" for _, statuses in results for s in statuses)
    return 0 if done else 1


def _write_tables(output: Path) -> None:
    """The results tables, as the shell loops wrote them (python -m vamp_prompt.results OUTPUT)."""
    from vamp_prompt.results import main as results_main

    code = results_main([str(output)])
    if code != 0:
        logger.warning("No results tables (vamp_prompt.results exited %d).", code)
