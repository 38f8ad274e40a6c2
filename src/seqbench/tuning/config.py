"""Typed ``tune`` section: the equal per-task budget, sampler, pruner, storage and search spaces."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from seqbench.tuning.space import SearchParam, parse_space
from seqbench.typed import ConfigError, build, check, section


@dataclass(frozen=True)
class BudgetConfig:
    """The effort every architecture of a task gets: identical across architectures by design."""

    n_trials: int = 20
    max_epochs: int = 10
    fraction: float = 1.0  # fixed share of every split a trial uses (training's train.fraction)
    max_trial_seconds: float | None = None  # wall-clock cap per trial (training stops, not fails)
    max_failures: int | None = None  # FAILED trials replaced before giving up; None -> n_trials

    def __post_init__(self) -> None:
        check(self.n_trials >= 1, "n_trials", "an integer >= 1", self.n_trials)
        check(self.max_epochs >= 1, "max_epochs", "an integer >= 1", self.max_epochs)
        check(0.0 < self.fraction <= 1.0, "fraction", "a number in (0, 1]", self.fraction)
        check(
            self.max_trial_seconds is None or self.max_trial_seconds > 0,
            "max_trial_seconds",
            "a number > 0 or null",
            self.max_trial_seconds,
        )
        check(
            self.max_failures is None or self.max_failures >= 0,
            "max_failures",
            "an integer >= 0 or null",
            self.max_failures,
        )

    @property
    def failure_allowance(self) -> int:
        return self.n_trials if self.max_failures is None else self.max_failures


@dataclass(frozen=True)
class SamplerConfig:
    """Seeded TPE; each parallel worker derives its own seed from ``seed``."""

    seed: int = 0
    n_startup_trials: int = 5
    multivariate: bool = True

    def __post_init__(self) -> None:
        check(
            self.n_startup_trials >= 0, "n_startup_trials", "an integer >= 0", self.n_startup_trials
        )


@dataclass(frozen=True)
class PrunerConfig:
    """Median (``n_startup_trials``, ``n_warmup_steps``) or Hyperband (``min_resource``,
    ``reduction_factor``; max resource = the budget's ``max_epochs``) or none."""

    kind: Literal["median", "hyperband", "none"] = "median"
    n_startup_trials: int = 3
    n_warmup_steps: int = 1
    min_resource: int = 1
    reduction_factor: int = 3

    def __post_init__(self) -> None:
        check(self.min_resource >= 1, "min_resource", "an integer >= 1", self.min_resource)
        check(
            self.reduction_factor >= 2, "reduction_factor", "an integer >= 2", self.reduction_factor
        )


@dataclass(frozen=True)
class HeartbeatConfig:
    """Optuna's heartbeat on a database storage: a running trial's worker records a beat every
    ``interval_s``; a trial without one for ``grace_s`` is failed (its worker died, on any
    machine) and replaced. The journal file has no heartbeat: there a dead worker is found by its
    process id."""

    interval_s: int = 10
    grace_s: int = 60

    def __post_init__(self) -> None:
        check(self.interval_s >= 1, "interval_s", "an integer >= 1", self.interval_s)
        check(
            self.grace_s > self.interval_s,
            "grace_s",
            f"more seconds than interval_s ({self.interval_s})",
            self.grace_s,
        )


@dataclass(frozen=True)
class TuneConfig:
    """Everything that defines one study ``<task>-<arch>``, and where it is stored."""

    budget: BudgetConfig
    sampler: SamplerConfig
    pruner: PrunerConfig
    space: dict[str, SearchParam]
    storage: str | None = None  # Optuna storage URL; None -> journal file in the stage's folder
    mlflow: bool = True  # one parent run per study, a nested run per trial
    experiment: str = "tuning"
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)

    def fingerprint(self) -> str:
        """Hash of what changes the meaning of the study's trials; ``n_trials`` and
        ``max_failures`` are left out so a study can be continued with a larger budget."""
        budget = {
            k: v for k, v in asdict(self.budget).items() if k not in ("n_trials", "max_failures")
        }
        return _digest(budget, self)

    def legacy_fingerprint(self, n_trials: int) -> str:
        """The fingerprint earlier studies stored (it hashed ``n_trials`` and ``max_failures``
        too): such a study is recognized with the ``n_trials`` it stored, and continued."""
        return _digest(asdict(replace(self.budget, n_trials=n_trials)), self)


def _digest(budget: dict[str, Any], cfg: TuneConfig) -> str:
    keyed: dict[str, Any] = {
        "budget": budget,
        "sampler": asdict(cfg.sampler),
        "pruner": asdict(cfg.pruner),
        "space": {k: asdict(v) for k, v in sorted(cfg.space.items())},
    }
    return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _TuneSection:
    """Raw shape of ``params.yaml: tune`` (validated before it is resolved per task/arch)."""

    budget: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    pruner: PrunerConfig = field(default_factory=PrunerConfig)
    space: dict[str, dict[str, Any]] = field(default_factory=dict)
    storage: str | None = None
    mlflow: bool = True
    experiment: str = "tuning"
    heartbeat: HeartbeatConfig = field(default_factory=HeartbeatConfig)


def tune_config(params: dict[str, Any], task: str, arch: str) -> TuneConfig:
    """Resolve ``tune`` for one ``task`` × ``arch``: ``tune.budget`` updated by
    ``tune.tasks.<task>``, and the space ``tune.space.<arch>`` updated by
    ``tune.tasks.<task>.space.<arch>`` (a key set to null there is not tuned for that task)."""
    raw = build(_TuneSection, section(params, "tune"), "tune")
    task_raw = dict(raw.tasks.get(task) or {})
    task_spaces = task_raw.pop("space", None) or {}
    budget = {**raw.budget, **task_raw}
    where = f"tune.tasks.{task}" if task in raw.tasks else "tune.budget"
    if arch not in raw.space:
        raise ConfigError(
            f"tune.space.{arch}: required key is missing; spaces exist for "
            f"{', '.join(sorted(raw.space)) or 'no architecture'}"
        )
    if not isinstance(task_spaces, dict):
        raise ConfigError(
            f"tune.tasks.{task}.space: expected a mapping of architecture to space, "
            f"got {task_spaces!r}"
        )
    space = dict(raw.space[arch] or {})
    for key, spec in (task_spaces.get(arch) or {}).items():
        if spec is None:
            space.pop(key, None)
        else:
            space[key] = spec
    where_space = f"tune.tasks.{task}.space.{arch}" if arch in task_spaces else f"tune.space.{arch}"
    return TuneConfig(
        budget=build(BudgetConfig, budget, where),
        sampler=raw.sampler,
        pruner=raw.pruner,
        space=parse_space(space, where_space),
        storage=raw.storage,
        mlflow=raw.mlflow,
        experiment=raw.experiment,
        heartbeat=raw.heartbeat,
    )


def with_budget(cfg: TuneConfig, **changes: Any) -> TuneConfig:
    """A copy of ``cfg`` with budget fields replaced (validated again)."""
    return replace(cfg, budget=build(BudgetConfig, {**asdict(cfg.budget), **changes}, "budget"))
