"""Sequence classification: cross-entropy; accuracy, F1 and ROC-AUC per split (torchmetrics)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassF1Score,
)

from seqbench.tasks.base import SequenceTask, per_split
from seqbench.tasks.config import OptimConfig, TaskConfig


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


class ClassificationTask(SequenceTask):
    """Batches ``(ids (B, T), lengths (B,), labels (B,))``; model returns logits ``(B, C)``."""

    def __init__(self, model: nn.Module, task: TaskConfig, optim: OptimConfig) -> None:
        super().__init__(model, task, optim)
        base = classification_metrics(task.num_classes)
        self.metrics = per_split(lambda s: base.clone(prefix=f"{s}/"))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model(ids, lengths)  # (B, C)

    def step(self, batch: tuple[torch.Tensor, ...], split: str) -> torch.Tensor:
        ids, lengths, labels = batch
        logits = self(ids, lengths)  # (B, C)
        loss = F.cross_entropy(logits.float(), labels)
        probs = logits.detach().float().softmax(-1)  # (B, C)
        preds = probs[:, 1] if self.task.num_classes == 2 else probs
        metrics = self.metrics[f"{split}_"]
        metrics.update(preds, labels)
        self.log_loss(split, loss, len(labels))
        self.log_dict(metrics, on_step=False, on_epoch=True, batch_size=len(labels))
        return loss

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        loss = self.step(batch, "train")
        self.check_finite(loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self.step(batch, "test")
