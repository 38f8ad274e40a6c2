"""Logging models, figures and JSON to the active MLflow run, and loading models back."""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from seqbench.typed import plain

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PICKLE_ENV = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"

ModelInput = torch.Tensor | np.ndarray | tuple[Any, Any]


class LengthPrefixed(nn.Module):
    """Adapts ``forward(x, lengths)`` to one int64 tensor, as MLflow's pytorch flavour needs.

    Input ``(B, 1 + T)``: column 0 is each row's true length, columns 1.. the padded token ids.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        return self.model(packed[:, 1:], packed[:, 0])  # x (B, T), lengths (B,)


def _to_tensor(value: Any) -> torch.Tensor:
    return value.detach().cpu() if isinstance(value, torch.Tensor) else torch.as_tensor(value)


def as_single_input(model: nn.Module, input_example: ModelInput) -> tuple[nn.Module, torch.Tensor]:
    """The module and one example tensor to log: ``(x, lengths)`` becomes :class:`LengthPrefixed`.

    ``input_example`` is ``x`` alone (numeric windows ``(B, L, F)``), ``(x, None)``, or token ids
    ``(x (B, T), lengths (B,))``.
    """
    if not isinstance(input_example, tuple | list):
        return model, _to_tensor(input_example)
    x, lengths = input_example
    if lengths is None:
        return model, _to_tensor(x)
    x, lengths = _to_tensor(x), _to_tensor(lengths)
    if x.dim() != 2:
        raise ValueError(f"log_model: lengths need 2-D token ids (B, T), got x of shape {x.shape}")
    packed = torch.cat([lengths.to(x.dtype).unsqueeze(1), x], dim=1)  # (B, 1 + T)
    return LengthPrefixed(model), packed


@contextlib.contextmanager
def _allow_pickle() -> Iterator[None]:
    """Let MLflow unpickle models for the duration (only ever our own, just-logged models)."""
    previous = os.environ.get(PICKLE_ENV)
    os.environ[PICKLE_ENV] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PICKLE_ENV, None)
        else:
            os.environ[PICKLE_ENV] = previous


def _pip_requirements() -> list[str]:
    import cloudpickle
    import mlflow

    torch_version = torch.__version__.split("+")[0]
    return [
        f"mlflow=={mlflow.__version__}",
        f"torch=={torch_version}",
        f"numpy=={np.__version__}",
        f"cloudpickle=={cloudpickle.__version__}",
    ]


def log_model(model: nn.Module, input_example: ModelInput, name: str = "model") -> str:
    """Log ``model`` to the active run (pytorch flavour) with signature and input example.

    Returns the model URI (``models:/m-...``), loadable by :func:`load_model` or
    ``mlflow.pytorch.load_model``. Saved with pickle: MLflow 3.17's default ``pt2``
    (``torch.export``) cannot trace packed-sequence RNNs. A text model's ``(x, lengths)`` example
    is logged through :class:`LengthPrefixed` so the pyfunc/serving input is one tensor. Models
    that need preprocessing (raw text in) are logged as pyfunc by the registry code instead.
    """
    import mlflow
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import Schema, TensorSpec

    module, example = as_single_input(copy.deepcopy(model).cpu().eval(), input_example)
    with torch.no_grad():
        output = module(example)
    signature = infer_signature(example.numpy(), output.numpy())
    if isinstance(module, LengthPrefixed):  # any sequence length may be served
        spec = TensorSpec(example.numpy().dtype, (-1, -1))
        signature = ModelSignature(inputs=Schema([spec]), outputs=signature.outputs)
    quiet = logging.getLogger("mlflow.pytorch")  # silences the "pickle is unsafe" warning
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with _allow_pickle():  # MLflow reloads the model to check the serving example
            info = mlflow.pytorch.log_model(
                module,
                name=name,
                signature=signature,
                input_example=example.numpy(),
                serialization_format="pickle",
                pip_requirements=_pip_requirements(),  # skips a slow inference subprocess
            )
    finally:
        quiet.setLevel(level)
    return info.model_uri


def load_model(model_uri: str, unwrap: bool = True) -> nn.Module:
    """Load a model logged by :func:`log_model`; ``unwrap`` returns the ``forward(x, lengths)``
    module rather than its :class:`LengthPrefixed` adapter."""
    import mlflow

    with _allow_pickle():
        model = mlflow.pytorch.load_model(model_uri, map_location="cpu")
    if unwrap and isinstance(model, LengthPrefixed):
        return model.model
    return model


def log_figure(figure: Figure, artifact_file: str, close: bool = True) -> None:
    """Save a matplotlib ``figure`` as ``artifact_file`` (e.g. ``plots/curves.png``) of the run."""
    import matplotlib.pyplot as plt
    import mlflow

    mlflow.log_figure(figure, artifact_file)
    if close:
        plt.close(figure)


def log_dict(obj: Any, artifact_file: str) -> None:
    """Save ``obj`` as JSON (or YAML, by extension) as ``artifact_file`` of the active run.

    Dataclasses become dicts, numpy/torch scalars and arrays numbers and lists, other objects
    (paths) strings.
    """
    import mlflow

    mlflow.log_dict(plain(obj), artifact_file)
