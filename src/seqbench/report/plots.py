"""Comparison figures: metric bars with error bars, validation curves, metric vs size and time."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from seqbench.report.compare import PERCENT, TaskComparison


def _scale(metric: str) -> float:
    return 100.0 if metric.split("/")[-1] in PERCENT else 1.0


def _save(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})  # no version stamp: stable bytes
    plt.close(fig)


def metric_bars(cmp: TaskComparison, path: Path) -> None:
    """One panel per reported metric: mean over seeds per architecture, ± std error bars,
    published values as dashed lines."""
    fig, axes = plt.subplots(1, len(cmp.metrics), figsize=(4 * len(cmp.metrics), 3.6))
    axes = [axes] if len(cmp.metrics) == 1 else list(axes)
    archs = [r.arch for r in cmp.rows]
    for ax, metric in zip(axes, cmp.metrics, strict=True):
        s = _scale(metric)
        means = [r.mean.get(metric, float("nan")) * s for r in cmp.rows]
        stds = [r.std.get(metric, 0.0) * s for r in cmp.rows]
        colors = ["tab:orange" if a == cmp.best else "tab:blue" for a in archs]
        ax.bar(archs, means, yerr=stds, capsize=4, color=colors)
        for i, ref in enumerate(cmp.references):
            if metric in ref.metrics:
                ax.axhline(
                    ref.metrics[metric] * s,
                    linestyle="--",
                    color=f"C{i + 2}",
                    label=f"published {ref.model}",
                )
        if any(metric in ref.metrics for ref in cmp.references):
            ax.legend(fontsize=7)
        finite = [m for m in means if m == m]
        if finite and s == 100.0:
            ax.set_ylim(max(0.0, min(finite) - 10), min(100.0, max(finite) + 5))
        ax.set_title(metric + (" (%)" if s == 100.0 else ""))
    fig.suptitle(f"{cmp.task}: test metrics (mean ± std over seeds)")
    _save(fig, path)


def validation_curves(cmp: TaskComparison, curves_dir: Path, monitor: str, path: Path) -> None:
    """The monitored validation metric per epoch: mean over seeds per architecture, min–max band."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in cmp.rows:
        file = curves_dir / f"{cmp.task}-{row.arch}.csv"
        if not file.is_file():
            continue
        frame = pd.read_csv(file)
        if monitor not in frame.columns:
            continue
        stats = frame.groupby("epoch")[monitor].agg(["mean", "min", "max"])
        epochs = stats.index + 1
        ax.plot(epochs, stats["mean"], marker="o", label=row.arch)
        ax.fill_between(epochs, stats["min"], stats["max"], alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(monitor)
    ax.set_title(f"{cmp.task}: {monitor} (mean over seeds, min–max band)")
    if ax.has_data():
        ax.legend()
    _save(fig, path)


def metric_vs(cmp: TaskComparison, x: str, path: Path) -> None:
    """Primary metric (mean ± std) against ``parameters`` or mean ``train_seconds``."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    s = _scale(cmp.primary)
    for row in cmp.rows:
        value = row.parameters if x == "parameters" else row.mean.get(x)
        if value is None or cmp.primary not in row.mean:
            continue
        ax.errorbar(
            value,
            row.mean[cmp.primary] * s,
            yerr=row.std.get(cmp.primary, 0.0) * s,
            fmt="o",
            capsize=4,
            label=row.arch,
        )
    if x == "parameters":
        ax.set_xscale("log")
    ax.set_xlabel("parameters" if x == "parameters" else "training time per seed (s)")
    ax.set_ylabel(cmp.primary + (" (%)" if s == 100.0 else ""))
    ax.set_title(f"{cmp.task}: {cmp.primary} vs {'size' if x == 'parameters' else 'time'}")
    if ax.has_data():
        ax.legend()
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
