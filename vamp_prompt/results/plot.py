"""Bar chart of one base-to-new group (matplotlib is imported only when drawing)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any


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
