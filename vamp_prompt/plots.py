"""Uncertainty plots of one run, and the writers that produce their inputs.

Usage::

    python -m vamp_prompt.plots RUN_DIR [--out DIR] [--tsne] [--max-points N]

Inputs live in ``RUN_DIR/uncertainty/`` (RUN_DIR may also be that folder itself); each plot
whose input is missing is skipped with a logged message; with no input at all the command
exits with code 2. Outputs default to the same folder.

``reliability.json`` -> ``reliability.png`` (written by :func:`write_reliability`)::

    {"n_bins": 15, "num_images": N, "ece": 3.21,            # ece in %
     "bin_lower": [15 floats], "bin_upper": [15 floats],   # bin b = (lower, upper]
     "count": [15 ints],
     "accuracy": [15 fractions in [0, 1] or null],          # null for an empty bin
     "confidence": [15 fractions in [0, 1] or null]}        # mean top-1 probability

  When it is absent, ``per_image.csv`` (``vamp_prompt.metrics.write_per_image_csv``:
  ``impath,label,prediction,confidence,...``) in ``uncertainty/`` or in RUN_DIR is binned
  instead (15 bins).

``s_sweep.json`` -> ``s_sweep.png`` (written by :func:`write_s_sweep`)::

    {"samples": [1, 2, 5, 10, 20], "accuracy": [...], "ece": [...], "nll": [...], ...}

  one list entry per sample count; accuracy and ece in %; any further metric list is kept.

``latents.npz`` -> ``latents.png`` (written by :func:`write_latents`), numpy arrays:

    labels          int64   [N]        class of each image
    layers          int64   [L]        1-indexed prompt-layer numbers
    posterior_means float32 [L, N, D]  per-layer posterior mean (e.g. averaged over tokens)
    prior_means     float32 [L, C, D]  optional: per-layer class-prior means
    prior_labels    int64   [C]        optional: class of each prior mean

  One panel per layer: a 2-D PCA (or t-SNE with ``--tsne`` when scikit-learn is installed)
  of the posterior means coloured by class, prior means as black-edged stars, and the
  compactness ``mean within-class distance / mean between-class distance`` (pairwise
  Euclidean distances in the full D dimensions, on at most 2000 points; lower = tighter
  classes) in the title.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from vamp_prompt.atomic import atomic_output, atomic_write_text
from vamp_prompt.metrics import DEFAULT_N_BINS, reliability_bins, to_jsonable

__all__ = [
    "compactness",
    "main",
    "plot_latents",
    "plot_reliability",
    "plot_s_sweep",
    "write_latents",
    "write_reliability",
    "write_s_sweep",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, "os.PathLike[str]"]
RELIABILITY_FILE = "reliability.json"
PER_IMAGE_FILE = "per_image.csv"
S_SWEEP_FILE = "s_sweep.json"
LATENTS_FILE = "latents.npz"
_RELIABILITY_KEYS = ("bin_lower", "bin_upper", "count", "accuracy", "confidence")


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.is_floating_point():
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def _json_dump(path: PathLike, payload: Mapping[str, Any]) -> Path:
    return atomic_write_text(path, json.dumps(to_jsonable(dict(payload)), indent=2) + "\n")


# ----------------------------------------------------------------------------- writers


def write_reliability(path: PathLike, metrics_or_bins: Any) -> Path:
    """Write ``reliability.json``.

    ``metrics_or_bins``: the dict of :func:`vamp_prompt.metrics.reliability_bins` /
    ``UncertaintyAccumulator.reliability()``, a dict holding it under ``"reliability"``, or
    an ``UncertaintyAccumulator`` itself.
    """
    bins = metrics_or_bins
    if hasattr(bins, "reliability") and callable(bins.reliability):
        bins = bins.reliability()
    elif isinstance(bins, Mapping) and "reliability" in bins:
        bins = bins["reliability"]
    if not isinstance(bins, Mapping) or any(k not in bins for k in _RELIABILITY_KEYS):
        raise ValueError(f"reliability data needs the keys {_RELIABILITY_KEYS}")
    n_bins = len(bins["count"])
    if any(len(bins[k]) != n_bins for k in _RELIABILITY_KEYS):
        raise ValueError("reliability lists differ in length")
    payload = {"n_bins": n_bins, "num_images": int(sum(bins["count"])), "ece": bins.get("ece")}
    payload.update({k: list(bins[k]) for k in _RELIABILITY_KEYS})
    return _json_dump(path, payload)


def write_s_sweep(path: PathLike, samples: Sequence[int], metrics_list: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``s_sweep.json`` from one metrics dict per sample count (same order as ``samples``).

    Every numeric key present in all dicts becomes a list (``accuracy``, ``ece``, ``nll``, ...).
    """
    if len(samples) != len(metrics_list) or not samples:
        raise ValueError("need one metrics dict per sample count")
    keys = [
        k
        for k, v in metrics_list[0].items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("num_samples",)
    ]
    keys = [k for k in keys if all(k in m for m in metrics_list)]
    if "accuracy" not in keys:
        raise ValueError("metrics dicts need an 'accuracy' entry")
    payload: dict[str, Any] = {"samples": [int(s) for s in samples]}
    payload.update({k: [float(m[k]) for m in metrics_list] for k in keys})
    return _json_dump(path, payload)


