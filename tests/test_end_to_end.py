"""End to end through the real scripts: synthetic DTD-layout data, a tiny random CLIP, CPU.

Covers the train and test scripts, the log's accuracy lines, checkpoint size and contents, the
completion marker, skip on rerun, resume after an interruption, eval-only loading, the results
command, and every bad input the scripts must refuse with one clear message.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest
import torch

pytest.importorskip(
    "dassl",
    exc_type=ImportError,
    reason="Dassl is not installed (pip install it from "
    "github.com/KaiyangZhou/Dassl.pytorch, see README): end-to-end tests skipped",
)

from vamp_prompt.demo import prepare  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_SUBDIR = "base2new/train_base/dtd/shots_4/VaMP/vit_b16_base2new/seed1"
TEST_SUBDIR = "base2new/test_new/dtd/shots_4/VaMP/vit_b16_base2new/seed1"


def overrides(clip: str, epochs: int = 1) -> list:
    return [
        "MODEL.BACKBONE.NAME",
        clip,
        "INPUT.SIZE",
        "(64,64)",
        "OPTIM.MAX_EPOCH",
        str(epochs),
        "DATALOADER.NUM_WORKERS",
        "0",
        "DATALOADER.TEST.BATCH_SIZE",
        "50",
        "TRAINER.VAMP.TEST_SAMPLES",
        "3",
    ]


def run_script(name: str, args: list, data: str, output: str, check: bool = True, shots: int = 4, cfg: str = ""):
    env = dict(os.environ, DATA=data, OUTPUT=output, PYTHON=sys.executable, PYTHONUNBUFFERED="1", SHOTS=str(shots))
    if cfg:
        env["CFG"] = cfg
    proc = subprocess.run(
        ["bash", f"scripts/vamp/{name}", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_train_py(args: list):
    args = [*args, "DATASET.NUM_SHOTS", "4"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "train.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


def digest(folder: str) -> dict:
    out = {}
    for root, _, files in os.walk(folder):
        for f in files:
            path = os.path.join(root, f)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, folder)] = hashlib.sha1(fh.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("e2e"))
    paths = prepare(work, num_classes=6, images_per_class=16)
    output = os.path.join(work, "output")
    ov = overrides(paths["clip"])
    analysis = ["TRAINER.VAMP.UNCERTAINTY_ANALYSIS", "True", "TRAINER.VAMP.SAVE_PER_IMAGE", "True"]
    train = run_script("base2new_train.sh", ["dtd", "1", *ov], paths["data"], output)
    test = run_script("base2new_test.sh", ["dtd", "1", *ov, *analysis], paths["data"], output)
    return dict(work=work, data=paths["data"], clip=paths["clip"], output=output, train=train, test=test, ov=ov)


def accuracy_lines(text: str) -> list:
    return [float(x) for x in re.findall(r"^\* accuracy: ([0-9.]+)%$", text, flags=re.M)]


def test_train_then_test_write_logs_markers_and_metrics(workspace):
    out = workspace["output"]
    train_dir, test_dir = os.path.join(out, TRAIN_SUBDIR), os.path.join(out, TEST_SUBDIR)
    train_log = open(os.path.join(train_dir, "log.txt")).read()
    test_log = open(os.path.join(test_dir, "log.txt")).read()
    assert "Finish training" in train_log
    assert len(accuracy_lines(train_log.split("Finish training")[1])) == 1
    assert "head: fusion" in train_log  # base classes: fusion head
    assert "head: cls" in test_log  # new classes: class head only
    assert len(accuracy_lines(test_log)) == 1
    for folder in (train_dir, test_dir):
        assert os.path.isfile(os.path.join(folder, "DONE"))
        metrics = json.load(open(os.path.join(folder, "metrics.json")))
        assert {"accuracy", "ece", "nll", "mutual_information"} <= set(metrics)
    assert json.load(open(os.path.join(test_dir, "metrics.json")))["subsample"] == "new"
    # The evaluation with the analysis switches on writes what the plot command reads.
    assert os.path.isfile(os.path.join(test_dir, "per_image.csv"))
    for name in ("reliability.json", "s_sweep.json", "latents.npz"):
        assert os.path.getsize(os.path.join(test_dir, "uncertainty", name)) > 0, name
    plots = subprocess.run(
        [sys.executable, "-m", "vamp_prompt.plots", test_dir], capture_output=True, text=True, timeout=120
    )
    assert plots.returncode == 0, plots.stderr
    assert os.path.getsize(os.path.join(test_dir, "uncertainty", "latents.png")) > 1000


def test_checkpoint_holds_only_trainable_state(workspace):
    ckpt = os.path.join(workspace["output"], TRAIN_SUBDIR, "prompt_learner", "model.pth.tar-1")
    payload = torch.load(ckpt, map_location="cpu", weights_only=True)
    n_params = sum(v.numel() for v in payload["state_dict"].values())
    assert not any("resblocks" in k or "token_embedding" in k for k in payload["state_dict"])
    assert "optimizer" not in payload  # final checkpoint: weights only
    # fp32 trainable weights + prototypes + metadata, nothing of the frozen CLIP (18 MB here)
    assert os.path.getsize(ckpt) < 4 * n_params + 200_000
    assert payload["classnames"] and payload["subsample"] == "base"
    assert not os.path.exists(os.path.join(os.path.dirname(ckpt), "resume.pth.tar"))


def test_finished_jobs_are_skipped_and_untouched(workspace):
    before = digest(workspace["output"])
    for script in ("base2new_train.sh", "base2new_test.sh"):
        proc = run_script(script, ["dtd", "1", *workspace["ov"]], workspace["data"], workspace["output"])
        assert "Skip:" in proc.stdout
    assert digest(workspace["output"]) == before


def test_results_command_on_the_output_tree(workspace):
    out_dir = os.path.join(workspace["work"], "tables")
    proc = subprocess.run(
        [sys.executable, "-m", "vamp_prompt.results", workspace["output"], "--out", out_dir],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr

    def accuracy(subdir: str) -> float:
        path = os.path.join(workspace["output"], subdir, "metrics.json")
        value = json.load(open(path))["accuracy"]
        logged = accuracy_lines(open(os.path.join(workspace["output"], subdir, "log.txt")).read())
        assert value == pytest.approx(logged[-1], abs=0.05)  # the log rounds to 0.1
        return value

    base, new = accuracy(TRAIN_SUBDIR), accuracy(TEST_SUBDIR)
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| dtd |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[2]) == pytest.approx(base, abs=0.01)
    assert float(cells[3]) == pytest.approx(new, abs=0.01)
    hm = 2 * base * new / (base + new) if base + new else 0.0
    assert float(cells[4]) == pytest.approx(hm, abs=0.01)
    assert any(f.endswith(".csv") for f in os.listdir(out_dir))


def test_interrupted_training_resumes_to_the_same_model(workspace, tmp_path):
    ov = overrides(workspace["clip"], epochs=2)
    straight = os.path.join(str(tmp_path), "straight")
    run_script("base2new_train.sh", ["dtd", "1", *ov], workspace["data"], straight)

    resumed = os.path.join(str(tmp_path), "resumed")
    env = dict(
        os.environ, DATA=workspace["data"], OUTPUT=resumed, PYTHON=sys.executable, PYTHONUNBUFFERED="1", SHOTS="4"
    )
    proc = subprocess.Popen(
        ["bash", "scripts/vamp/base2new_train.sh", "dtd", "1", *ov],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    for line in proc.stdout:  # epoch 1 is saved before epoch 2 prints its first line
        if line.startswith("epoch [2/2]"):
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    run_dir = os.path.join(resumed, TRAIN_SUBDIR)
    assert not os.path.exists(os.path.join(run_dir, "DONE"))
    assert os.path.isfile(os.path.join(run_dir, "prompt_learner", "resume.pth.tar"))

    again = run_script("base2new_train.sh", ["dtd", "1", *ov], workspace["data"], resumed)
    assert "Resuming from" in again.stdout and "epoch 1 of 2 done" in again.stdout
    assert os.path.isfile(os.path.join(run_dir, "DONE"))
    a = torch.load(os.path.join(straight, TRAIN_SUBDIR, "prompt_learner", "model.pth.tar-2"), weights_only=True)[
        "state_dict"
    ]
    b = torch.load(os.path.join(run_dir, "prompt_learner", "model.pth.tar-2"), weights_only=True)["state_dict"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)


# ----------------------------------------------------------------------------------- bad input
def assert_refused(proc, *needles):
    text = proc.stdout + proc.stderr
    assert proc.returncode == 2, text[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    for needle in needles:
        assert needle in text, (needle, text[-3000:])


def test_missing_data_folder(workspace, tmp_path):
    missing = str(tmp_path / "nowhere")
    proc = run_script("base2new_train.sh", ["dtd", "1", *workspace["ov"]], missing, str(tmp_path / "out"), check=False)
    assert_refused(proc, missing, "DATA")


def test_missing_dataset_folder(workspace, tmp_path):
    data = tmp_path / "data"
    (data / "eurosat").mkdir(parents=True)  # a root holding other datasets, but not DTD
    proc = run_script(
        "base2new_train.sh", ["dtd", "1", *workspace["ov"]], str(data), str(tmp_path / "out"), check=False
    )
    assert_refused(proc, os.path.join(str(data), "dtd"))


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_bad_split_file(workspace, tmp_path, damage):
    data = tmp_path / "data"
    shutil.copytree(workspace["data"], data)
    split = data / "dtd" / "split_zhou_DescribableTextures.json"
    if damage == "missing":
        split.unlink()
    else:
        split.write_text('{"train": [["banded/x.jpg", 0')
    proc = run_script(
        "base2new_train.sh", ["dtd", "1", *workspace["ov"]], str(data), str(tmp_path / "out"), check=False
    )
    assert_refused(proc, str(split))


def test_unreadable_image(workspace, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(workspace["data"], data)
    split = json.load(open(data / "dtd" / "split_zhou_DescribableTextures.json"))
    for rel, _, _ in split["train"] + split["val"] + split["test"]:
        (data / "dtd" / "images" / rel).write_bytes(b"this is not a jpeg")
    proc = run_script(
        "base2new_train.sh",
        ["dtd", "1", *workspace["ov"], "DATALOADER.NUM_WORKERS", "1"],
        str(data),
        str(tmp_path / "out"),
        check=False,
    )
    assert_refused(proc, str(data / "dtd" / "images"), "image")
    assert "Original Traceback" not in proc.stderr  # the worker's traceback is not the message


def test_eval_only_without_checkpoint(workspace, tmp_path):
    proc = run_script(
        "base2new_test.sh", ["dtd", "2", *workspace["ov"]], workspace["data"], workspace["output"], check=False
    )
    assert_refused(proc, "no finished training run", "seed2")
    empty = tmp_path / "model"
    empty.mkdir()
    proc = run_train_py(
        [
            "--root",
            workspace["data"],
            "--trainer",
            "VaMP",
            "--eval-only",
            "--model-dir",
            str(empty),
            "--output-dir",
            str(tmp_path / "eval"),
            "--dataset-config-file",
            "configs/datasets/dtd.yaml",
            "--config-file",
            "configs/trainers/VaMP/vit_b16_base2new.yaml",
            *workspace["ov"],
            "DATASET.SUBSAMPLE_CLASSES",
            "base",
        ]
    )
    assert_refused(proc, str(empty / "prompt_learner"), "No checkpoint")


def test_checkpoint_from_another_class_set_and_earlier_results_intact(workspace, tmp_path):
    before = digest(workspace["output"])
    model_dir = os.path.join(workspace["output"], TRAIN_SUBDIR)
    proc = run_train_py(
        [
            "--root",
            workspace["data"],
            "--trainer",
            "VaMP",
            "--eval-only",
            "--model-dir",
            model_dir,
            "--load-epoch",
            "1",
            "--output-dir",
            str(tmp_path / "eval"),
            "--dataset-config-file",
            "configs/datasets/dtd.yaml",
            "--config-file",
            "configs/trainers/VaMP/vit_b16_base2new.yaml",
            *workspace["ov"],
            "DATASET.SUBSAMPLE_CLASSES",
            "all",
        ]
    )
    assert_refused(proc, "another class set", "model.pth.tar-1")
    # An unknown key aimed at a finished run's folder changes nothing there.
    proc = run_train_py(
        [
            "--root",
            workspace["data"],
            "--trainer",
            "VaMP",
            "--output-dir",
            model_dir,
            "--dataset-config-file",
            "configs/datasets/dtd.yaml",
            "--config-file",
            "configs/trainers/VaMP/vit_b16_base2new.yaml",
            *workspace["ov"],
            "TRAINER.VAMP.NOT_A_KEY",
            "1",
        ]
    )
    assert_refused(proc, "TRAINER.VAMP.NOT_A_KEY", "Unknown config key")
    # Rerunning a finished run with other training settings is refused, not mixed.
    proc = run_train_py(
        [
            "--root",
            workspace["data"],
            "--trainer",
            "VaMP",
            "--seed",
            "1",
            "--output-dir",
            model_dir,
            "--dataset-config-file",
            "configs/datasets/dtd.yaml",
            "--config-file",
            "configs/trainers/VaMP/vit_b16_base2new.yaml",
            *workspace["ov"],
            "DATASET.SUBSAMPLE_CLASSES",
            "base",
            "TRAINER.VAMP.BETA",
            "0.5",
        ]
    )
    assert_refused(proc, "other settings", "TRAINER.VAMP.BETA: 0.1 -> 0.5")
    # Evaluating into a training run's folder would overwrite its results: refused.
    proc = run_train_py(
        [
            "--root",
            workspace["data"],
            "--trainer",
            "VaMP",
            "--eval-only",
            "--model-dir",
            model_dir,
            "--output-dir",
            model_dir,
            "--dataset-config-file",
            "configs/datasets/dtd.yaml",
            "--config-file",
            "configs/trainers/VaMP/vit_b16_base2new.yaml",
            *workspace["ov"],
            "DATASET.SUBSAMPLE_CLASSES",
            "new",
        ]
    )
    assert_refused(proc, "holds a training run")
    # A bad value is named before anything is loaded.
    proc = run_train_py(
        [
            "--root",
            workspace["data"],
            "--trainer",
            "VaMP",
            "--output-dir",
            str(tmp_path / "bad_value"),
            "--dataset-config-file",
            "configs/datasets/dtd.yaml",
            "--config-file",
            "configs/trainers/VaMP/vit_b16_base2new.yaml",
            *workspace["ov"],
            "TRAINER.VAMP.PREC",
            "fp8",
        ]
    )
    assert_refused(proc, "TRAINER.VAMP.PREC", "fp8")
    # An image size this CLIP cannot take (INPUT.SIZE forgotten) is named, not a tensor error.
    proc = run_train_py(
        [
            "--root",
            workspace["data"],
            "--trainer",
            "VaMP",
            "--eval-only",
            "--model-dir",
            model_dir,
            "--output-dir",
            str(tmp_path / "size"),
            "--dataset-config-file",
            "configs/datasets/dtd.yaml",
            "--config-file",
            "configs/trainers/VaMP/vit_b16_base2new.yaml",
            *workspace["ov"],
            "DATASET.SUBSAMPLE_CLASSES",
            "new",
            "INPUT.SIZE",
            "(224,224)",
        ]
    )
    assert_refused(proc, "INPUT.SIZE", "(64, 64)")
    proc = run_script(
        "base2new_train.sh", ["dtd", "1", "DATASET.NUM_SHOTS", "8"], workspace["data"], workspace["output"], check=False
    )
    assert_refused(proc, "SHOTS=K")
    after = digest(workspace["output"])  # a refused rerun may add a log-<time>, never rewrite
    assert {k: after.get(k) for k in before} == before


def test_cross_dataset_and_domain_generalisation_flow(tmp_path):
    """ImageNet-trained model evaluated on another dataset and an ImageNet variant (class head)."""
    from vamp_prompt import save_random_clip
    from vamp_prompt.data import write_synthetic_dataset

    data = str(tmp_path / "data")
    for name in ("ImageNet", "ImageNetA", "DescribableTextures"):
        write_synthetic_dataset(name, data, 6, 8, image_size=64)
    clip = save_random_clip(str(tmp_path / "clip.pt"))
    ov = [
        "MODEL.BACKBONE.NAME",
        clip,
        "INPUT.SIZE",
        "(64,64)",
        "DATALOADER.NUM_WORKERS",
        "0",
        "DATALOADER.TRAIN_X.BATCH_SIZE",
        "4",
        "TRAINER.VAMP.TEST_SAMPLES",
        "2",
    ]
    output = str(tmp_path / "output")
    train = run_script("xd_train.sh", ["1", *ov], data, output, shots=2)
    tests = {t: run_script("xd_test.sh", [t, "1", *ov], data, output, shots=2) for t in ("dtd", "imagenet_a")}
    root = os.path.join(output, "cross_dataset")
    source_log = open(
        os.path.join(root, "train_source/imagenet/shots_2/VaMP/vit_b16_cross_dataset/seed1/log.txt")
    ).read()
    assert "head: fusion" in source_log and accuracy_lines(source_log)
    for target in tests:
        log = open(os.path.join(root, f"test_target/{target}/shots_2/VaMP/vit_b16_cross_dataset/seed1/log.txt")).read()
        assert "head: cls" in log and len(accuracy_lines(log)) == 1, target
    proc = subprocess.run(
        [sys.executable, "-m", "vamp_prompt.results", output, "--no-plot"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^\| dtd \| 1 \| [0-9.]+ \|", proc.stdout, flags=re.M)
    assert re.search(r"^\| imagenet_a \| 1 \| [0-9.]+ \|", proc.stdout, flags=re.M)
    assert train.returncode == 0


def test_rerun_with_cached_features_trains_the_same_model(workspace, tmp_path):
    """Re-seeding after set-up: a run that finds the offline features cached draws the same data
    order and augmentation as one that computed them."""
    fresh = os.path.join(str(tmp_path), "fresh")
    run_script("base2new_train.sh", ["dtd", "1", *workspace["ov"]], workspace["data"], fresh)
    cached = os.path.join(str(tmp_path), "cached")
    os.makedirs(os.path.join(cached, TRAIN_SUBDIR))
    shutil.copy(
        os.path.join(fresh, TRAIN_SUBDIR, "train_features.pt"), os.path.join(cached, TRAIN_SUBDIR, "train_features.pt")
    )
    proc = run_script("base2new_train.sh", ["dtd", "1", *workspace["ov"]], workspace["data"], cached)
    assert "features for the class prototypes loaded from" in proc.stdout
    a, b = (
        torch.load(os.path.join(root, TRAIN_SUBDIR, "prompt_learner", "model.pth.tar-1"), weights_only=True)[
            "state_dict"
        ]
        for root in (fresh, cached)
    )
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_maple_rows_through_the_real_scripts(workspace, tmp_path):
    """MaPLe reproduced and VaMP on MaPLe: train on base, test on new, tabled as their own rows."""
    output = str(tmp_path / "out")
    for cfg in ("vit_b16_base2new_maple", "vit_b16_base2new_maple_vamp"):
        run_script("base2new_train.sh", ["dtd", "1", *workspace["ov"]], workspace["data"], output, cfg=cfg)
        run_script("base2new_test.sh", ["dtd", "1", *workspace["ov"]], workspace["data"], output, cfg=cfg)
        log = open(os.path.join(output, f"base2new/train_base/dtd/shots_4/VaMP/{cfg}/seed1/log.txt")).read()
        assert "on base maple" in log and "Finish training" in log
        test_dir = os.path.join(output, f"base2new/test_new/dtd/shots_4/VaMP/{cfg}/seed1")
        assert json.load(open(os.path.join(test_dir, "metrics.json")))["subsample"] == "new"
    proc = subprocess.run(
        [sys.executable, "-m", "vamp_prompt.results", output, "--no-plot"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "vit_b16_base2new_maple " in proc.stdout or "vit_b16_base2new_maple (" in proc.stdout
    assert "vit_b16_base2new_maple_vamp" in proc.stdout
