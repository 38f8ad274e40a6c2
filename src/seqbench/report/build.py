"""The compare stage's work: every task's comparison → markdown, JSON and figures."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqbench.data.kinds import dataset_kind, input_folder, task_architectures, train_tasks
from seqbench.io import atomic_path, write_json
from seqbench.report.compare import Paths, TaskComparison, compare_task, render_markdown
from seqbench.report.config import compare_config
from seqbench.training.run import resolve_run

log = logging.getLogger(__name__)


def build_report(
    params: dict[str, Any],
    paths: Paths,
    *,
    markdown: Path,
    figures_dir: Path,
    summary: Path | None = None,
    tasks: Sequence[str] | None = None,
    archs: Sequence[str] | None = None,
    measure: bool = True,
) -> list[TaskComparison]:
    """Compare every task × its architectures (``train.architectures.<group>``, or ``archs``)
    and write the report files.

    The primary metric and its direction come from each task's ``train.<task>.task`` (``primary``,
    ``mode``); secondary metrics, latency settings and published numbers from ``compare``.
    ``figures_dir`` is replaced as a whole; ``markdown`` embeds its images by relative path.
    """
    cfg = compare_config(params)
    tasks = list(tasks or train_tasks(params))
    chosen = list(archs) if archs else None
    comparisons = []
    figures: dict[str, list[tuple[str, str]]] = {}
    from seqbench.report.plots import task_figures

    with atomic_path(figures_dir) as tmp:
        tmp.mkdir()
        for task in tasks:
            names = chosen or task_architectures(params, task)
            spec = resolve_run(params, task, names[0])
            log.info("compare %s over %s", task, ", ".join(names))
            cmp = compare_task(
                task,
                spec.kind,
                names,
                spec.task.primary,
                spec.task.mode,
                cfg,
                paths,
                data_dir=paths.data_dir(dataset_kind(params, task).input, task),
                data_dirs={a: paths.data_dir(*input_folder(params, task, a)) for a in names},
                measure=measure,
            )
            comparisons.append(cmp)
            figures[task] = task_figures(cmp, paths.curves, spec.task.monitor, tmp)
    rel = os.path.relpath(figures_dir, Path(markdown).parent)
    with atomic_path(markdown) as tmp:
        tmp.write_text(render_markdown(comparisons, cfg, figures, Path(rel).as_posix()))
    if summary is not None:
        write_json(summary, {"tasks": [c.to_dict() for c in comparisons]})
    return comparisons
