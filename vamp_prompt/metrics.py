"""Accuracy, calibration and uncertainty metrics for Monte-Carlo prompt sampling.

Pure torch (no Dassl). VaMP draws S posterior samples of the text prompts per image; each
sample gives a logit vector over the C classes. **Rule: we average probabilities**, not
logits: ``p_s = softmax(logits_s)`` (in float32, whatever the input dtype), then
``p_bar = mean_s p_s``. Every metric below is computed from ``p_bar`` except the expected
entropy (and so the mutual information), which needs the individual samples.

Metrics (``N`` images, true labels ``y``; all means are over images of the whole split):

* ``accuracy`` (%): ``100 * mean[argmax p_bar == y]``.
* ``macro_f1`` (%): per class ``F1_c = 2 TP_c / (#pred_c + #true_c)``, averaged over the
  classes that occur in the labels (as Dassl's evaluator does).
* ``nll``: ``mean(-log max(p_bar[y], 1e-12))``.
* ``ece`` (%): ``100 * sum_b (n_b / N) |acc_b - conf_b|`` over 15 equal-width bins of the
  top-1 confidence ``max p_bar``; bin ``b`` is ``(b/15, (b+1)/15]``, confidence 0 goes to
  the first bin and confidence 1.0 to the last.
* ``brier``: ``mean(sum_c (p_bar_c - 1[c == y])^2)`` (0 best, 2 worst).
* ``predictive_entropy`` (nats): ``mean H(p_bar)`` with ``H(p) = -sum_c p_c log p_c``.
* ``expected_entropy`` (nats): ``mean (1/S) sum_s H(p_s)``.
* ``mutual_information`` (nats): ``predictive_entropy - expected_entropy`` per image
  (the epistemic part, >= 0 by Jensen); exactly 0 when S == 1 or all samples agree, tiny
  negative rounding clamped to 0.

:class:`UncertaintyAccumulator` streams batches of logits and keeps only per-image scalars
(a few floats per image) and per-class counts, never an ``N x C`` table, so it is safe for
ImageNet (50k x 1000). :func:`summarize_predictions` is the one-shot version over an
in-memory table; both give the same numbers.

Files (written atomically: temporary file in the same folder, then ``os.replace``):

* ``metrics.json`` (:func:`write_metrics_json`): one flat JSON object, the metric keys above
  plus ``num_images``, ``num_samples``, ``n_bins`` and the caller's ``extra`` keys (e.g.
  dataset, split, trainer, seed, inference mode). Non-finite numbers are written as ``null``.
* per-image CSV (:func:`write_per_image_csv`): header
  ``impath,label,prediction,confidence,predictive_entropy,mutual_information``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import torch
from torch import Tensor

from .atomic import atomic_write_text

__all__ = [
    "CALIBRATION_KEYS",
    "DEFAULT_N_BINS",
    "NLL_EPS",
    "SampleSweepAccumulator",
    "UncertaintyAccumulator",
    "format_metrics_lines",
    "per_image_records",
    "probs_from_logits",
    "reliability_bins",
    "summarize_predictions",
    "to_jsonable",
    "write_metrics_json",
    "write_per_image_csv",
]

logger = logging.getLogger(__name__)

NLL_EPS = 1e-12
DEFAULT_N_BINS = 15
# Keys printed by :func:`format_metrics_lines` (accuracy / macro_f1 are printed by Dassl).
CALIBRATION_KEYS = (
    "nll",
    "ece",
    "brier",
    "predictive_entropy",
    "expected_entropy",
    "mutual_information",
)
PER_IMAGE_KEYS = ("prediction", "confidence", "predictive_entropy", "mutual_information")
PathLike = Union[str, "os.PathLike[str]"]


def probs_from_logits(sample_logits: Tensor) -> Tensor:
    """Softmax over the class dimension (last) in float32; works for ``[N, C]`` or ``[N, S, C]``."""
    return torch.softmax(sample_logits.detach().float(), dim=-1)


def _entropy(p: Tensor) -> Tensor:
    """``H(p) = -sum_c p_c log p_c`` over the last dimension, with ``0 log 0 = 0``."""
    return -torch.special.xlogy(p, p).sum(dim=-1)


def _as_sample_probs(probs: Tensor) -> Tensor:
    if probs.dim() == 2:
        probs = probs.unsqueeze(1)
    if probs.dim() != 3:
        raise ValueError(f"expected probabilities [N, C] or [N, S, C], got shape {tuple(probs.shape)}")
    if probs.numel() and (probs.min() < -1e-6 or probs.max() > 1 + 1e-6):
        raise ValueError("values outside [0, 1]: pass probabilities (see probs_from_logits)")
    return probs.detach().to(torch.float64)


def _check_labels(labels: Tensor, n: int, num_classes: int) -> Tensor:
    labels = torch.as_tensor(labels).detach().reshape(-1).long()
    if labels.numel() != n:
        raise ValueError(f"{labels.numel()} labels for {n} predictions")
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes})")
    return labels


def _image_stats(sample_probs: Tensor, labels: Tensor | None) -> dict[str, Tensor]:
    """Per-image scalars from float64 probabilities ``[B, S, C]``."""
    mean = sample_probs.mean(dim=1)
    confidence, prediction = mean.max(dim=-1)
    predictive_entropy = _entropy(mean)
    expected_entropy = _entropy(sample_probs).mean(dim=1)
    mutual_information = (predictive_entropy - expected_entropy).clamp_min(0.0)
    if sample_probs.shape[1] == 1:
        mutual_information = torch.zeros_like(mutual_information)
    else:
        agree = (sample_probs == sample_probs[:, :1]).flatten(1).all(dim=1)
        mutual_information = mutual_information.masked_fill(agree, 0.0)
    stats = {
        "prediction": prediction,
        "confidence": confidence,
        "predictive_entropy": predictive_entropy,
        "expected_entropy": expected_entropy,
        "mutual_information": mutual_information,
        "sum_sq": (mean * mean).sum(dim=-1),
    }
    if labels is not None:
        stats["true_prob"] = mean.gather(1, labels.to(mean.device).view(-1, 1)).squeeze(1)
    return stats


def reliability_bins(confidences: Tensor, correct: Tensor, n_bins: int = DEFAULT_N_BINS) -> dict[str, Any]:
    """Equal-width reliability bins of the top-1 confidence.

    Bin ``b`` holds confidences in ``(b/n_bins, (b+1)/n_bins]``; 0 goes to the first bin and
    1.0 to the last. Returns JSON-ready lists ``bin_lower``, ``bin_upper``, ``count``,
    ``accuracy`` and ``confidence`` (fractions in [0, 1], ``None`` for empty bins) and
    ``ece`` in % (``100 * sum_b n_b/N |acc_b - conf_b|``), plus ``n_bins`` and ``num_images``.
    """
    if n_bins < 1:
        raise ValueError("n_bins must be >= 1")
    conf = torch.as_tensor(confidences).detach().double().reshape(-1).cpu()
    corr = torch.as_tensor(correct).detach().double().reshape(-1).cpu()
    if conf.numel() != corr.numel():
        raise ValueError("confidences and correct differ in length")
    edges = torch.linspace(0.0, 1.0, n_bins + 1, dtype=torch.float64)
    index = torch.bucketize(conf, edges[1:-1], right=False)  # edges[b-1] < x <= edges[b]
    count = torch.bincount(index, minlength=n_bins)
    conf_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, index, conf)
    corr_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, index, corr)
    n = conf.numel()
    ece = 0.0
    acc_list: list[float | None] = []
    conf_list: list[float | None] = []
    for b in range(n_bins):
        c = int(count[b])
        if c == 0:
            acc_list.append(None)
            conf_list.append(None)
            continue
        acc_b = float(corr_sum[b]) / c
        conf_b = float(conf_sum[b]) / c
        acc_list.append(acc_b)
        conf_list.append(conf_b)
        ece += c / n * abs(acc_b - conf_b)
    return {
        "n_bins": n_bins,
        "num_images": n,
        "bin_lower": [float(x) for x in edges[:-1]],
        "bin_upper": [float(x) for x in edges[1:]],
        "count": [int(x) for x in count],
        "accuracy": acc_list,
        "confidence": conf_list,
        "ece": 100.0 * ece if n else float("nan"),
    }


class UncertaintyAccumulator:
    """Streaming version of :func:`summarize_predictions`.

    Usage::

        acc = UncertaintyAccumulator(n_bins=15)
        for images, labels in loader:
            acc.update(model_sample_logits(images), labels)   # [B, S, C] (or [B, C])
        metrics = acc.compute()            # same dict as summarize_predictions
        bins = acc.reliability()           # for write_reliability / the reliability plot
        records = acc.per_image_records()  # for write_per_image_csv

    Memory: a handful of float64 scalars per image (kept on the CPU) and three per-class
    count vectors; never ``N x C``.
    """

    _STAT_KEYS = (
        "prediction",
        "label",
        "confidence",
        "true_prob",
        "sum_sq",
        "predictive_entropy",
        "expected_entropy",
        "mutual_information",
    )

    def __init__(self, n_bins: int = DEFAULT_N_BINS, num_classes: int | None = None) -> None:
        if n_bins < 1:
            raise ValueError("n_bins must be >= 1")
        self.n_bins = n_bins
        self._init_classes = num_classes
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far."""
        self.num_classes: int | None = self._init_classes
        self.num_samples: int | None = None
        self._chunks: dict[str, list[Tensor]] = {k: [] for k in self._STAT_KEYS}
        self._count = 0
        self._tp: Tensor | None = None
        self._pred_count: Tensor | None = None
        self._true_count: Tensor | None = None

    def __len__(self) -> int:
        return self._count

    def update(self, sample_logits: Tensor, labels: Tensor) -> None:
        """Add a batch of logits ``[B, S, C]`` (S Monte-Carlo samples) or ``[B, C]``.

        Logits of any dtype are cast to float32 before the softmax.
        """
        self.update_probs(probs_from_logits(sample_logits), labels)

    def update_probs(self, sample_probs: Tensor, labels: Tensor) -> None:
        """Add a batch of probabilities ``[B, S, C]`` or ``[B, C]``."""
        probs = _as_sample_probs(sample_probs)
        b, s, c = probs.shape
        if self.num_classes is None:
            self.num_classes = c
        elif c != self.num_classes:
            raise ValueError(f"batch has {c} classes, expected {self.num_classes}")
        if self.num_samples is None:
            self.num_samples = s
        elif s != self.num_samples:
            raise ValueError(f"batch has {s} samples per image, earlier batches had {self.num_samples}")
        labels = _check_labels(labels, b, c).to(probs.device)
        stats = _image_stats(probs, labels)
        stats["label"] = labels
        for key in self._STAT_KEYS:
            self._chunks[key].append(stats[key].cpu())
        pred, lab = stats["prediction"].cpu(), labels.cpu()
        if self._tp is None:
            self._tp = torch.zeros(c, dtype=torch.long)
            self._pred_count = torch.zeros(c, dtype=torch.long)
            self._true_count = torch.zeros(c, dtype=torch.long)
        self._tp += torch.bincount(lab[pred == lab], minlength=c)
        self._pred_count += torch.bincount(pred, minlength=c)
        self._true_count += torch.bincount(lab, minlength=c)
        self._count += b

    def _cat(self, key: str) -> Tensor:
        return torch.cat(self._chunks[key]) if self._chunks[key] else torch.zeros(0)

    def compute(self) -> dict[str, float]:
        """All metrics over everything seen (see the module docstring for the formulas)."""
        if self._count == 0:
            raise ValueError("no predictions accumulated")
        pred, label = self._cat("prediction"), self._cat("label")
        correct = (pred == label).double()
        true_prob = self._cat("true_prob")
        present = self._true_count > 0
        f1 = 2.0 * self._tp.double() / (self._pred_count + self._true_count).clamp_min(1).double()
        return {
            "accuracy": 100.0 * float(correct.mean()),
            "macro_f1": 100.0 * float(f1[present].mean()),
            "nll": float(-true_prob.clamp_min(NLL_EPS).log().mean()),
            "ece": reliability_bins(self._cat("confidence"), correct, self.n_bins)["ece"],
            "brier": float((self._cat("sum_sq") - 2.0 * true_prob + 1.0).mean()),
            "predictive_entropy": float(self._cat("predictive_entropy").mean()),
            "expected_entropy": float(self._cat("expected_entropy").mean()),
            "mutual_information": float(self._cat("mutual_information").mean()),
            "num_images": self._count,
            "num_samples": int(self.num_samples or 0),
            "n_bins": self.n_bins,
        }

    def reliability(self) -> dict[str, Any]:
        """Reliability bins of everything seen (format of :func:`reliability_bins`)."""
        if self._count == 0:
            raise ValueError("no predictions accumulated")
        correct = (self._cat("prediction") == self._cat("label")).double()
        return reliability_bins(self._cat("confidence"), correct, self.n_bins)

    def per_image_records(self) -> dict[str, Tensor]:
        """Per-image ``prediction``, ``confidence``, ``predictive_entropy``, ``mutual_information``
        (CPU tensors, in update order)."""
        return {k: self._cat(k) for k in PER_IMAGE_KEYS}


