"""Training service: resolve a task × architecture run from params, fit one seed, train all seeds.

``resolve_run`` layers ``train.defaults`` → ``models.<arch>`` → ``train.<task>`` →
``train.<task>.arch.<arch>`` → overrides (flat dotted keys such as ``optim.lr``, e.g. a tuning
stage's best params) into one typed, validated :class:`RunSpec`. ``fit`` trains one seed with
early stopping and keeps the best validation state; ``train_all_seeds`` does every seed, tracks
each in MLflow and writes models, metrics and curves.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.callbacks import Checkpoint, EarlyStopping
from torch import nn

from seqbench.config import ConfigError, build, check, dataset_config, section
from seqbench.models import ClassificationSpec, ForecastSpec, ModelConfig, build_model
from seqbench.profiles import deep_merge
from seqbench.tasks import (
    ClassificationTask,
    ForecastingTask,
    NonFiniteLossError,
    OptimConfig,
    SequenceTask,
    TaskConfig,
)

__all__ = [
    "FitResult",
    "NonFiniteLossError",
    "RunSpec",
    "TrainConfig",
    "fit",
    "resolve_run",
    "train_all_seeds",
]

log = logging.getLogger(__name__)

SECTIONS = ("task", "model", "optim", "train")
RESERVED = ("tasks", "architectures", "seeds", "defaults")


@dataclass(frozen=True)
class TrainConfig:
    """Trainer budget, batching and device settings of a run (``train.*`` run keys).

    ``patience`` 0 disables early stopping. ``fraction`` < 1 trains, validates and tests on a fixed
    seeded subset (smoke runs, tuning). ``precision`` mixed modes apply on GPUs; CPU runs use
    ``32-true`` (``bf16-mixed`` is honoured). ``threads: auto`` uses one thread per physical core
    this process may run on.
    """

    max_epochs: int = 10
    patience: int = 3
    min_delta: float = 0.0
    batch_size: int = 64
    eval_batch_size: int | None = None
    fraction: float = 1.0
    bucketing: bool = True
    bucket_chunk: int = 50
    num_workers: int = 0
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    precision: Literal["32-true", "16-mixed", "bf16-mixed"] = "32-true"
    threads: int | Literal["auto"] = "auto"
    deterministic: bool = True
    max_time_s: float | None = None

    def __post_init__(self) -> None:
        check(self.max_epochs >= 1, "max_epochs", "an integer >= 1", self.max_epochs)
        check(self.patience >= 0, "patience", "an integer >= 0 (0 disables)", self.patience)
        check(self.batch_size >= 1, "batch_size", "an integer >= 1", self.batch_size)
        check(0.0 < self.fraction <= 1.0, "fraction", "a number in (0, 1]", self.fraction)
        check(self.bucket_chunk >= 1, "bucket_chunk", "an integer >= 1", self.bucket_chunk)
        check(
            self.threads == "auto" or self.threads >= 1,
            "threads",
            "'auto' or an integer >= 1",
            self.threads,
        )
        check(
            self.max_time_s is None or self.max_time_s > 0,
            "max_time_s",
            "a number > 0 or null",
            self.max_time_s,
        )


@dataclass(frozen=True)
class RunSpec:
    """Everything one ``train@<task>-<arch>`` run needs, validated."""

    task_name: str
    arch: str
    data_dir: Path
    dataset: Any
    task: TaskConfig
    model: ModelConfig
    optim: OptimConfig
    train: TrainConfig
    seeds: tuple[int, ...] = (0, 1, 2)

    @property
    def name(self) -> str:
        return f"{self.task_name}-{self.arch}"

    def config(self) -> dict[str, Any]:
        """The full run configuration as a nested plain dict (MLflow params, config json)."""
        return {
            "run": {
                "task": self.task_name,
                "arch": self.arch,
                "data_dir": str(self.data_dir),
                "seeds": list(self.seeds),
            },
            "dataset": _plain(self.dataset),
            **{s: _plain(getattr(self, s)) for s in SECTIONS},
        }


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
    model: nn.Module
    seed: int
    device: str
    parameters: int
    test_per_step: dict[str, list[float]] | None = None
    padding_fraction: float | None = None
    input_example: Any = None
    model_spec: dict[str, Any] = field(default_factory=dict)


def _plain(obj: Any) -> Any:
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if hasattr(obj, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return str(obj)


def _apply_overrides(run: dict[str, dict[str, Any]], overrides: dict[str, Any]) -> None:
    valid = {"task": TaskConfig, "model": ModelConfig, "optim": OptimConfig, "train": TrainConfig}
    for key, value in overrides.items():
        sec, _, name = key.partition(".")
        if sec not in valid or not name:
            raise ConfigError(
                f"{key}: unknown override; expected <section>.<key> with section "
                f"one of {', '.join(SECTIONS)}"
            )
        names = {f.name for f in fields(valid[sec]) if f.init} - {"arch"}
        if name not in names:
            raise ConfigError(
                f"{key}: unknown override; expected one of "
                f"{', '.join(f'{sec}.{n}' for n in sorted(names))}"
            )
        run[sec][name] = value


def task_kind(params: dict[str, Any], task: str) -> str:
    """``classification`` for text datasets, ``forecasting`` for time series."""
    return "classification" if dataset_config(params, task).kind == "imdb" else "forecasting"


def default_data_dir(kind: str, task: str) -> Path:
    """Where the pipeline puts a task's training input (``dvc.yaml`` passes it explicitly)."""
    return Path("data/tokenized" if kind == "classification" else "data/processed") / task


