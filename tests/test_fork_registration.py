"""VaMP registered in a MaPLe- or MMRL-style fork, as docs/FORKS.md tells users to do it.

Each test builds a stand-in fork in tmp_path: its own top-level ``datasets/`` package (a
``DescribableTextures`` reader of its own that prints a marker), its own ``trainers/`` (a
MaPLe/MMRL stand-in, and for MMRL the per-dataset config helper that asserts on the trainer
name), a fork-style ``train.py`` with the lines FORKS.md adds, and, for MaPLe, a modified top-level
``clip/`` package whose ``CLIP`` needs MaPLe's extra ``design_details`` argument. The fork's
``train.py`` runs in a subprocess whose ``sys.path`` starts with the fork folder and holds
``vamp_prompt`` but NOT this repository's root (whose ``datasets/`` and ``trainers/`` shims would
otherwise be found), for one epoch on CPU with a tiny random CLIP. The fork's own trainer (a tiny
stand-in using Dassl's optimiser, warm-up scheduler and checkpoints, as MaPLe's and MMRL's do)
is run too: it fails in Dassl on torch >= 2.7 and runs with ``vamp_prompt.compat``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

pytest.importorskip(
    "dassl",
    exc_type=ImportError,
    reason="Dassl is not installed (pip install it from "
    "github.com/KaiyangZhou/Dassl.pytorch, see README): fork registration tests "
    "skipped",
)

import vamp_prompt  # noqa: E402
from vamp_prompt import save_random_clip  # noqa: E402
from vamp_prompt.compat import scheduler_takes_verbose  # noqa: E402
from vamp_prompt.data import write_synthetic_dataset  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VAMP_CONFIG = os.path.join(REPO, "configs", "trainers", "VaMP", "vit_b16_base2new.yaml")
FORK_MARKER = "FORK_DTD_READER"

# ------------------------------------------------------------------ the stand-in fork's files
FORK_DTD = '''\
"""The fork's own DescribableTextures reader (a stand-in, not the project's)."""
import json
import math
import os

from dassl.data.datasets import DATASET_REGISTRY, Datum, DatasetBase


@DATASET_REGISTRY.register()
class DescribableTextures(DatasetBase):
    dataset_dir = "dtd"

    def __init__(self, cfg):
        root = os.path.join(os.path.abspath(os.path.expanduser(cfg.DATASET.ROOT)), self.dataset_dir)
        with open(os.path.join(root, "split_zhou_DescribableTextures.json")) as f:
            split = json.load(f)
        images = os.path.join(root, "images")
        train, val, test = ([Datum(impath=os.path.join(images, p), label=int(y), classname=c)
                             for p, y, c in split[key]] for key in ("train", "val", "test"))
        shots = cfg.DATASET.NUM_SHOTS
        if shots >= 1:
            train = self.generate_fewshot_dataset(train, num_shots=shots)
            val = self.generate_fewshot_dataset(val, num_shots=min(shots, 4))
        train, val, test = self.subsample(cfg.DATASET.SUBSAMPLE_CLASSES, train, val, test)
        print(f"FORK_DTD_READER: {len(train)} train, {len(test)} test images")
        super().__init__(train_x=train, val=val, test=test)

    @staticmethod
    def subsample(which, *splits):
        if which == "all":
            return splits
        labels = sorted({d.label for d in splits[0]})
        half = math.ceil(len(labels) / 2)
        keep = labels[:half] if which == "base" else labels[half:]
        new_label = {y: i for i, y in enumerate(keep)}
        return tuple([Datum(impath=d.impath, label=new_label[d.label], classname=d.classname)
                      for d in items if d.label in new_label] for items in splits)
'''

# A modified clip/ as MaPLe ships it: same module layout, but CLIP needs `design_details`.
FORK_CLIP = {
    "__init__.py": "from .clip import *  # noqa: F401,F403\n",
    "clip.py": """\
from . import model  # noqa: F401

__all__ = ["available_models", "tokenize"]


def available_models():
    return ["ViT-B/16"]


def tokenize(texts, context_length=77, truncate=False):
    raise RuntimeError("the fork's modified clip.tokenize was used")
""",
    "model.py": """\
from torch import nn


