"""The LightningModules of the task kinds: loss, metrics per split, optimizer and schedule.

:class:`SequenceModule` holds what every task shares (optimizer and schedule from config, the
non-finite loss guard); the task kinds in ``classification.py``/``forecasting.py`` build their
subclass here. The network inside is a plain ``nn.Module`` from :mod:`seqbench.models`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric, MetricCollection, SumMetric
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassF1Score,
)

from seqbench.tasks.base import NonFiniteLossError
from seqbench.tasks.config import OptimConfig, TaskConfig
from seqbench.tasks.metrics import ForecastErrors, WeightedMean, pooled_errors

Inverse = Callable[[torch.Tensor], torch.Tensor]

SPLITS = ("train", "val", "test")


def per_split(factory: Callable[[str], nn.Module]) -> nn.ModuleDict:
    """One module per split, keyed ``<split>_`` (``train`` alone would shadow ``Module.train``)."""
    return nn.ModuleDict({f"{s}_": factory(s) for s in SPLITS})


class SequenceModule(L.LightningModule):
    """A LightningModule around a plain ``nn.Module`` encoder+head; subclasses add loss/metrics."""

    def __init__(self, model: nn.Module, task: TaskConfig, optim: OptimConfig) -> None:
        super().__init__()
        self.model = model
        self.task = task
        self.optim = optim
        self.losses = per_split(lambda _: WeightedMean())  # each epoch's loss
        self.first_batch = True
        self.pending: list[tuple[torch.Tensor, int, tuple[torch.Tensor, ...]]] = []

    def step(self, batch: tuple[torch.Tensor, ...], split: str) -> torch.Tensor:
        """The loss of ``batch`` on ``split``, with that split's metrics updated and logged."""
        raise NotImplementedError

    def update_metrics(self, split: str, *outputs: torch.Tensor) -> None:
        """Add a batch's (or, for training, an epoch's) ``outputs`` to ``split``'s metrics: the
        tensors a subclass's ``step`` passed to :meth:`log_loss` (none: nothing to add)."""

    def accumulate(
        self, split: str, loss: torch.Tensor, batch_size: int, *outputs: torch.Tensor
    ) -> None:
        """Add one batch to ``split``'s epoch loss and metrics (:meth:`update_metrics`).

        Training batches are kept, detached, and added in one pass after the epoch's last
        batch: a torchmetrics update per step costs more than a small model's whole step. The
        metric objects are logged on the first batch and computed at the epoch's end, after it.
        """
        if split == "train":
            self.pending.append((loss.detach() * batch_size, batch_size, outputs))
            return
        self.losses[f"{split}_"].update(loss.detach(), batch_size)
        self.update_metrics(split, *outputs)

    def flush_training(self) -> None:
        """Add the kept training batches to the training loss and metrics."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        weight = sum(size for _, size, _ in pending)
        total = torch.stack([weighted for weighted, _, _ in pending]).sum()
        self.losses["train_"].update(total / weight, weight)
        columns = zip(*(outputs for *_, outputs in pending), strict=True)
        self.update_metrics("train", *(torch.cat(column) for column in columns))

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if batch_idx + 1 >= self.trainer.num_training_batches:  # before validation reads them
            self.flush_training()

    def on_train_epoch_end(self) -> None:
        self.flush_training()  # an epoch cut short (max_time) ends without its last batch

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        self.first_batch = batch_idx == 0
        loss = self.step(batch, "train")
        self.check_finite(loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self.first_batch = batch_idx == 0
        self.step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self.first_batch = batch_idx == 0
        self.step(batch, "test")

    def check_finite(self, loss: torch.Tensor) -> None:
        """Raise :class:`NonFiniteLossError` when ``loss`` is NaN or infinite."""
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"train/loss: expected a finite value, got {loss.item()} at epoch "
                f"{self.current_epoch} step {self.global_step} (lower optim.lr or enable "
                f"optim.clip_norm)"
            )

    def log_loss(
        self, split: str, loss: torch.Tensor, batch_size: int, *outputs: torch.Tensor
    ) -> None:
        """Add ``loss`` to ``{split}/loss`` (the epoch's mean, weighted by batch size) and the
        batch's ``outputs`` to its metrics (:meth:`accumulate`), and log the loss."""
        self.accumulate(split, loss, batch_size, *outputs)
        self.log_epoch({f"{split}/loss": self.losses[f"{split}_"]}, prog_bar=split == "val")

    def log_epoch(self, metrics: dict[str, Metric] | MetricCollection, **kwargs: Any) -> None:
        """Log metric objects on an epoch's first batch only: they accumulate every update of
        the epoch and Lightning computes them at its end (before the callbacks read them). One
        ``log`` call costs about 1 ms on a CPU, more than a small model's whole step."""
        if self.first_batch:
            self.log_dict(metrics, on_step=False, on_epoch=True, **kwargs)

    def configure_optimizers(self) -> Any:
        cfg = self.optim
        params = [p for p in self.parameters() if p.requires_grad]
        if cfg.name == "sgd":
            opt = torch.optim.SGD(
                params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
        else:
            # The fused kernel updates every tensor in one pass: on CPU 1.5 ms instead of 12 ms
            # per step for the 2.6M parameters of an IMDB model (a dense 20000 × 128 embedding).
            fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
            adam = torch.optim.Adam if cfg.name == "adam" else torch.optim.AdamW
            opt = adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused or None)
        if cfg.scheduler == "none":
            return opt
        if cfg.scheduler == "cosine":
            epochs = max(1, self.trainer.max_epochs or 1)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, T_max=epochs, eta_min=cfg.lr * cfg.min_lr_ratio
            )
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        if cfg.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode=self.task.mode, factor=cfg.plateau_factor, patience=cfg.plateau_patience
            )
            return {
                "optimizer": opt,
                "lr_scheduler": {
                    "scheduler": sched,
                    "interval": "epoch",
                    "monitor": self.task.monitor,
                },
            }
        total = max(1, int(self.trainer.estimated_stepping_batches))
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=total, pct_start=cfg.pct_start
        )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def classification_metrics(num_classes: int) -> MetricCollection:
    """``acc``, ``f1`` and ``auroc``: of the positive class when binary, macro otherwise."""
    if num_classes == 2:
        return MetricCollection(
            {"acc": BinaryAccuracy(), "f1": BinaryF1Score(), "auroc": BinaryAUROC()}
        )
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1": MulticlassF1Score(num_classes, average="macro"),
            "auroc": MulticlassAUROC(num_classes),
        }
    )