def resolve_run(
    params: dict[str, Any],
    task: str,
    arch: str,
    overrides: dict[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
) -> RunSpec:
    """Build the validated :class:`RunSpec` of ``task`` × ``arch`` from ``params``.

    ``overrides`` are flat dotted keys (``model.hidden_size``, ``optim.lr``,
    ``train.batch_size``, ``task.loss``) applied last; unknown keys raise :class:`ConfigError`.
    """
    if task in RESERVED:
        raise ConfigError(f"train.{task}: a reserved key, not a task")
    dataset = dataset_config(params, task)
    kind = task_kind(params, task)
    train_section = params.get("train") or {}
    per_task = section(params, f"train.{task}")
    if not isinstance(per_task, dict):
        raise ConfigError(f"train.{task}: expected a mapping of task, model, optim, train")
    per_arch = (per_task.get("arch") or {}).get(arch, {})
    run: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for where, layer in (
        ("train.defaults", train_section.get("defaults") or {}),
        (f"models.{arch}", {"model": (params.get("models") or {}).get(arch) or {}}),
        (f"train.{task}", {k: v for k, v in per_task.items() if k != "arch"}),
        (f"train.{task}.arch.{arch}", per_arch),
    ):
        unknown = sorted(set(layer) - set(SECTIONS))
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}: unknown key; expected one of {', '.join(SECTIONS)}"
            )
        run = deep_merge(run, layer)
    _apply_overrides(run, dict(overrides or {}))
    run["task"].setdefault("kind", kind)
    run["model"]["arch"] = arch
    seeds = train_section.get("seeds", [0, 1, 2])
    check(
        isinstance(seeds, list) and all(isinstance(s, int) for s in seeds) and seeds,
        "train.seeds",
        "a non-empty list of integers",
        seeds,
    )
    spec = RunSpec(
        task_name=task,
        arch=arch,
        data_dir=Path(data_dir) if data_dir else default_data_dir(kind, task),
        dataset=dataset,
        task=build(TaskConfig, run["task"], f"train.{task}.task"),
        model=build(ModelConfig, run["model"], f"models.{arch}"),
        optim=build(OptimConfig, run["optim"], f"train.{task}.optim"),
        train=build(TrainConfig, run["train"], f"train.{task}.train"),
        seeds=tuple(seeds),
    )
    check(
        spec.task.kind == kind,
        f"train.{task}.task.kind",
        f"{kind} for dataset kind {dataset.kind}",
        spec.task.kind,
    )
    return spec


def load_best_params(path: str | Path) -> dict[str, Any]:
    """Flat dotted overrides from a tuning result file (its ``best_params`` mapping)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    best = data.get("best_params") if isinstance(data, dict) else None
    if not isinstance(best, dict):
        raise ConfigError(f"{path}: expected a 'best_params' mapping of dotted keys")
    return best


# ---------------------------------------------------------------------------------------------
# Fitting one seed
# ---------------------------------------------------------------------------------------------


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

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()
        # The rate this epoch trains with (epoch schedulers step before epoch-end hooks run).
        self._lr = float(trainer.optimizers[0].param_groups[0]["lr"])

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


def build_datamodule(spec: RunSpec, seed: int) -> L.LightningDataModule:
    """The task's DataModule over ``spec.data_dir``."""
    cfg = spec.train
    if spec.task.kind == "classification":
        from seqbench.data.text import TextDataModule

        return TextDataModule(
            spec.data_dir,
            cfg.batch_size,
            seed,
            fraction=cfg.fraction,
            eval_batch_size=cfg.eval_batch_size,
            bucketing=cfg.bucketing,
            bucket_chunk=cfg.bucket_chunk,
            num_workers=cfg.num_workers,
        )
    from seqbench.data.timeseries import ForecastDataModule

    return ForecastDataModule(
        spec.data_dir,
        spec.dataset,
        cfg.batch_size,
        seed,
        num_workers=cfg.num_workers,
        fraction=cfg.fraction,
    )


