"""Base-to-new tables: base, new and HM per dataset, the 11-dataset average, the paper's
averages and ablation, and the bar-chart spec of each group."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from .formatting import _fmt, _md_table, _num, _seed_label
from .report import Report, _absent
from .runs import BASE2NEW_DATASETS, PHASES, RunResult
from .seed_stats import Stat, _by_seed, _metric_mean, harmonic_mean


def _base2new_datasets(report: Report, group: tuple[str, str, str], runs: list[RunResult]) -> list[str]:
    """The group's datasets (benchmark order, then others by name); a benchmark dataset
    without any run is recorded as missing."""
    present = {r.dataset for r in runs}
    datasets = [d for d in BASE2NEW_DATASETS if d in present]
    datasets += sorted(present - set(BASE2NEW_DATASETS))
    for d in BASE2NEW_DATASETS:
        if d not in present:
            _absent(report, group, "base2new", d, None, "no runs")
    return datasets


def _dataset_row(
    report: Report,
    group: tuple[str, str, str],
    runs: list[RunResult],
    dataset: str,
    seeds_all: list[int],
    has_cal: bool,
    rows_md: list[list[str]],
) -> dict[str, Any]:
    """One dataset's markdown and CSV rows; records its absent seed folders. Returns its
    finished runs by seed (``base``, ``new``) and statistics (``b``, ``n``, ``h``)."""
    trainer, cfg, shots = group
    base_phase, new_phase = PHASES["base2new"]
    base = _by_seed(r for r in runs if r.dataset == dataset and r.phase == base_phase)
    new = _by_seed(r for r in runs if r.dataset == dataset and r.phase == new_phase)
    dirs = {(r.phase, r.seed) for r in runs if r.dataset == dataset}
    for phase in (base_phase, new_phase):
        for s in seeds_all:
            if (phase, s) not in dirs:
                _absent(report, group, phase, dataset, s, "absent")
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
    row = [
        dataset,
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
            "dataset": dataset,
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
    return {"base": base, "new": new, "b": b, "n": n, "h": h}


def _average_row(
    report: Report,
    group: tuple[str, str, str],
    per_dataset: dict[str, dict[str, Any]],
    included: list[str],
    seeds_all: list[int],
    has_cal: bool,
    rows_md: list[list[str]],
) -> dict[str, Any]:
    """The 11-dataset average row over ``included`` (non-empty): mean of the dataset means,
    HM of the averages, std over the seeds common to all of them. Returns the averages."""
    trainer, cfg, shots = group
    b_avg = statistics.fmean(per_dataset[d]["b"].mean for d in included)
    n_avg = statistics.fmean(per_dataset[d]["n"].mean for d in included)
    common = set(seeds_all)
    for d in included:
        common &= set(per_dataset[d]["base"]) & set(per_dataset[d]["new"])
    per_seed_b = [statistics.fmean(per_dataset[d]["base"][s].accuracy for d in included) for s in sorted(common)]
    per_seed_n = [statistics.fmean(per_dataset[d]["new"][s].accuracy for d in included) for s in sorted(common)]
    sb, sn = Stat(per_seed_b), Stat(per_seed_n)
    sh = Stat([harmonic_mean(x, y) for x, y in zip(per_seed_b, per_seed_n)])
    complete = len(included) == len(BASE2NEW_DATASETS)
    label = f"**Average ({len(included)}/{len(BASE2NEW_DATASETS)})**" + ("" if complete else " ⚠ incomplete")
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
    note = "" if complete else "incomplete: " + ",".join(d for d in BASE2NEW_DATASETS if d not in included)
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
    return avg


def _base2new_table(
    report: Report,
    group: tuple[str, str, str],
    runs: list[RunResult],
    rows_md: list[list[str]],
    has_cal: bool,
) -> None:
    """The group's markdown heading, table, notes and per-dataset config variants."""
    trainer, cfg, shots = group
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
        "HM of the averages, std over seeds common to all its datasets." + (" ECE in %." if has_cal else ""),
    ]
    variants = sorted({(r.dataset, r.cfg_dir) for r in runs if r.cfg_dir and r.cfg_dir != cfg})
    if variants:
        md += ["", "Per-dataset config variants: " + ", ".join(f"{d}: {c}" for d, c in variants)]


def _paper_comparison(
    report: Report,
    avg: dict[str, Any] | None,
    included: list[str],
    paper_avg: dict[str, Any],
    ablation: list[dict[str, Any]],
) -> None:
    """Our 11-dataset averages beside the paper's (methods and ablation); the paper's VaMP
    and MMRL averages also go into the average CSV row."""
    if not (avg and (paper_avg or ablation)):
        return
    md = report.markdown
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
        [f"{name} (paper)", _fmt(v.get("base")), _fmt(v.get("new")), _fmt(v.get("hm"))] for name, v in paper_avg.items()
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
                report.base2new_rows[-1][f"paper_{name.lower()}_{key}"] = _num(paper_avg[name].get(key))


def _base2new_section(
    report: Report,
    group: tuple[str, str, str],
    runs: list[RunResult],
    paper: dict[str, Any],
    out_dir: Path,
) -> None:
    """One (trainer, config, shots) group's base-to-new table, paper comparison and chart."""
    trainer, cfg, shots = group
    seeds_all = sorted({r.seed for r in runs})
    datasets = _base2new_datasets(report, group, runs)
    has_cal = any(k in r.metrics for r in runs for k in ("ece", "nll"))

    rows_md: list[list[str]] = []
    per_dataset = {d: _dataset_row(report, group, runs, d, seeds_all, has_cal, rows_md) for d in datasets}
    # 11-dataset average: datasets of the benchmark with both base and new results.
    included = [d for d in BASE2NEW_DATASETS if d in per_dataset and per_dataset[d]["b"].n and per_dataset[d]["n"].n]
    avg: dict[str, Any] | None = None
    if included:
        avg = _average_row(report, group, per_dataset, included, seeds_all, has_cal, rows_md)

    _base2new_table(report, group, runs, rows_md, has_cal)
    paper_avg = paper.get("base2new_average") or {}
    ablation = paper.get("ablation_base2new_average") or []
    _paper_comparison(report, avg, included, paper_avg, ablation)
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
