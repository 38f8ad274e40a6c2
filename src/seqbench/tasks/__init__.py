"""Lightning tasks: one LightningModule per problem type wrapping any registry encoder."""

from seqbench.tasks.base import NonFiniteLossError, SequenceTask
from seqbench.tasks.classification import ClassificationTask
from seqbench.tasks.config import OptimConfig, TaskConfig
from seqbench.tasks.forecasting import ForecastingTask

__all__ = [
    "ClassificationTask",
    "ForecastingTask",
    "NonFiniteLossError",
    "OptimConfig",
    "SequenceTask",
    "TaskConfig",
]