def model_spec(spec: RunSpec, dm: Any) -> ClassificationSpec | ForecastSpec:
    """Input/output sizes of the network, read from the DataModule."""
    if spec.task.kind == "classification":
        return ClassificationSpec(
            vocab_size=dm.vocab_size, num_classes=spec.task.num_classes, pad_id=dm.pad_id
        )
    return ForecastSpec(
        input_features=dm.input_features,
        horizon=dm.horizon,
        targets=len(dm.targets),
        target_indices=tuple(dm.target_indices),
    )


def build_task(spec: RunSpec, model: nn.Module, dm: Any) -> SequenceTask:
    if spec.task.kind == "classification":
        return ClassificationTask(model, spec.task, spec.optim)
    return ForecastingTask(
        model, spec.task, spec.optim, horizon=dm.horizon, inverse=dm.inverse_transform
    )


def _precision(requested: str) -> str:
    if requested == "16-mixed" and not torch.cuda.is_available():
        log.info("precision 16-mixed needs a GPU; using 32-true on CPU")
        return "32-true"
    return requested


def fit(
    spec: RunSpec,
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
    dm = datamodule if datamodule is not None else build_datamodule(spec, seed)
    dims: dict[str, Any] = {}
    if model is None:
        mspec = model_spec(spec, dm)
        dims = asdict(mspec)
        model = build_model(spec.model, mspec)
    task = build_task(spec, model, dm)
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
    on_gpu = cfg.accelerator in ("gpu", "cuda") or (
        cfg.accelerator == "auto" and torch.cuda.is_available()
    )
    limit = max_time_s if max_time_s is not None else cfg.max_time_s
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        devices=1,
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
    trainer.fit(task, datamodule=dm)
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
        parameters=sum(p.numel() for p in task.model.parameters()),
        test_per_step=per_step,
        padding_fraction=padding,
        input_example=_input_example(dm),
        model_spec=dims,
    )


def _input_example(dm: Any) -> Any:
    """Two validation inputs for MLflow signatures: ``(ids, lengths)`` for text, else windows."""
    try:
        batch = next(iter(dm.val_dataloader()))
    except Exception:  # an example is a nicety, never a reason to fail a run
        return None
    if len(batch) == 3:  # (ids, lengths, labels)
        return batch[0][:2].cpu(), batch[1][:2].cpu()
    return batch[0][:2].cpu()


# ---------------------------------------------------------------------------------------------
# Every seed of a run, with outputs and tracking
# ---------------------------------------------------------------------------------------------