class SampleSweepAccumulator:
    """Metrics for several sample counts from one pass with ``max(samples)`` samples.

    For each ``s`` in ``samples`` the first ``s`` samples of every image are used, so one
    evaluation with S = 20 gives the whole accuracy/ECE-versus-S curve::

        sweep = SampleSweepAccumulator([1, 2, 5, 10, 20])
        for ...: sweep.update(sample_logits_with_20_samples, labels)
        write_s_sweep(path, sweep.samples, sweep.compute())   # vamp_prompt.plots
    """

    def __init__(self, samples: Sequence[int], n_bins: int = DEFAULT_N_BINS) -> None:
        self.samples = sorted({int(s) for s in samples})
        if not self.samples or self.samples[0] < 1:
            raise ValueError("samples must be a non-empty list of positive integers")
        self._accs = [UncertaintyAccumulator(n_bins) for _ in self.samples]

    def update(self, sample_logits: Tensor, labels: Tensor) -> None:
        """Add a batch of logits ``[B, S_max, C]`` with ``S_max >= max(samples)``."""
        if sample_logits.dim() != 3 or sample_logits.shape[1] < self.samples[-1]:
            raise ValueError(f"need logits [B, S>={self.samples[-1]}, C], got {tuple(sample_logits.shape)}")
        probs = probs_from_logits(sample_logits)
        for s, acc in zip(self.samples, self._accs):
            acc.update_probs(probs[:, :s], labels)

    def compute(self) -> list[dict[str, float]]:
        """One metrics dict per entry of ``self.samples``."""
        return [acc.compute() for acc in self._accs]


