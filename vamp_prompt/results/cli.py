"""``python -m vamp_prompt.results``: collect the runs, write the tables, CSVs and charts."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vamp_prompt.atomic import atomic_write_text

from .formatting import _num, _write_csv
from .plot import plot_base2new
from .runs import RunResult, collect_runs, load_paper_numbers
from .tables import build_report

logger = logging.getLogger(__package__)  # "vamp_prompt.results", as before the split


def _run_rows(runs: list[RunResult]) -> list[dict[str, Any]]:
    """``runs.csv``: every run folder found, with its status."""
    return [
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
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit code (0 ok, 1 nothing finished, 2 no OUTPUT_ROOT)."""
    parser = argparse.ArgumentParser(
        prog="python -m vamp_prompt.results",
        description="Tabulate base-to-new, cross-dataset and domain-generalisation results.",
    )
    parser.add_argument("output_root", type=Path, help="the scripts' output folder (e.g. output/)")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default OUTPUT_ROOT/tables)")
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
    _write_csv(out_dir / "runs.csv", _run_rows(runs))
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
