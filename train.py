#!/usr/bin/env python
"""Train or evaluate VaMP with Dassl, with the flags CoOp/MaPLe/MMRL users know.

    python train.py --root $DATA --dataset-config-file configs/datasets/dtd.yaml \
        --config-file configs/trainers/VaMP/vit_b16_base2new.yaml --trainer VaMP \
        --output-dir output/... --seed 1 DATASET.NUM_SHOTS 16 DATASET.SUBSAMPLE_CLASSES base

A finished run writes the marker file ``DONE`` into its output directory. Bad input ends with
exit code 2 and one message naming the file or key and the fix.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

# openai-clip and wilds (imported by Dassl) use pkg_resources, which warns on every start.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
os.environ.setdefault("OUTDATED_IGNORE", "1")  # wilds (via Dassl) would check PyPI on import


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", type=str, default="", help="path to the datasets ($DATA)")
    p.add_argument("--output-dir", type=str, default="", help="output directory")
    p.add_argument("--resume", type=str, default="", help="checkpoint directory to resume from")
    p.add_argument("--seed", type=int, default=-1, help="random seed (>= 0; 0 is honoured)")
    p.add_argument("--source-domains", type=str, nargs="+", help="source domains (DG)")
    p.add_argument("--target-domains", type=str, nargs="+", help="target domains (DG)")
    p.add_argument("--transforms", type=str, nargs="+", help="data augmentation methods")
    p.add_argument("--config-file", type=str, default="", help="trainer config file")
    p.add_argument("--dataset-config-file", type=str, default="", help="dataset config file")
    p.add_argument("--trainer", type=str, default="VaMP", help="trainer name")
    p.add_argument("--backbone", type=str, default="", help="CLIP name or path to its weights")
    p.add_argument("--head", type=str, default="", help="unused; kept for the family's CLI")
    p.add_argument("--eval-only", action="store_true", help="evaluate only")
    p.add_argument("--model-dir", type=str, default="", help="load a model from this directory")
    p.add_argument("--load-epoch", type=int, help="load the model of this epoch")
    p.add_argument("--no-train", action="store_true", help="do not call trainer.train()")
    p.add_argument(
        "opts", default=None, nargs=argparse.REMAINDER, help="KEY VALUE pairs that override the config, merged last"
    )
    return p.parse_args(argv)


class UserError(Exception):
    """Bad input: reported as one message, exit code 2."""


def setup_cfg(args):
    from dassl.config import get_cfg_default

    from vamp_prompt.engine import add_vamp_config

    cfg = get_cfg_default()
    add_vamp_config(cfg)
    for label, path in (("--dataset-config-file", args.dataset_config_file), ("--config-file", args.config_file)):
        if path:
            if not os.path.isfile(path):
                raise UserError(f"{label} {path} does not exist. Fix: pass a file from configs/.")
            try:
                cfg.merge_from_file(path)
            except KeyError as err:
                raise UserError(
                    f"Unknown config key in {path}: {err.args[0]}. Fix: correct the key "
                    "(VaMP's keys are listed in README.md, 'Config keys')."
                ) from None
            except Exception as err:  # yacs type mismatch, YAML syntax error
                raise UserError(
                    f"Cannot merge {path}: {err}. Fix: correct the file (compare with the files in configs/)."
                ) from None
    if args.root:
        cfg.DATASET.ROOT = args.root
    if args.output_dir:
        cfg.OUTPUT_DIR = args.output_dir
    if args.resume:
        cfg.RESUME = args.resume
    if args.seed >= 0:
        cfg.SEED = args.seed
    if args.source_domains:
        cfg.DATASET.SOURCE_DOMAINS = args.source_domains
    if args.target_domains:
        cfg.DATASET.TARGET_DOMAINS = args.target_domains
    if args.transforms:
        cfg.INPUT.TRANSFORMS = args.transforms
    if args.trainer:
        cfg.TRAINER.NAME = args.trainer
    if args.backbone:
        cfg.MODEL.BACKBONE.NAME = args.backbone
    opts = args.opts or []
    if len(opts) % 2:
        raise UserError(f"Config overrides must be KEY VALUE pairs, got {opts}")
    try:
        cfg.merge_from_list(opts)
    except (KeyError, AssertionError) as err:  # yacs asserts on unknown command-line keys
        key = str(err.args[0]).split(": ", 1)[-1]
        raise UserError(
            f"Unknown config key on the command line: {key}. Fix: correct the key "
            "(VaMP's keys are listed in README.md, 'Config keys')."
        ) from None
    except ValueError as err:
        raise UserError(
            f"Bad config value on the command line: {err}. Note that yacs does not "
            "turn 7 into a float: write 7.0 for float keys."
        ) from None
    cfg.freeze()
    return cfg


def system_info() -> str:
    """Versions and devices, for the log (Dassl's collect_env_info runs `pip list`: ~3 s a start)."""
    import platform

    import dassl
    import torch
    import torchvision

    import vamp_prompt

    lines = [
        f"Python {platform.python_version()} on {platform.platform()}",
        f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"dassl {getattr(dassl, '__version__', '?')}, vamp_prompt {vamp_prompt.__version__}",
        f"CPU threads {torch.get_num_threads()}; CUDA available: {torch.cuda.is_available()}",
    ]
    if torch.cuda.is_available():
        lines += [f"GPU {i}: {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    return "\n".join(lines)


def run(args) -> None:
    from dassl.engine import build_trainer
    from dassl.utils import set_random_seed, setup_logger

    import vamp_prompt.engine
    from vamp_prompt.atomic import write_done_marker
    from vamp_prompt.data import register_datasets

    register_datasets()
    vamp_prompt.engine.register()
    cfg = setup_cfg(args)
    if not cfg.DATASET.ROOT or not os.path.isdir(cfg.DATASET.ROOT):
        raise UserError(
            f"Dataset root {cfg.DATASET.ROOT or '(empty)'} does not exist. Fix: set "
            "the DATA environment variable / --root to the folder holding the datasets."
        )
    if args.eval_only and args.model_dir and not os.path.isdir(args.model_dir):
        raise UserError(
            f"--model-dir {args.model_dir} does not exist. Fix: run the training "
            "script first, or pass the directory it wrote."
        )
    if args.eval_only and os.path.isdir(os.path.join(cfg.OUTPUT_DIR, "prompt_learner")):
        raise UserError(
            f"--output-dir {cfg.OUTPUT_DIR} holds a training run; evaluating into it "
            "would overwrite its results. Fix: pass another --output-dir (the test "
            "scripts use output/.../test_new/...)."
        )
    if cfg.SEED >= 0:
        set_random_seed(cfg.SEED)
    os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
    setup_logger(cfg.OUTPUT_DIR)
    print("** Config **")
    print(cfg)
    print("** System info **")
    print(system_info())

    trainer = build_trainer(cfg)
    if args.eval_only:
        trainer.load_model(args.model_dir, epoch=args.load_epoch)
        trainer.test()
        write_done_marker(cfg.OUTPUT_DIR, "evaluation")  # also written by the trainer (forks)
        return
    if not args.no_train:
        trainer.train()
        write_done_marker(cfg.OUTPUT_DIR, "training")


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import dassl  # noqa: F401
    except ImportError:
        print(
            "ERROR: Dassl is not installed. Fix: install it from "
            "https://github.com/KaiyangZhou/Dassl.pytorch (README, 'Install').",
            file=sys.stderr,
        )
        return 2
    from vamp_prompt.data import DatasetLayoutError
    from vamp_prompt.engine.checkpoint import CheckpointError
    from vamp_prompt.engine.config import ConfigError
    from vamp_prompt.engine.trainer import ImageReadError

    try:
        run(args)
    except (UserError, ConfigError, DatasetLayoutError, CheckpointError, ImageReadError, FileNotFoundError) as err:
        report(err)
        return 2
    return 0


def report(err: BaseException) -> None:
    """One line on stderr (and in log.txt once the log exists), without worker tracebacks."""
    message = str(err)
    if "Original Traceback" in message:  # re-raised from a DataLoader worker
        last = message.strip().splitlines()[-1]
        message = last.split(": ", 1)[1] if ": " in last else last
    sys.stdout.flush()
    log_file = getattr(sys.stdout, "file", None)  # Dassl's Logger tees stdout into log.txt
    if log_file is not None:
        log_file.write(f"ERROR: {message}\n")
        log_file.flush()
    print(f"ERROR: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