class CLIP(nn.Module):
    def __init__(self, embed_dim, image_resolution, vision_layers, vision_width,
                 vision_patch_size, context_length, vocab_size, transformer_width,
                 transformer_heads, transformer_layers, design_details):
        super().__init__()
        raise RuntimeError("the fork's modified clip.model.CLIP was built")
""",
}

# The fork's own trainer, trimmed to what matters here: Dassl's optimiser, warm-up scheduler and
# checkpoints, with the names bound at import and a load_model of its own, as MaPLe's and MMRL's.
FORK_TRAINER = '''\
import os

from dassl.engine import TRAINER_REGISTRY, TrainerX
from dassl.optim import build_lr_scheduler, build_optimizer
from dassl.utils import load_checkpoint
from torch import nn
from torch.nn import functional as F
{clip_import}

@TRAINER_REGISTRY.register()
class {name}(TrainerX):
    """Stand-in for the fork's own method: a linear probe on pooled pixels."""

    def build_model(self):
        self.model = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                   nn.Linear(12, self.num_classes))
        self.optim = build_optimizer(self.model, self.cfg.OPTIM)
        self.sched = build_lr_scheduler(self.optim, self.cfg.OPTIM)
        self.register_model("{model_name}", self.model, self.optim, self.sched)

    def forward_backward(self, batch):
        image, label = batch["img"].to(self.device), batch["label"].to(self.device)
        loss = F.cross_entropy(self.model(image), label)
        self.model_backward_and_update(loss)
        if self.batch_idx + 1 == self.num_batches:
            self.update_lr()
        return {{"loss": loss.item()}}

    def load_model(self, directory, epoch=None):
        for name in self.get_model_names():
            path = os.path.join(directory, name, f"model.pth.tar-{{epoch}}")
            checkpoint = load_checkpoint(path)
            print(f"FORK_LOAD {{path}} (epoch {{checkpoint['epoch']}})")
            self._models[name].load_state_dict(checkpoint["state_dict"])
'''

# MMRL-style per-dataset helper: asserts on the task and on the trainer name.
FORK_MMRL_HELPER = """\
def get_dataset_specified_config(dataset, trainer, task):
    assert task in ("B2N", "FS", "CD"), f"stand-in helper: unknown task {task}"
    assert trainer in ("MMRL", "MMRLpp"), f"stand-in helper: unknown trainer {trainer}"
    return {"DescribableTextures": ["TRAINER.MMRL.REG_WEIGHT", 6.0]}.get(dataset, [])
"""

FORK_TRAIN_PY = '''\
"""A fork's train.py, trimmed; the lines marked VaMP are the ones docs/FORKS.md adds."""
import argparse
import sys
{clip_guard}
import torch
from dassl.config import get_cfg_default
from dassl.engine import build_trainer
from dassl.utils import set_random_seed, setup_logger
from yacs.config import CfgNode as CN
{helper_import}
import datasets.dtd
import trainers.{trainer_module}

import vamp_prompt.engine                      # VaMP
from vamp_prompt.compat import patch_dassl_for_modern_torch  # VaMP (optional)
from vamp_prompt.data import register_datasets  # VaMP
register_datasets()                            # VaMP: only names the fork lacks
vamp_prompt.engine.register()                  # VaMP: --trainer VaMP
patch_dassl_for_modern_torch()                 # VaMP (optional): the fork's trainers, torch 2.7+


def extend_cfg(cfg):
{fork_keys}
    vamp_prompt.engine.add_vamp_config(cfg)    # VaMP


def setup_cfg(args):
    cfg = get_cfg_default()
    extend_cfg(cfg)
    if args.dataset_config_file:
        cfg.merge_from_file(args.dataset_config_file)
    if args.config_file:
        cfg.merge_from_file(args.config_file)
    cfg.DATASET.ROOT = args.root
    cfg.OUTPUT_DIR = args.output_dir
    if args.seed:
        cfg.SEED = args.seed
    cfg.TRAINER.NAME = args.trainer
{helper_call}
    cfg.merge_from_list(args.opts)
    cfg.freeze()
    return cfg


def main():
    p = argparse.ArgumentParser()
    for flag in ("--root", "--output-dir", "--config-file", "--dataset-config-file", "--trainer"):
        p.add_argument(flag, type=str, default="")
    p.add_argument("--seed", type=int, default=-1)
    p.add_argument("opts", default=None, nargs=argparse.REMAINDER)
    args = p.parse_args()
    cfg = setup_cfg(args)
    if cfg.SEED >= 0:
        set_random_seed(cfg.SEED)
    setup_logger(cfg.OUTPUT_DIR)
    print(cfg)
    print("clip module used by the fork:", getattr(sys.modules.get("clip"), "__file__", None))
    trainer = build_trainer(cfg)
    trainer.train()


