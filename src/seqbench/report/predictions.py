"""Per-example test predictions: recorded during ``trainer.test`` and saved for paired tests.

The significance tests of the comparison (McNemar, Diebold-Mariano) pair two models on the same
test examples, so every example is saved with a stable id: its row in the tokenized test split
(text) or its window start (forecasting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from seqbench.errors import SeqbenchError


class PredictionsError(SeqbenchError):
    """A predictions file is missing or lacks the arrays the comparison needs."""


class PredictionRecorder(L.Callback):
    """Captures the network's outputs on every test batch (a forward hook: no extra pass).

    Classification keeps ``ids``, ``labels`` (N,) and ``probs`` (N, C); forecasting keeps
    ``ids`` (window starts), ``pred``/``true`` (N, H, T) in original units and
    ``pred_scaled``/``true_scaled`` as the network sees them.
    """

    def __init__(self) -> None:
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
        inverse = getattr(pl_module, "inverse", None)
        if out.dim() == 2:  # logits (B, C)
            self._add(probs=out.softmax(-1).numpy(), labels=target.numpy())
        else:  # forecast (B, H, T), scaled
            target = target.float()
            self._add(
                pred_scaled=out.numpy(),
                true_scaled=target.numpy(),
                pred=(inverse(out) if inverse else out).numpy(),
                true=(inverse(target) if inverse else target).numpy(),
            )
        self._out = None

    def _add(self, **arrays: np.ndarray) -> None:
        for key, value in arrays.items():
            self._parts.setdefault(key, []).append(value)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

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

    A list of index batches (sorted evaluation batches) gives the order, else it is sequential;
    a subset dataset maps positions to rows (``index``) or window starts (``starts``).
    """
    dataset = getattr(loader, "dataset", None)
    if dataset is None:
        return None
    batches = getattr(loader, "batch_sampler", None)
    if isinstance(batches, list):
        order = np.asarray([i for batch in batches for i in batch], dtype=np.int64)
    else:
        order = np.arange(len(dataset))
    for name in ("index", "starts"):
        mapping = getattr(dataset, name, None)
        if mapping is not None:
            return np.asarray(mapping)[order]
    return order


def load_predictions(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays saved by :meth:`PredictionRecorder.save`, sorted by example id."""
    path = Path(path)
    if not path.is_file():
        raise PredictionsError(f"{path}: missing; the train stage saves test predictions there")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    if "ids" not in arrays:
        raise PredictionsError(f"{path}: expected an 'ids' array")
    order = np.argsort(arrays["ids"], kind="stable")
    return {k: v[order] for k, v in arrays.items()}
