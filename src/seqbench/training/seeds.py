"""Training every seed of a run: fit, test once, track each seed in MLflow, write the outputs."""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from seqbench.data.replicas import lead_process
from seqbench.training.fit import FitResult, fit
from seqbench.training.outputs import (
    PREDICTIONS_ARTIFACT,
    TAG_WEIGHTS,
    SeedModel,
    load_seeds,
    timing_file,
    write_seed_outputs,
)
from seqbench.training.run import RunConfig

log = logging.getLogger(__name__)


def seed_metrics(result: FitResult) -> dict[str, float]:
    """The quality numbers of one seed (identical on a CPU rerun): test metrics, best
    validation value, epochs. Timings go to :func:`seed_timing`."""
    out = dict(result.test or {})
    out[f"best_{result.monitor}"] = result.best_val
    out["best_epoch"] = float(result.best_epoch)
    out["epochs"] = float(result.epochs)
    if result.padding_fraction is not None:
        out["train/padding_fraction"] = result.padding_fraction
    return out


def seed_timing(result: FitResult) -> dict[str, float]:
    """The wall-clock numbers of one seed (they vary between reruns)."""
    return {"seconds_per_epoch": result.seconds_per_epoch, "train_seconds": result.train_seconds}


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


def _log_seed(
    tracking: Any, spec: RunConfig, result: FitResult, run_name: str, log_model: bool = True
) -> None:
    """The model (``<run name>-network``), test metrics linked to it, run tags and the
    learning-curve plot of one seed, into MLflow."""
    import mlflow
    import mlflow.sklearn
    from mlflow.entities import Metric

    tags: dict[str, Any] = {}
    model_id = None
    if log_model and isinstance(result.model, torch.nn.Module):
        uri = tracking.log_model(result.model, result.input_example, name=f"{run_name}-network")
        tags["seqbench.model_uri"] = uri
        model_id = uri.removeprefix("models:/")
    elif log_model:  # a scikit-learn text baseline: its validation per C, and the fitted pipeline
        for row in result.history:
            values = {k: v for k, v in row.items() if k != "epoch" and math.isfinite(v)}
            mlflow.log_metrics(values, step=int(row["epoch"]))
        info = mlflow.sklearn.log_model(
            result.model, name=f"{run_name}-estimator", serialization_format="cloudpickle"
        )
        tags["seqbench.model_uri"] = info.model_uri
        model_id = info.model_id
    mlflow.log_metrics(result.test or {}, step=result.epochs, model_id=model_id)
    now = int(time.time() * 1000)
    by_step = [
        Metric(f"test/{name}_by_step", value, now, h)
        for name, values in (result.test_per_step or {}).items()
        if len(values) > 1
        for h, value in enumerate(values, start=1)
    ]
    if by_step:
        mlflow.MlflowClient().log_batch(mlflow.active_run().info.run_id, metrics=by_step)
    tags |= {
        "seqbench.parameters": result.parameters,
        "seqbench.device": result.device,
        "seqbench.processes": result.processes,
        "seqbench.train_seconds": f"{result.train_seconds:.2f}",
        "seqbench.seconds_per_epoch": f"{result.seconds_per_epoch:.3f}",
        "seqbench.epochs": result.epochs,
        "seqbench.best_epoch": result.best_epoch,
        "seqbench.torch_threads": torch.get_num_threads(),
    }
    if result.padding_fraction is not None:
        tags["seqbench.padding_fraction"] = f"{result.padding_fraction:.4f}"
    mlflow.set_tags({k: str(v) for k, v in tags.items()})
    fig = curve_figure(result.history, f"{spec.name} seed {result.seed}")
    mlflow.log_figure(fig, "learning_curve.png")
    import matplotlib.pyplot as plt

    plt.close(fig)


