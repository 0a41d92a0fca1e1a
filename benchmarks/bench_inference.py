#!/usr/bin/env python
"""Speed and memory of VaMP's fast evaluation path versus the naive per-image loop.

    python benchmarks/bench_inference.py            # ViT-B/16 shape, random weights, CPU
    python benchmarks/bench_inference.py --device cuda --precision bf16

For C in {100, 1000} classes and S in {1, 10} samples it prints images/s of the naive loop
(`vamp_prompt.reference`: per image and sample, full image towers and the full 77-token, 12-block
text tower) and of the fast path (`VaMPModel.predict`), their ratio, the ratio a FLOP model
predicts, the peak memory of evaluation and of a training step, and a profile of the fast path.
Each measurement runs in its own process, so peak memory (Linux VmHWM, reset after set-up, with
glibc told to return large freed blocks at once; CUDA: max_memory_allocated) belongs to that
measurement alone. The naive loop repeats the same
computation S times per image, so by default it is timed on ``--naive-samples`` samples and scaled
to S (marked "extrapolated"); ``--naive-samples 0`` times every sample.
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import subprocess
import sys
import time

WORDS = ("banded blotchy braided bubbly bumpy chequered cobwebbed cracked crosshatched "
         "crystalline dotted fibrous flecked freckled frilly gauzy grid grooved honeycombed "
         "interlaced knitted lacelike lined marbled matted meshed paisley perforated pitted "
         "pleated polka dotted porous potholed scaly smeared spiralled sprinkled stained "
         "stratified striped studded swirly veined waffled woven wrinkled zigzagged golden "
         "retriever tabby cat sports car mountain bike espresso maker harbour seal red fox "
         "garden spider table lamp").split()


def class_names(n: int, seed: int = 0):
    """Synthetic class names of 1-3 words, like ImageNet's (prompt EOT around 8-12 tokens)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.choice((1, 1, 2, 2, 3))))
            for _ in range(n)]


# --------------------------------------------------------------------------------- FLOP model
def block_flops(tokens: int, width: int) -> float:
    """One pre-norm transformer block: 24 L d^2 (q, k, v, out, 4x MLP) + 4 L^2 d (attention)."""
    return 24.0 * tokens * width ** 2 + 4.0 * tokens ** 2 * width


def last_block_flops(tokens: int, width: int) -> float:
    """The fast path's last text block, evaluated at the EOT row only: keys and values for every
    token (4 L d^2), query/output/MLP for one row (20 d^2), one attention row (4 L d)."""
    return 4.0 * tokens * width ** 2 + 20.0 * width ** 2 + 4.0 * tokens * width