def summarize(per_seed: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Mean and sample standard deviation (0 for one seed) of each metric over seeds."""
    names = sorted({k for m in per_seed.values() for k in m})
    mean, std = {}, {}
    for name in names:
        values = [m[name] for m in per_seed.values() if name in m]
        mean[name] = statistics.fmean(values)
        std[name] = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": mean, "std": std, "seeds": per_seed}


def seed_metrics(result: FitResult) -> dict[str, float]:
    """The numbers reported per seed: test metrics, best validation value, timing."""
    out = dict(result.test or {})
    out[f"best_{result.monitor}"] = result.best_val
    out["best_epoch"] = float(result.best_epoch)
    out["epochs"] = float(result.epochs)
    out["seconds_per_epoch"] = result.seconds_per_epoch
    out["train_seconds"] = result.train_seconds
    if result.padding_fraction is not None:
        out["train/padding_fraction"] = result.padding_fraction
    return out


def curve_figure(history: list[dict[str, float]], title: str) -> Any:
    """Matplotlib learning curves: loss per split, and every other validation metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    others = sorted({k for h in history for k in h if k.startswith("val/") and k != "val/loss"})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("train/loss", "val/loss"):
        axes[0].plot(epochs, [h.get(key, math.nan) for h in history], marker="o", label=key)
    for key in others:
        axes[1].plot(epochs, [h.get(key, math.nan) for h in history], marker="o", label=key)
    for ax, name in zip(axes, ("loss", "validation metrics"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def write_curves(path: Path, rows: list[dict[str, float]]) -> None:
    """Per-epoch curves of every seed as one CSV (``seed, epoch, metric...``) for DVC plots."""
    from seqbench.io import atomic_path

    columns = ["seed", "epoch", *sorted({k for r in rows for k in r} - {"seed", "epoch"})]
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (int(v) if k in ("seed", "epoch") else v) for k, v in row.items()})


def _log_seed(tracking: Any, spec: RunSpec, result: FitResult) -> None:
    """Test metrics, run tags, the model and the learning-curve plot of one seed, into MLflow."""
    import mlflow
    from mlflow.entities import Metric

    mlflow.log_metrics(result.test or {}, step=result.epochs)
    now = int(time.time() * 1000)
    by_step = [
        Metric(f"test/{name}_by_step", value, now, h)
        for name, values in (result.test_per_step or {}).items()
        if len(values) > 1
        for h, value in enumerate(values, start=1)
    ]
    if by_step:
        mlflow.MlflowClient().log_batch(mlflow.active_run().info.run_id, metrics=by_step)
    tags = {
        "seqbench.parameters": result.parameters,
        "seqbench.device": result.device,
        "seqbench.train_seconds": f"{result.train_seconds:.2f}",
        "seqbench.seconds_per_epoch": f"{result.seconds_per_epoch:.3f}",
        "seqbench.epochs": result.epochs,
        "seqbench.best_epoch": result.best_epoch,
        "seqbench.torch_threads": torch.get_num_threads(),
    }
    if result.padding_fraction is not None:
        tags["seqbench.padding_fraction"] = f"{result.padding_fraction:.4f}"
    tags["seqbench.model_uri"] = tracking.log_model(result.model, result.input_example)
    mlflow.set_tags({k: str(v) for k, v in tags.items()})
    fig = curve_figure(result.history, f"{spec.name} seed {result.seed}")
    mlflow.log_figure(fig, "learning_curve.png")
    import matplotlib.pyplot as plt

    plt.close(fig)


def train_all_seeds(
    spec: RunSpec,
    *,
    models_dir: str | Path,
    metrics_path: str | Path,
    curves_path: str | Path,
    stage: str | None = None,
    inputs: Sequence[str] = (),
    track: bool = True,
    fit_fn: Callable[..., FitResult] | None = None,
) -> dict[str, Any]:
    """Train every seed of ``spec``, test each best-validation model once, write the outputs.

    Writes ``models_dir/seed<k>.pt`` (state dict) and ``seed<k>.json`` (config and sizes to
    rebuild it), ``seed<k>.predictions.npz`` (per-example test predictions, for the comparison's
    paired tests), ``metrics_path`` (per seed, mean and std) and ``curves_path`` (per-epoch CSV).
    With ``track`` each seed is one MLflow run ``<task>-<arch>-s<seed>`` in experiment ``<task>``.
    """
    from seqbench.io import atomic_path, write_json
    from seqbench.report.predictions import PredictionRecorder

    fit_fn = fit_fn or fit
    tracking = None
    if track:
        from seqbench import tracking

        tracking.configure()
    stage = stage or f"train@{spec.name}"
    # Code and data do not change between seeds: read git and dvc.lock once.
    provenance = tracking.provenance_tags(stage, list(inputs)) if tracking is not None else {}
    per_seed: dict[str, dict[str, float]] = {}
    curves: list[dict[str, float]] = []
    results: list[FitResult] = []
    recorders: list[PredictionRecorder] = []  # per-example test predictions (paired tests)
    for seed in spec.seeds:
        run_name = f"{spec.name}-s{seed}"
        recorder = PredictionRecorder()
        if tracking is not None:
            tags = {
                **provenance,
                "seqbench.task": spec.task_name,
                "seqbench.arch": spec.arch,
                "seqbench.seed": str(seed),
            }
            with tracking.run(spec.task_name, run_name, params=spec.config(), tags=tags):
                result = fit_fn(
                    spec,
                    seed,
                    callbacks=[tracking.MLflowEpochLogger(), recorder],
                    evaluate_test=True,
                )
                _log_seed(tracking, spec, result)
        else:
            result = fit_fn(spec, seed, callbacks=[recorder], evaluate_test=True)
        results.append(result)
        recorders.append(recorder)
        per_seed[f"s{seed}"] = seed_metrics(result)
        curves += [{"seed": float(seed), **row} for row in result.history]
        log.info("%s: %s", run_name, json.dumps(result.test))
    models_dir = Path(models_dir)
    with atomic_path(models_dir) as tmp:
        tmp.mkdir()
        for result, recorder in zip(results, recorders, strict=True):
            torch.save(result.model.state_dict(), tmp / f"seed{result.seed}.pt")
            recorder.save(tmp / f"seed{result.seed}.predictions.npz")
            (tmp / f"seed{result.seed}.json").write_text(
                json.dumps(
                    {
                        **spec.config(),
                        "seed": result.seed,
                        "model_spec": result.model_spec,
                        "parameters": result.parameters,
                        "test": result.test,
                        "best_val": result.best_val,
                        "best_epoch": result.best_epoch,
                    },
                    indent=2,
                )
                + "\n"
            )
    summary = {"parameters": results[0].parameters, **summarize(per_seed)}
    write_json(metrics_path, summary)
    write_curves(Path(curves_path), curves)
    return summary
