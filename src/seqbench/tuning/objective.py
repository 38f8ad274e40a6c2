"""The objective protocol and how a trial's outcome (value, pruning, NaN, error) is classified."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import optuna
from optuna.trial import TrialState

from seqbench.tasks.base import NonFiniteLossError
from seqbench.tuning.config import BudgetConfig, TuneConfig
from seqbench.tuning.space import SearchParam, suggest

Direction = Literal["minimize", "maximize"]


class NonFiniteValueError(ArithmeticError):
    """An objective's own signal that its value became NaN or infinite (the trial is pruned)."""


NON_FINITE = (NonFiniteValueError, NonFiniteLossError)


class Objective(Protocol):
    """What a study optimizes. It must be picklable (a module-level class or function with data)
    so spawned workers can receive it.

    ``__call__`` suggests parameters through :func:`seqbench.tuning.space.suggest`, reports the
    validation metric each epoch (``trial.report`` + ``trial.should_prune``, e.g. through a
    Lightning pruning callback) and returns the final value. Raising ``optuna.TrialPruned`` or a
    non-finite-loss error, or returning NaN/inf, prunes the trial; any other exception fails it.
    It never looks at the test split.
    """

    metric: str  # e.g. "val/loss"
    direction: Direction

    def __call__(self, trial: optuna.Trial) -> float: ...


@dataclass(frozen=True)
class Outcome:
    """How a trial ended, in Optuna's terms, and why (for pruned and failed trials)."""

    state: TrialState
    value: float | None = None
    reason: str | None = None


def run_objective(objective: Objective, trial: optuna.Trial) -> Outcome:
    """Call ``objective`` and classify what happened; never raises except on interruption."""
    try:
        value = objective(trial)
    except optuna.TrialPruned as exc:
        return Outcome(TrialState.PRUNED, reason=f"pruned: {exc}" if str(exc) else "pruned")
    except NON_FINITE as exc:
        return Outcome(TrialState.PRUNED, reason=f"non-finite loss: {_one_line(exc)}")
    except Exception as exc:
        return Outcome(TrialState.FAIL, reason=f"{type(exc).__name__}: {_one_line(exc)}")
    if not isinstance(value, int | float) or not math.isfinite(value):
        return Outcome(TrialState.PRUNED, reason=f"non-finite value: {value!r}")
    return Outcome(TrialState.COMPLETE, value=float(value))


def _one_line(exc: BaseException, limit: int = 500) -> str:
    text = " ".join(str(exc).split())
    return text[:limit]


@dataclass(frozen=True)
class TrainingObjective:
    """The real objective: train ``task`` × ``arch`` with the trial's overrides under the tuning
    budget and return the best validation value of the task's monitored metric (never test)."""

    params: dict[str, Any]
    task: str
    arch: str
    space: dict[str, SearchParam]
    budget: BudgetConfig
    metric: str
    direction: Direction
    data_dir: str | None = None
    threads: int | str = "auto"

    def overrides(self, trial: optuna.Trial) -> dict[str, Any]:
        """Suggested values plus the budget, which always wins (equal for every architecture)."""
        return {
            **suggest(trial, self.space),
            "train.max_epochs": self.budget.max_epochs,
            "train.fraction": self.budget.fraction,
            "train.threads": self.threads,
        }

    def __call__(self, trial: optuna.Trial) -> float:
        import mlflow
        from optuna_integration import PyTorchLightningPruningCallback

        from seqbench.training.fit import fit
        from seqbench.training.run import resolve_run

        spec = resolve_run(
            self.params, self.task, self.arch, self.overrides(trial), data_dir=self.data_dir
        )
        callbacks: list[Any] = [PyTorchLightningPruningCallback(trial, monitor=self.metric)]
        if mlflow.active_run() is not None:
            from seqbench.tracking import MLflowEpochLogger

            callbacks.append(MLflowEpochLogger())
        result = fit(
            spec,
            spec.seeds[0],
            callbacks=callbacks,
            evaluate_test=False,
            max_time_s=self.budget.max_trial_seconds,
        )
        trial.set_user_attr("epochs", result.epochs)
        trial.set_user_attr("best_epoch", result.best_epoch)
        return result.best_val


def training_objective(
    params: dict[str, Any],
    task: str,
    arch: str,
    cfg: TuneConfig,
    *,
    data_dir: str | None = None,
    threads: int | str = "auto",
) -> TrainingObjective:
    """The objective for ``task`` × ``arch``; metric and direction come from the task's
    ``task.monitor`` / ``task.mode`` so tuning optimizes what training early-stops on."""
    from seqbench.training.run import resolve_run

    spec = resolve_run(params, task, arch, data_dir=data_dir)
    direction: Direction = "maximize" if spec.task.mode == "max" else "minimize"
    return TrainingObjective(
        params, task, arch, cfg.space, cfg.budget, spec.task.monitor, direction, data_dir, threads
    )
