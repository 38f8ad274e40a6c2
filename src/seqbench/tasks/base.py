"""What every task shares: optimizer and schedule from config, the non-finite loss guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import nn

from seqbench.errors import SeqbenchError
from seqbench.tasks.config import OptimConfig, TaskConfig

SPLITS = ("train", "val", "test")


def per_split(factory: Callable[[str], nn.Module]) -> nn.ModuleDict:
    """One module per split, keyed ``<split>_`` (``train`` alone would shadow ``Module.train``)."""
    return nn.ModuleDict({f"{s}_": factory(s) for s in SPLITS})


class NonFiniteLossError(SeqbenchError):
    """The training loss became NaN or infinite; training stopped (tuning prunes such trials)."""


class SequenceTask(L.LightningModule):
    """A LightningModule around a plain ``nn.Module`` encoder+head; subclasses add loss/metrics."""

    def __init__(self, model: nn.Module, task: TaskConfig, optim: OptimConfig) -> None:
        super().__init__()
        self.model = model
        self.task = task
        self.optim = optim

    def check_finite(self, loss: torch.Tensor) -> None:
        """Raise :class:`NonFiniteLossError` when ``loss`` is NaN or infinite."""
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"train/loss: expected a finite value, got {loss.item()} at epoch "
                f"{self.current_epoch} step {self.global_step} (lower optim.lr or enable "
                f"optim.clip_norm)"
            )

    def log_loss(self, split: str, loss: torch.Tensor, batch_size: int) -> None:
        self.log(
            f"{split}/loss",
            loss,
            on_step=False,
            on_epoch=True,
            batch_size=batch_size,
            prog_bar=split == "val",
        )

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
