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

Modules, one job each:

- ``runs``: the output layout; reading run folders, logs and ``metrics.json``; the paper's numbers
- ``seed_stats``: harmonic mean, mean ± sample std over seeds
- ``formatting``: numbers, markdown tables, CSV files
- ``report``: the report being built and its missing-runs section
- ``base2new``: base-to-new tables (per dataset, 11-dataset average, paper and ablation)
- ``cross_dataset``: cross-dataset and domain-generalisation tables
- ``tables``: ``build_report``, all sections of the collected runs
- ``plot``: the base-to-new bar charts
- ``cli``: ``main``, the command line (``__main__`` runs it)
"""

from __future__ import annotations

# Names of the single-file module, kept importable from here (noqa: re-exports beyond __all__).
from .cli import main
from .plot import plot_base2new  # noqa: F401
from .report import Report  # noqa: F401
from .runs import (
    BASE2NEW_DATASETS,
    CROSS_TARGETS,
    DATASET_ALIASES,  # noqa: F401
    DG_TARGETS,
    DONE_MARKER,  # noqa: F401
    EXTRA_KEYS,  # noqa: F401
    PHASES,  # noqa: F401
    RunResult,
    collect_runs,
    group_config,
    load_paper_numbers,
    logger,  # noqa: F401
    parse_log,
    read_run,
)
from .seed_stats import Stat, harmonic_mean  # noqa: F401
from .tables import build_report  # noqa: F401

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
