"""A Lightning callback that copies per-epoch ``train/*`` and ``val/*`` metrics to MLflow."""

from __future__ import annotations

import time

import lightning as L

METRIC_PREFIXES = ("train/", "val/")


class MLflowEpochLogger(L.Callback):
    """Log every ``train/*`` and ``val/*`` value of ``trainer.callback_metrics`` once per epoch,
    with ``step = trainer.current_epoch``, to ``run_id`` (default: the run active at fit start).

    Logged at train-epoch end, after that epoch's validation. Metrics must be logged by the
    module with ``on_epoch=True`` from its step hooks or its ``on_validation_epoch_end``; values
    logged in its own ``on_train_epoch_end`` come too late for callbacks. ``val/*`` are skipped
    in epochs without validation (``check_val_every_n_epoch``), so stale values never repeat.
    """

    def __init__(self, run_id: str | None = None, prefixes: tuple[str, ...] = METRIC_PREFIXES):
        self.given_run_id = run_id
        self.run_id = run_id
        self.prefixes = prefixes
        self._validated_epoch = -1

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._validated_epoch = -1
        if self.given_run_id is None:  # re-resolved per fit: one callback may serve many runs
            import mlflow

            active = mlflow.active_run()
            if active is None:
                raise RuntimeError("MLflowEpochLogger: no run_id given and no active MLflow run")
            self.run_id = active.info.run_id

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._validated_epoch = trainer.current_epoch

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or self.run_id is None:
            return
        from mlflow import MlflowClient
        from mlflow.entities import Metric

        epoch = trainer.current_epoch
        validated = self._validated_epoch == epoch
        now = int(time.time() * 1000)
        metrics = []
        for key, value in trainer.callback_metrics.items():
            if not key.startswith(self.prefixes) or (key.startswith("val/") and not validated):
                continue
            metrics.append(Metric(key, float(value), now, epoch))
        if metrics:
            MlflowClient().log_batch(self.run_id, metrics=metrics)
