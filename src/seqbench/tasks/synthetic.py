"""The claims lab's task kinds: the adding problem (a one-step regression) and copy memory
(per-step classification), on generated data of one length ``task.length``.

They train and test like any task (the same fit, seeds, predictions and paired tests); they are
experiments, not products, so they are never registered or served.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqbench.tasks.base import BundleError, ServingSchema, Task
from seqbench.tasks.forecasting import Forecasting

if TYPE_CHECKING:
    import numpy as np
    import torch

    from seqbench.models import ForecastSpec, TaggingSpec
    from seqbench.stats import PairedTest
    from seqbench.tasks.config import TaskConfig
    from seqbench.tasks.modules import CopyModule, ForecastingModule
    from seqbench.tasks.predictions import PredictionRecorder
    from seqbench.training.outputs import SeedModel
    from seqbench.training.run import RunConfig


class _NotServed:
    """Serving hooks of the claims lab's tasks: each refuses, naming the task."""

    name: str

    def write_bundle(self, seed: SeedModel, out_dir: Path, data_dir: Path | None) -> dict:
        raise BundleError(f"{seed.task}: a claims-lab {self.name} task is not registered")

    def serving_schema(self, manifest: dict, cfg: Any, data_dir: Path | None) -> ServingSchema:
        raise BundleError(f"a claims-lab {self.name} task has no serving schema")

    def predictor(self, bundle: Path) -> Any:
        raise BundleError(f"{bundle}: a claims-lab {self.name} task is not served")


class _OneLength:
    """What both problems share: ``task.length`` is required and picks the data's length."""

    name: str

    def check(self, cfg: TaskConfig) -> tuple[str, str] | None:
        problem = super().check(cfg)  # type: ignore[misc]
        if problem is None and (cfg.length is None or cfg.length < 2):
            return "length", f"the problem length T (an integer >= 2) for the {self.name} task kind"
        return problem

    def datamodule(self, spec: RunConfig, seed: int) -> Any:
        from seqbench.data.synthetic import SyntheticDataModule

        assert spec.task.length is not None
        cfg = spec.train
        return SyntheticDataModule(
            spec.data_dir,
            self.name,
            spec.task.length,
            cfg.batch_size,
            seed,
            cfg.fraction,
            cfg.train_share,
        )


class AddingProblem(_OneLength, _NotServed, Forecasting):
    """Inputs ``(B, T, 2)`` (values, marks), target ``(B, 1, 1)`` (the marked sum); MSE. A
    one-step forecast of one target, so the forecasting module, predictions and the
    Diebold-Mariano test serve unchanged."""

    name = "adding"
    losses = ("mse",)
    unit = "time steps"

    def model_spec(self, spec: RunConfig, dm: Any) -> ForecastSpec:
        from seqbench.models import ForecastSpec

        # Fixed shapes: the spec needs the run's length only, not its data.
        return ForecastSpec(input_features=2, horizon=1, targets=1, input_length=spec.task.length)

    def module(self, spec: RunConfig, model: Any, dm: Any) -> ForecastingModule:
        from seqbench.tasks.modules import ForecastingModule

        return ForecastingModule(model, spec.task, spec.optim, horizon=1)

    def input_length(self, info: dict[str, Any], data_dir: Path | None) -> int:
        return int(info["task"]["length"])


class CopyMemory(_OneLength, _NotServed, Task):
    """Input ids ``(B, T+20)``, targets ``(B, T+20)``: blanks, then the 10 symbols to recall.
    Saved test predictions: ``pred``/``true`` (N, 10), the recalled and the true symbols; the
    paired test is McNemar's on whole recalls (all 10 symbols right)."""

    name = "copy"
    losses = ("cross_entropy",)
    unit = "time steps"

    def model_spec(self, spec: RunConfig, dm: Any) -> TaggingSpec:
        from seqbench.data.synthetic import COPY_VOCAB
        from seqbench.models import TaggingSpec

        # One id past the symbols pads (never occurs): blanks keep a learned embedding.
        return TaggingSpec(vocab_size=COPY_VOCAB + 1, num_classes=COPY_VOCAB, pad_id=COPY_VOCAB)

    def load_model_spec(self, dims: dict[str, Any]) -> TaggingSpec:
        from seqbench.models import TaggingSpec

        return TaggingSpec(**dims)

    def module(self, spec: RunConfig, model: Any, dm: Any) -> CopyModule:
        from seqbench.tasks.modules import CopyModule

        return CopyModule(model, spec.task, spec.optim)

    def input_example(self, batch: tuple[Any, ...]) -> Any:
        return batch[0][:2].cpu()

    def recorder(self) -> PredictionRecorder:
        from seqbench.tasks.predictions import PredictionRecorder

        return PredictionRecorder(_record_recall)

    def paired_test(
        self, metric: str, a: dict[str, np.ndarray], b: dict[str, np.ndarray], exact_below: int
    ) -> PairedTest:
        from seqbench.stats import mcnemar_predictions

        right_a = (a["pred"] == a["true"]).all(axis=1)
        right_b = (b["pred"] == b["true"]).all(axis=1)
        return mcnemar_predictions(right_a, right_b, exact_below=exact_below)

    def test_description(self, exact_below: int) -> str:
        return (
            f"McNemar's test on whole recalls of the same test sequences (exact binomial below "
            f"{exact_below} discordant pairs)"
        )

    def input_length(self, info: dict[str, Any], data_dir: Path | None) -> int:
        return int(info["task"]["length"]) + 20

    def latency_input(
        self, spec: Any, batch_size: int, length: int, seed: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        import torch

        gen = torch.Generator().manual_seed(seed)
        ids = torch.randint(0, spec.num_classes, (batch_size, length), generator=gen)  # (B, S)
        return ids, torch.full((batch_size,), length, dtype=torch.int64)


def _record_recall(out: torch.Tensor, target: torch.Tensor, module: Any) -> dict[str, np.ndarray]:
    """Per-step logits ``(B, S, C)`` → the recalled symbols ``pred`` and ``true`` (B, 10)."""
    recall = module.recall
    return {
        "pred": out[:, -recall:].argmax(-1).numpy(),
        "true": target[:, -recall:].numpy(),
    }
