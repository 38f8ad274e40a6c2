"""Forecasting (series): a window of values in, the next ``horizon`` steps out; Diebold-Mariano."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqbench.tasks.base import BundleError, Column, ServingSchema, Task

if TYPE_CHECKING:
    import numpy as np
    import torch

    from seqbench.models import ForecastSpec
    from seqbench.stats import PairedTest
    from seqbench.tasks.modules import ForecastingModule
    from seqbench.tasks.predictions import PredictionRecorder
    from seqbench.tasks.predictors import ForecastPredictor
    from seqbench.training.outputs import SeedModel
    from seqbench.training.run import RunConfig


class Forecasting(Task):
    """Batches ``(x (B, L, F), y (B, H, T))`` scaled, from a processed folder; the network
    returns ``(B, H, T)`` scaled. Saved test predictions: ``pred``/``true`` (N, H, T) in original
    units and ``pred_scaled``/``true_scaled`` as the network sees them."""

    name = "forecasting"
    losses = ("mse", "mae")
    unit = "time steps"

    def datamodule(self, spec: RunConfig, seed: int) -> Any:
        from seqbench.data.timeseries import ForecastDataModule

        cfg = spec.train
        return ForecastDataModule(
            spec.data_dir,
            spec.dataset,
            cfg.batch_size,
            seed,
            num_workers=cfg.num_workers,
            fraction=cfg.fraction,
            train_share=cfg.train_share,
        )

    def model_spec(self, spec: RunConfig, dm: Any) -> ForecastSpec:
        from seqbench.models import ForecastSpec

        return ForecastSpec(
            input_features=dm.input_features,
            horizon=dm.horizon,
            targets=len(dm.targets),
            target_indices=tuple(dm.target_indices),
            input_length=dm.input_length,
        )

    def load_model_spec(self, dims: dict[str, Any]) -> ForecastSpec:
        from seqbench.models import ForecastSpec

        return ForecastSpec(**{**dims, "target_indices": tuple(dims.get("target_indices") or ())})

    def module(self, spec: RunConfig, model: Any, dm: Any) -> ForecastingModule:
        from seqbench.tasks.modules import ForecastingModule

        return ForecastingModule(
            model, spec.task, spec.optim, horizon=dm.horizon, inverse=dm.inverse_transform
        )

    def input_example(self, batch: tuple[Any, ...]) -> Any:
        return batch[0][:2].cpu()

    def recorder(self) -> PredictionRecorder:
        from seqbench.tasks.predictions import PredictionRecorder

        return PredictionRecorder(_record)

    def paired_test(
        self, metric: str, a: dict[str, np.ndarray], b: dict[str, np.ndarray], exact_below: int
    ) -> PairedTest:
        from seqbench.stats import diebold_mariano

        horizon = a["pred"].shape[1]
        return diebold_mariano(per_window_loss(a, metric), per_window_loss(b, metric), horizon)

    def test_description(self, exact_below: int) -> str:
        return (
            "Diebold-Mariano test with the Harvey-Leybourne-Newbold small-sample correction on "
            "per-window losses of the same test windows"
        )

    def input_length(self, info: dict[str, Any], data_dir: Path | None) -> int:
        return int(info["dataset"]["window"]["input_length"])

    def latency_input(
        self, spec: Any, batch_size: int, length: int, seed: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        import torch

        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(batch_size, length, spec.input_features, generator=gen)  # (B, L, F)
        return x, None

    def write_bundle(self, seed: SeedModel, out_dir: Path, data_dir: Path | None) -> dict[str, Any]:
        from seqbench.tasks.predictors import SCALER

        if data_dir is None or not (data_dir / SCALER).is_file():
            raise BundleError(f"{data_dir}/{SCALER}: missing; run the prepare stage")
        shutil.copyfile(data_dir / SCALER, out_dir / SCALER)
        dataset = seed.info["dataset"]
        return {
            "features": list(dataset["features"]),
            "targets": list(dataset["targets"]),
            "input_length": int(dataset["window"]["input_length"]),
            "horizon": int(dataset["window"]["horizon"]),
            # the dataset's declared ranges: requests outside are refused, forecasts clipped
            "min_value": dict(dataset.get("min_value") or {}),
            "max_value": dict(dataset.get("max_value") or {}),
        }

    def serving_schema(
        self, manifest: dict[str, Any], cfg: Any, data_dir: Path | None
    ) -> ServingSchema:
        import numpy as np
        import pandas as pd

        from seqbench.tasks.predictors import WINDOW_COLUMN

        features, length = manifest["features"], manifest["input_length"]
        # Any numeric type: MLflow refuses to cast int columns (e.g. vehicle counts) to double.
        inputs = [Column("any", f) for f in features]
        inputs.append(Column("long", WINDOW_COLUMN, required=False))
        outputs = [Column("long", WINDOW_COLUMN), Column("long", "step")]
        outputs += [Column("double", t) for t in manifest["targets"]]
        example = None
        test = data_dir / "test.parquet" if data_dir else None
        if test is not None and test.is_file():
            frame = pd.read_parquet(test, columns=features)
            if len(frame) >= length:
                example = frame.tail(length).astype(np.float64).reset_index(drop=True)
        if example is None:
            example = pd.DataFrame({f: np.zeros(length) for f in features})
        return ServingSchema(inputs, outputs, example)

    def predictor(self, bundle: Path) -> ForecastPredictor:
        from seqbench.tasks.predictors import ForecastPredictor

        return ForecastPredictor(bundle)


def per_window_loss(pred: dict[str, np.ndarray], metric: str) -> np.ndarray:
    """Per-window loss matching ``metric``: absolute error for MAE/MAPE, squared otherwise."""
    import numpy as np

    scaled = metric.endswith("_scaled")
    p = pred["pred_scaled" if scaled else "pred"].astype(np.float64)  # (N, H, T)
    t = pred["true_scaled" if scaled else "true"].astype(np.float64)  # (N, H, T)
    name = metric.split("/")[-1].removesuffix("_scaled")
    err = np.abs(p - t) if name in ("mae", "mape") else (p - t) ** 2
    return err.reshape(len(err), -1).mean(axis=1)  # (N,)


def _record(out: torch.Tensor, target: torch.Tensor, module: Any) -> dict[str, np.ndarray]:
    """Scaled forecasts ``(B, H, T)`` → scaled and original-unit predictions and targets."""
    target = target.float()
    inverse = getattr(module, "inverse", None) or (lambda y: y)
    return {
        "pred_scaled": out.numpy(),
        "true_scaled": target.numpy(),
        "pred": inverse(out).numpy(),
        "true": inverse(target).numpy(),
    }