def write_latents(
    path: PathLike,
    labels: Any,
    layers: Sequence[int],
    posterior_means: Any,
    prior_means: Any = None,
    prior_labels: Any = None,
) -> Path:
    """Write ``latents.npz`` (format in the module docstring); tensors or arrays accepted."""
    labels_np = _to_numpy(labels).astype(np.int64).reshape(-1)
    layers_np = _to_numpy(layers).astype(np.int64).reshape(-1)
    post = _to_numpy(posterior_means).astype(np.float32)
    if post.ndim != 3 or post.shape[0] != layers_np.size or post.shape[1] != labels_np.size:
        raise ValueError(f"posterior_means must be [L={layers_np.size}, N={labels_np.size}, D], got {post.shape}")
    arrays = {"labels": labels_np, "layers": layers_np, "posterior_means": post}
    if prior_means is not None:
        prior = _to_numpy(prior_means).astype(np.float32)
        if prior.ndim != 3 or prior.shape[0] != post.shape[0] or prior.shape[2] != post.shape[2]:
            raise ValueError(f"prior_means must be [L, C, D={post.shape[2]}], got {prior.shape}")
        plabels = (
            np.arange(prior.shape[1]) if prior_labels is None else _to_numpy(prior_labels).astype(np.int64).reshape(-1)
        )
        if plabels.size != prior.shape[1]:
            raise ValueError("prior_labels must have one entry per prior mean")
        arrays.update(prior_means=prior, prior_labels=plabels)
    with atomic_output(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return Path(path)


# ----------------------------------------------------------------------------- plots


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _reliability_from_csv(path: Path, n_bins: int = DEFAULT_N_BINS) -> dict[str, Any]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path} has no rows")
    conf = torch.tensor([float(r["confidence"]) for r in rows], dtype=torch.float64)
    correct = torch.tensor([int(r["prediction"]) == int(r["label"]) for r in rows], dtype=torch.float64)
    return reliability_bins(conf, correct, n_bins)


def plot_reliability(bins: Mapping[str, Any], out_path: PathLike, title: str = "") -> Path:
    """Reliability diagram (accuracy per confidence bin against the diagonal) above a
    histogram of the bin counts."""
    fig = _figure(5.0, 6.0)
    ax, axh = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    lower = np.asarray(bins["bin_lower"], dtype=float)
    upper = np.asarray(bins["bin_upper"], dtype=float)
    width = upper - lower
    acc = np.array([np.nan if a is None else a for a in bins["accuracy"]], dtype=float)
    conf = np.array([np.nan if c is None else c for c in bins["confidence"]], dtype=float)
    filled = ~np.isnan(acc)
    ax.bar(
        lower[filled],
        acc[filled],
        width[filled],
        align="edge",
        color="tab:blue",
        edgecolor="black",
        linewidth=0.5,
        label="accuracy",
    )
    gap_bottom = np.minimum(acc, conf)[filled]
    ax.bar(
        lower[filled],
        np.abs(acc - conf)[filled],
        width[filled],
        bottom=gap_bottom,
        align="edge",
        facecolor=(1.0, 0.0, 0.0, 0.15),
        edgecolor="tab:red",
        hatch="//",
        linewidth=0.5,
        label="gap to mean confidence",
    )
    centers = (lower + upper)[filled] / 2
    ax.plot(centers, conf[filled], "o", color="tab:red", markersize=3, label="mean confidence")
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ece = bins.get("ece")
    ax.set_title((title + "  " if title else "") + (f"ECE {ece:.2f}%" if ece is not None else ""))
    ax.legend(loc="best", fontsize=7)
    axh.bar(
        lower,
        np.asarray(bins["count"], dtype=float),
        width,
        align="edge",
        color="gray",
        edgecolor="black",
        linewidth=0.5,
    )
    axh.set_xlabel("confidence (top-1 of the sample-averaged probability)")
    axh.set_ylabel("images")
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    return Path(out_path)


