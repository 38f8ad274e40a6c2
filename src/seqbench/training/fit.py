"""Fitting one seed: the Trainer, the in-memory best-validation state, threads and precision."""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Checkpoint, EarlyStopping
from torch import nn

from seqbench import runtime
from seqbench.models import ARCHITECTURES, build_model
from seqbench.tasks import NonFiniteLossError
from seqbench.training.run import RunConfig
from seqbench.typed import ConfigError

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """The outcome of training one seed; ``model`` holds the best-validation weights."""

    best_val: float
    monitor: str
    mode: str
    epochs: int
    best_epoch: int
    history: list[dict[str, float]]
    test: dict[str, float] | None
    seconds_per_epoch: float
    train_seconds: float
    model: Any  # the network (nn.Module), or a scikit-learn pipeline for the text baselines
    seed: int
    device: str
    parameters: int
    processes: int = 1  # data-parallel processes that trained it (train.strategy)
    test_per_step: dict[str, list[float]] | None = None
    padding_fraction: float | None = None
    input_example: Any = None
    model_spec: dict[str, Any] = field(default_factory=dict)
    predictions: dict[str, Any] | None = None  # per-example test arrays, when no recorder ran


def physical_cores() -> int:
    """Physical cores among the CPUs this process may run on (SMT siblings counted once)."""
    cpus = os.sched_getaffinity(0)
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            return len(cpus)
        cores.add((package, core))
    return max(1, len(cores))


def configure_threads(threads: int | str) -> int:
    """Set torch's intra-op threads (``auto``: physical cores available); return the count.

    On a machine shared with other busy processes fewer threads can be much faster (OpenMP
    threads spin while waiting): set ``train.threads`` explicitly there.
    """
    runtime.configure()  # before the first parallel op starts the worker threads
    n = physical_cores() if threads == "auto" else int(threads)
    torch.set_num_threads(max(1, n))
    return torch.get_num_threads()


