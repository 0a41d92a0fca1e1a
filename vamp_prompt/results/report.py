"""The report being built (markdown lines, CSV rows, chart specs) and its missing-runs section."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .formatting import _md_table


@dataclass
class Report:
    markdown: list[str] = field(default_factory=list)
    base2new_rows: list[dict[str, Any]] = field(default_factory=list)
    cross_rows: list[dict[str, Any]] = field(default_factory=list)
    dg_rows: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)
    charts: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)


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