def plot_s_sweep(sweep: Mapping[str, Any], out_path: PathLike) -> Path:
    """Accuracy, ECE (and NLL when present) against the number of Monte-Carlo samples S."""
    samples = [int(s) for s in sweep["samples"]]
    panels = [
        (k, lab)
        for k, lab in (("accuracy", "accuracy (%)"), ("ece", "ECE (%)"), ("nll", "NLL"))
        if k in sweep and len(sweep[k]) == len(samples)
    ]
    if not panels:
        raise ValueError("s_sweep has no accuracy/ece/nll list matching 'samples'")
    fig = _figure(4.0 * len(panels), 3.5)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (key, label) in zip(axes, panels):
        ys = [np.nan if v is None else float(v) for v in sweep[key]]
        ax.plot(samples, ys, marker="o")
        if len(samples) > 1 and min(samples) > 0 and max(samples) / min(samples) >= 4:
            ax.set_xscale("log")
        ax.set_xticks(samples)
        ax.set_xticklabels([str(s) for s in samples])
        ax.minorticks_off()
        ax.set_xlabel("samples S")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    fig.suptitle("Monte-Carlo samples at test time")
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    return Path(out_path)


def compactness(points: Any, labels: Any, max_points: int = 2000, seed: int = 0) -> float:
    """``mean ||a-b|| over same-class pairs / mean ||a-b|| over different-class pairs``.

    Euclidean distances between the given points (any dimension); a seeded random subset of
    ``max_points`` points when there are more. NaN when either kind of pair is missing.
    """
    x = torch.as_tensor(_to_numpy(points), dtype=torch.float64)
    y = torch.as_tensor(_to_numpy(labels)).long().reshape(-1)
    if x.shape[0] > max_points:
        idx = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[:max_points]
        x, y = x[idx], y[idx]
    dist = torch.cdist(x, x)
    same = y[:, None] == y[None, :]
    off_diag = ~torch.eye(len(y), dtype=torch.bool)
    within, between = dist[same & off_diag], dist[~same]
    if within.numel() == 0 or between.numel() == 0 or float(between.mean()) == 0.0:
        return math.nan
    return float(within.mean() / between.mean())


