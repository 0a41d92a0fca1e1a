"""Collect finished runs into base-to-new, cross-dataset and domain-generalisation tables.

Usage::

    python -m vamp_prompt.results OUTPUT_ROOT [--out DIR] [--config-name NAME] [--trainer NAME]

Output tree (written by the project's scripts)::

    OUTPUT_ROOT/base2new/train_base/<dataset>/shots_<K>/<trainer>/<cfg>/seed<S>/   base classes
    OUTPUT_ROOT/base2new/test_new/<dataset>/shots_<K>/<trainer>/<cfg>/seed<S>/     new classes
    OUTPUT_ROOT/cross_dataset/train_source/imagenet/shots_<K>/<trainer>/<cfg>/seed<S>/
    OUTPUT_ROOT/cross_dataset/test_target/<dataset>/shots_<K>/<trainer>/<cfg>/seed<S>/

A run counts only when its folder holds the completion marker ``DONE`` and an accuracy. The
accuracy (and calibration: ``ece``, ``nll``, ...) comes from ``metrics.json`` when present,
else from the newest log (``log.txt`` or ``log.txt-<timestamp>``): the last
``* accuracy: X%`` line after the last ``Finish training`` line, or, in an evaluation-only
log, after the last ``Evaluate on the *test* set`` line.

Statistics: per dataset, mean and sample standard deviation (ddof=1) over seeds; the
harmonic mean ``HM = 2 B N / (B + N)`` is computed per seed, then averaged. The 11-dataset
average row follows the papers: mean of the per-dataset base and new means, and
``HM(avg B, avg N)``; its std is over seeds of per-seed averages (seeds common to all the
datasets in the row). Tables are grouped by (trainer, config, shots); a per-dataset config
variant ``<cfg>_<dataset>`` (ImageNet's ``vit_b16_base2new_imagenet``) joins ``<cfg>``. A
``metrics.json`` whose ``split`` is not ``test`` is ignored.

Writes into ``--out`` (default ``OUTPUT_ROOT/tables``): ``results.md`` (also printed),
``base2new.csv``, ``cross_dataset.csv``, ``domain_generalization.csv``, ``runs.csv`` (every
run found, with its status), ``missing.csv`` and one bar chart
``base2new__<trainer>__<cfg>__shots<K>.png`` per group. Exit codes: 0 tables written,
1 no finished run found, 2 OUTPUT_ROOT missing.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import re
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vamp_prompt.atomic import atomic_write_text

__all__ = [
    "BASE2NEW_DATASETS",
    "CROSS_TARGETS",
    "DG_TARGETS",
    "RunResult",
    "collect_runs",
    "group_config",
    "harmonic_mean",
    "load_paper_numbers",
    "main",
    "parse_log",
    "read_run",
]

logger = logging.getLogger(__name__)

BASE2NEW_DATASETS = (
    "imagenet",
    "caltech101",
    "oxford_pets",
    "stanford_cars",
    "oxford_flowers",
    "food101",
    "fgvc_aircraft",
    "sun397",
    "dtd",
    "eurosat",
    "ucf101",
)
CROSS_TARGETS = BASE2NEW_DATASETS[1:]
DG_TARGETS = ("imagenet_v2", "imagenet_sketch", "imagenet_a", "imagenet_r")
DATASET_ALIASES = {"imagenetv2": "imagenet_v2"}  # CoOp's config file name for ImageNet-V2
PHASES = {"base2new": ("train_base", "test_new"), "cross_dataset": ("train_source", "test_target")}
DONE_MARKER = "DONE"
EXTRA_KEYS = ("ece", "nll", "brier", "macro_f1", "predictive_entropy", "mutual_information")

_ACC_RE = re.compile(r"^\*\s*accuracy:\s*([-+0-9.eE]+)\s*%")
_METRIC_RE = re.compile(r"^\*\s*([a-z_0-9]+):\s*([-+0-9.eE]+)\s*%?\s*$")
_SEED_RE = re.compile(r"^seed(\d+)$")


@dataclass
class RunResult:
    """One run folder and what could be read from it."""

    path: Path
    setting: str  # base2new | cross_dataset
    phase: str  # train_base | test_new | train_source | test_target
    dataset: str
    shots: str
    trainer: str
    cfg: str  # the group's config name (a per-dataset variant "<cfg>_<dataset>" counts as <cfg>)
    seed: int
    status: str = "ok"  # ok | unfinished (no DONE) | no_accuracy
    accuracy: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    source: str = ""  # metrics.json or the log file name
    cfg_dir: str = ""  # the config folder's own name

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def group(self) -> tuple[str, str, str]:
        return (self.trainer, self.cfg, self.shots)


def harmonic_mean(base: float, new: float) -> float:
    """``HM = 2 B N / (B + N)`` (0 when both are 0)."""
    return 0.0 if base + new == 0 else 2.0 * base * new / (base + new)


def parse_log(text: str) -> dict[str, float]:
    """Final test metrics of a Dassl log: ``* name: value[%]`` lines after the last
    ``Finish training`` (or ``Evaluate on the *test* set``) line; the last value wins.
    Empty dict when there is no such block or no accuracy in it."""
    lines = text.splitlines()
    start = None
    for marker in ("Finish training", "Evaluate on the *test* set"):
        hits = [i for i, line in enumerate(lines) if marker in line]
        if hits:
            start = hits[-1]
            break
    if start is None:
        return {}
    found: dict[str, float] = {}
    for line in lines[start + 1 :]:
        line = line.strip()
        match = _METRIC_RE.match(line)
        if match and match.group(1) not in ("total", "correct"):
            try:
                found[match.group(1)] = float(match.group(2))
            except ValueError:
                continue
    return found if "accuracy" in found else {}


def _log_files(run_dir: Path) -> list[Path]:
    """Log files, newest first (Dassl names a second run's log ``log.txt-<timestamp>``)."""
    logs = sorted(run_dir.glob("log.txt-*"), reverse=True)
    if (run_dir / "log.txt").is_file():
        logs.append(run_dir / "log.txt")
    return [p for p in logs if p.is_file()]


def _read_metrics_json(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    if data.get("split", "test") != "test":  # e.g. a validation pass: use the log instead
        return {}
    return {
        k: float(v)
        for k, v in data.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    }


def read_run(run_dir: Path) -> tuple[str, float | None, dict[str, float], str]:
    """``(status, accuracy, metrics, source)`` of one run folder."""
    metrics: dict[str, float] = {}
    source = ""
    json_path = run_dir / "metrics.json"
    if json_path.is_file():
        metrics = _read_metrics_json(json_path)
        source = "metrics.json" if "accuracy" in metrics else ""
    if "accuracy" not in metrics:
        for log in _log_files(run_dir):
            try:
                parsed = parse_log(log.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
            if parsed:
                metrics = {**parsed, **metrics}
                source = log.name
                break
    accuracy = metrics.get("accuracy")
    if not (run_dir / DONE_MARKER).exists():
        status = "unfinished"
    elif accuracy is None:
        status = "no_accuracy"
    else:
        status = "ok"
    return status, accuracy, metrics, source


def _subdirs(path: Path) -> list[Path]:
    try:
        return sorted(p for p in path.iterdir() if p.is_dir())
    except OSError:
        return []


def group_config(cfg: str, dataset: str) -> str:
    """``<cfg>_<dataset>`` -> ``<cfg>``: per-dataset config variants (the scripts run ImageNet
    base-to-new with ``vit_b16_base2new_imagenet``) join the group of their base config."""
    suffix = f"_{dataset}"
    return cfg[: -len(suffix)] if cfg.endswith(suffix) and len(cfg) > len(suffix) else cfg


def collect_runs(
    root: Path, config_name: str | None = None, trainer: str | None = None
) -> list[RunResult]:
    """Every ``seed<S>`` folder of the layout above (optionally one config / trainer; the
    config filter matches the folder name or its group name)."""
    runs = []
    for setting, phases in PHASES.items():
        for phase in phases:
            for seed_dir in sorted((root / setting / phase).glob("*/shots_*/*/*/seed*")):
                match = _SEED_RE.match(seed_dir.name)
                if not match or not seed_dir.is_dir():
                    continue
                cfg_dir, tr_dir, shots_dir, ds_dir = list(seed_dir.parents)[:4]
                dataset = DATASET_ALIASES.get(ds_dir.name.lower(), ds_dir.name.lower())
                cfg = group_config(cfg_dir.name, dataset)
                if trainer and tr_dir.name != trainer:
                    continue
                if config_name and config_name not in (cfg, cfg_dir.name):
                    continue
                status, acc, metrics, source = read_run(seed_dir)
                runs.append(
                    RunResult(
                        path=seed_dir,
                        setting=setting,
                        phase=phase,
                        dataset=dataset,
                        shots=shots_dir.name[len("shots_") :],
                        trainer=tr_dir.name,
                        cfg=cfg,
                        seed=int(match.group(1)),
                        status=status,
                        accuracy=acc,
                        metrics=metrics,
                        source=source,
                        cfg_dir=cfg_dir.name,
                    )
                )
    return runs


def load_paper_numbers(path: Path | None = None) -> dict[str, Any]:
    """The paper's numbers (``paper_numbers.yaml`` beside this module); {} if unreadable."""
    path = path or Path(__file__).with_name("paper_numbers.yaml")
    try:
        import yaml

        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except Exception as exc:  # noqa: BLE001  (missing file or PyYAML: tables still work)
        logger.warning("paper numbers unavailable (%s): %s", path, exc)
        return {}


# ----------------------------------------------------------------------------- statistics


@dataclass
class Stat:
    """Mean and sample std (ddof=1; NaN for one value) of per-seed values."""

    values: list[float]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else math.nan

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else math.nan


def _fmt(value: float | None, std: float | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{value:.2f}"
    if std is not None and not math.isnan(std):
        text += f" ± {std:.2f}"
    return text


def _num(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4f}"


def _metric_mean(runs: Iterable[RunResult], key: str) -> float | None:
    values = [r.metrics[key] for r in runs if key in r.metrics]
    return statistics.fmean(values) if values else None


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _seed_label(*stats: Stat) -> str:
    counts = {s.n for s in stats}
    return str(counts.pop()) if len(counts) == 1 else "/".join(str(s.n) for s in stats)


# ----------------------------------------------------------------------------- tables


@dataclass
class Report:
    markdown: list[str] = field(default_factory=list)
    base2new_rows: list[dict[str, Any]] = field(default_factory=list)
    cross_rows: list[dict[str, Any]] = field(default_factory=list)
    dg_rows: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)
    charts: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)


def _by_seed(runs: Iterable[RunResult]) -> dict[int, RunResult]:
    return {r.seed: r for r in runs if r.ok}


def _absent(
    report: Report,
    group: tuple[str, str, str],
    phase: str,
    dataset: str,
    seed: int | None,
    reason: str,
) -> None:
    trainer, cfg, shots = group
    report.missing.append(
        {
            "trainer": trainer,
            "cfg": cfg,
            "shots": shots,
            "phase": phase,
            "dataset": dataset,
            "seed": "" if seed is None else str(seed),
            "reason": reason,
            "path": "",
        }
    )


def _base2new_section(
    report: Report,
    group: tuple[str, str, str],
    runs: list[RunResult],
    paper: dict[str, Any],
    out_dir: Path,
) -> None:
    trainer, cfg, shots = group
    base_phase, new_phase = PHASES["base2new"]
    seeds_all = sorted({r.seed for r in runs})
    present = {r.dataset for r in runs}
    datasets = [d for d in BASE2NEW_DATASETS if d in present]
    datasets += sorted(present - set(BASE2NEW_DATASETS))
    for d in BASE2NEW_DATASETS:
        if d not in present:
            _absent(report, group, "base2new", d, None, "no runs")
    has_cal = any(k in r.metrics for r in runs for k in ("ece", "nll"))

    rows_md: list[list[str]] = []
    per_dataset: dict[str, dict[str, Any]] = {}
    for d in datasets:
        base = _by_seed(r for r in runs if r.dataset == d and r.phase == base_phase)
        new = _by_seed(r for r in runs if r.dataset == d and r.phase == new_phase)
        dirs = {(r.phase, r.seed) for r in runs if r.dataset == d}
        for phase in (base_phase, new_phase):
            for s in seeds_all:
                if (phase, s) not in dirs:
                    _absent(report, group, phase, d, s, "absent")
        paired = sorted(set(base) & set(new))
        b = Stat([base[s].accuracy for s in sorted(base)])
        n = Stat([new[s].accuracy for s in sorted(new)])
        h = Stat([harmonic_mean(base[s].accuracy, new[s].accuracy) for s in paired])
        cal = {
            "base_ece": _metric_mean(base.values(), "ece"),
            "new_ece": _metric_mean(new.values(), "ece"),
            "base_nll": _metric_mean(base.values(), "nll"),
            "new_nll": _metric_mean(new.values(), "nll"),
        }
        per_dataset[d] = {"base": base, "new": new, "b": b, "n": n, "h": h}
        row = [
            d,
            _seed_label(b, n, h),
            _fmt(b.mean, b.std),
            _fmt(n.mean, n.std),
            _fmt(h.mean, h.std),
        ]
        if has_cal:
            row += [
                _fmt(cal["base_ece"]),
                _fmt(cal["new_ece"]),
                _fmt(cal["base_nll"]),
                _fmt(cal["new_nll"]),
            ]
        rows_md.append(row)
        report.base2new_rows.append(
            {
                "trainer": trainer,
                "cfg": cfg,
                "shots": shots,
                "dataset": d,
                "n_base": b.n,
                "n_new": n.n,
                "n_hm": h.n,
                "base_mean": _num(b.mean),
                "base_std": _num(b.std),
                "new_mean": _num(n.mean),
                "new_std": _num(n.std),
                "hm_mean": _num(h.mean),
                "hm_std": _num(h.std),
                **{k: _num(v) for k, v in cal.items()},
                "note": "",
            }
        )

    # 11-dataset average: datasets of the benchmark with both base and new results.
    included = [
        d
        for d in BASE2NEW_DATASETS
        if d in per_dataset and per_dataset[d]["b"].n and per_dataset[d]["n"].n
    ]
    avg: dict[str, float] | None = None
    if included:
        b_avg = statistics.fmean(per_dataset[d]["b"].mean for d in included)
        n_avg = statistics.fmean(per_dataset[d]["n"].mean for d in included)
        common = set(seeds_all)
        for d in included:
            common &= set(per_dataset[d]["base"]) & set(per_dataset[d]["new"])
        per_seed_b = [
            statistics.fmean(per_dataset[d]["base"][s].accuracy for d in included)
            for s in sorted(common)
        ]
        per_seed_n = [
            statistics.fmean(per_dataset[d]["new"][s].accuracy for d in included)
            for s in sorted(common)
        ]
        sb, sn = Stat(per_seed_b), Stat(per_seed_n)
        sh = Stat([harmonic_mean(x, y) for x, y in zip(per_seed_b, per_seed_n)])
        complete = len(included) == len(BASE2NEW_DATASETS)
        label = f"**Average ({len(included)}/{len(BASE2NEW_DATASETS)})**" + (
            "" if complete else " ⚠ incomplete"
        )
        avg = {
            "base": b_avg,
            "new": n_avg,
            "hm": harmonic_mean(b_avg, n_avg),
            "std": {"base": sb.std, "new": sn.std, "hm": sh.std},
        }
        row = [
            label,
            str(len(common)),
            _fmt(b_avg, sb.std),
            _fmt(n_avg, sn.std),
            _fmt(avg["hm"], sh.std),
        ]
        if has_cal:
            row += ["" for _ in range(4)]
        rows_md.append(row)
        note = (
            ""
            if complete
            else "incomplete: " + ",".join(d for d in BASE2NEW_DATASETS if d not in included)
        )
        report.base2new_rows.append(
            {
                "trainer": trainer,
                "cfg": cfg,
                "shots": shots,
                "dataset": "average",
                "n_base": len(included),
                "n_new": len(included),
                "n_hm": len(common),
                "base_mean": _num(b_avg),
                "base_std": _num(sb.std),
                "new_mean": _num(n_avg),
                "new_std": _num(sn.std),
                "hm_mean": _num(avg["hm"]),
                "hm_std": _num(sh.std),
                "base_ece": "",
                "new_ece": "",
                "base_nll": "",
                "new_nll": "",
                "note": note,
            }
        )

    md = report.markdown
    md += ["", f"## Base-to-new: {trainer} / {cfg} ({shots} shots)", ""]
    header = ["Dataset", "Seeds", "Base", "New", "HM"]
    if has_cal:
        header += ["ECE base", "ECE new", "NLL base", "NLL new"]
    md += _md_table(header, rows_md)
    md += [
        "",
        "Mean ± sample std over seeds; HM per seed, then averaged. Seeds: one number, or "
        "base/new/HM counts when they differ. Average row: mean of dataset means, "
        "HM of the averages, std over seeds common to all its datasets."
        + (" ECE in %." if has_cal else ""),
    ]
    variants = sorted({(r.dataset, r.cfg_dir) for r in runs if r.cfg_dir and r.cfg_dir != cfg})
    if variants:
        md += ["", "Per-dataset config variants: " + ", ".join(f"{d}: {c}" for d, c in variants)]
    paper_avg = paper.get("base2new_average") or {}
    ablation = paper.get("ablation_base2new_average") or []
    if avg and (paper_avg or ablation):
        md += ["", "Comparison with the paper (11-dataset averages, ViT-B/16):", ""]
        rows = [
            [
                f"Ours ({len(included)}/{len(BASE2NEW_DATASETS)} datasets)",
                _fmt(avg["base"]),
                _fmt(avg["new"]),
                _fmt(avg["hm"]),
            ]
        ]
        rows += [
            [f"{name} (paper)", _fmt(v.get("base")), _fmt(v.get("new")), _fmt(v.get("hm"))]
            for name, v in paper_avg.items()
        ]
        rows += [
            [
                f"Ablation: {a.get('name')} (paper)",
                _fmt(a.get("base")),
                _fmt(a.get("new")),
                _fmt(a.get("hm")),
            ]
            for a in ablation
        ]
        md += _md_table(["Method", "Base", "New", "HM"], rows)
        for name in ("VaMP", "MMRL"):
            if name in paper_avg:
                for key in ("base", "new", "hm"):
                    report.base2new_rows[-1][f"paper_{name.lower()}_{key}"] = _num(
                        paper_avg[name].get(key)
                    )
    chart = out_dir / f"base2new__{trainer}__{cfg}__shots{shots}.png"
    report.charts.append(
        (
            chart,
            {
                "title": f"{trainer} / {cfg} ({shots} shots)",
                "per_dataset": per_dataset,
                "datasets": datasets,
                "avg": avg,
                "paper": (paper_avg or {}).get("VaMP"),
            },
        )
    )


def _target_rows(
    report: Report,
    group: tuple[str, str, str],
    runs: list[RunResult],
    rows_key: str,
    source: str,
    targets: Sequence[str],
    avg_label: str,
    paper_per_ds: dict[str, dict[str, float]],
    paper_avg: dict[str, float | None],
    title: str,
    extra_targets: Sequence[str] = (),
) -> None:
    trainer, cfg, shots = group
    src_phase, tgt_phase = PHASES["cross_dataset"]
    seeds_all = sorted({r.seed for r in runs})
    has_cal = any(k in r.metrics for r in runs for k in ("ece", "nll"))
    names = list(paper_per_ds)
    rows_md: list[list[str]] = []
    by_ds: dict[str, dict[int, RunResult]] = {}

    def add_row(
        label: str,
        ds: str,
        mean: float,
        std: float,
        n_seeds: int,
        cal_runs: Iterable[RunResult],
        paper_vals: dict[str, float | None],
        note: str = "",
    ) -> None:
        cal_runs = list(cal_runs)
        ece, nll = _metric_mean(cal_runs, "ece"), _metric_mean(cal_runs, "nll")
        row = [label, str(n_seeds), _fmt(mean, std)]
        if has_cal:
            row += [_fmt(ece), _fmt(nll)]
        row += [_fmt(paper_vals.get(nm)) for nm in names]
        rows_md.append(row)
        getattr(report, rows_key).append(
            {
                "trainer": trainer,
                "cfg": cfg,
                "shots": shots,
                "dataset": ds,
                "n_seeds": n_seeds,
                "acc_mean": _num(mean),
                "acc_std": _num(std),
                "ece": _num(ece),
                "nll": _num(nll),
                **{f"paper_{nm.lower()}": _num(paper_vals.get(nm)) for nm in names},
                "note": note,
            }
        )

    for ds, phase in [(source, src_phase)] + [
        (t, tgt_phase) for t in list(targets) + list(extra_targets)
    ]:
        ok = _by_seed(r for r in runs if r.dataset == ds and r.phase == phase)
        by_ds[ds] = ok
        dirs = {r.seed for r in runs if r.dataset == ds and r.phase == phase}
        if not dirs:
            _absent(report, group, phase, ds, None, "no runs")
        else:
            for s in seeds_all:
                if s not in dirs:
                    _absent(report, group, phase, ds, s, "absent")
        stat = Stat([ok[s].accuracy for s in sorted(ok)])
        label = f"{ds} (source)" if ds == source else ds
        add_row(
            label,
            ds,
            stat.mean,
            stat.std,
            stat.n,
            ok.values(),
            {nm: (paper_per_ds.get(nm) or {}).get(ds) for nm in names},
        )

    # Average over the targets that have results: mean of their means; std over seeds
    # common to all of them of the per-seed averages.
    included = [t for t in targets if by_ds.get(t)]
    if included:
        common = set(seeds_all)
        for t in included:
            common &= set(by_ds[t])
        mean = statistics.fmean(
            statistics.fmean(r.accuracy for r in by_ds[t].values()) for t in included
        )
        per_seed = Stat(
            [statistics.fmean(by_ds[t][s].accuracy for t in included) for s in sorted(common)]
        )
        complete = len(included) == len(targets)
        label = f"**{avg_label} ({len(included)}/{len(targets)})**" + (
            "" if complete else " ⚠ incomplete"
        )
        note = (
            "" if complete else "incomplete: " + ",".join(t for t in targets if t not in included)
        )
        add_row(label, "average", mean, per_seed.std, len(common), [], paper_avg, note)
    else:
        add_row(
            f"**{avg_label} (0/{len(targets)})**",
            "average",
            math.nan,
            math.nan,
            0,
            [],
            paper_avg,
            "no target results",
        )

    md = report.markdown
    md += ["", f"## {title}: {trainer} / {cfg} ({shots} shots)", ""]
    header = ["Dataset", "Seeds", "Accuracy"] + (["ECE", "NLL"] if has_cal else [])
    header += [f"{nm} (paper)" for nm in names]
    md += _md_table(header, rows_md)


def _cross_sections(
    report: Report, group: tuple[str, str, str], runs: list[RunResult], paper: dict[str, Any]
) -> None:
    known = {"imagenet", *CROSS_TARGETS, *DG_TARGETS}
    extra = sorted({r.dataset for r in runs if r.phase == "test_target"} - known)
    cross_avg = paper.get("cross_dataset_target_average") or {}
    _target_rows(
        report,
        group,
        runs,
        "cross_rows",
        "imagenet",
        CROSS_TARGETS,
        "Average",
        {nm: {} for nm in cross_avg},
        dict(cross_avg),
        "Cross-dataset",
        extra,
    )
    report.markdown += [
        "",
        "Average over the 10 target datasets (source excluded); the paper gives only this average.",
    ]
    dg = paper.get("domain_generalization") or {}
    dg_avg = {}
    for nm, vals in dg.items():
        if all(t in vals for t in DG_TARGETS):
            dg_avg[nm] = statistics.fmean(vals[t] for t in DG_TARGETS)
    _target_rows(
        report,
        group,
        runs,
        "dg_rows",
        "imagenet",
        DG_TARGETS,
        "Average of variants",
        dg,
        dg_avg,
        "Domain generalisation",
    )
    report.markdown += [
        "",
        "The paper's average of the 4 variants is computed here from its per-variant numbers.",
    ]


def _missing_section(report: Report) -> None:
    md = report.markdown
    md += ["", "## Missing or unfinished runs", ""]
    if not report.missing:
        md.append("None.")
        return
    report.missing.sort(
        key=lambda m: (
            m["trainer"],
            m["cfg"],
            m["shots"],
            m["phase"],
            m["reason"],
            m["dataset"],
            m["seed"],
        )
    )
    rows: list[list[str]] = []
    no_runs: dict[tuple[str, ...], list[str]] = {}  # one line per phase for datasets with no run
    for m in report.missing:
        key = (m["trainer"], m["cfg"], m["shots"], m["phase"])
        if m["reason"] != "no runs":
            rows.append([*key, m["dataset"], m["seed"], m["reason"]])
        elif key in no_runs:
            no_runs[key].append(m["dataset"])
        else:
            no_runs[key] = [m["dataset"]]
            rows.append([*key, key, "all", "no runs"])  # placeholder, joined below
    for row in rows:
        if isinstance(row[4], tuple):
            row[4] = ", ".join(no_runs[row[4]])
    md += _md_table(["Trainer", "Config", "Shots", "Phase", "Dataset", "Seed", "Reason"], rows)
    md += [
        "",
        (
            "unfinished: no DONE marker; no_accuracy: DONE but no accuracy in metrics.json or "
            "the log; absent: another seed exists but this folder does not; no runs: nothing "
            "at all."
        ),
    ]


# ----------------------------------------------------------------------------- outputs


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields or ["empty"], lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def plot_base2new(path: Path, spec: dict[str, Any]) -> bool:
    """Grouped bars of base/new/HM per dataset (+ average), error bars = std over seeds,
    dashed lines at the paper's VaMP 11-dataset averages. Returns False if nothing to draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels, vals, errs = [], {"base": [], "new": [], "hm": []}, {"base": [], "new": [], "hm": []}
    for d in spec["datasets"]:
        stats = spec["per_dataset"][d]
        labels.append(d)
        for key, s in (("base", stats["b"]), ("new", stats["n"]), ("hm", stats["h"])):
            vals[key].append(s.mean if s.n else math.nan)
            errs[key].append(0.0 if math.isnan(s.std) else s.std)
    if spec.get("avg"):
        labels.append("average")
        for key, column in vals.items():
            column.append(spec["avg"][key])
            std = spec["avg"].get("std", {}).get(key, math.nan)
            errs[key].append(0.0 if math.isnan(std) else std)
    finite = [v for vs in vals.values() for v in vs if not math.isnan(v)]
    if not finite:
        return False
    colors = {"base": "tab:blue", "new": "tab:orange", "hm": "tab:green"}
    names = {"base": "Base", "new": "New", "hm": "HM"}
    fig = Figure(figsize=(max(7.0, 0.9 * len(labels) + 4), 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    width = 0.27
    for i, key in enumerate(("base", "new", "hm")):
        xs = [j + (i - 1) * width for j in range(len(labels))]
        ax.bar(xs, vals[key], width, yerr=errs[key], capsize=2, color=colors[key], label=names[key])
    paper = spec.get("paper") or {}
    refs = []
    for key in ("base", "new", "hm"):
        if paper.get(key) is not None:
            refs.append(paper[key])
            ax.axhline(
                paper[key],
                color=colors[key],
                linestyle="--",
                linewidth=1,
                label=f"VaMP paper avg {names[key]} ({paper[key]:.2f})",
            )
    low = min(finite + refs)
    ax.set_ylim(max(0.0, math.floor(low / 10.0) * 10.0 - 10.0), 100.0)
    ax.set_xticks(list(range(len(labels))))
    ax.set_xticklabels(labels, rotation=35, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Base-to-new: {spec['title']}")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return True


def build_report(runs: list[RunResult], paper: dict[str, Any], out_dir: Path, root: Path) -> Report:
    """All tables and chart specs of the collected runs."""
    report = Report()
    n_ok = sum(r.ok for r in runs)
    report.markdown += [
        f"# Results under `{root}`",
        "",
        f"{len(runs)} run folders found, {n_ok} finished with an accuracy.",
    ]
    groups = sorted({(r.setting, r.group) for r in runs})
    for setting, group in groups:
        grp_runs = [r for r in runs if r.setting == setting and r.group == group]
        if setting == "base2new":
            _base2new_section(report, group, grp_runs, paper, out_dir)
        else:
            _cross_sections(report, group, grp_runs, paper)
    for r in runs:
        if not r.ok:
            report.missing.append(
                {
                    "trainer": r.trainer,
                    "cfg": r.cfg,
                    "shots": r.shots,
                    "phase": r.phase,
                    "dataset": r.dataset,
                    "seed": str(r.seed),
                    "reason": r.status,
                    "path": str(r.path),
                }
            )
    _missing_section(report)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit code (0 ok, 1 nothing finished, 2 no OUTPUT_ROOT)."""
    parser = argparse.ArgumentParser(
        prog="python -m vamp_prompt.results",
        description="Tabulate base-to-new, cross-dataset and domain-generalisation results.",
    )
    parser.add_argument("output_root", type=Path, help="the scripts' output folder (e.g. output/)")
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write (default OUTPUT_ROOT/tables)"
    )
    parser.add_argument("--config-name", default=None, help="only runs of this config folder")
    parser.add_argument("--trainer", default=None, help="only runs of this trainer folder")
    parser.add_argument("--no-plot", action="store_true", help="skip the bar charts")
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")

    root: Path = args.output_root
    if not root.is_dir():
        print(f"error: output root {root} does not exist or is not a directory", file=sys.stderr)
        return 2
    out_dir: Path = args.out or root / "tables"
    runs = collect_runs(root, args.config_name, args.trainer)
    if not runs:
        print(
            f"error: no run folders (…/shots_K/<trainer>/<cfg>/seed<S>) under {root}",
            file=sys.stderr,
        )
        return 1
    report = build_report(runs, load_paper_numbers(), out_dir, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = "\n".join(report.markdown) + "\n"
    atomic_write_text(out_dir / "results.md", text)
    _write_csv(out_dir / "base2new.csv", report.base2new_rows)
    _write_csv(out_dir / "cross_dataset.csv", report.cross_rows)
    _write_csv(out_dir / "domain_generalization.csv", report.dg_rows)
    _write_csv(out_dir / "missing.csv", report.missing)
    _write_csv(
        out_dir / "runs.csv",
        [
            {
                "setting": r.setting,
                "phase": r.phase,
                "dataset": r.dataset,
                "shots": r.shots,
                "trainer": r.trainer,
                "cfg": r.cfg,
                "cfg_dir": r.cfg_dir,
                "seed": r.seed,
                "status": r.status,
                "accuracy": _num(r.accuracy) if r.accuracy is not None else "",
                "ece": _num(r.metrics.get("ece")),
                "nll": _num(r.metrics.get("nll")),
                "source": r.source,
                "path": str(r.path),
            }
            for r in runs
        ],
    )
    if not args.no_plot:
        for path, spec in report.charts:
            try:
                if plot_base2new(path, spec):
                    logger.info("wrote %s", path)
            except Exception as exc:  # noqa: BLE001  (a chart must never cost the tables)
                logger.warning("could not draw %s: %s", path, exc)
    print(text, end="")
    logger.info("tables written to %s", out_dir)
    return 0 if any(r.ok for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
