"""Run one study ``<task>-<arch>`` to exactly ``n_trials`` finished trials and summarize it."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import optuna

from seqbench.tuning.config import TuneConfig
from seqbench.tuning.objective import Objective
from seqbench.tuning.runs import StudyTracker
from seqbench.tuning.study import (
    FINGERPRINT_ATTR,
    FINISHED,
    JOURNAL_FILE,
    StudyMismatchError,
    TuningError,
    open_study,
    prepare_study,
    storage_for,
    storage_url,
    study_summary,
)
from seqbench.tuning.workers import WorkerJob, run_workers

log = logging.getLogger(__name__)

WALL_CLOCK_ATTR = "seqbench.wall_clock_s"  # summed over every (re)start of the study


def tune(
    cfg: TuneConfig,
    objective: Objective,
    *,
    name: str,
    study_dir: Path,
    storage: str | None = None,
    workers: int = 1,
    tracking_uri: str | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Create or resume study ``name`` and run ``workers`` processes until it holds exactly
    ``cfg.budget.n_trials`` COMPLETE + PRUNED trials; return the summary (see ``study_summary``).

    ``storage`` (else ``$SEQBENCH_OPTUNA_STORAGE``, else ``cfg.storage``) is an Optuna storage
    URL; without one the study lives in the journal file ``study_dir/journal.log``. Raises
    :class:`TuningError` when FAILED trials exhaust the budget's ``max_failures`` before
    ``n_trials`` trials finished.
    """
    if workers < 1:
        raise TuningError(f"--workers: expected an integer >= 1, got {workers}")
    url = storage_url(storage, cfg.storage)
    study = open_study(name, storage_for(url, study_dir, cfg), cfg, objective.direction)
    try:
        prepare_study(study, cfg, objective.direction, objective.metric)
    except StudyMismatchError:
        if url:
            raise
        _archive_journal(study_dir, study.user_attrs[FINGERPRINT_ATTR])
        study = open_study(name, storage_for(url, study_dir, cfg), cfg, objective.direction)
        prepare_study(study, cfg, objective.direction, objective.metric)
    tracker = None
    if cfg.mlflow:
        params = {f"budget.{k}": v for k, v in asdict(cfg.budget).items()}
        params.update({f"sampler.{k}": v for k, v in asdict(cfg.sampler).items()})
        params.update({f"pruner.{k}": v for k, v in asdict(cfg.pruner).items()})
        params["metric"], params["direction"] = objective.metric, objective.direction
        tracker = StudyTracker.start(study, cfg.experiment, tracking_uri, params, tags or {})
    spec = WorkerJob(name, url, study_dir, cfg, objective, tracker)
    start = time.monotonic()
    try:
        run_workers(spec, workers)
    except BaseException:
        _add_wall_clock(study, time.monotonic() - start)
        if tracker:
            tracker.finish(study, _summary(study, objective, 0.0), "KILLED")
        raise
    seconds = _add_wall_clock(study, time.monotonic() - start)
    study = optuna.load_study(study_name=name, storage=storage_for(url, study_dir))
    summary = _summary(study, objective, seconds)
    finished = len(study.get_trials(deepcopy=False, states=FINISHED))
    if tracker:
        tracker.finish(study, summary, "FINISHED" if finished == cfg.budget.n_trials else "FAILED")
    if finished != cfg.budget.n_trials:
        raise TuningError(
            f"study {name}: {finished} of {cfg.budget.n_trials} trials finished; "
            f"{summary['trials']['fail']} failed (tune budget max_failures exhausted); "
            f"see the trials' 'reason' attribute"
        )
    return summary


def _archive_journal(study_dir: Path, fingerprint: str) -> None:
    """Move a journal made with other settings aside (kept for reference) to start afresh."""
    journal = study_dir / JOURNAL_FILE
    journal.rename(journal.with_name(f"journal.{fingerprint}.log"))
    log.warning("tune settings changed: %s moved aside, starting a new study", journal)


def _add_wall_clock(study: optuna.Study, seconds: float) -> float:
    total = float(study.user_attrs.get(WALL_CLOCK_ATTR, 0.0)) + seconds
    study.set_user_attr(WALL_CLOCK_ATTR, total)
    return total


def _summary(study: optuna.Study, objective: Objective, seconds: float) -> dict[str, Any]:
    return study_summary(study, objective.metric, objective.direction, seconds)
