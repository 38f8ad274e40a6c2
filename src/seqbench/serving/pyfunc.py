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

from seqbench.tasks import TASKS
from seqbench.tasks.base import Predictor
from seqbench.tasks.predictors import MANIFEST


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
        """Predictions for raw inputs (the task kind's predictor)."""
        return self.predictor.predict(model_input)