def _pca_2d(fit: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Project ``fit`` and ``others`` on the top-2 principal axes of ``fit`` (SVD)."""
    mean = fit.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)
    axes = vt[:2].T
    if axes.shape[1] < 2:  # D == 1: pad a zero axis
        axes = np.concatenate([axes, np.zeros_like(axes)], axis=1)
    return [(a - mean) @ axes for a in (fit,) + others]


def _tsne_2d(fit: np.ndarray, extra: np.ndarray | None, seed: int) -> list[np.ndarray] | None:
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        return None
    data = fit if extra is None else np.concatenate([fit, extra])
    perplexity = float(min(30.0, max(2.0, (len(data) - 1) / 3.0)))
    emb = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(data)
    return [emb[: len(fit)]] + ([] if extra is None else [emb[len(fit) :]])


def plot_latents(
    data: Mapping[str, np.ndarray],
    out_path: PathLike,
    tsne: bool = False,
    max_points: int = 5000,
    seed: int = 0,
) -> Path:
    """One panel per prompt layer: 2-D embedding of the posterior means coloured by class,
    class-prior means as stars, compactness (full-D) in each title."""
    labels = np.asarray(data["labels"]).reshape(-1)
    layers = np.asarray(data["layers"]).reshape(-1)
    post = np.asarray(data["posterior_means"], dtype=np.float64)
    prior = data.get("prior_means")
    prior_labels = data.get("prior_labels")
    if prior is not None and prior_labels is None:
        prior_labels = np.arange(np.asarray(prior).shape[1])
    if post.ndim != 3 or post.shape[:2] != (len(layers), len(labels)):
        raise ValueError(f"posterior_means shape {post.shape} does not match layers/labels")
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(labels), max_points, replace=False)) if len(labels) > max_points else None
    classes = np.unique(labels if prior_labels is None else np.concatenate([labels, prior_labels]))
    cmap_name = "tab10" if len(classes) <= 10 else "tab20" if len(classes) <= 20 else "turbo"
    import matplotlib

    cmap = matplotlib.colormaps[cmap_name]
    color_of = {c: cmap(i / max(1, len(classes) - 1) if cmap_name == "turbo" else i) for i, c in enumerate(classes)}
    ncols = min(4, len(layers))
    nrows = math.ceil(len(layers) / ncols)
    fig = _figure(3.6 * ncols, 3.4 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).reshape(-1)
    method, warned = "PCA", False
    for li, layer in enumerate(layers):
        ax = axes[li]
        pts, lab = post[li], labels
        if keep is not None:
            pts, lab = pts[keep], lab[keep]
        pri = None if prior is None else np.asarray(prior[li], dtype=np.float64)
        emb = _tsne_2d(pts, pri, seed) if tsne else None
        if tsne and emb is None and not warned:
            logger.warning("scikit-learn is not installed: PCA instead of t-SNE")
            warned = True
        if emb is None:
            emb = _pca_2d(pts, pri) if pri is not None else _pca_2d(pts)
        else:
            method = "t-SNE"
        ax.scatter(emb[0][:, 0], emb[0][:, 1], c=[color_of[c] for c in lab], s=6, alpha=0.7, linewidths=0)
        if pri is not None:
            ax.scatter(
                emb[1][:, 0],
                emb[1][:, 1],
                c=[color_of[c] for c in prior_labels],
                marker="*",
                s=140,
                edgecolors="black",
                linewidths=0.8,
                label="class prior mean",
            )
            if li == 0:
                ax.legend(loc="best", fontsize=7)
        score = compactness(post[li], labels, seed=seed)
        ax.set_title(f"layer {int(layer)}: compactness {score:.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[len(layers) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Posterior means per prompt layer ({method}; compactness = within / between class distance, lower is tighter)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out_path, dpi=120)
    return Path(out_path)


# ----------------------------------------------------------------------------- CLI


def _input_dir(run_dir: Path) -> Path:
    sub = run_dir / "uncertainty"
    return sub if sub.is_dir() else run_dir


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns 0 when at least one plot was written, 2 when none could be."""
    parser = argparse.ArgumentParser(
        prog="python -m vamp_prompt.plots",
        description="Reliability, S-sweep and latent-space plots of one run.",
    )
    parser.add_argument("run_dir", type=Path, help="run folder holding uncertainty/ (or that folder)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the input folder)")
    parser.add_argument("--tsne", action="store_true", help="t-SNE instead of PCA (needs scikit-learn)")
    parser.add_argument("--max-points", type=int, default=5000, help="points drawn per layer panel")
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")

    if not args.run_dir.is_dir():
        print(f"error: {args.run_dir} is not a directory", file=sys.stderr)
        return 2
    src = _input_dir(args.run_dir)
    out = args.out or src
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def attempt(name: str, fn) -> None:
        try:
            path = fn()
            written.append(path)
            logger.info("wrote %s", path)
        except Exception as exc:  # noqa: BLE001  (one bad input must not cost the others)
            logger.error("%s: could not plot (%s)", name, exc)

    per_image = next((p for p in (src / PER_IMAGE_FILE, args.run_dir / PER_IMAGE_FILE) if p.is_file()), None)
    if (src / RELIABILITY_FILE).is_file():
        attempt(
            RELIABILITY_FILE,
            lambda: plot_reliability(
                json.loads((src / RELIABILITY_FILE).read_text(encoding="utf-8")),
                out / "reliability.png",
            ),
        )
    elif per_image is not None:
        attempt(
            PER_IMAGE_FILE,
            lambda: plot_reliability(_reliability_from_csv(per_image), out / "reliability.png"),
        )
    else:
        logger.info("no %s or %s in %s: reliability diagram skipped", RELIABILITY_FILE, PER_IMAGE_FILE, src)

    if (src / S_SWEEP_FILE).is_file():
        attempt(
            S_SWEEP_FILE,
            lambda: plot_s_sweep(json.loads((src / S_SWEEP_FILE).read_text(encoding="utf-8")), out / "s_sweep.png"),
        )
    else:
        logger.info("no %s in %s: S-sweep plot skipped", S_SWEEP_FILE, src)

    if (src / LATENTS_FILE).is_file():

        def latents() -> Path:
            with np.load(src / LATENTS_FILE) as npz:
                data = {k: npz[k] for k in npz.files}
            return plot_latents(data, out / "latents.png", tsne=args.tsne, max_points=args.max_points)

        attempt(LATENTS_FILE, latents)
    else:
        logger.info("no %s in %s: latent-space plot skipped", LATENTS_FILE, src)

    if not written:
        print(
            f"error: no plot written: none of {RELIABILITY_FILE}, {PER_IMAGE_FILE}, "
            f"{S_SWEEP_FILE}, {LATENTS_FILE} could be read in {src}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
