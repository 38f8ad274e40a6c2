"""Fair hyper-parameter tuning: equal-budget, resumable, parallel-safe Optuna studies."""

from seqbench.tuning.config import (
    BudgetConfig,
    PrunerConfig,
    SamplerConfig,
    TuneConfig,
    tune_config,
)
from seqbench.tuning.objective import Objective, Outcome
from seqbench.tuning.runner import tune
from seqbench.tuning.space import SearchParam, parse_space, suggest
from seqbench.tuning.study import TuningError, study_name

__all__ = [
    "BudgetConfig",
    "Objective",
    "Outcome",
    "PrunerConfig",
    "SamplerConfig",
    "SearchParam",
    "TuneConfig",
    "TuningError",
    "parse_space",
    "study_name",
    "suggest",
    "tune",
    "tune_config",
]
