"""The Task contract: everything specific to one kind of problem, behind one interface.

A task kind (``classification``, ``forecasting``, ...) is registered once in
:data:`seqbench.tasks.TASKS`; training, tuning, the report, serving and the stage scripts call
through it and never ask which kind they hold. This module imports neither Lightning nor
MLflow: code that only needs a task's metric direction or name stays light.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from seqbench.errors import SeqbenchError

if TYPE_CHECKING:  # annotations only: these modules sit above (training, serving) or are heavy
    import lightning as L
    import numpy as np
    import pandas as pd
    import torch
    from torch import nn

    from seqbench.serving.config import RegisterConfig
    from seqbench.stats import PairedTest
    from seqbench.tasks.config import TaskConfig
    from seqbench.tasks.modules import SequenceModule
    from seqbench.tasks.predictions import PredictionRecorder
    from seqbench.training.outputs import SeedModel
    from seqbench.training.run import RunConfig

    RawTexts = tuple[list[str], np.ndarray, np.ndarray]  # texts, labels (N,), row ids (N,)


class NonFiniteLossError(SeqbenchError):
    """The training loss became NaN or infinite; training stopped (tuning prunes such trials)."""


class BundleError(SeqbenchError):
    """A serving bundle cannot be written: the preprocessing state or a setting is missing."""


class PredictInputError(SeqbenchError):
    """A prediction request does not have the columns or rows the model needs."""


@dataclass(frozen=True)
class Column:
    """One column of a served model's input or output (``name`` None: the single unnamed one)."""

    type: Literal["string", "long", "double", "any"]
    name: str | None = None
    required: bool = True


@dataclass
class ServingSchema:
    """What a registered model takes and returns, and an input example of raw values."""

    inputs: list[Column]
    outputs: list[Column]
    example: pd.DataFrame


class Predictor(Protocol):
    """Raw inputs (a DataFrame, list or array) in, a DataFrame of predictions out."""

    def predict(self, model_input: Any) -> pd.DataFrame: ...


class Task(ABC):
    """One task kind. Subclasses set the class attributes and implement every method.

    ``losses`` are the ``task.loss`` values it accepts; ``unit`` names one input step in reports
    (``tokens``, ``time steps``).
    """

    name: ClassVar[str]
    losses: ClassVar[tuple[str, ...]]
    unit: ClassVar[str]

    def check(self, cfg: TaskConfig) -> tuple[str, str] | None:
        """``(key, what was expected)`` when ``cfg`` does not suit this task, else None."""
        if cfg.loss not in self.losses:
            return "loss", f"{' or '.join(self.losses)} for the {self.name} task kind"
        return None

    # -- training: data, network, LightningModule ------------------------------------------
    @abstractmethod
    def datamodule(self, spec: RunConfig, seed: int) -> L.LightningDataModule:
        """The seeded DataModule over ``spec.data_dir``."""

    @abstractmethod
    def model_spec(self, spec: RunConfig, dm: Any) -> Any:
        """The network's input kind and output shape (a ``seqbench.models`` spec), from ``dm``."""

    @abstractmethod
    def load_model_spec(self, dims: dict[str, Any]) -> Any:
        """The model spec saved as plain dims (``seed<k>.json``, a bundle manifest)."""

    @abstractmethod
    def module(self, spec: RunConfig, model: nn.Module, dm: Any) -> SequenceModule:
        """The LightningModule that trains ``model`` (loss and metrics per split)."""

    @abstractmethod
    def input_example(self, batch: tuple[Any, ...]) -> Any:
        """Two network inputs of a validation batch (MLflow signatures of logged networks)."""

    def raw_texts(self, spec: RunConfig, seed: int = 0) -> dict[str, RawTexts]:
        """``{split: (texts, labels, row ids)}`` from the prepared splits, for the text
        baselines."""
        raise SeqbenchError(f"{spec.arch}: a text baseline; {self.name} tasks have no raw texts")

    # -- evaluation: saved predictions, paired test, latency -------------------------------
    @abstractmethod
    def recorder(self) -> PredictionRecorder:
        """The callback that keeps the per-example test predictions the paired test needs."""

    @abstractmethod
    def paired_test(
        self, metric: str, a: dict[str, np.ndarray], b: dict[str, np.ndarray], exact_below: int
    ) -> PairedTest:
        """Significance of A against B on the same test examples (arrays aligned by id)."""

    def paired_test_aligned(
        self, metric: str, a: dict[str, np.ndarray], b: dict[str, np.ndarray], exact_below: int
    ) -> PairedTest:
        """:meth:`paired_test` on the test examples both prediction sets share (matched by
        ``ids``); a ValueError when they share none, or too few for the test."""
        import numpy as np

        common, ia, ib = np.intersect1d(a["ids"], b["ids"], return_indices=True)
        if len(common) == 0:
            raise ValueError(f"{metric}: the two models share no test example")
        sub_a = {k: v[ia] for k, v in a.items()}
        sub_b = {k: v[ib] for k, v in b.items()}
        return self.paired_test(metric, sub_a, sub_b, exact_below)

    @abstractmethod
    def test_description(self, exact_below: int) -> str:
        """One phrase naming the paired test, for the report."""

    @abstractmethod
    def input_length(self, info: dict[str, Any], data_dir: Path | None) -> int:
        """The full input length FLOPs and latency are measured at (``info``: a seed's json)."""

    @abstractmethod
    def latency_input(
        self, spec: Any, batch_size: int, length: int, seed: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A synthetic full-length batch ``(x, lengths)`` for the network of ``spec``."""

    # -- serving: the registered pyfunc on raw inputs --------------------------------------
    @abstractmethod
    def write_bundle(self, seed: SeedModel, out_dir: Path, data_dir: Path | None) -> dict[str, Any]:
        """Copy the preprocessing state into ``out_dir``; return the manifest entries it needs."""

    @abstractmethod
    def serving_schema(
        self, manifest: dict[str, Any], cfg: RegisterConfig, data_dir: Path | None
    ) -> ServingSchema:
        """The served model's columns and an input example."""

    @abstractmethod
    def predictor(self, bundle: Path) -> Predictor:
        """The raw-input predictor over a bundle folder."""
