"""Forecasting: MSE or MAE loss on scaled values; errors reported in original units per step."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.tasks.base import SequenceTask, per_split
from seqbench.tasks.config import OptimConfig, TaskConfig
from seqbench.tasks.metrics import ForecastErrors, pooled_errors

Inverse = Callable[[torch.Tensor], torch.Tensor]


class ForecastingTask(SequenceTask):
    """Batches ``(x (B, L, F), y (B, H, T))`` scaled; model returns ``(B, H, T)`` scaled.

    ``{split}/mae|rmse|mape|mse`` are averaged over steps and targets after ``inverse`` (original
    units); with ``task.report_scaled`` also ``{split}/mse_scaled|mae_scaled``. After each
    validation/test epoch ``per_step[split]`` holds the per-horizon-step values (length H).
    """

    def __init__(
        self,
        model: nn.Module,
        task: TaskConfig,
        optim: OptimConfig,
        horizon: int,
        inverse: Inverse | None = None,
    ) -> None:
        super().__init__(model, task, optim)
        self.inverse = inverse or (lambda y: y)
        self.horizon = horizon
        self.errors = per_split(lambda _: ForecastErrors(horizon))
        self.scaled = per_split(lambda _: ForecastErrors(horizon))
        # Training errors are logged as metric objects, so callbacks see them at epoch end.
        self.train_errors = pooled_errors(horizon, ("mae", "rmse", "mape", "mse")).clone("train/")
        self.train_scaled = pooled_errors(horizon, ("mse", "mae"), "_scaled").clone("train/")
        self.per_step: dict[str, dict[str, list[float]]] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)  # (B, H, T)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], split: str) -> torch.Tensor:
        x, y = batch
        pred = self(x)  # (B, H, T)
        loss_fn = F.mse_loss if self.task.loss == "mse" else F.l1_loss
        loss = loss_fn(pred.float(), y.float())
        self.log_loss(split, loss, len(y))
        pred_cpu, y_cpu = pred.detach().float().cpu(), y.detach().float().cpu()
        errors, scaled = (
            (self.train_errors, self.train_scaled)
            if split == "train"
            else (self.errors[f"{split}_"], self.scaled[f"{split}_"])
        )
        errors.update(self.inverse(pred_cpu), self.inverse(y_cpu))
        if self.task.report_scaled:
            scaled.update(pred_cpu, y_cpu)
        if split == "train":
            self.log_dict(self.train_errors, on_step=False, on_epoch=True, batch_size=len(y))
            if self.task.report_scaled:
                self.log_dict(self.train_scaled, on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def report(self, split: str) -> None:
        """Log the averaged errors of ``split`` and keep the per-step ones; reset the metrics."""
        values = self.errors[f"{split}_"].compute()
        self.per_step[split] = {k: v[:-1].tolist() for k, v in values.items()}
        logged = {f"{split}/{k}": float(v[-1]) for k, v in values.items()}
        if self.task.report_scaled:
            scaled = self.scaled[f"{split}_"].compute()
            logged |= {
                f"{split}/mse_scaled": float(scaled["mse"][-1]),
                f"{split}/mae_scaled": float(scaled["mae"][-1]),
            }
            self.scaled[f"{split}_"].reset()
        self.errors[f"{split}_"].reset()
        self.log_dict(logged, on_step=False, on_epoch=True)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        loss = self.step(batch, "train")
        self.check_finite(loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self.step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        self.report("val")

    def on_test_epoch_end(self) -> None:
        self.report("test")
