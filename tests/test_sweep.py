"""The sweep entry point without a cluster: the plan of each protocol, bad input, Slurm options and
the sbatch file they give, the job callable under submitit's local executor (success, failure,
requeue after a time-out), and the local launcher through the real ``base2new_all.sh``.

The same sweep on a real Slurm cluster: tests/test_sweep_slurm.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import submitit
from submitit.slurm.slurm import _make_sbatch_string

from vamp_prompt.sweep import Settings, SweepError, job_command, plan_jobs
from vamp_prompt.sweep.job import SweepJob
from vamp_prompt.sweep.options import SlurmOptions, executor_parameters, load_options

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def settings(tmp_path) -> Settings:
    (tmp_path / "data").mkdir()
    return Settings(
        repo=REPO,
        data=tmp_path / "data",
        output=tmp_path / "out",
        shots=4,
        python=sys.executable,
        overrides=("OPTIM.MAX_EPOCH", "2"),
    )


# ------------------------------------------------------------------------------------ the plan
def test_base2new_plan_pairs_each_training_with_its_evaluation(settings):
    jobs = plan_jobs("base2new", settings, ["dtd", "imagenet"], [1, 2])
    assert [(j.kind, j.dataset, j.seed) for j in jobs] == [
        ("train", "dtd", 1),
        ("test", "dtd", 1),
        ("train", "dtd", 2),
        ("test", "dtd", 2),
        ("train", "imagenet", 1),
        ("test", "imagenet", 1),
        ("train", "imagenet", 2),
        ("test", "imagenet", 2),
    ]
    train, test = jobs[0], jobs[1]
    assert train.key == "base2new/train_base/dtd/shots_4/VaMP/vit_b16_base2new/seed1"
    assert test.key == "base2new/test_new/dtd/shots_4/VaMP/vit_b16_base2new/seed1"
    assert test.after == train.key and train.after is None
    # ImageNet writes under its own config variant, as the scripts do.
    assert jobs[4].key.endswith("imagenet/shots_4/VaMP/vit_b16_base2new_imagenet/seed1")
    argv, env = job_command(test, settings)
    assert argv == ["bash", str(REPO / "scripts/vamp/base2new_test.sh"), "dtd", "1", "OPTIM.MAX_EPOCH", "2"]
    assert env["OUTPUT"] == str(settings.output) and env["SHOTS"] == "4"
    assert env["CFG"] == "vit_b16_base2new" and env["PYTHON"] == sys.executable


def test_xd_and_ablation_plans(settings):
    xd = plan_jobs("xd", settings, ["dtd", "imagenet_a"], [1])
    assert [j.key for j in xd] == [
        "cross_dataset/train_source/imagenet/shots_4/VaMP/vit_b16_cross_dataset/seed1",
        "cross_dataset/test_target/dtd/shots_4/VaMP/vit_b16_cross_dataset/seed1",
        "cross_dataset/test_target/imagenet_a/shots_4/VaMP/vit_b16_cross_dataset/seed1",
    ]
    assert job_command(xd[0], settings)[0][2:4] == ["1", "OPTIM.MAX_EPOCH"]  # SEED, no dataset
    ablation = plan_jobs("ablation", settings, ["eurosat"], [1])
    assert [j.cfg for j in ablation[::2]] == [
        "vit_b16_base2new_ablation_mmrl",
        "vit_b16_base2new_ablation_sample_specific",
        "vit_b16_base2new_ablation_variational",
        "vit_b16_base2new",
    ]
    assert len(plan_jobs("base2new", settings)) == 11 * 3 * 2  # the paper's defaults


@pytest.mark.parametrize(
    "change, needle",
    [
        (dict(datasets=["dtd", "not_a_dataset"]), "configs/datasets/not_a_dataset.yaml"),
        (dict(cfgs=["no_such_cfg"]), "configs/trainers/VaMP/no_such_cfg.yaml"),
        (dict(overrides=("OPTIM.MAX_EPOCH",)), "KEY VALUE pairs"),
        (dict(overrides=("--launcher", "slurm")), "'--launcher' is not a config key"),
        (dict(overrides=("DATASET.NUM_SHOTS", "8")), "SHOTS=K"),
        (dict(data="missing"), "DATA"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(settings, change, needle):
    fields = {k: v for k, v in change.items() if k in ("overrides", "data")}
    if "data" in fields:
        fields["data"] = settings.data / "missing"
    bad = Settings(**{**settings.__dict__, **fields})
    with pytest.raises(SweepError, match=None) as err:
        plan_jobs("base2new", bad, change.get("datasets", ["dtd"]), [1], change.get("cfgs"))
    assert needle in str(err.value)


# --------------------------------------------------------------------------- Slurm options
def test_slurm_options_defaults_file_and_flags(tmp_path):
    assert SlurmOptions().gpus_per_job == 1  # users get one GPU per job by default
    path = tmp_path / "slurm.yaml"
    path.write_text(
        "partition: gpu\naccount: proj\ntime_min: 60\ngpus_per_job: 2\n"
        "setup: ['module load cuda']\nsbatch: {exclude: node17}\n"
    )
    options = load_options(str(path), time_min=30, qos=None)
    assert (options.partition, options.account, options.gpus_per_job, options.time_min) == (
        "gpu",
        "proj",
        2,
        30,
    )  # the flag wins over the file
    train = _make_sbatch_string(command="CMD", folder=str(tmp_path), **executor_parameters(options, "vamp-train"))
    for line in (
        "--partition=gpu",
        "--account=proj",
        "--gpus-per-node=2",
        "--time=30",
        "--cpus-per-task=8",
        "--mem=32768MB",
        "--requeue",
        "--exclude=node17",
        "--signal=USR2@90",
    ):
        assert f"#SBATCH {line}\n" in train, line
    assert "module load cuda" in train and "dependency" not in train
    test = _make_sbatch_string(
        command="CMD", folder=str(tmp_path), **executor_parameters(options, "vamp-test", "afterok:12_3")
    )
    assert "#SBATCH --dependency=afterok:12_3\n" in test
    assert "#SBATCH --kill-on-invalid-dep=yes\n" in test
    cpu_only = executor_parameters(load_options(gpus_per_job=0, mem_gb=0), "x")
    assert cpu_only["gpus_per_node"] is None and cpu_only["mem"] is None


@pytest.mark.parametrize(
    "text, needle",
    [
        ("partitoin: gpu\n", "Unknown Slurm option(s) partitoin"),
        ("gpus_per_job: one\n", "gpus_per_job"),
        ("- gpu\n", "must hold a mapping"),
    ],
)
def test_bad_slurm_config_names_the_file_and_key(tmp_path, text, needle):
    path = tmp_path / "slurm.yaml"
    path.write_text(text)
    with pytest.raises(SweepError) as err:
        load_options(str(path))
    assert needle in str(err.value) and (str(path) in str(err.value) or "mapping" in needle)


# ------------------------------------------------------- the job under submitit's local executor
def _local_executor(folder: Path, **params) -> submitit.LocalExecutor:
    executor = submitit.LocalExecutor(folder=folder)
    executor.update_parameters(**{"timeout_min": 2, "stderr_to_stdout": True, **params})
    return executor


def test_job_runs_its_command_and_reports_failure_with_its_log(tmp_path):
    executor = _local_executor(tmp_path / "jobs")
    ok = executor.submit(
        SweepJob(
            "train a seed1",
            ["bash", "-c", 'echo "child sees $GREETING"'],
            {"GREETING": "hello"},
            str(tmp_path / "run_a"),
        )
    )
    bad = executor.submit(
        SweepJob("train b seed1", ["bash", "-c", "echo 'ERROR: no data'; exit 3"], {}, str(tmp_path / "run_b"))
    )
    assert ok.result() == "train a seed1: finished"
    assert "child sees hello" in ok.paths.stdout.read_text()
    with pytest.raises(submitit.core.utils.FailedJobError) as err:
        bad.result()
    assert "train b seed1 failed with exit code 3" in str(err.value)
    assert str(tmp_path / "run_b" / "log.txt") in str(err.value)
    assert "ERROR: no data" in bad.paths.stdout.read_text()


def test_timed_out_job_is_checkpointed_requeued_and_rerun(tmp_path):
    """submitit's time-out signal reaches the job, which requeues itself; the rerun finds what
    the first run left (as training finds its resume file) and finishes. The first run's
    command, still running, is ended with it."""
    marker, pid_file = tmp_path / "first_run", tmp_path / "first_pid"
    script = (
        f'if [ -f {marker} ]; then echo "second run: resumed"; exit 0; fi; '
        f'touch {marker}; echo "first run: started"; sleep 60 & echo $! > {pid_file}; wait'
    )
    executor = _local_executor(tmp_path / "jobs", timeout_min=0.1, signal_delay_s=4)
    job = executor.submit(SweepJob("train c seed1", ["bash", "-c", script], {}, str(tmp_path / "run_c")))
    assert job.result() == "train c seed1: finished"
    lines = job.paths.stdout.read_text().splitlines()
    requeued = next(i for i, line in enumerate(lines) if "pre-emption): requeued" in line)
    assert lines.index("first run: started") < requeued < lines.index("second run: resumed")
    first = int(pid_file.read_text())
    for _ in range(50):  # the first run's process group was ended with it
        if not Path(f"/proc/{first}").exists():
            break
        time.sleep(0.1)
    assert not Path(f"/proc/{first}").exists()


# --------------------------------------------------------------------- the local launcher
def _finished_run(folder: Path, accuracy: float, checkpoint: bool = True) -> None:
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"accuracy": accuracy, "split": "test"}))
    (folder / "log.txt").write_text(f"Finish training\n* accuracy: {accuracy}%\n")
    if checkpoint:
        (folder / "prompt_learner").mkdir()
        (folder / "prompt_learner" / "model.pth.tar-2").write_bytes(b"")
    (folder / "DONE").write_text("finished\n")


def test_local_launcher_through_the_loop_script(tmp_path):
    """base2new_all.sh runs the sweep locally: finished jobs skipped, a failure listed and
    visible in ``status`` with its log, the others unaffected, the tables written."""
    out, data = tmp_path / "out", tmp_path / "data"
    data.mkdir()
    tail = "shots_4/VaMP/vit_b16_base2new/seed1"
    _finished_run(out / "base2new/train_base/dtd" / tail, 80.0)
    _finished_run(out / "base2new/test_new/dtd" / tail, 60.0)
    _finished_run(out / "base2new/train_base/eurosat" / tail, 90.0, checkpoint=False)
    env = dict(
        os.environ, DATA=str(data), OUTPUT=str(out), SHOTS="4", PYTHON=sys.executable, DATASETS="dtd eurosat", SEEDS="1"
    )
    proc = subprocess.run(
        ["bash", "scripts/vamp/base2new_all.sh", "OPTIM.MAX_EPOCH", "2"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("Skip:") == 3  # the two dtd jobs and eurosat's training
    assert "FAILED: test eurosat seed1 (vit_b16_base2new)" in proc.stderr
    assert "no finished training run" in proc.stderr  # the script's own message
    assert "| dtd | 1 | 80.00 | 60.00 |" in (out / "tables" / "results.md").read_text()

    status = subprocess.run(
        [sys.executable, "-m", "vamp_prompt.sweep", "status", "--output", str(out), "--no-tables"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 1, status.stdout + status.stderr
    assert "3 done, 0 running, 0 queued, 1 failed" in status.stdout
    assert f"log: {out / 'base2new/test_new/eurosat' / tail / 'log.txt'}" in status.stdout
