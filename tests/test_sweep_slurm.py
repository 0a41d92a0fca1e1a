"""A base-to-new sweep on a real (one-node) Slurm cluster, through ``--launcher slurm``.

2 datasets x 1 seed, tiny random CLIP, synthetic data in the real layouts, 3 epochs, 0 GPUs.
Checks the runs and the tables, that each evaluation waited for its training job
(``afterok``), that an interrupted training job was requeued and resumed from its last finished
epoch, and that a second submission, with a third dataset whose data is missing, submits nothing
that is finished and reports the failure with its log while the tables are still written.

The cluster: ``bash scripts/slurm/local_cluster.sh start DIR && source DIR/env.sh``, as .ci/run
does; it exports VAMP_TEST_SLURM. Without it these tests are skipped, and say so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

CLUSTER = os.environ.get("VAMP_TEST_SLURM", "")
if not CLUSTER or not os.environ.get("SLURM_CONF") or shutil.which("sbatch") is None:
    pytest.skip(
        "no Slurm test cluster: start one with `bash scripts/slurm/local_cluster.sh start "
        "DIR && source DIR/env.sh` (.ci/run does; needs root and apt-get install "
        "slurm-wlm munge)",
        allow_module_level=True,
    )
pytest.importorskip(
    "dassl",
    exc_type=ImportError,
    reason="Dassl is not installed: the Slurm sweep runs train.py (see README, 'Install')",
)

REPO = Path(__file__).resolve().parents[1]
NAME = "b2n"
TAIL = "shots_2/VaMP/vit_b16_base2new/seed1"
EPOCHS = 3


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vamp_prompt.sweep", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def _slurm(*args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, check=True).stdout


def _wait_for_line(path: Path, pattern: str, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.is_file() and re.search(pattern, path.read_text(errors="replace"), flags=re.M):
            return
        time.sleep(0.2)
    raise AssertionError(
        f"no line matching {pattern!r} in {path} after {timeout:.0f} s:\n"
        + (path.read_text(errors="replace")[-3000:] if path.is_file() else "")
    )


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, tiny_clip_path):
    from vamp_prompt.data import write_synthetic_dataset

    sinfo = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=30)
    if sinfo.returncode != 0 or not {"idle", "mixed", "allocated"} & set(sinfo.stdout.split()):
        pytest.skip(
            f"the Slurm test cluster in {CLUSTER} does not answer or has no usable node: "
            f"{sinfo.stdout.strip()} {sinfo.stderr.strip()}"
        )
    work = tmp_path_factory.mktemp("slurm_sweep")
    data, out = work / "data", work / "output"
    for name in ("DescribableTextures", "EuroSAT"):
        write_synthetic_dataset(name, str(data), 4, 6, image_size=64)
    submit = [
        "base2new",
        "--launcher",
        "slurm",
        "--datasets",
        "dtd,eurosat",
        "--seeds",
        "1",
        "--data",
        str(data),
        "--output",
        str(out),
        "--shots",
        "2",
        "--name",
        NAME,
        "--gpus-per-job",
        "0",
        "--cpus-per-job",
        "1",
        "--mem-gb",
        "0",
        "--time-min",
        "10",
        "MODEL.BACKBONE.NAME",
        tiny_clip_path,
        "INPUT.SIZE",
        "(64,64)",
        "OPTIM.MAX_EPOCH",
        str(EPOCHS),
        "DATALOADER.NUM_WORKERS",
        "0",
        "DATALOADER.TEST.BATCH_SIZE",
        "50",
        "TRAINER.VAMP.TEST_SAMPLES",
        "2",
    ]
    timings = {}
    t0 = time.time()
    first = _cli(*submit)
    assert first.returncode == 0, first.stdout + first.stderr
    timings["submit"] = time.time() - t0
    queue_at_submission = _slurm("squeue", "-h", "-o", "%i|%T|%r")
    state = json.loads((out / "sweeps" / NAME / "state.json").read_text())
    ids = {key: record["job_id"] for key, record in state["jobs"].items()}

    # Interrupt dtd's training once epoch 1 is saved (epoch 2 has started), as Slurm does before
    # a time limit or on pre-emption: the signal submitit asked Slurm for (USR2).
    train_key = f"base2new/train_base/dtd/{TAIL}"
    train_log = Path(state["jobs"][train_key]["log"])
    _wait_for_line(train_log, rf"^epoch \[2/{EPOCHS}\]", timeout=240)
    timings["until interrupt"] = time.time() - t0
    _slurm("scancel", "--signal=USR2", ids[train_key])
    _wait_for_line(train_log, r"Resuming from", timeout=120)
    restarts = _slurm("scontrol", "show", "job", ids[train_key])

    status = _cli("status", "--output", str(out), "--name", NAME, "--wait", "--poll", "1", timeout=600)
    timings["sweep"] = time.time() - t0
    t1 = time.time()
    second = _cli(*[a if a != "dtd,eurosat" else "dtd,eurosat,caltech101" for a in submit])
    final = _cli("status", "--output", str(out), "--name", NAME, "--wait", "--poll", "1", timeout=600)
    timings["second submission and status"] = time.time() - t1
    print("\nSlurm sweep timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    return dict(
        out=out,
        ids=ids,
        state=state,
        first=first,
        second=second,
        status=status,
        final=final,
        queue=queue_at_submission,
        restarts=restarts,
        train_log=train_log,
    )


def _started(log: Path) -> datetime:
    """When a job first started: the first line submitit writes into its log."""
    first = re.search(r"^submitit INFO \((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", log.read_text(), re.M)
    return datetime.strptime(first.group(1), "%Y-%m-%d %H:%M:%S")


def _finished(run_dir: Path) -> datetime:
    """When a run finished: the time in its DONE marker."""
    stamp = re.search(r"finished (\S+ \S+)", (run_dir / "DONE").read_text()).group(1)
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")


def test_all_runs_finished_and_tables_written(sweep):
    out = sweep["out"]
    assert sweep["status"].returncode == 0, sweep["status"].stdout + sweep["status"].stderr
    assert "4 jobs: 4 done, 0 running, 0 queued, 0 failed" in sweep["status"].stdout
    for phase in ("train_base", "test_new"):
        for dataset in ("dtd", "eurosat"):
            run = out / "base2new" / phase / dataset / TAIL
            assert (run / "DONE").is_file() and (run / "metrics.json").is_file(), run
    tables = (out / "tables" / "results.md").read_text()
    for dataset in ("dtd", "eurosat"):
        assert re.search(rf"^\| {dataset} \| 1 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|", tables, re.M)


def test_each_evaluation_waited_for_its_training(sweep):
    out, ids = sweep["out"], sweep["ids"]
    queue = dict(line.split("|", 1) for line in sweep["queue"].split())
    for dataset in ("dtd", "eurosat"):
        train_key = f"base2new/train_base/{dataset}/{TAIL}"
        test_key = f"base2new/test_new/{dataset}/{TAIL}"
        record = sweep["state"]["jobs"][test_key]
        assert record["depends_on"] == ids[train_key]
        assert queue[ids[test_key]] == "PENDING|Dependency"  # held at submission
        script = (out / "sweeps" / NAME / "slurm" / f"{ids[test_key]}_submission.sh").read_text()
        assert f"#SBATCH --dependency=afterok:{ids[train_key]}\n" in script
        assert _started(Path(record["log"])) >= _finished(out / "base2new/train_base" / dataset / TAIL)


def test_interrupted_training_was_requeued_and_resumed(sweep):
    log = sweep["train_log"].read_text()
    assert "Restarts=1" in sweep["restarts"]  # the same Slurm job, requeued once
    assert log.count("Starting with JobEnvironment") == 2
    assert "pre-emption): requeued" in log and "Requeued job" in log
    resumed = re.search(rf"Resuming from \S+resume\.pth\.tar \(epoch (\d) of {EPOCHS} done\)", log)
    assert resumed and 1 <= int(resumed.group(1)) < EPOCHS, log[-3000:]
    second_run = log[log.index("Resuming from") :]
    assert f"epoch [1/{EPOCHS}]" not in second_run  # finished epochs were not trained again
    assert f"epoch [{EPOCHS}/{EPOCHS}]" in second_run and "Finish training" in second_run


def test_second_submission_skips_finished_jobs_and_reports_a_failure(sweep):
    second = sweep["second"]
    assert second.returncode == 0, second.stdout + second.stderr
    assert "2 submitted, 4 finished (skipped)" in second.stdout + second.stderr
    state = json.loads((sweep["out"] / "sweeps" / NAME / "state.json").read_text())
    ids = {key: r["job_id"] for key, r in state["jobs"].items()}
    assert {key: ids[key] for key in sweep["ids"]} == sweep["ids"]
    scripts = list((sweep["out"] / "sweeps" / NAME / "slurm").glob("*_submission.sh"))
    assert len(scripts) == 3 + 2  # the first submission's three, then caltech101's two

    # caltech101 has no data: its training fails, its evaluation never runs, the rest stands.
    final = sweep["final"]
    assert final.returncode == 1, final.stdout + final.stderr
    assert "6 jobs: 4 done, 0 running, 0 queued, 2 failed" in final.stdout
    train_log = state["jobs"][f"base2new/train_base/caltech101/{TAIL}"]["log"]
    lines = final.stdout.splitlines()
    for kind in ("train", "test"):
        row = next(i for i, line in enumerate(lines) if f"failed   {kind} caltech101" in line)
        assert lines[row + 1].strip() == f"log: {train_log}", lines[row : row + 2]
    assert "caltech-101" in Path(train_log).read_text()  # the message names the missing folder
    assert "never ran" in final.stdout or "never runs" in final.stdout
    assert (sweep["out"] / "tables" / "results.md").is_file()