if __name__ == "__main__":
    main()
'''

FORK_KEYS = {
    "maple": '''\
    cfg.TRAINER.MAPLE = CN()
    cfg.TRAINER.MAPLE.N_CTX = 2
    cfg.TRAINER.MAPLE.CTX_INIT = "a photo of a"
    cfg.TRAINER.MAPLE.PREC = "fp16"
    cfg.TRAINER.MAPLE.PROMPT_DEPTH = 9
    cfg.DATASET.SUBSAMPLE_CLASSES = "all"''',
    "mmrl": '''\
    cfg.TRAINER.MMRL = CN()
    cfg.TRAINER.MMRL.ALPHA = 0.7
    cfg.TRAINER.MMRL.REG_WEIGHT = 1.0
    cfg.TRAINER.MMRL.REP_DIM = 512
    cfg.TRAINER.MMRL.PREC = "fp16"
    cfg.DATASET.SUBSAMPLE_CLASSES = "all"
    cfg.TASK = "B2N"''',
}

MMRL_HELPER_CALL = """\
    if cfg.TRAINER.NAME in ("MMRL", "MMRLpp"):  # VaMP: the helper asserts on other trainers
        cfg.merge_from_list(get_dataset_specified_config(
            dataset=cfg.DATASET.NAME, trainer=cfg.TRAINER.NAME,
            task=args.opts[args.opts.index("TASK") + 1]))"""

CHECK_REGISTRATION = '''\
"""Registering twice, in either order with the fork's keys, keeps the fork's readers."""
import os
import sys

fork = os.path.dirname(os.path.abspath(__file__))
repo = os.environ["CHECK_REPO"]
assert os.path.abspath(repo) not in [os.path.abspath(p or os.getcwd()) for p in sys.path], sys.path

import datasets.dtd  # noqa: E402
import trainers.{trainer_module}  # noqa: E402,F401
assert os.path.dirname(datasets.__file__) == os.path.join(fork, "datasets"), datasets.__file__

from dassl.config import get_cfg_default  # noqa: E402
from dassl.data.datasets import DATASET_REGISTRY  # noqa: E402
from dassl.engine import TRAINER_REGISTRY  # noqa: E402
from dassl.utils import Registry  # noqa: E402
from yacs.config import CfgNode as CN  # noqa: E402

import vamp_prompt.engine  # noqa: E402
from vamp_prompt.data import register_datasets  # noqa: E402

first, second = register_datasets(), register_datasets()
assert "DescribableTextures" not in first and "EuroSAT" in first and second == [], (first, second)
assert DATASET_REGISTRY.get("DescribableTextures") is datasets.dtd.DescribableTextures

one, two = vamp_prompt.engine.register(), vamp_prompt.engine.register()
import vamp_prompt.engine.trainer  # noqa: E402,F401  (a second import is a no-op)
assert one is two is TRAINER_REGISTRY.get("VaMP")

# The order in train.py matters: had ours been registered first, the fork's decorator would fail.
ours_first = Registry("ours-first")
register_datasets(ours_first)
try:
    ours_first.register(datasets.dtd.DescribableTextures)
except KeyError:
    pass
else:
    raise AssertionError("registering a name twice no longer raises in Dassl")


def fork_keys(cfg):
    cfg.TRAINER.MAPLE = CN()
    cfg.TRAINER.MAPLE.N_CTX = 2
    cfg.DATASET.SUBSAMPLE_CLASSES = "all"
    cfg.TASK = "B2N"


