"""``python -m vamp_prompt.micro pretrain|dataset|prepare|zeroshot|table|tuning`` (see README)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

import torch

from .artifacts import micro_dataset, pretrained_clip


def _threads(n: int) -> None:
    # One thread: on a shared 2-core machine two threads ran 20-30x slower at this model size.
    torch.set_num_threads(n)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vamp_prompt.micro", description=__doc__)
    parser.add_argument(
        "--cache", default=None, help="cache folder (default $VAMP_CACHE/micro or ~/.cache/vamp_prompt/micro)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pretrain", help="pretrain (or find cached) the micro CLIP; prints its path")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--force", action="store_true", help="rebuild even if cached")
    d = sub.add_parser("dataset", help="write (or find cached) the benchmark; prints the DATA root")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--force", action="store_true")
    e = sub.add_parser("prepare", help="both; prints CLIP=... and DATA=... lines for a shell")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--steps", type=int, default=None)
    z = sub.add_parser(
        "zeroshot", help="zero-shot report on the world, and with --output the benchmark's zero-shot run folders"
    )
    z.add_argument("--clip", required=True)
    z.add_argument("--data", default=None, help="DATA root holding micro_shapes/")
    z.add_argument("--output", default=None, help="OUTPUT root of the benchmark runs")
    z.add_argument("--seeds", default="1,2,3")
    z.add_argument("--shots", type=int, default=16)
    t = sub.add_parser("table", help="write OUTPUT/tables/micro_benchmark.{md,csv}")
    t.add_argument("output")
    t.add_argument("--shots", type=int, default=16)
    u = sub.add_parser("tuning", help="write ROOT/tuning.md from scripts/vamp/micro_tune.sh runs")
    u.add_argument("root")
    args = parser.parse_args(argv)
    _threads(args.threads)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731  stdout: results only

    if args.command == "pretrain":
        print(pretrained_clip(args.seed, args.steps, args.force, args.cache, log))
    elif args.command == "dataset":
        print(micro_dataset(args.seed, args.force, args.cache))
    elif args.command == "prepare":
        print(f"CLIP={pretrained_clip(args.seed, args.steps, cache=args.cache, log=log)}")
        print(f"DATA={micro_dataset(args.seed, cache=args.cache)}")
    elif args.command == "zeroshot":
        from ..clip_backbone import load_clip
        from .benchmark import write_zero_shot_runs
        from .zeroshot import zero_shot_report

        if args.output:
            if not args.data:
                parser.error("--output needs --data (the DATA root holding micro_shapes/)")
            seeds = [int(s) for s in args.seeds.split(",") if s]
            write_zero_shot_runs(args.clip, args.data, args.output, seeds, args.shots)
        else:
            print(json.dumps(zero_shot_report(load_clip(args.clip)), indent=1))
    elif args.command == "table":
        from .benchmark import write_table

        print(write_table(args.output, args.shots))
    elif args.command == "tuning":
        from .benchmark import tuning_table

        print(tuning_table(args.root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
