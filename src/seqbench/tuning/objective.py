"""The objective protocol and how a trial's outcome (value, pruning, NaN, error) is classified."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol

import optuna
from optuna.trial import TrialState

Direction = Literal["minimize", "maximize"]


class NonFiniteValueError(ArithmeticError):
    """Fallback for ``seqbench.training.NonFiniteLossError`` until training defines it."""


def _non_finite_types() -> tuple[type[BaseException], ...]:
    try:
        from seqbench.training import NonFiniteLossError
    except ImportError:
        return (NonFiniteValueError,)
    return (NonFiniteValueError, NonFiniteLossError)


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
    except _non_finite_types() as exc:
        return Outcome(TrialState.PRUNED, reason=f"non-finite loss: {_one_line(exc)}")
    except Exception as exc:
        return Outcome(TrialState.FAIL, reason=f"{type(exc).__name__}: {_one_line(exc)}")
    if not isinstance(value, int | float) or not math.isfinite(value):
        return Outcome(TrialState.PRUNED, reason=f"non-finite value: {value!r}")
    return Outcome(TrialState.COMPLETE, value=float(value))


def _one_line(exc: BaseException, limit: int = 500) -> str:
    text = " ".join(str(exc).split())
    return text[:limit]
