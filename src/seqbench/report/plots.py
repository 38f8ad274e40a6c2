"""Comparison figures: metric bars with error bars, validation curves, metric vs size and time.

Rules every figure follows: bars start at zero, published numbers are drawn and labelled inside
the axis range, legends sit outside the data, and epochs are numbered from 0 as in the curve
CSVs, MLflow and DVC.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from seqbench.report.compare import FAMILIES, PERCENT, TaskComparison, family, fmt_count

# One colour and marker per family in FAMILIES (a test checks none is missing); "other" is for an
# architecture outside the registry.
FAMILY_COLORS = {
    "baseline": "tab:gray",
    "recurrent": "tab:blue",
    "transformer": "tab:green",
    "pretrained": "tab:orange",
}
FAMILY_MARKERS = {"baseline": "s", "recurrent": "o", "transformer": "^", "pretrained": "v"}
OTHER_COLOR, OTHER_MARKER = "tab:purple", "D"


def family_color(name: str) -> str:
    return FAMILY_COLORS.get(name, OTHER_COLOR)


def _scale(metric: str) -> float:
    return 100.0 if metric.split("/")[-1] in PERCENT else 1.0


def _save(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})  # no version stamp: stable bytes
    plt.close(fig)


def _arch_colors(archs: list[str]) -> dict[str, tuple]:
    """One distinct colour per architecture, stable in row order: tab20's ten strong colours
    first, then their light partners."""
    cmap = plt.get_cmap("tab20")
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    return {a: cmap(order[i % 20]) for i, a in enumerate(archs)}


def bar_limit(values: list[float], references: list[float], percent: bool) -> float:
    """Upper x limit of a zero-based bar panel: every bar (with its error) and every published
    line inside, with room for the value labels; percentages stop at 100."""
    finite = [v for v in [*values, *references] if math.isfinite(v)]
    top = max(finite, default=1.0) * 1.12 or 1.0
    return min(top, 100.0) if percent else top


def metric_bars(cmp: TaskComparison, path: Path) -> None:
    """One panel per reported metric: a horizontal bar per architecture (rows in the table's
    order, coloured by family) from zero, ± std over seeds, the best row hatched and published
    values as labelled dashed lines."""
    rows = cmp.rows
    n = len(cmp.metrics)
    fig, axes = plt.subplots(
        1, n, figsize=(3.6 * n + 1.2, 1.6 + 0.3 * len(rows)), sharey=True, layout="constrained"
    )
    axes = [axes] if n == 1 else list(axes)
    ypos = list(range(len(rows)))
    ref_handles: dict[str, object] = {}
    for ax, metric in zip(axes, cmp.metrics, strict=True):
        s = _scale(metric)
        means = [r.mean.get(metric, float("nan")) * s for r in rows]
        stds = [r.std.get(metric, 0.0) * s for r in rows]
        colors = [family_color(family(r.arch)) for r in rows]
        bars = ax.barh(ypos, means, xerr=stds, capsize=3, color=colors, height=0.7)
        for bar, row in zip(bars, rows, strict=True):
            if row.arch == cmp.best:
                bar.set_hatch("//")
                bar.set_edgecolor("black")
        refs = []
        for i, ref in enumerate(cmp.references):
            if metric in ref.metrics:
                value = ref.metrics[metric] * s
                refs.append(value)
                line = ax.axvline(value, linestyle="--", linewidth=1.2, color=f"C{(i + 3) % 10}")
                ref_handles.setdefault(f"published: {ref.model}", line)
        tops = [m + e for m, e in zip(means, stds, strict=True)]
        ax.set_xlim(0.0, bar_limit(tops, refs, s == 100.0))
        for y, m, top in zip(ypos, means, tops, strict=True):
            if math.isfinite(m):  # the value right of its error bar
                ax.text(top, y, f"  {m:.4g}", va="center", ha="left", fontsize=7)
        ax.set_title(metric + (" (%)" if s == 100.0 else ""), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(ypos, [r.arch for r in rows], fontsize=8)
    axes[0].invert_yaxis()  # first table row on top
    present = [f for f in (*FAMILIES, "other") if any(family(r.arch) == f for r in rows)]
    handles = [Patch(color=family_color(f), label=f) for f in present]
    if cmp.best is not None:
        handles.append(
            Patch(facecolor="white", edgecolor="black", hatch="//", label=f"best {cmp.primary}")
        )
    handles += list(ref_handles.values())
    labels = [*(f for f in present), *([f"best {cmp.primary}"] if cmp.best else [])]
    labels += list(ref_handles)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(handles), 4), fontsize=8)
    fig.suptitle(f"{cmp.task}: test metrics (mean ± std over seeds)")
    _save(fig, path)


def validation_curves(cmp: TaskComparison, curves_dir: Path, monitor: str, path: Path) -> None:
    """The monitored validation metric per epoch (from 0): mean over seeds per architecture,
    min–max band over seeds."""
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    colors = _arch_colors([r.arch for r in cmp.rows])
    for row in cmp.rows:
        file = curves_dir / f"{cmp.task}-{row.arch}.csv"
        if not file.is_file():
            continue
        frame = pd.read_csv(file)
        if monitor not in frame.columns:
            continue
        stats = frame.groupby("epoch")[monitor].agg(["mean", "min", "max"])
        style = "--" if family(row.arch) == "baseline" else "-"
        ax.plot(
            stats.index, stats["mean"], style, marker=".", color=colors[row.arch], label=row.arch
        )
        ax.fill_between(stats.index, stats["min"], stats["max"], color=colors[row.arch], alpha=0.15)
    ax.set_xlabel("epoch (from 0)")
    ax.set_ylabel(monitor)
    ax.set_title(f"{cmp.task}: {monitor} (mean over seeds, min–max band)")
    ax.grid(alpha=0.3)
    if ax.has_data():
        fig.legend(loc="outside right upper", fontsize=8)
    _save(fig, path)


def metric_vs(cmp: TaskComparison, x: str, path: Path) -> None:
    """Primary metric (mean ± std) against ``parameters`` (log axis) or mean ``train_seconds``;
    one colour per architecture, one marker per family."""
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    s = _scale(cmp.primary)
    colors = _arch_colors([r.arch for r in cmp.rows])
    for row in cmp.rows:
        value = row.parameters if x == "parameters" else row.mean.get(x)
        if not value or cmp.primary not in row.mean:  # 0 parameters (naive) has no log position
            continue
        ax.errorbar(
            value,
            row.mean[cmp.primary] * s,
            yerr=row.std.get(cmp.primary, 0.0) * s,
            fmt=FAMILY_MARKERS.get(family(row.arch), OTHER_MARKER),
            color=colors[row.arch],
            capsize=4,
            label=row.arch,
        )
    if x == "parameters":
        ax.set_xscale("log")
        # labels at 1, 2 and 5 per decade, written 20k / 1.2M; unlabelled minor ticks between
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_count(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("parameters (log scale)" if x == "parameters" else "training time per seed (s)")
    ax.set_ylabel(cmp.primary + (" (%)" if s == 100.0 else ""))
    ax.set_title(f"{cmp.task}: {cmp.primary} vs {'size' if x == 'parameters' else 'time'}")
    ax.grid(alpha=0.3)
    if ax.has_data():
        fig.legend(loc="outside right upper", fontsize=8)
    _save(fig, path)


def task_figures(
    cmp: TaskComparison, curves_dir: Path, monitor: str, out_dir: Path
) -> list[tuple[str, str]]:
    """Write every figure of one task into ``out_dir``; return ``(title, file name)`` pairs."""
    figures = [
        ("test metrics", f"{cmp.task}-metrics.png"),
        ("validation curves", f"{cmp.task}-curves.png"),
        ("metric vs parameters", f"{cmp.task}-vs-parameters.png"),
        ("metric vs training time", f"{cmp.task}-vs-time.png"),
    ]
    metric_bars(cmp, out_dir / figures[0][1])
    validation_curves(cmp, curves_dir, monitor, out_dir / figures[1][1])
    metric_vs(cmp, "parameters", out_dir / figures[2][1])
    metric_vs(cmp, "train_seconds", out_dir / figures[3][1])
    return figures