def summarize_predictions(sample_probs: Tensor, labels: Tensor, n_bins: int = DEFAULT_N_BINS) -> dict[str, float]:
    """All metrics of a whole split from probabilities ``[N, S, C]`` (or ``[N, C]``).

    Returns ``accuracy``, ``macro_f1``, ``ece`` (all %), ``nll``, ``brier``,
    ``predictive_entropy``, ``expected_entropy``, ``mutual_information`` (nats),
    ``num_images``, ``num_samples``, ``n_bins``.
    """
    acc = UncertaintyAccumulator(n_bins)
    acc.update_probs(sample_probs, labels)
    return acc.compute()


def per_image_records(sample_probs: Tensor) -> dict[str, Tensor]:
    """Per-image ``prediction``, ``confidence`` (top-1 of the mean probability),
    ``predictive_entropy`` and ``mutual_information`` from probabilities ``[N, S, C]``
    (or ``[N, C]``)."""
    stats = _image_stats(_as_sample_probs(sample_probs), None)
    return {k: stats[k].cpu() for k in PER_IMAGE_KEYS}


def format_metrics_lines(metrics: Mapping[str, Any]) -> list[str]:
    """Log lines in Dassl's evaluator style for the calibration/uncertainty metrics, e.g.
    ``* nll: 0.4321``, ``* ece: 3.21%``. Accuracy and macro-F1 are left to Dassl's evaluator."""
    lines = []
    for key in CALIBRATION_KEYS:
        if key not in metrics or metrics[key] is None:
            continue
        value = float(metrics[key])
        lines.append(f"* {key}: {value:.2f}%" if key == "ece" else f"* {key}: {value:.4f}")
    return lines


