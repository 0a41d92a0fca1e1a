"""Cross-dataset and domain-generalisation tables: accuracy per target, and their average."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from .formatting import _fmt, _md_table, _num
from .report import Report, _absent
from .runs import CROSS_TARGETS, DG_TARGETS, PHASES, RunResult
from .seed_stats import Stat, _by_seed, _metric_mean


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

    for ds, phase in [(source, src_phase)] + [(t, tgt_phase) for t in list(targets) + list(extra_targets)]:
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
        mean = statistics.fmean(statistics.fmean(r.accuracy for r in by_ds[t].values()) for t in included)
        per_seed = Stat([statistics.fmean(by_ds[t][s].accuracy for t in included) for s in sorted(common)])
        complete = len(included) == len(targets)
        label = f"**{avg_label} ({len(included)}/{len(targets)})**" + ("" if complete else " ⚠ incomplete")
        note = "" if complete else "incomplete: " + ",".join(t for t in targets if t not in included)
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


def _cross_sections(report: Report, group: tuple[str, str, str], runs: list[RunResult], paper: dict[str, Any]) -> None:
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
