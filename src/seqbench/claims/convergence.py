"""Time to a common target on the real tasks: wall-clock training time until each family's
validation metric first reaches a value every family reaches, read from the main run's curves
(``plots/curves/<task>-<arch>.csv``) and timings (``metrics/timing/<task>-<arch>.json``)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seqbench.data.kinds import dataset_kind, task_architectures, train_tasks
from seqbench.training.outputs import read_timing
from seqbench.training.run import resolve_run


@dataclass(frozen=True)
class TimeToTarget:
    """One task: the monitored validation metric, the common target (the worst family's best
    mean value over seeds), and per family the mean seconds and epochs (counted from 1) its seeds
    needed to reach it (a family without timings is left out)."""

    task: str
    monitor: str
    mode: str
    target: float
    seconds: dict[str, float]
    epochs: dict[str, float]
    reached: dict[str, tuple[int, int]] = field(default_factory=dict)  # seeds that did, of all


def _best(values: pd.Series, mode: str) -> float:
    return float(values.max() if mode == "max" else values.min())


def _reached(value: float, target: float, mode: str) -> bool:
    return value >= target if mode == "max" else value <= target


def time_to_target(
    task: str,
    archs: Sequence[str],
    monitor: str,
    mode: str,
    curves_dir: str | Path,
    metrics_dir: str | Path,
) -> TimeToTarget | None:
    """The common target of ``archs`` on ``task`` and each one's time to it (None when fewer
    than two rows have curves with ``monitor``)."""
    curves: dict[str, pd.DataFrame] = {}
    for arch in archs:
        path = Path(curves_dir) / f"{task}-{arch}.csv"
        if path.is_file():
            frame = pd.read_csv(path)
            if monitor in frame.columns and not frame[monitor].dropna().empty:
                curves[arch] = frame
    if len(curves) < 2:
        return None
    # the best epoch of the mean curve over seeds: a level every seed's average reaches
    bests = {a: _best(f.groupby("epoch")[monitor].mean().dropna(), mode) for a, f in curves.items()}
    target = min(bests.values()) if mode == "max" else max(bests.values())
    seconds, epochs, reached = {}, {}, {}
    for arch, frame in curves.items():
        timing = read_timing(Path(metrics_dir) / f"{task}-{arch}.json")
        if not timing:  # no wall-clock record: no time to report
            continue
        per_seed_s, per_seed_e = [], []
        for seed, rows in frame.groupby("seed"):
            hit = rows[[_reached(v, target, mode) for v in rows[monitor]]]
            spe = (timing.get(f"s{int(seed)}") or {}).get("seconds_per_epoch")
            if hit.empty or spe is None:
                continue
            first = int(hit["epoch"].min()) + 1  # epochs counted from 0
            per_seed_e.append(float(first))
            per_seed_s.append(first * float(spe))
        reached[arch] = (len(per_seed_s), int(frame["seed"].nunique()))
        seconds[arch] = statistics.fmean(per_seed_s) if per_seed_s else math.inf
        epochs[arch] = statistics.fmean(per_seed_e) if per_seed_e else math.inf
    return TimeToTarget(task, monitor, mode, target, seconds, epochs, reached)


def task_times(
    params: dict, families: Sequence[str], curves_dir: str | Path, metrics_dir: str | Path
) -> dict[str, TimeToTarget]:
    """:func:`time_to_target` of ``families`` on every task of the main comparison (the claims
    lab's synthetic problems excluded), on each task's monitored validation metric."""
    out = {}
    for task in train_tasks(params):
        if dataset_kind(params, task).group == "claims":
            continue
        archs = [f for f in families if f in task_architectures(params, task)]
        if not archs:
            continue
        run = resolve_run(params, task, archs[0])
        found = time_to_target(
            task, archs, run.task.monitor, run.task.mode, curves_dir, metrics_dir
        )
        if found is not None:
            out[task] = found
    return out
