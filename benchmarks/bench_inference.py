#!/usr/bin/env python
"""Speed and memory of VaMP's fast evaluation path versus the previous one and the naive loop.

    python benchmarks/bench_inference.py --threads 1        # ViT-B/16 shape, random weights, CPU
    python benchmarks/bench_inference.py --memory --classes 100 1000 --samples 1 10

For each C (classes) and S (samples) one process times, in alternation and ``--reps`` times, the
naive loop (`vamp_prompt.reference`: per image and sample, full image towers and the full
77-token, 12-block text tower), the previous fast path (``joined``: whole sequences per
(prompt set, class) pair) and the current one (``split``: shared rows once, class rows per pair,
see `vamp_prompt.text_rows`), and plain matrix products of the split path's shapes. A load
change on a shared machine thus hits every side; ratios are medians of per-repetition ratios.
It prints images/s, the ratios next to a FLOP model's, the achieved FLOP rate next to the GEMM
rate, and the training step of VaMP against the MMRL row (DTD's 24 base classes by default).
``--memory``: peak memory of evaluation and of a training step, each in its own process (Linux
VmHWM, reset after set-up, with glibc told to return large freed blocks at once; CUDA:
max_memory_allocated). The naive loop repeats the same computation S times per image, so it is
timed on ``--naive-samples`` samples and scaled to S (marked "extrapolated"); ``--naive-samples
0`` times every sample.
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

WORDS = (
    "banded blotchy braided bubbly bumpy chequered cobwebbed cracked crosshatched "
    "crystalline dotted fibrous flecked freckled frilly gauzy grid grooved honeycombed "
    "interlaced knitted lacelike lined marbled matted meshed paisley perforated pitted "
    "pleated polka dotted porous potholed scaly smeared spiralled sprinkled stained "
    "stratified striped studded swirly veined waffled woven wrinkled zigzagged golden "
    "retriever tabby cat sports car mountain bike espresso maker harbour seal red fox "
    "garden spider table lamp"
).split()


def class_names(n: int, seed: int = 0):
    """Synthetic class names of 1-3 words, like ImageNet's (prompt EOT around 8-12 tokens)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.choice((1, 1, 2, 2, 3)))) for _ in range(n)]


# --------------------------------------------------------------------------------- FLOP model
def block_flops(tokens: int, width: int) -> float:
    """One pre-norm transformer block: 24 L d^2 (q, k, v, out, 4x MLP) + 4 L^2 d (attention)."""
    return 24.0 * tokens * width**2 + 4.0 * tokens**2 * width


def last_block_flops(tokens: int, width: int) -> float:
    """The fast path's last text block, evaluated at the EOT row only: keys and values for every
    token (4 L d^2), query/output/MLP for one row (20 d^2), one attention row (4 L d)."""
    return 4.0 * tokens * width**2 + 20.0 * width**2 + 4.0 * tokens * width


def causal_attention_flops(rows: int, context: int, width: int) -> float:
    """Scores and weighted values of ``rows`` causal queries that also see ``context`` keys."""
    return 4.0 * width * (rows * context + rows * (rows + 1) / 2)


def split_pair_flops(rows: int, k: int, width: int, n_blocks: int) -> float:
    """Per (prompt set, class) pair in the split view, over the ``n_blocks`` prompted blocks.

    Only the class rows (``rows`` = EOT position: the class words and EOT) run. First prompted
    block: q/k/v are per class (not per pair), so out + MLP (18 T d^2); middle blocks: 24 T d^2;
    last block: k/v of every row (4 T d^2) and q/out/MLP at EOT (20 d^2). Attention over
    [SOS, K prompt rows, own rows <= itself] everywhere (the last block: the EOT query only).
    """
    d2 = width**2
    attention = causal_attention_flops(rows, 1 + k, width)
    last = 4.0 * rows * d2 + 20.0 * d2 + 4.0 * width * (1 + k + rows)
    if n_blocks == 1:  # the one prompted block is also the last: out + MLP at EOT
        return 18.0 * d2 + 4.0 * width * (1 + k + rows)
    return 18.0 * rows * d2 + (n_blocks - 2) * 24.0 * rows * d2 + (n_blocks - 1) * attention + last