def train_all_seeds(
    spec: RunConfig,
    *,
    models_dir: str | Path,
    metrics_path: str | Path,
    curves_path: str | Path,
    timing_path: str | Path | None = None,
    stage: str | None = None,
    inputs: Sequence[str] = (),
    track: bool = True,
    fit_fn: Callable[..., FitResult] | None = None,
    experiment: str | None = None,
    name: str | None = None,
    log_models: bool = True,
    description: str | None = None,
) -> dict[str, Any]:
    """Train every seed of ``spec``, test each best-validation model once, write the outputs.

    Writes ``models_dir/seed<k>.pt`` (state dict) and ``seed<k>.json`` (config and sizes to
    rebuild it), ``seed<k>.predictions.npz`` (per-example test predictions, for the comparison's
    paired tests), ``metrics_path`` (per seed, mean and std) and ``curves_path`` (per-epoch CSV).
    With ``track`` each seed is one MLflow run ``<name>-s<seed>`` (``name`` defaults to
    ``<task>-<arch>``) in ``experiment`` (default: the task's name), with the network logged
    unless ``log_models`` is false (the claims lab's many small runs), the split files it read
    as MLflow datasets, and the saved weights' sha256 as ``seqbench.weights_sha256``: the
    register stage finds the training run of a model by it. ``description`` describes a new
    experiment. In a data-parallel run (``train.strategy: ddp``) every process trains and tests
    in step, and rank 0 alone tracks and writes; the others return ``{}``.
    """
    fit_fn = fit_fn or fit
    lead = lead_process()  # data-parallel: every process trains, rank 0 alone records
    tracking = None
    if track and lead:
        from seqbench import tracking

        tracking.configure()
    name = name or spec.name
    stage = stage or f"train@{name}"
    # Code and data do not change between seeds: read git and dvc.lock once.
    provenance = tracking.provenance_tags(stage, list(inputs)) if tracking is not None else {}
    outputs: list[dict[str, Any]] = []
    run_ids: dict[int, str] = {}
    where = experiment or spec.task_name
    description = description or (
        f"Training runs of task {spec.task_name}: one run per architecture and seed, named "
        f"<task>-<arch>-s<seed>. Registered versions of its models link back to these runs."
    )
    for seed in spec.seeds:
        run_name = f"{name}-s{seed}"
        recorder = spec.kind.recorder()  # per-example test predictions (paired tests)
        if tracking is not None:
            tags = {
                **provenance,
                "seqbench.task": spec.task_name,
                "seqbench.arch": spec.arch,
                "seqbench.seed": str(seed),
            }
            with tracking.run(
                where, run_name, params=spec.config(), tags=tags, description=description
            ) as active:
                run_ids[seed] = active.info.run_id
                if spec.input_dir.is_dir():
                    tracking.log_datasets(spec.task_name, spec.input_dir)
                result = fit_fn(
                    spec,
                    seed,
                    callbacks=[tracking.MLflowEpochLogger(), recorder],
                    evaluate_test=True,
                )
                _log_seed(tracking, spec, result, run_name, log_models)
        else:
            result = fit_fn(spec, seed, callbacks=[recorder], evaluate_test=True)
        log.info("%s: %s", run_name, json.dumps(result.test))
        outputs.append(
            {
                "seed": result.seed,
                "model": result.model,
                "recorder": recorder,
                "predictions": result.predictions,
                "metrics": seed_metrics(result),
                "timing": seed_timing(result),
                "history": result.history,
                "info": {
                    "model_spec": result.model_spec,
                    "parameters": result.parameters,
                    "test": result.test,
                    "best_val": result.best_val,
                    "best_epoch": result.best_epoch,
                },
            }
        )
    if not lead:
        return {}
    summary = write_seed_outputs(
        models_dir,
        metrics_path,
        curves_path,
        spec.config(),
        outputs,
        timing_path=timing_path or timing_file(metrics_path),
    )
    if run_ids:
        import mlflow

        for saved in load_seeds(models_dir):
            if saved.seed in run_ids:
                log_saved_seed(mlflow.MlflowClient(), run_ids[saved.seed], saved)
    return summary


def log_saved_seed(client: Any, run_id: str, saved: SeedModel) -> None:
    """What exists only once the seed's files are written: the weights' digest (the registry
    finds the training run by it) and the test predictions (the promotion's paired test)."""
    client.set_tag(run_id, TAG_WEIGHTS, saved.sha256())
    if saved.predictions.is_file():
        with tempfile.TemporaryDirectory(prefix="seqbench-predictions-") as tmp:
            copy = Path(tmp) / PREDICTIONS_ARTIFACT
            shutil.copyfile(saved.predictions, copy)
            client.log_artifact(run_id, str(copy))