for order in ("fork first", "ours first"):
    cfg = get_cfg_default()
    if order == "fork first":
        fork_keys(cfg)
        cfg.DATASET.SUBSAMPLE_CLASSES = "base"
        cfg.TASK = "FS"
    vamp_prompt.engine.add_vamp_config(cfg)
    vamp_prompt.engine.add_vamp_config(cfg)
    if order == "ours first":
        fork_keys(cfg)  # plain assignment over declared keys: fine in yacs
    cfg.merge_from_list(["TRAINER.VAMP.TEST_SAMPLES", "2", "TRAINER.MAPLE.N_CTX", "4"])
    expected = ("base", "FS") if order == "fork first" else ("all", "B2N")
    assert (cfg.DATASET.SUBSAMPLE_CLASSES, cfg.TASK) == expected, order
    assert cfg.TRAINER.VAMP.TEST_SAMPLES == 2 and cfg.TRAINER.MAPLE.N_CTX == 4
    cfg.freeze()
    vamp_prompt.engine.add_vamp_config(cfg)
    assert cfg.is_frozen()
print("REGISTRATION_OK")
'''

# Importing Dassl takes seconds: one interpreter runs the checks above, each reported alone.
RUN_CHECKS = """\
import runpy
import sys
import traceback

for script in sys.argv[1:]:
    try:
        runpy.run_path(script, run_name="__main__")
    except BaseException:
        traceback.print_exc()
        print(f"CHECK FAILED: {script}")
"""

CHECK_OWN_TRAINER = '''\
"""The fork's own trainer (warm-up schedule, Dassl checkpoints) with and without the helper."""
import os
import sys

import torch

import datasets.dtd  # noqa: F401  (the fork's reader)
import trainers.{trainer_module}  # noqa: F401  (binds Dassl's functions at import)
from dassl.config import get_cfg_default
from dassl.engine import build_trainer
from dassl.engine.trainer import TrainerBase

from vamp_prompt.compat import patch_dassl_for_modern_torch, scheduler_takes_verbose

data, out = os.environ["CHECK_DATA"], os.environ["CHECK_OUT"]


def cfg_for(output_dir):
    cfg = get_cfg_default()
    cfg.DATASET.SUBSAMPLE_CLASSES = "all"
    cfg.merge_from_list([
        "DATASET.NAME", "DescribableTextures", "DATASET.ROOT", data, "DATASET.NUM_SHOTS", "2",
        "OUTPUT_DIR", output_dir, "SEED", "1", "TRAINER.NAME", "{trainer_name}",
        "USE_CUDA", "False", "INPUT.SIZE", "(32, 32)", "DATALOADER.NUM_WORKERS", "0",
        "DATALOADER.TRAIN_X.BATCH_SIZE", "4", "OPTIM.NAME", "{optim}", "OPTIM.LR", "0.01",
        "OPTIM.MAX_EPOCH", "2", "OPTIM.LR_SCHEDULER", "cosine", "OPTIM.WARMUP_EPOCH", "1",
        "OPTIM.WARMUP_TYPE", "constant", "OPTIM.WARMUP_CONS_LR", "1e-05"])
    cfg.freeze()
    return cfg


# Without the helper, on torch >= 2.7, Dassl's warm-up scheduler cannot be built.
if not scheduler_takes_verbose():
    try:
        build_trainer(cfg_for(os.path.join(out, "unpatched")))
    except TypeError as err:
        print("UNPATCHED:", err)
    else:
        raise AssertionError("Dassl's warm-up scheduler was built without the helper")

print("PATCHED:", patch_dassl_for_modern_torch())
assert patch_dassl_for_modern_torch() == [], "not idempotent"

# Two epochs in one go, and the same interrupted after the warm-up epoch, then resumed.
straight = build_trainer(cfg_for(os.path.join(out, "straight")))
straight.train()
run = os.path.join(out, "run")
first = build_trainer(cfg_for(run))
first.max_epoch = 1
first.train()
resumed = build_trainer(cfg_for(run))
resumed.train()  # Dassl resumes from model.pth.tar-1: weights, optimiser, scheduler
assert resumed.start_epoch == 1, resumed.start_epoch
assert resumed.sched.get_last_lr() == straight.sched.get_last_lr() != [1e-05], (
    resumed.sched.get_last_lr(), straight.sched.get_last_lr())
assert resumed.sched.successor.optimizer is resumed.optim

# The checkpoint is plain data: torch.load's default (weights_only since torch 2.6) reads it.
path = os.path.join(run, "{model_name}", "model.pth.tar-2")
checkpoint = torch.load(path)
assert checkpoint["val_result"] is None and isinstance(checkpoint["scheduler"]["successor"], dict)

