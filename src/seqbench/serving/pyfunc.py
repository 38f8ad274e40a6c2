"""The served model as an MLflow pyfunc: raw inputs in, predictions out.

The pyfunc wraps the raw-input predictor of the bundle's task kind (``manifest.json: kind``,
see :mod:`seqbench.tasks.predictors` for the bundle layout).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from seqbench.tasks import TASKS
from seqbench.tasks.base import PredictInputError, Predictor
from seqbench.tasks.predictors import MANIFEST


class RefusedInput(MlflowException):
    """A refused request: HTTP 400 whose top-level message is the one-line reason alone.

    MLflow's scoring server prefixes an error's message with a dump of the whole request
    (``Failed to predict data '<DataFrame>'. Error: ...``) by assigning ``message``; this class
    keeps its own line instead, so clients read the column, row and expectation first."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, error_code=INVALID_PARAMETER_VALUE)
        self._reason = reason

    @property
    def message(self) -> str:
        return self._reason

    @message.setter
    def message(self, value: str) -> None:  # the server's prefixed copy: keep the reason alone
        pass


def load_predictor(bundle: str | Path) -> Predictor:
    """The predictor of the bundle's task kind."""
    kind = json.loads((Path(bundle) / MANIFEST).read_text())["kind"]
    return TASKS[kind].predictor(Path(bundle))


class SeqbenchModel(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc over a bundle logged as the artifact ``bundle``."""

    def load_context(self, context: Any) -> None:
        self.predictor = load_predictor(context.artifacts["bundle"])

    # A DataFrame hint (MLflow infers no schema from it): the logged signature describes the
    # input; MLflow turns a list of reviews into a one-column DataFrame before this call.
    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict | None = None
    ) -> pd.DataFrame:
        """Predictions for raw inputs (the task kind's predictor). A request the predictor
        refuses raises MLflow's invalid-parameter error, so ``mlflow models serve`` answers
        HTTP 400 with the reason (column, row, what was expected) as its message."""
        try:
            return self.predictor.predict(model_input)
        except PredictInputError as exc:
            raise RefusedInput(str(exc)) from None
