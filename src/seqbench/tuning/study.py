"""Studies: storage, seeded sampler and pruner, stale-trial recovery and the trial-ticket queue.

Exactly ``n_trials`` finished trials by design: before any worker starts, the coordinator tops the
queue up with empty WAITING "tickets" so that COMPLETE + PRUNED + RUNNING + WAITING = ``n_trials``.
Workers only ever *claim* a ticket (WAITING → RUNNING is atomic in every Optuna storage) and never
create trials, so N workers can neither overshoot nor undershoot. A FAILED trial does not count as
finished: the worker that saw it fail enqueues exactly one replacement ticket, up to the budget's
``max_failures``. Parameters are still chosen by TPE: a ticket carries no fixed parameters.

Where the study lives: ``--storage``, else ``$SEQBENCH_OPTUNA_STORAGE``, else ``tune.storage``
(an RDB URL such as ``postgresql+psycopg://user@host:5432/optuna``, shared by workers on many
machines), else a journal file in the study folder (one machine). On a database, each running
trial's worker records Optuna's heartbeat; :func:`recover` fails a trial whose heartbeat stopped
(its worker was killed, on whatever machine) with Optuna's ``fail_stale_trials`` and queues its
replacement. On the journal file a dead worker is found by its process id on this host.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from seqbench.errors import SeqbenchError
from seqbench.tuning.config import PrunerConfig, SamplerConfig, TuneConfig

log = logging.getLogger(__name__)

JOURNAL_FILE = "journal.log"
OWNER_ATTR = "seqbench.worker"  # "<host>:<pid>:<process start time>" of the worker running it
REASON_ATTR = "reason"  # why a trial was pruned or failed
FINGERPRINT_ATTR = "seqbench.fingerprint"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
COUNTED = (*FINISHED, TrialState.RUNNING, TrialState.WAITING)
OWNERLESS_GRACE_S = 60.0  # a RUNNING trial without owner younger than this may be mid-claim


class TuningError(SeqbenchError):
    """A study cannot be opened or finished as configured."""


class StudyMismatchError(TuningError):
    """The stored study was created with other tune settings (space, budget, sampler, pruner)."""


def study_name(task: str, arch: str) -> str:
    return f"{task}-{arch}"


STORAGE_ENV = "SEQBENCH_OPTUNA_STORAGE"


def storage_url(given: str | None, configured: str | None) -> str | None:
    """The study's storage URL: ``given`` (``--storage``), else ``$SEQBENCH_OPTUNA_STORAGE``,
    else ``configured`` (``tune.storage``); None means the journal file."""
    return given or os.environ.get(STORAGE_ENV) or configured or None


def storage_for(
    url: str | None, study_dir: Path, cfg: TuneConfig | None = None
) -> optuna.storages.BaseStorage:
    """An Optuna storage: the database at ``url`` (with ``cfg``'s heartbeat, whose stale trials
    are replaced while ``cfg``'s failure allowance lasts), else a journal file
    ``study_dir/journal.log`` (multi-process safe on one machine through its file lock)."""
    if url:
        if cfg is None:
            return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})
        with warnings.catch_warnings():  # the heartbeat is "experimental" since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs={"pool_pre_ping": True},
                heartbeat_interval=cfg.heartbeat.interval_s,
                grace_period=cfg.heartbeat.grace_s,
                heartbeat_stale_trial_callback=ReplaceStale(cfg.budget.failure_allowance),
            )
    study_dir.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(study_dir / JOURNAL_FILE)))


STALE_ATTR = "seqbench.stale.trial{}"  # study attribute: why trial N failed as stale


@dataclass(frozen=True)
class ReplaceStale:
    """Optuna's heartbeat-stale callback: say why the trial failed (in the study's attribute
    ``seqbench.stale.trial<N>``: a finished trial takes no attribute) and queue its replacement
    while ``allowance`` (the budget's failure allowance) lasts."""

    allowance: int

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        owner = trial.user_attrs.get(OWNER_ATTR, "unknown")
        reason = f"stale: no heartbeat from worker {owner} within the grace period"
        study.set_user_attr(STALE_ATTR.format(trial.number), reason)
        log.warning("trial %d marked FAILED (%s)", trial.number, reason)
        replace_failed(study, self.allowance)


def replace_failed(study: optuna.Study, allowance: int) -> bool:
    """Queue one ticket for a FAILED trial if no more than ``allowance`` trials failed."""
    failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
    if failed > allowance:
        return False
    study.enqueue_trial({})
    return True


def recover(study: optuna.Study, cfg: TuneConfig) -> list[int]:
    """Fail the trials whose worker is gone and queue their replacements: Optuna's
    ``fail_stale_trials`` on a database with a heartbeat (its callback replaces them), and the
    process-id check for workers on this host. Returns the trial numbers failed by the latter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # a no-op on the journal file
    stale = fail_stale_trials(study)
    for _ in stale:
        replace_failed(study, cfg.budget.failure_allowance)
    return stale


def derived_seed(seed: int, worker: int, existing_trials: int) -> int:
    """Distinct sampler seed per worker and per (re)start, so a resumed study does not replay the
    random start-up trials it already ran; identical inputs give the identical seed."""
    return (seed + 1_000_003 * worker + 7_919 * existing_trials) % 2**32


def make_sampler(cfg: SamplerConfig, seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=cfg.n_startup_trials, multivariate=cfg.multivariate
    )


def make_pruner(cfg: PrunerConfig, max_epochs: int) -> optuna.pruners.BasePruner:
    if cfg.kind == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=cfg.n_startup_trials, n_warmup_steps=cfg.n_warmup_steps
        )
    if cfg.kind == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=cfg.min_resource,
            max_resource=max_epochs,
            reduction_factor=cfg.reduction_factor,
        )
    return optuna.pruners.NopPruner()


def open_study(
    name: str,
    storage: optuna.storages.BaseStorage,
    cfg: TuneConfig,
    direction: str,
    *,
    worker: int = 0,
) -> optuna.Study:
    """Create or load the study ``name`` with this worker's sampler and the pruner."""
    probe = optuna.load_study(study_name=name, storage=storage) if _exists(name, storage) else None
    existing = len(probe.trials) if probe is not None else 0
    return optuna.create_study(
        study_name=name,
        storage=storage,
        direction=direction,
        load_if_exists=True,
        sampler=make_sampler(cfg.sampler, derived_seed(cfg.sampler.seed, worker, existing)),
        pruner=make_pruner(cfg.pruner, cfg.budget.max_epochs),
    )


def _exists(name: str, storage: optuna.storages.BaseStorage) -> bool:
    return name in optuna.get_all_study_names(storage)


def prepare_study(study: optuna.Study, cfg: TuneConfig, direction: str, metric: str) -> int:
    """Check the study was made with the same settings, fail stale trials and top the ticket
    queue up to ``n_trials``; return the number of tickets added."""
    fingerprint = cfg.fingerprint()
    attrs = study.user_attrs
    stored = attrs.get(FINGERPRINT_ATTR)
    legacy = "n_trials" in attrs and stored == cfg.legacy_fingerprint(int(attrs["n_trials"]))
    if legacy:  # the hash an earlier seqbench stored for these same settings
        stored = fingerprint
    if stored is not None and stored != fingerprint:
        raise StudyMismatchError(
            f"study {study.study_name}: made with other tune settings (fingerprint "
            f"{attrs[FINGERPRINT_ATTR]}, now {fingerprint}); delete it or use another storage"
        )
    if study.direction.name.lower() != direction:
        raise TuningError(
            f"study {study.study_name}: direction is {study.direction.name.lower()}, "
            f"the objective needs {direction}"
        )
    study.set_user_attr(FINGERPRINT_ATTR, fingerprint)
    study.set_user_attr("metric", metric)
    study.set_user_attr("n_trials", cfg.budget.n_trials)
    recover(study, cfg)
    return top_up(study, cfg.budget.n_trials)


def top_up(study: optuna.Study, n_trials: int) -> int:
    """Enqueue empty tickets until COMPLETE + PRUNED + RUNNING + WAITING == ``n_trials``."""
    counted = len(study.get_trials(deepcopy=False, states=COUNTED))
    missing = max(0, n_trials - counted)
    for _ in range(missing):
        study.enqueue_trial({})
    return missing


def owner_tag() -> str:
    """Identify this process beyond its pid (pids are reused): host, pid, start time."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _owner_alive(owner: str) -> bool | None:
    """True/False for a worker on this host; None when it runs elsewhere (cannot tell)."""
    host, pid, started = owner.rsplit(":", 2)
    if host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return started == "?" or _start_time(int(pid)) == started


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Mark FAILED (with a ``reason``) every RUNNING trial whose worker on this host is gone.

    Trials run by workers on other hosts are left alone: their liveness is unknown here.
    """
    stale = []
    now = datetime.now(UTC)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.user_attrs.get(OWNER_ATTR)
        if owner is None:
            start = t.datetime_start
            young = start is not None and (now - _utc(start)).total_seconds() < OWNERLESS_GRACE_S
            if young:
                continue
            reason = "stale: RUNNING without a worker record"
        elif _owner_alive(owner) is False:
            reason = f"stale: worker {owner} died while the trial was RUNNING"
        else:
            continue
        study._storage.set_trial_user_attr(t._trial_id, REASON_ATTR, reason)
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        log.warning("trial %d marked FAILED (%s)", t.number, reason)
        stale.append(t.number)
    return stale


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.astimezone(UTC)


def state_counts(study: optuna.Study) -> dict[str, int]:
    """Number of trials per state, lowercase names, every state present (zeros included)."""
    counts = Counter(t.state.name.lower() for t in study.get_trials(deepcopy=False))
    return {s.name.lower(): counts.get(s.name.lower(), 0) for s in TrialState}


def no_study_summary(name: str, metric: str, direction: str, note: str) -> dict[str, Any]:
    """The stage's output when no study runs (an empty search space): no trial, no best."""
    return {
        "study": name,
        "metric": metric,
        "direction": direction,
        "best_value": None,
        "best_params": {},
        "best_trial": None,
        "n_trials": 0,
        "trials": {s.name.lower(): 0 for s in TrialState},
        "wall_clock_s": 0.0,
        "fingerprint": None,
        "note": note,
    }


def study_summary(
    study: optuna.Study, metric: str, direction: str, seconds: float
) -> dict[str, Any]:
    """The stage's output: best trial, metric, direction, counts per state and wall-clock."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = study.best_trial if complete else None
    return {
        "study": study.study_name,
        "metric": metric,
        "direction": direction,
        "best_value": best.value if best else None,
        "best_params": dict(best.params) if best else {},
        "best_trial": best.number if best else None,
        "n_trials": study.user_attrs.get("n_trials"),
        "trials": state_counts(study),
        "wall_clock_s": round(seconds, 3),
        "fingerprint": study.user_attrs.get(FINGERPRINT_ATTR),
    }