class ClassificationModule(SequenceModule):
    """Batches ``(ids (B, T), lengths (B,), labels (B,))``; model returns logits ``(B, C)``."""

    def __init__(self, model: nn.Module, task: TaskConfig, optim: OptimConfig) -> None:
        super().__init__(model, task, optim)
        base = classification_metrics(task.num_classes)
        self.metrics = per_split(lambda s: base.clone(prefix=f"{s}/"))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model(ids, lengths)  # (B, C)

    def step(self, batch: tuple[torch.Tensor, ...], split: str) -> torch.Tensor:
        ids, lengths, labels = batch
        logits = self(ids, lengths)  # (B, C): class logits, or label log-likelihoods (t2t)
        own_loss = getattr(self.model, "loss", None)  # a text-to-text model's teacher forcing
        loss = own_loss(logits, labels) if own_loss else F.cross_entropy(logits.float(), labels)
        probs = logits.detach().float().softmax(-1)  # (B, C)
        preds = probs[:, 1] if self.task.num_classes == 2 else probs
        self.log_loss(split, loss, len(labels), preds, labels)
        self.log_epoch(self.metrics[f"{split}_"])
        return loss

    def update_metrics(self, split: str, *outputs: torch.Tensor) -> None:
        preds, labels = outputs
        self.metrics[f"{split}_"].update(preds, labels)


class ForecastingModule(SequenceModule):
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
        self.log_loss(split, loss, len(y), pred.detach().float(), y.detach().float())
        if split == "train":
            self.log_epoch(self.train_errors)
            if self.task.report_scaled:
                self.log_epoch(self.train_scaled)
        return loss

    def update_metrics(self, split: str, *outputs: torch.Tensor) -> None:
        pred, y = (t.cpu() for t in outputs)  # (N, H, T) each
        errors, scaled = (
            (self.train_errors, self.train_scaled)
            if split == "train"
            else (self.errors[f"{split}_"], self.scaled[f"{split}_"])
        )
        errors.update(self.inverse(pred), self.inverse(y))
        if self.task.report_scaled:
            scaled.update(pred, y)

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

    def on_validation_epoch_end(self) -> None:
        self.report("val")

    def on_test_epoch_end(self) -> None:
        self.report("test")


class CopyModule(SequenceModule):
    """Copy memory: batches ``(ids (B, S), targets (B, S))``; the model returns ``(B, S, C)``.

    ``{split}/loss`` is the per-step cross-entropy over all S = T+20 steps (the protocol's
    loss); ``{split}/recall_acc`` the accuracy on the last 10 steps, the recalled symbols.
    """

    recall = 10

    def __init__(self, model: nn.Module, task: TaskConfig, optim: OptimConfig) -> None:
        super().__init__(model, task, optim)
        self.correct = per_split(lambda _: SumMetric())
        self.total = per_split(lambda _: SumMetric())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        lengths = torch.full((ids.size(0),), ids.size(1), dtype=torch.long, device=ids.device)
        return self.model(ids, lengths)  # (B, S, C): every step is valid (no padding)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor], split: str) -> torch.Tensor:
        ids, targets = batch
        logits = self(ids)  # (B, S, C)
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        hits = (logits[:, -self.recall :].argmax(-1) == targets[:, -self.recall :]).float()
        self.log_loss(split, loss, len(ids), hits)
        return loss

    def update_metrics(self, split: str, *outputs: torch.Tensor) -> None:
        (hits,) = outputs  # (N, recall)
        self.correct[f"{split}_"].update(hits.sum())
        self.total[f"{split}_"].update(float(hits.numel()))

    def _report(self, split: str) -> None:
        correct, total = self.correct[f"{split}_"], self.total[f"{split}_"]
        self.log(f"{split}/recall_acc", correct.compute() / total.compute().clamp(min=1))
        correct.reset()
        total.reset()

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self._report("train")

    def on_validation_epoch_end(self) -> None:
        self._report("val")

    def on_test_epoch_end(self) -> None:
        self._report("test")