def to_jsonable(value: Any) -> Any:
    """Tensors / numpy values -> Python numbers or lists; non-finite floats -> None."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # torch.Tensor, numpy array or numpy scalar
        if isinstance(value, list):
            return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics_json(path: PathLike, metrics: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``metrics`` merged with ``extra`` as one flat JSON object, atomically.

    ``extra`` may not redefine a metric key (ValueError). Tensors/numpy scalars become
    Python numbers, non-finite floats become ``null``.
    """
    payload = dict(to_jsonable(dict(metrics)))
    for key, value in (extra or {}).items():
        if key in payload:
            raise ValueError(f"extra key {key!r} clashes with a metric")
        payload[str(key)] = to_jsonable(value)
    return atomic_write_text(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")


def write_per_image_csv(
    path: PathLike,
    impaths: Sequence[str],
    labels: Tensor | Sequence[int],
    records: Mapping[str, Tensor | Sequence[float]],
) -> Path:
    """CSV with header ``impath,label,prediction,confidence,predictive_entropy,mutual_information``.

    ``records`` is the dict of :func:`per_image_records` /
    :meth:`UncertaintyAccumulator.per_image_records`; rows follow the order of ``impaths``.
    """
    labels_list = torch.as_tensor(labels).reshape(-1).tolist()
    columns = {k: torch.as_tensor(records[k]).reshape(-1).tolist() for k in PER_IMAGE_KEYS}
    n = len(impaths)
    if len(labels_list) != n or any(len(v) != n for v in columns.values()):
        raise ValueError("impaths, labels and records differ in length")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("impath", "label") + PER_IMAGE_KEYS)
    for i in range(n):
        writer.writerow(
            (
                str(impaths[i]),
                int(labels_list[i]),
                int(columns["prediction"][i]),
                f"{columns['confidence'][i]:.6f}",
                f"{columns['predictive_entropy'][i]:.6f}",
                f"{columns['mutual_information'][i]:.6f}",
            )
        )
    return atomic_write_text(path, buf.getvalue())