class BestState(Checkpoint):
    """Keeps, in memory, the weights of the epoch with the best monitored value; records history.

    A ``Checkpoint`` so that Lightning calls it after the task's own epoch-end logging.
    """

    def __init__(self, monitor: str, mode: str) -> None:
        self.monitor = monitor
        self.mode = mode
        self.best: float | None = None
        self.best_epoch = -1
        self.state: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, float]] = []
        self.epoch_seconds: list[float] = []
        self._start = 0.0
        self._lr = math.nan

    def start_epoch(self, lr: float) -> None:
        """Start timing an epoch trained with ``lr`` (NaN for a model with nothing to train,
        whose one validation pass is recorded as its epoch by ``on_train_epoch_end``)."""
        self._start, self._lr = time.perf_counter(), lr

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # The rate this epoch trains with (epoch schedulers step before epoch-end hooks run).
        self.start_epoch(float(trainer.optimizers[0].param_groups[0]["lr"]))

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.epoch_seconds.append(time.perf_counter() - self._start)
        metrics = {
            k: float(v)
            for k, v in trainer.callback_metrics.items()
            if k.startswith(("train/", "val/"))
        }
        metrics["train/lr"] = self._lr
        epoch = trainer.current_epoch
        self.history.append({"epoch": float(epoch), **metrics})
        log.info("epoch %d  %s", epoch, "  ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
        if self.monitor not in metrics:
            raise ConfigError(
                f"task.monitor: expected one of {', '.join(sorted(metrics))}, got {self.monitor!r}"
            )
        value = metrics[self.monitor]
        better = self.best is None or (
            value < self.best if self.mode == "min" else value > self.best
        )
        if math.isfinite(value) and better:
            self.best, self.best_epoch = value, epoch
            model = pl_module.model  # type: ignore[attr-defined]
            self.state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _precision(requested: str) -> str:
    if requested == "16-mixed" and not torch.cuda.is_available():
        log.info("precision 16-mixed needs a GPU; using 32-true on CPU")
        return "32-true"
    return requested


def fit(
    spec: RunConfig,
    seed: int,
    *,
    callbacks: Sequence[L.Callback] = (),
    evaluate_test: bool = False,
    max_time_s: float | None = None,
    model: nn.Module | None = None,
    datamodule: L.LightningDataModule | None = None,
) -> FitResult:
    """Train ``spec`` with ``seed``; keep the best-validation weights; optionally test them once.

    ``model``/``datamodule`` replace the ones built from ``spec`` (tests, benchmarks).
    Raises :class:`NonFiniteLossError` when the training loss becomes NaN or infinite.
    """
    cfg = spec.train
    configure_threads(cfg.threads)
    L.seed_everything(seed, workers=True, verbose=False)
    if ARCHITECTURES[spec.model.arch].estimator is not None:  # a scikit-learn text baseline
        from seqbench.training.estimators import fit_estimator

        return fit_estimator(spec, seed, evaluate_test=evaluate_test)
    kind = spec.kind
    dm = datamodule if datamodule is not None else kind.datamodule(spec, seed)
    dims: dict[str, Any] = {}
    if model is None:
        mspec = kind.model_spec(spec, dm)
        dims = asdict(mspec)
        model = build_model(spec.model, mspec)
    task = kind.module(spec, model, dm)
    best = BestState(spec.task.monitor, spec.task.mode)
    stoppers: list[L.Callback] = []
    if cfg.patience > 0:
        stoppers.append(
            EarlyStopping(
                spec.task.monitor,
                mode=spec.task.mode,
                patience=cfg.patience,
                min_delta=cfg.min_delta,
            )
        )
    if cfg.stop_at is not None:  # a goal, not a plateau: patience never runs out
        stoppers.append(
            EarlyStopping(
                cfg.stop_at.metric,
                mode=cfg.stop_at.mode,
                patience=cfg.max_epochs + 1,
                stopping_threshold=cfg.stop_at.value,
                check_on_train_epoch_end=False,
            )
        )
    on_gpu = cfg.accelerator in ("gpu", "cuda") or (
        cfg.accelerator == "auto" and torch.cuda.is_available()
    )
    limit = max_time_s if max_time_s is not None else cfg.max_time_s
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        strategy=cfg.strategy,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        use_distributed_sampler=False,  # the datamodules shard (seqbench.data.replicas)
        precision=_precision(cfg.precision),  # type: ignore[arg-type]
        max_epochs=cfg.max_epochs,
        max_time={"seconds": limit} if limit else None,
        gradient_clip_val=spec.optim.clip_norm or None,
        deterministic=cfg.deterministic if not on_gpu else ("warn" if cfg.deterministic else False),
        callbacks=[best, *stoppers, *callbacks],
        logger=False,
        enable_checkpointing=True,  # BestState is the (in-memory) checkpoint callback
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    start = time.perf_counter()
    if any(p.requires_grad for p in task.parameters()):
        trainer.fit(task, datamodule=dm)
    else:  # nothing to train (the naive forecaster): one validation pass is its only epoch
        best.start_epoch(math.nan)
        trainer.validate(task, datamodule=dm, verbose=False)
        best.on_train_epoch_end(trainer, task)
    train_seconds = time.perf_counter() - start
    if best.state is None:
        raise NonFiniteLossError(f"{spec.task.monitor}: no finite value in any epoch")
    task.model.load_state_dict(best.state)
    test = per_step = None
    if evaluate_test:
        trainer.test(task, datamodule=dm, verbose=False)
        test = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("test/")}
        per_step = getattr(task, "per_step", {}).get("test")
    padding = dm.train_padding_fraction() if hasattr(dm, "train_padding_fraction") else None
    return FitResult(
        best_val=float(best.best),
        monitor=spec.task.monitor,
        mode=spec.task.mode,
        epochs=len(best.history),
        best_epoch=best.best_epoch,
        history=best.history,
        test=test,
        seconds_per_epoch=statistics.fmean(best.epoch_seconds),
        train_seconds=train_seconds,
        model=task.model.cpu().eval(),
        seed=seed,
        device=str(trainer.strategy.root_device),
        processes=int(trainer.world_size),
        parameters=sum(p.numel() for p in task.model.parameters()),
        test_per_step=per_step,
        padding_fraction=padding,
        input_example=_input_example(kind, dm),
        model_spec=dims,
    )


def _input_example(kind: Any, dm: Any) -> Any:
    """Two validation inputs for MLflow signatures of the logged network."""
    try:
        batch = next(iter(dm.val_dataloader()))
    except Exception:  # an example is a nicety, never a reason to fail a run
        return None
    return kind.input_example(batch)
