"""MLflow models-from-code entry point: MLflow runs this file to build the seqbench pyfunc."""

from mlflow.models import set_model

from seqbench.serving.pyfunc import SeqbenchModel

set_model(SeqbenchModel())