# --eval-only: the fork's load_model, then Dassl's own (CoOp-style trainers that keep it).
evaluator = build_trainer(cfg_for(os.path.join(out, "eval")))
evaluator.load_model(run, epoch=2)
TrainerBase.load_model(evaluator, run, epoch=2)
for key, value in evaluator.model.state_dict().items():
    assert torch.equal(value, resumed.model.state_dict()[key]), key
evaluator.test()
print("OWN_TRAINER_OK")
'''


# Per fork: its trainer's registry name, registered model name, and optimiser (its configs').
FORK_TRAINERS = {
    "maple": {"trainer_name": "MaPLe", "model_name": "MultiModalPromptLearner", "optim": "sgd"},
    "mmrl": {"trainer_name": "MMRL", "model_name": "MMRL", "optim": "adamw"},
}


def write(path, text: str) -> None:
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def make_fork(root, kind: str) -> str:
    """A MaPLe- or MMRL-style fork folder: datasets/, trainers/, configs/, train.py (+ clip/)."""
    fork = os.path.join(str(root), f"{kind}_fork")
    trainer_module = "maple" if kind == "maple" else "mmrl"
    write(os.path.join(fork, "datasets", "__init__.py"), "")
    write(os.path.join(fork, "datasets", "dtd.py"), FORK_DTD)
    write(os.path.join(fork, "trainers", "__init__.py"), "")
    trainer = FORK_TRAINERS[kind]
    write(
        os.path.join(fork, "trainers", f"{trainer_module}.py"),
        FORK_TRAINER.format(
            name=trainer["trainer_name"],
            model_name=trainer["model_name"],
            clip_import="from clip import clip  # noqa: F401  (the fork's own clip/)" if kind == "maple" else "",
        ),
    )
    if kind == "maple":
        for name, text in FORK_CLIP.items():
            write(os.path.join(fork, "clip", name), text)
    else:
        write(os.path.join(fork, "trainers", "config.py"), FORK_MMRL_HELPER)
    write(os.path.join(fork, "configs", "datasets", "dtd.yaml"), 'DATASET:\n  NAME: "DescribableTextures"\n')
    os.makedirs(os.path.join(fork, "configs", "trainers", "VaMP"))
    shutil.copy(VAMP_CONFIG, os.path.join(fork, "configs", "trainers", "VaMP"))
    write(
        os.path.join(fork, "train.py"),
        FORK_TRAIN_PY.format(
            clip_guard="",
            helper_import="from trainers.config import get_dataset_specified_config\n" if kind == "mmrl" else "",
            trainer_module=trainer_module,
            fork_keys=FORK_KEYS[kind],
            helper_call=MMRL_HELPER_CALL if kind == "mmrl" else "",
        ),
    )
    write(os.path.join(fork, "check_registration.py"), CHECK_REGISTRATION.format(trainer_module=trainer_module))
    write(
        os.path.join(fork, "check_own_trainer.py"), CHECK_OWN_TRAINER.format(trainer_module=trainer_module, **trainer)
    )
    write(os.path.join(fork, "run_checks.py"), RUN_CHECKS)
    return fork


def fork_env(tmp_path) -> dict:
    """PYTHONPATH holding only vamp_prompt (a link to this checkout's package), not the root."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    link = site / "vamp_prompt"
    if not link.exists():
        package = os.path.dirname(os.path.abspath(vamp_prompt.__file__))
        try:
            os.symlink(package, link, target_is_directory=True)
        except OSError:
            shutil.copytree(package, link, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    env.update(PYTHONPATH=str(site), PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
    return env


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("fork_assets")
    data = str(root / "data")
    write_synthetic_dataset("DescribableTextures", data, num_classes=4, images_per_class=6, image_size=64)
    return {"data": data, "clip": save_random_clip(str(root / "tiny_clip.pt"), seed=0)}


def run_fork_train(fork: str, env: dict, assets: dict, output: str, extra=()):
    cmd = [
        sys.executable,
        "train.py",
        "--root",
        assets["data"],
        "--seed",
        "1",
        "--trainer",
        "VaMP",
        "--dataset-config-file",
        "configs/datasets/dtd.yaml",
        "--config-file",
        "configs/trainers/VaMP/vit_b16_base2new.yaml",
        "--output-dir",
        output,
        "MODEL.BACKBONE.NAME",
        assets["clip"],
        "INPUT.SIZE",
        "(64,64)",
        "OPTIM.MAX_EPOCH",
        "1",
        "DATALOADER.NUM_WORKERS",
        "0",
        "DATASET.NUM_SHOTS",
        "2",
        "DATASET.SUBSAMPLE_CLASSES",
        "base",
        "TRAINER.VAMP.TEST_SAMPLES",
        "2",
        "USE_CUDA",
        "False",
        *extra,
    ]
    return subprocess.run(cmd, check=False, cwd=fork, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.dassl
@pytest.mark.parametrize("kind, extra", [("maple", ()), ("mmrl", ("TASK", "B2N"))], ids=["maple_fork", "mmrl_fork"])
def test_vamp_trains_in_a_fork_with_the_forks_own_datasets(tmp_path, assets, kind, extra):
    fork = make_fork(tmp_path, kind)
    env = fork_env(tmp_path)
    output = str(tmp_path / "output")
    start = time.time()
    proc = run_fork_train(fork, env, assets, output, extra)
    elapsed = time.time() - start
    details = f"exit {proc.returncode} after {elapsed:.0f}s\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    assert proc.returncode == 0, details
    with open(os.path.join(output, "log.txt")) as f:
        log = f.read()
    assert FORK_MARKER in log, "the fork's own DescribableTextures reader was not used\n" + details
    assert re.search(r"\* accuracy: [\d.]+%", log), details
    assert "Finish training" in log, details
    assert os.path.isfile(os.path.join(output, "DONE")), "the trainer marks the run finished"
    assert re.search(r"^  (MAPLE|MMRL):$", log, re.MULTILINE), "the fork's keys are missing"
    if kind == "maple":  # the fork keeps its own clip/ for its trainers; VaMP trained anyway
        assert f"clip module used by the fork: {os.path.join(fork, 'clip')}" in log, details


@pytest.fixture(scope="module", params=["maple", "mmrl"])
def fork_checks(request, tmp_path_factory, assets):
    """check_registration.py, then check_own_trainer.py, in one process in a fork of each kind."""
    root = tmp_path_factory.mktemp(f"{request.param}_checks")
    fork = make_fork(root, request.param)
    env = dict(fork_env(root), CHECK_REPO=REPO, CHECK_DATA=assets["data"], CHECK_OUT=str(root / "out"))
    proc = subprocess.run(
        [sys.executable, "run_checks.py", "check_registration.py", "check_own_trainer.py"],
        check=False,
        cwd=fork,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.stdout + proc.stderr


@pytest.mark.dassl
def test_registering_twice_keeps_the_forks_datasets(fork_checks):
    assert "REGISTRATION_OK" in fork_checks, fork_checks[-8000:]


@pytest.mark.dassl
def test_forks_own_trainer_runs_on_modern_torch_with_the_compat_helper(fork_checks):
    """The fork's own trainer with warm-up: Dassl's TypeError on torch >= 2.7 without
    vamp_prompt.compat; with it, training, resuming and --eval-only loading work."""
    out = fork_checks
    assert "OWN_TRAINER_OK" in out, out[-8000:]
    if not scheduler_takes_verbose():  # the failure mode the helper removes
        assert re.search(r"^UNPATCHED: .*positional arguments? but \d+ (were|was) given", out, re.MULTILINE), out[
            -8000:
        ]
    assert "Loaded scheduler" in out and "FORK_LOAD" in out, out[-8000:]
    assert re.search(r"^Load .*model\.pth\.tar-2 .*val_result=None\)$", out, re.MULTILINE), out
    assert re.search(r"\* accuracy: [\d.]+%", out), out[-8000:]


@pytest.mark.dassl
def test_vamp_builds_openai_clip_although_a_maple_fork_shadows_clip(tmp_path):
    """MaPLe's own clip/ (CLIP needs `design_details`) comes first on sys.path in the fork."""
    fork = make_fork(tmp_path, "maple")
    script = textwrap.dedent("""\
        from clip import clip  # what the fork's trainers do at import
        from vamp_prompt import build_random_clip, tokenize
        build_random_clip(seed=0)
        tokenize(["a photo of a dog."])
        print("CLIP_OK")
    """)
    write(os.path.join(fork, "probe_clip.py"), script)
    proc = subprocess.run(
        [sys.executable, "probe_clip.py"],
        check=False,
        cwd=fork,
        env=fork_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and "CLIP_OK" in proc.stdout, proc.stdout + proc.stderr