def flop_model(c: int, s: int, lengths: list, arch: dict, first: int = 5, k: int = 5) -> dict:
    """FLOPs per image of each path (class-set preparation of the fast path reported apart).

    Naive: per sample, both image towers in full and the 12-block text tower on 77 (+K) tokens
    for every class. Fast: the image towers once (shared first blocks), and per sample and class
    the prompted text blocks on the class's own length, the last one at the EOT row only.

    ``lengths``: each class prompt's context length (EOT + 1), which the fast path runs at.
    """
    depth, dv, dt = arch["vision_layers"], arch["vision_width"], arch["transformer_width"]
    lv = (arch["image_resolution"] // arch["vision_patch_size"]) ** 2 + 1
    late = depth - first
    vision_pass = first * block_flops(lv, dv) + late * block_flops(lv, dv)
    vision_prompted = first * block_flops(lv, dv) + late * block_flops(lv + k, dv)
    naive_text = c * (first * block_flops(77, dt) + late * block_flops(77 + k, dt))
    naive = s * (vision_pass + vision_prompted + naive_text)
    fast_vision = first * block_flops(lv, dv) + late * (block_flops(lv, dv)
                                                         + block_flops(lv + k, dv))
    fast_text = s * sum((late - 1) * block_flops(n + k, dt) + last_block_flops(n + k, dt)
                        for n in lengths)
    prep = sum(first * block_flops(n, dt) + (late - 1) * block_flops(n, dt)
               + last_block_flops(n, dt) for n in lengths)  # prefix + zero-shot features
    return {"naive": naive, "fast": fast_vision + fast_text, "fast_class_prep": prep,
            "ratio": naive / (fast_vision + fast_text)}


# ------------------------------------------------------------------------------------- worker
def peak_reset() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def rss_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(job: dict) -> dict:
    import torch

    from vamp_prompt import VIT_B16_ARCH, VaMPConfig, VaMPModel, build_random_clip
    from vamp_prompt.reference import naive_sample_logits

    torch.set_num_threads(job["threads"])
    torch.manual_seed(0)
    device = torch.device(job["device"])
    clip = build_random_clip(seed=0, **VIT_B16_ARCH)
    model = VaMPModel(clip, VaMPConfig(variant="vamp", text_chunk_mb=job["chunk_mb"])).to(device)
    with torch.no_grad():  # give the zero-initialised heads some signal
        for p in model.prompt_learner.parameters():
            p.add_(0.01 * torch.randn_like(p))
    names = class_names(job["classes"])
    model.set_classes(names, "a photo of a {}.")
    shots = 2  # offline "training" features for the class-aware prior
    model.set_prototype_features(torch.randn(job["classes"] * shots, 512),
                                 torch.arange(job["classes"]).repeat(shots), job["classes"])
    images = torch.randn(job["images"], 3, 224, 224, device=device)
    labels = torch.arange(job["images"], device=device) % job["classes"]
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[job["precision"]]

    def autocast():
        return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    with autocast():
        t0 = time.perf_counter()
        buckets, _ = model.class_states(device)
        sync()
        prep = time.perf_counter() - t0
    result = {"lengths": buckets.lengths, "class_prep_s": prep}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        peak_reset()
        base = rss_mb("VmRSS")

    if job["kind"] == "fast":
        model.eval()
        t0 = time.perf_counter()
        with torch.no_grad(), autocast():
            model.predict(images, n_samples=job["samples"], mean_only=False)
        sync()
        result["seconds"] = time.perf_counter() - t0
        result["images_per_s"] = job["images"] / result["seconds"]
        if job.get("profile"):
            from torch.profiler import ProfilerActivity, profile
            with profile(activities=[ProfilerActivity.CPU]) as prof, torch.no_grad(), autocast():
                model.predict(images, n_samples=job["samples"])
            result["profile"] = prof.key_averages().table(sort_by="self_cpu_time_total",
                                                          row_limit=12)
    elif job["kind"] == "naive":
        model.eval()
        measured = job["samples"] if job["naive_samples"] <= 0 else min(job["samples"],
                                                                         job["naive_samples"])
        t0 = time.perf_counter()
        with torch.no_grad(), autocast():
            naive_sample_logits(model, images[:1], "fusion", n_samples=measured)
        sync()
        per_image = (time.perf_counter() - t0) * job["samples"] / measured
        result.update(seconds=per_image, images_per_s=1.0 / per_image,
                      extrapolated=measured < job["samples"], measured_samples=measured)
    elif job["kind"] == "train":
        model.train()
        opt = torch.optim.AdamW(model.trainable_parameters(), lr=1e-3)
        t0 = time.perf_counter()
        with autocast():
            loss = model.loss(model(images, n_samples=1), labels).total
        loss.backward()
        opt.step()
        sync()
        result["seconds"] = time.perf_counter() - t0
    if device.type == "cuda":
        result["peak_mb"] = (torch.cuda.max_memory_allocated() - base) / 2 ** 20
    else:
        result["peak_mb"] = rss_mb("VmHWM") - base
    return result


#: glibc otherwise keeps freed activation memory in its heap (dynamic mmap threshold), so RSS
#: would count fragmentation, not live tensors; with a fixed threshold large blocks are returned.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


def run_job(job: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(job)],
                          capture_output=True, text=True, env=dict(os.environ, **MALLOC_ENV))
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker failed for {job}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--classes", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--samples", type=int, nargs="+", default=[1, 10])
    p.add_argument("--images", type=int, default=2, help="images per fast evaluation batch")
    p.add_argument("--train-images", type=int, default=4, help="batch of the training step")
    p.add_argument("--naive-samples", type=int, default=1,
                   help="samples the naive loop is timed on (0: all of S)")
    p.add_argument("--chunk-mb", type=float, default=256.0, help="TEXT_CHUNK_MB")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--no-train", action="store_true", help="skip the training-step memory rows")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    from vamp_prompt import VIT_B16_ARCH

    import torch
    print(f"VaMP inference benchmark: ViT-B/16 shape, random weights, device {args.device}, "
          f"{args.precision}, {args.threads} threads, torch {torch.__version__}, "
          f"TEXT_CHUNK_MB {args.chunk_mb:g}")
    common = dict(device=args.device, precision=args.precision, threads=args.threads,
                  chunk_mb=args.chunk_mb, naive_samples=args.naive_samples)
    rows, memory = [], []
    for c in args.classes:
        for s in args.samples:
            fast = run_job(dict(common, kind="fast", classes=c, samples=s, images=args.images,
                                profile=(c == 100 and s == 10 and args.device == "cpu")))
            naive = run_job(dict(common, kind="naive", classes=c, samples=s, images=1))
            model = flop_model(c, s, fast["lengths"], VIT_B16_ARCH)
            ratio = fast["images_per_s"] / naive["images_per_s"]
            rows.append((c, s, naive, fast, model, ratio))
            memory.append((f"evaluation (S={s}, {args.images} images)", c, fast["peak_mb"]))
            if fast.get("profile"):
                profile = fast["profile"]
            print(f"  measured C={c} S={s}", flush=True)
        if not args.no_train:
            train = run_job(dict(common, kind="train", classes=c, samples=1,
                                 images=args.train_images))
            memory.append((f"training step (S=1, batch {args.train_images})", c,
                           train["peak_mb"]))

    print("\n| C | S | naive img/s | fast img/s | speed-up | FLOP ratio | % of FLOP ratio | "
          "text context, fast (mean, max) / naive |")
    print("|---|---|---|---|---|---|---|---|")
    for c, s, naive, fast, model, ratio in rows:
        note = " (extrapolated)" if naive.get("extrapolated") else ""
        print(f"| {c} | {s} | {naive['images_per_s']:.4f}{note} | {fast['images_per_s']:.4f} | "
              f"{ratio:.1f}x | {model['ratio']:.1f}x | {100 * ratio / model['ratio']:.0f}% | "
              f"{sum(fast['lengths']) / c:.1f}, {max(fast['lengths'])} (+5) / 77 (+5) |")
    print("\nFLOP model (per image; GFLOP): naive / fast / fast class-set preparation (once)")
    for c, s, naive, fast, model, ratio in rows:
        print(f"  C={c} S={s}: {model['naive'] / 1e9:.0f} / {model['fast'] / 1e9:.0f} / "
              f"{model['fast_class_prep'] / 1e9:.0f}; measured class-set preparation "
              f"{fast['class_prep_s']:.2f} s")
    if args.device.startswith("cuda"):
        for c, s, naive, fast, model, ratio in rows:
            if s == 10:
                print(f"  ms per image at S=10, C={c}: {1000 / fast['images_per_s']:.2f} "
                      f"({args.precision})")
    print("\n| peak memory above the loaded model | C | MB |")
    print("|---|---|---|")
    for what, c, mb in memory:
        print(f"| {what} | {c} | {mb:.0f} |")
    by = {}
    for what, c, mb in memory:
        by.setdefault(what, {})[c] = mb
    for what, vals in by.items():
        if len(vals) >= 2:
            lo, hi = min(vals), max(vals)
            print(f"  {what}: C={hi} / C={lo} = {vals[hi] / max(vals[lo], 1e-9):.2f}x")
    if "profile" in locals():
        print("\nProfile of the fast path (C=100, S=10), top operators by self CPU time:")
        print(profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