def vision_flops(arch: dict, first: int, k: int, read_only: bool = False) -> float:
    """Both image towers per image with their first ``first`` blocks shared; ``read_only``: the
    last block of each at the rows read (CLS; CLS + K prompt rows) -- k/v of every row, q, out
    and MLP (20 d^2) and attention of the read rows."""
    depth, dv = arch["vision_layers"], arch["vision_width"]
    lv = (arch["image_resolution"] // arch["vision_patch_size"]) ** 2 + 1
    late = depth - first
    full = first * block_flops(lv, dv) + late * (block_flops(lv, dv) + block_flops(lv + k, dv))
    if not read_only:
        return full

    def read_block(tokens: int, rows: int) -> float:
        return 4.0 * tokens * dv**2 + 20.0 * rows * dv**2 + 4.0 * rows * tokens * dv

    return full - block_flops(lv, dv) - block_flops(lv + k, dv) + read_block(lv, 1) + read_block(lv + k, 1 + k)


def flop_model(c: int, s: int, lengths: list, arch: dict, first: int = 5, k: int = 5, images: int = 2) -> dict:
    """FLOPs per image of each path (class-set preparation of the fast paths reported apart).

    Naive: per sample, both image towers in full and the 12-block text tower on 77 (+K) tokens
    for every class. Joined (the previous fast path): the image towers once (shared first
    blocks), and per sample and class the prompted text blocks on the class's own length + K,
    the last one at the EOT row only. Split (the new minimum): the image towers' last blocks at
    the rows read (CLS, prompt rows; :func:`vision_flops`); per sample
    and class only the class rows (:func:`split_pair_flops`); per sample the prompt rows'
    k/v at each prompted block (4 K d^2); per forward of ``images`` images the class rows'
    first-block q/k/v (6 T d^2 per class) and the SOS row (24 d^2 per block), shared by the batch.

    ``lengths``: each class prompt's context length (EOT + 1), which the fast paths run at.
    """
    depth, dv, dt = arch["vision_layers"], arch["vision_width"], arch["transformer_width"]
    lv = (arch["image_resolution"] // arch["vision_patch_size"]) ** 2 + 1
    late = depth - first
    vision_pass = first * block_flops(lv, dv) + late * block_flops(lv, dv)
    vision_prompted = first * block_flops(lv, dv) + late * block_flops(lv + k, dv)
    naive_text = c * (first * block_flops(77, dt) + late * block_flops(77 + k, dt))
    naive = s * (vision_pass + vision_prompted + naive_text)
    fast_vision = vision_flops(arch, first, k)
    split_vision = vision_flops(arch, first, k, read_only=True)
    joined_text = s * sum((late - 1) * block_flops(n + k, dt) + last_block_flops(n + k, dt) for n in lengths)
    split_text = s * sum(split_pair_flops(n - 1, k, dt, late) for n in lengths)
    split_text += s * late * 4.0 * k * dt**2
    split_text += (sum(6.0 * (n - 1) * dt**2 for n in lengths) + late * 24.0 * dt**2) / images
    prep = sum(
        first * block_flops(n, dt) + (late - 1) * block_flops(n, dt) + last_block_flops(n, dt) for n in lengths
    )  # prefix + zero-shot features
    joined, split = fast_vision + joined_text, split_vision + split_text
    return {
        "naive": naive,
        "joined": joined,
        "split": split,
        "fast_class_prep": prep,
        "split_text": split_text,
        "split_vision": split_vision,
        "ratio": naive / split,
        "ratio_joined": naive / joined,
        "split_over_joined": joined / split,
    }


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
    model.set_prototype_features(
        torch.randn(job["classes"] * shots, 512), torch.arange(job["classes"]).repeat(shots), job["classes"]
    )
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
            result["profile"] = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
    elif job["kind"] == "naive":
        model.eval()
        measured = job["samples"] if job["naive_samples"] <= 0 else min(job["samples"], job["naive_samples"])
        t0 = time.perf_counter()
        with torch.no_grad(), autocast():
            naive_sample_logits(model, images[:1], "fusion", n_samples=measured)
        sync()
        per_image = (time.perf_counter() - t0) * job["samples"] / measured
        result.update(
            seconds=per_image,
            images_per_s=1.0 / per_image,
            extrapolated=measured < job["samples"],
            measured_samples=measured,
        )
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
        result["peak_mb"] = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        result["peak_mb"] = rss_mb("VmHWM") - base
    return result


def build(job: dict, variant: str = "vamp", classes: int = 0):
    """The random ViT-B/16-shape model of a job, its class set and prototype features."""
    import torch

    from vamp_prompt import VIT_B16_ARCH, VaMPConfig, VaMPModel, build_random_clip

    torch.manual_seed(0)
    classes = classes or job["classes"]
    clip = build_random_clip(seed=0, **VIT_B16_ARCH)
    model = VaMPModel(clip, VaMPConfig(variant=variant, text_chunk_mb=job["chunk_mb"]))
    model = model.to(job["device"])
    with torch.no_grad():  # give the zero-initialised heads some signal
        for p in model.prompt_learner.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.set_classes(class_names(classes), "a photo of a {}.")
    shots = 2  # offline "training" features for the class-aware prior
    model.set_prototype_features(torch.randn(classes * shots, 512), torch.arange(classes).repeat(shots), classes)
    return model


def timed(fn, sync) -> float:
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def gemm_seconds(rows: int, width: int, device: str, min_s: float = 0.3) -> float:
    """Seconds per call of one block's four plain matrix products (q/k/v, out, MLP up, MLP down)
    on ``rows`` rows -- 24 rows d^2 FLOPs -- with bias, as ``F.linear`` runs them."""
    import torch

    shapes = [(width, 3 * width), (width, width), (width, 4 * width), (4 * width, width)]
    xs = [torch.randn(rows, i, device=device) for i, _ in shapes]
    ws = [torch.randn(o, i, device=device) for i, o in shapes]
    bs = [torch.randn(o, device=device) for _, o in shapes]
    calls, t0 = 0, time.perf_counter()
    while True:
        for x, w, b in zip(xs, ws, bs):
            torch.addmm(b, x, w.t())
        calls += 1
        elapsed = time.perf_counter() - t0
        if elapsed > min_s and calls >= 2:
            return elapsed / calls


def chunk_rows(model, buckets, n_sets: int, k: int) -> float:
    """FLOP-weighted mean number of class rows per chunk of the split text pass."""
    from vamp_prompt.text_pass import sequences_per_chunk

    weighted = total = 0.0
    for index, prefix in buckets.buckets:
        n = prefix.states.shape[0]
        chunk = sequences_per_chunk(model.text_tower, n + k, prefix.states.dtype, False, model.cfg.text_chunk_mb)
        pairs = n_sets * index.numel()
        for start in range(0, pairs, chunk):
            rows = min(chunk, pairs - start) * (n - 1)
            weighted += rows * rows
            total += rows
    return weighted / total


def timing_worker(job: dict) -> dict:
    """Naive, joined (previous fast path) and split evaluation timed in alternation, plus the
    plain GEMM rate at the split path's shapes, in one process."""
    import torch

    from vamp_prompt import VIT_B16_ARCH
    from vamp_prompt.reference import naive_sample_logits

    torch.set_num_threads(job["threads"])
    device = torch.device(job["device"])
    model = build(job).eval()
    images = torch.randn(job["images"], 3, 224, 224, device=device)
    s = job["samples"]
    measured = s if job["naive_samples"] <= 0 else min(s, job["naive_samples"])

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    buckets, _ = model.class_states(device)
    lengths = buckets.lengths
    k = model.base.n_tokens
    text_rows = chunk_rows(model, buckets, job["images"] * s, k)
    vision_rows = job["images"] * ((224 // 16) ** 2 + 1)

    def fast(method):
        def go():
            model.text_pass_method = method
            model.vision_read_only = method == "split"  # "joined": the whole previous path
            with torch.no_grad():
                model.predict(images, n_samples=s, mean_only=False)

        return go

    def naive():
        naive_sample_logits(model, images[:1], "fusion", n_samples=measured)

    def gemm():
        return (
            gemm_seconds(int(text_rows), VIT_B16_ARCH["transformer_width"], job["device"]),
            gemm_seconds(vision_rows, VIT_B16_ARCH["vision_width"], job["device"]),
        )

    fast("joined")()  # warm-up (allocator, MKL)
    fast("split")()
    reps = {"naive": [], "joined": [], "split": [], "gemm_text": [], "gemm_vision": []}
    for _ in range(job["reps"]):
        if job["with_naive"]:
            reps["naive"].append(timed(naive, sync) * s / measured)  # per image
        reps["joined"].append(timed(fast("joined"), sync) / job["images"])
        reps["split"].append(timed(fast("split"), sync) / job["images"])
        text_s, vision_s = gemm()
        reps["gemm_text"].append(text_s)
        reps["gemm_vision"].append(vision_s)
    model.text_pass_method, model.vision_read_only = "split", True
    result = {
        "lengths": lengths,
        "reps": reps,
        "text_rows": text_rows,
        "vision_rows": vision_rows,
        "extrapolated": measured < s,
    }
    if job.get("profile"):
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof, torch.no_grad():
            model.predict(images, n_samples=s)
        result["profile"] = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
    return result


def train_worker(job: dict) -> dict:
    """One training step (forward, loss, backward, AdamW) of several models, timed in
    alternation: VaMP (split text pass), VaMP (joined), and the MMRL row."""
    import torch

    torch.set_num_threads(job["threads"])
    device = torch.device(job["device"])
    models = {"vamp": build(job, "vamp"), "mmrl": build(job, "mmrl")}
    images = torch.randn(job["images"], 3, 224, 224, device=device)
    labels = torch.arange(job["images"], device=device) % job["classes"]
    opts = {name: torch.optim.AdamW(m.trainable_parameters(), lr=1e-3) for name, m in models.items()}

    def step(name, method="split"):
        def go():
            model = models[name].train()
            model.text_pass_method = method
            model.vision_read_only = method == "split"
            opts[name].zero_grad()
            model.loss(model(images, n_samples=1), labels).total.backward()
            opts[name].step()

        return go

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    runs = {"vamp": step("vamp"), "vamp_joined": step("vamp", "joined"), "mmrl": step("mmrl")}
    for go in runs.values():
        go()  # warm-up
    reps = {name: [] for name in runs}
    for _ in range(job["reps"]):
        for name, go in runs.items():
            reps[name].append(timed(go, sync))
    return {"reps": reps}


#: glibc otherwise keeps freed activation memory in its heap (dynamic mmap threshold), so RSS
#: would count fragmentation, not live tensors; with a fixed threshold large blocks are returned.
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


def run_job(job: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        capture_output=True,
        text=True,
        env=dict(os.environ, **MALLOC_ENV),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker failed for {job}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------- main
def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else 0.5 * (values[mid - 1] + values[mid])


def gemm_rate(model: dict, result: dict, arch: dict, images: int) -> float:
    """FLOP/s of plain matrix products at the split path's shapes: text class-row and vision
    block GEMMs, weighted by the split path's FLOPs in each tower (median over repetitions)."""
    reps = result["reps"]
    text_rate = 24.0 * result["text_rows"] * arch["transformer_width"] ** 2 / median(reps["gemm_text"])
    vision_rate = 24.0 * result["vision_rows"] * arch["vision_width"] ** 2 / median(reps["gemm_vision"])
    text, vision = model["split_text"], model["split_vision"]
    return (text + vision) / (text / text_rate + vision / vision_rate)


def print_timing(rows, arch, args) -> None:
    print(
        f"\nEvaluation, {args.reps} alternated repetitions (naive, joined, split, GEMM), "
        f"medians; ratios are medians of per-repetition ratios"
    )
    print(
        "| C | S | naive img/s | before: joined img/s | after: split img/s | split / naive | "
        "split / joined | FLOP model split / joined | % of model | FLOP model split / naive |"
        " % of model |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for c, s, result, model in rows:
        reps = result["reps"]
        after_before = median([j / p for j, p in zip(reps["joined"], reps["split"])])
        naive = reps["naive"]
        if naive:
            over_naive = median([n / p for n, p in zip(naive, reps["split"])])
            note = " (extrapolated)" if result["extrapolated"] else ""
            naive_cols = (
                f"{1 / median(naive):.4f}{note}",
                f"{over_naive:.1f}x",
                f"{model['ratio']:.1f}x",
                f"{100 * over_naive / model['ratio']:.0f}%",
            )
        else:
            naive_cols = ("-", "-", f"{model['ratio']:.1f}x", "-")
        print(
            f"| {c} | {s} | {naive_cols[0]} | {1 / median(reps['joined']):.4f} | "
            f"{1 / median(reps['split']):.4f} | {naive_cols[1]} | {after_before:.2f}x | "
            f"{model['split_over_joined']:.2f}x | "
            f"{100 * after_before / model['split_over_joined']:.0f}% | {naive_cols[2]} | "
            f"{naive_cols[3]} |"
        )
    print("\nFLOP model (per image; GFLOP): naive / joined (before) / split (after) / class-set preparation (once)")
    for c, s, result, model in rows:
        print(
            f"  C={c} S={s}: {model['naive'] / 1e9:.0f} / {model['joined'] / 1e9:.0f} / "
            f"{model['split'] / 1e9:.0f} / {model['fast_class_prep'] / 1e9:.0f}"
        )
    print("\nAchieved FLOP rate (FLOP model / median time) vs plain GEMMs of the same shapes, same run")
    for c, s, result, model in rows:
        reps = result["reps"]
        gemm = gemm_rate(model, result, arch, args.images)
        split = model["split"] / median(reps["split"])
        joined = model["joined"] / median(reps["joined"])
        print(
            f"  C={c} S={s}: split {split / 1e9:.1f} GFLOP/s, joined {joined / 1e9:.1f} GFLOP/s,"
            f" GEMM {gemm / 1e9:.1f} GFLOP/s (text rows/chunk {result['text_rows']:.0f}, "
            f"vision rows {result['vision_rows']}) -> split at {100 * split / gemm:.0f}% of "
            f"GEMM, joined at {100 * joined / gemm:.0f}%"
        )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--classes", type=int, nargs="+", default=[100])
    p.add_argument("--samples", type=int, nargs="+", default=[10])
    p.add_argument("--images", type=int, default=2, help="images per fast evaluation batch")
    p.add_argument("--reps", type=int, default=3, help="alternated timed repetitions")
    p.add_argument("--no-naive", action="store_true", help="time the fast paths only")
    p.add_argument("--train-images", type=int, default=4, help="batch of the training step")
    p.add_argument(
        "--train-classes",
        type=int,
        default=24,
        help="classes of the VaMP / MMRL training-step comparison (DTD base: 24; 0: skip)",
    )
    p.add_argument("--naive-samples", type=int, default=1, help="samples the naive loop is timed on (0: all of S)")
    p.add_argument("--chunk-mb", type=float, default=256.0, help="TEXT_CHUNK_MB")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument(
        "--memory", action="store_true", help="also peak memory of evaluation and of a training step (own processes)"
    )
    p.add_argument("--profile", action="store_true", help="profile the split path (first C, S)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        job = json.loads(args.worker)
        run = {"timing": timing_worker, "train_ratio": train_worker}.get(job["kind"], worker)
        print(json.dumps(run(job)))
        return 0

    from vamp_prompt import VIT_B16_ARCH

    import torch

    print(
        f"VaMP inference benchmark: ViT-B/16 shape, random weights, device {args.device}, "
        f"{args.precision}, {args.threads} threads, torch {torch.__version__}, "
        f"TEXT_CHUNK_MB {args.chunk_mb:g}"
    )
    common = dict(
        device=args.device,
        precision=args.precision,
        threads=args.threads,
        chunk_mb=args.chunk_mb,
        naive_samples=args.naive_samples,
    )
    if args.precision != "fp32":
        print("  (alternated timing runs in fp32; --precision applies to the --memory rows)")
    timing, memory, profile = [], [], None
    for c in args.classes:
        for s in args.samples:
            result = run_job(
                dict(
                    common,
                    kind="timing",
                    classes=c,
                    samples=s,
                    images=args.images,
                    reps=args.reps,
                    with_naive=not args.no_naive,
                    profile=args.profile and not timing,
                )
            )
            model = flop_model(c, s, result["lengths"], VIT_B16_ARCH, images=args.images)
            timing.append((c, s, result, model))
            profile = profile or result.get("profile")
            print(f"  measured C={c} S={s}", flush=True)
            if args.memory:
                fast = run_job(dict(common, kind="fast", classes=c, samples=s, images=args.images))
                memory.append((f"evaluation (S={s}, {args.images} images)", c, fast["peak_mb"]))
        if args.memory:
            train = run_job(dict(common, kind="train", classes=c, samples=1, images=args.train_images))
            memory.append((f"training step (S=1, batch {args.train_images})", c, train["peak_mb"]))
    print_timing(timing, VIT_B16_ARCH, args)
    if args.train_classes:
        train = run_job(
            dict(common, kind="train_ratio", classes=args.train_classes, images=args.train_images, reps=args.reps)
        )["reps"]
        print(
            f"\nTraining step (batch {args.train_images}, S=1, C={args.train_classes}), "
            f"median s over {args.reps} alternated repetitions:"
        )
        print(
            f"  VaMP split {median(train['vamp']):.2f} s, VaMP joined "
            f"{median(train['vamp_joined']):.2f} s, MMRL row {median(train['mmrl']):.2f} s; "
            f"VaMP / MMRL = {median([v / m for v, m in zip(train['vamp'], train['mmrl'])]):.2f}x,"
            f" joined / split = "
            f"{median([j / v for j, v in zip(train['vamp_joined'], train['vamp'])]):.2f}x"
        )
    if memory:
        print("\n| peak memory above the loaded model | C | MB |")
        print("|---|---|---|")
        for what, c, mb in memory:
            print(f"| {what} | {c} | {mb:.0f} |")
    if profile:
        c, s = timing[0][:2]
        print(f"\nProfile of the split path (C={c}, S={s}), top operators by self CPU time:")
        print(profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
