"""Number, markdown-table and CSV formatting of the tables."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vamp_prompt.atomic import atomic_write_text

from .seed_stats import Stat


def _fmt(value: float | None, std: float | None = None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{value:.2f}"
    if std is not None and not math.isnan(std):
        text += f" ± {std:.2f}"
    return text


def _num(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4f}"


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def _seed_label(*stats: Stat) -> str:
    counts = {s.n for s in stats}
    return str(counts.pop()) if len(counts) == 1 else "/".join(str(s.n) for s in stats)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields or ["empty"], lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())
