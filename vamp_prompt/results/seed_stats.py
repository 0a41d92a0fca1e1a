"""Statistics over seeds: harmonic mean, mean and sample std, per-seed lookups."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from .runs import RunResult


def harmonic_mean(base: float, new: float) -> float:
    """``HM = 2 B N / (B + N)`` (0 when both are 0)."""
    return 0.0 if base + new == 0 else 2.0 * base * new / (base + new)


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


def _metric_mean(runs: Iterable[RunResult], key: str) -> float | None:
    values = [r.metrics[key] for r in runs if key in r.metrics]
    return statistics.fmean(values) if values else None


def _by_seed(runs: Iterable[RunResult]) -> dict[int, RunResult]:
    return {r.seed: r for r in runs if r.ok}
