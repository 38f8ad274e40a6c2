"""Per-example test predictions: recorded during ``trainer.test`` and saved for paired tests.

The significance tests of the comparison pair two models on the same test examples, so every
example is saved with a stable id (its row in the test split, or its window start). What is kept
of each batch is the task's: its ``record(output, target, module)`` function.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

# (network output, batch target, LightningModule) -> named per-example arrays of one batch
Record = Callable[[torch.Tensor, torch.Tensor, L.LightningModule], dict[str, np.ndarray]]


class PredictionRecorder(L.Callback):
    """Captures the network's outputs on every test batch (a forward hook: no extra pass) and
    keeps what the task's ``record`` makes of them, plus ``ids`` (N,)."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self._hook: Any = None
        self._out: torch.Tensor | None = None
        self._parts: dict[str, list[np.ndarray]] = {}
        self._ids: np.ndarray | None = None

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._parts = {}
        model = pl_module.model  # type: ignore[attr-defined]
        self._hook = model.register_forward_hook(self._capture)
        loader = trainer.test_dataloaders
        loader = loader[0] if isinstance(loader, list | tuple) else loader
        self._ids = example_ids(loader)

    def _capture(self, module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> None:
        self._out = output.detach().float().cpu()

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        out, target = self._out, batch[-1].detach().cpu()
        if out is None:
            return
        for key, value in self.record(out, target, pl_module).items():
            self._parts.setdefault(key, []).append(value)
        self._out = None

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        if trainer.world_size > 1:  # data-parallel: each process saw its share; join them
            self._gather()

    def _gather(self) -> None:
        """Every process's parts and ids, concatenated in rank order, on every process."""
        import torch.distributed as dist

        mine = {"parts": {k: np.concatenate(v) for k, v in self._parts.items()}, "ids": self._ids}
        shares: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(shares, mine)
        self._parts = {k: [share["parts"][k] for share in shares] for k in mine["parts"]}
        self._ids = np.concatenate([np.asarray(share["ids"]) for share in shares])

    def arrays(self) -> dict[str, np.ndarray]:
        """The recorded arrays (empty when no test ran)."""
        out = {k: np.concatenate(v) for k, v in self._parts.items()}
        if out:
            n = len(next(iter(out.values())))
            ids = self._ids if self._ids is not None and len(self._ids) == n else np.arange(n)
            out["ids"] = np.asarray(ids, dtype=np.int64)
        return out

    def save(self, path: str | Path) -> bool:
        """Write the arrays as ``.npz``; False (nothing written) when no test ran."""
        arrays = self.arrays()
        if not arrays:
            return False
        np.savez_compressed(Path(path), **arrays)
        return True


def example_ids(loader: Any) -> np.ndarray | None:
    """Stable ids of the examples in the order ``loader`` yields them.

    A list of index batches (sorted evaluation batches) or a range sampler (one process's share)
    gives the order, else it is sequential; a subset dataset maps positions to rows (``index``)
    or window starts (``starts``).
    """
    dataset = getattr(loader, "dataset", None)
    if dataset is None:
        return None
    batches = getattr(loader, "batch_sampler", None)
    sampler = getattr(loader, "sampler", None)
    if isinstance(batches, list):
        order = np.asarray([i for batch in batches for i in batch], dtype=np.int64)
    elif isinstance(sampler, range):  # one process's share of a data-parallel evaluation
        order = np.asarray(sampler, dtype=np.int64)
    else:
        order = np.arange(len(dataset))
    for name in ("index", "starts"):
        mapping = getattr(dataset, name, None)
        if mapping is not None:
            return np.asarray(mapping)[order]
    return order
