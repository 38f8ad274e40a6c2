"""One study of one task × architecture, as the tune stage and ``seqbench tune`` both run it:
the validation gate, the objective, provenance tags and the result file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from seqbench.io import write_json
from seqbench.tuning.config import tune_config
from seqbench.tuning.objective import training_objective
from seqbench.tuning.runner import tune
from seqbench.tuning.study import no_study_summary, study_name
from seqbench.validation.core import require_passed


def tune_task(
    params: dict[str, Any],
    task: str,
    arch: str,
    *,
    validation_dir: Path,
    data_dir: Path,
    out: Path,
    study_dir: Path,
    storage: str | None = None,
    workers: int = 1,
    stage: str | None = None,
) -> dict[str, Any]:
    """Run (or resume) study ``<task>-<arch>`` until it holds ``n_trials`` trials; write ``out``.

    Refuses to start unless the dataset's validation report in ``validation_dir`` passed.
    """
    from seqbench.tracking import provenance_tags

    require_passed(validation_dir)
    cfg = tune_config(params, task, arch)
    threads = max(1, len(os.sched_getaffinity(0)) // workers) if workers > 1 else "auto"
    objective = training_objective(params, task, arch, cfg, data_dir=str(data_dir), threads=threads)
    name = study_name(task, arch)
    if not cfg.space:  # nothing to tune: the run uses params.yaml as it is
        summary = no_study_summary(
            name, objective.metric, objective.direction, "empty search space: nothing to tune"
        )
        write_json(study_dir / "no-study.json", summary)  # the stage's study folder, explained
        write_json(out, summary)
        return summary
    tags = provenance_tags(stage or f"tune@{name}", [str(data_dir), str(validation_dir)])
    summary = tune(
        cfg,
        objective,
        name=name,
        study_dir=study_dir,
        storage=storage,
        workers=workers,
        tags=tags,
    )
    write_json(out, summary)
    return summary
