"""All tables of the collected runs: one section per (setting, group), then the missing runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base2new import _base2new_section
from .cross_dataset import _cross_sections
from .report import Report, _missing_section
from .runs import RunResult


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
