"""Worker processes: each claims queued trial tickets of one study until none is left."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages._heartbeat import get_heartbeat_thread, is_heartbeat_enabled
from optuna.trial import TrialState

from seqbench.tuning.config import TuneConfig
from seqbench.tuning.objective import Objective, run_objective
from seqbench.tuning.runs import StudyTracker
from seqbench.tuning.study import (
    OWNER_ATTR,
    REASON_ATTR,
    TuningError,
    open_study,
    owner_tag,
    recover,
    replace_failed,
    storage_for,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerJob:
    """Everything a (spawned) worker needs; picklable."""

    name: str
    storage_url: str | None
    study_dir: Path
    cfg: TuneConfig
    objective: Objective
    tracker: StudyTracker | None = None


POLL_S = 1.0  # how often an idle worker looks for a replacement ticket


def claim_ticket(study: optuna.Study) -> int | None:
    """Atomically move one WAITING trial to RUNNING for this process; None when none is left.

    Never creates a trial (unlike ``study.ask``), which is what keeps the total exact.
    """
    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        with contextlib.suppress(UpdateFinishedTrialError):
            if storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                if is_heartbeat_enabled(storage):  # a first beat at once: a trial that never
                    storage.record_heartbeat(t._trial_id)  # beats would never go stale
                storage.set_trial_user_attr(t._trial_id, OWNER_ATTR, owner_tag())
                return t._trial_id
    return None


def run_trial(study: optuna.Study, trial_id: int, spec: WorkerJob) -> TrialState | None:
    """Evaluate one claimed trial, tell the study how it ended and log it to MLflow; None when
    another worker failed it as stale meanwhile (its replacement is queued already)."""
    trial = optuna.Trial(study, trial_id)
    start = time.monotonic()
    run = spec.tracker.trial_run(trial) if spec.tracker else contextlib.nullcontext(None)
    with run as run_id:
        try:
            outcome = run_objective(spec.objective, trial)
        except BaseException:  # interrupted: record it, a re-run replaces the trial
            with contextlib.suppress(UpdateFinishedTrialError):
                study._storage.set_trial_user_attr(trial_id, REASON_ATTR, "interrupted")
                study.tell(trial, state=TrialState.FAIL)
            raise
        seconds = time.monotonic() - start
        try:
            trial.set_user_attr("duration_s", round(seconds, 3))
            if outcome.reason:
                trial.set_user_attr(REASON_ATTR, outcome.reason)
            if outcome.state == TrialState.COMPLETE:
                frozen = study.tell(trial, outcome.value)
            else:
                frozen = study.tell(trial, state=outcome.state)
        except UpdateFinishedTrialError:  # failed as stale meanwhile, and already replaced
            log.warning("trial %d was failed as stale while it ran; result dropped", trial.number)
            return None
        if spec.tracker and run_id:
            spec.tracker.log_trial(run_id, frozen, outcome, spec.objective.metric, seconds)
    log.info(
        "trial %d %s%s",
        frozen.number,
        frozen.state.name.lower(),
        f" ({outcome.reason})" if outcome.reason else f": {outcome.value:.6g}",
    )
    return frozen.state


def worker_main(spec: WorkerJob, worker: int) -> None:
    """Claim and run tickets until none is left and no other worker's trial is running (one
    that dies leaves a replacement ticket, found by :func:`recover`); replace each FAILED trial
    with a ticket while the failure allowance lasts."""
    storage = storage_for(spec.storage_url, spec.study_dir, spec.cfg)
    study = open_study(spec.name, storage, spec.cfg, spec.objective.direction, worker=worker)
    while True:
        recover(study, spec.cfg)
        trial_id = claim_ticket(study)
        if trial_id is None:
            if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                return
            time.sleep(POLL_S)  # wait: a running trial may still fail and be replaced
            continue
        with get_heartbeat_thread(trial_id, storage):  # Optuna's beat every interval
            state = run_trial(study, trial_id, spec)
        if state == TrialState.FAIL:
            replace_failed(study, spec.cfg.budget.failure_allowance)


def _spawned(spec: WorkerJob, worker: int) -> None:
    logging.basicConfig(level=logging.INFO, format=f"[worker {worker}] %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    worker_main(spec, worker)


def run_workers(spec: WorkerJob, workers: int) -> None:
    """Run ``workers`` processes on the study (in this process when ``workers == 1``)."""
    if workers == 1:
        worker_main(spec, 0)
        return
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_spawned, args=(spec, i), name=f"tune-{i}") for i in range(workers)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except BaseException:
        for p in procs:
            p.terminate()
        for p in procs:
            p.join()
        raise
    bad = [p.name for p in procs if p.exitcode != 0]
    if bad:
        raise TuningError(f"study {spec.name}: worker(s) {', '.join(bad)} exited with an error")
