"""MLflow for a study: a parent run, a nested run per trial, plots and the best result."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from seqbench.tuning.objective import Outcome

log = logging.getLogger(__name__)

PARENT_ATTR = "seqbench.mlflow_parent_run"  # study user attr: the parent run, reused on resume


DESCRIPTION = (
    "Optuna studies on the validation split: one parent run per task and architecture "
    "(<task>-<arch>-study) with the best params and Optuna's plots, and a nested run per trial "
    "(<task>-<arch>-trial-<n>)."
)


def _experiment_id(name: str) -> str:
    import mlflow

    try:
        from seqbench.tracking import get_or_create_experiment
    except ImportError:
        found = mlflow.get_experiment_by_name(name)
        return found.experiment_id if found else mlflow.create_experiment(name)
    return get_or_create_experiment(name, DESCRIPTION)


def _configure(uri: str | None) -> str:
    import mlflow

    try:
        from seqbench.tracking import configure
    except ImportError:
        if uri:
            mlflow.set_tracking_uri(uri)
        return mlflow.get_tracking_uri()
    return configure(uri)


@dataclass(frozen=True)
class StudyTracker:
    """Picklable handle (strings only) that spawned workers use to log their trials."""

    tracking_uri: str
    experiment: str
    parent_run_id: str

    @classmethod
    def start(
        cls,
        study: optuna.Study,
        experiment: str,
        tracking_uri: str | None,
        params: dict[str, Any],
        tags: dict[str, str],
    ) -> StudyTracker:
        """Open (or, on resume, re-open) the study's parent run."""
        import mlflow
        from mlflow.tracking import MlflowClient

        from seqbench.tracking import close_orphaned_runs

        uri = _configure(tracking_uri)
        client = MlflowClient(uri)
        exp_id = _experiment_id(experiment)
        close_orphaned_runs(experiment)  # trial runs of killed workers (their pid is gone)
        run_id = study.user_attrs.get(PARENT_ATTR)
        if run_id is not None:
            with contextlib.suppress(mlflow.exceptions.MlflowException):
                if client.get_run(run_id).info.experiment_id == exp_id:
                    client.update_run(run_id, status="RUNNING")
                    for key, value in _owner().items():
                        client.set_tag(run_id, key, value)
                    return cls(uri, experiment, run_id)
        run = client.create_run(
            exp_id,
            run_name=f"{study.study_name}-study",  # not the training runs' <task>-<arch>-s<k>
            tags={**tags, **_owner(), "optuna.study": study.study_name},
        )
        for key, value in params.items():
            client.log_param(run.info.run_id, key, value)
        study.set_user_attr(PARENT_ATTR, run.info.run_id)
        return cls(uri, experiment, run.info.run_id)

    @contextlib.contextmanager
    def trial_run(self, trial: optuna.Trial) -> Iterator[str]:
        """An active nested run for ``trial`` (Lightning loggers inside the objective log to it)."""
        import mlflow
        from mlflow.tracking import MlflowClient

        mlflow.set_tracking_uri(self.tracking_uri)
        client = MlflowClient(self.tracking_uri)
        exp_id = client.get_experiment_by_name(self.experiment).experiment_id
        run = client.create_run(
            exp_id,
            run_name=f"{trial.study.study_name}-trial-{trial.number}",
            tags={
                "mlflow.parentRunId": self.parent_run_id,
                "optuna.trial": str(trial.number),
                "optuna.study": trial.study.study_name,
                **_owner(),  # so that a later start closes it if this worker is killed
            },
        )
        status = "FAILED"
        try:
            with mlflow.start_run(run_id=run.info.run_id):
                yield run.info.run_id
                status = "FINISHED"
        finally:
            client.set_terminated(run.info.run_id, status=status)

    def log_trial(
        self,
        run_id: str,
        trial: optuna.trial.FrozenTrial,
        outcome: Outcome,
        metric: str,
        seconds: float,
    ) -> None:
        """Params, per-epoch metric (unless the objective logged it), state, reason, duration."""
        from mlflow.tracking import MlflowClient

        client = MlflowClient(self.tracking_uri)
        for key, value in trial.params.items():
            client.log_param(run_id, key, value)
        if not client.get_metric_history(run_id, metric):
            for step, value in sorted(trial.intermediate_values.items()):
                if math.isfinite(value):
                    client.log_metric(run_id, metric, value, step=step)
        if outcome.value is not None:
            client.log_metric(run_id, f"trial/{metric}", outcome.value)
        client.log_metric(run_id, "trial/duration_s", seconds)
        client.set_tag(run_id, "optuna.state", outcome.state.name.lower())
        if outcome.reason:
            client.set_tag(run_id, "optuna.reason", outcome.reason[:5000])

    def finish(self, study: optuna.Study, summary: dict[str, Any], status: str) -> None:
        """Best params/value, counts per state and Optuna's plots on the parent run."""
        from mlflow.tracking import MlflowClient

        client = MlflowClient(self.tracking_uri)
        rid = self.parent_run_id
        for key, value in summary["best_params"].items():
            client.log_param(rid, f"best.{key}", value)
        if summary["best_value"] is not None:
            client.log_metric(rid, f"best/{summary['metric']}", summary["best_value"])
        for state, n in summary["trials"].items():
            client.log_metric(rid, f"trials/{state}", n)
        client.log_metric(rid, "wall_clock_s", summary["wall_clock_s"])
        with tempfile.TemporaryDirectory() as tmp:
            for name in save_plots(study, Path(tmp)):
                client.log_artifact(rid, str(Path(tmp) / name), artifact_path="optuna")
            (Path(tmp) / "summary.json").write_text(_json(summary))
            client.log_artifact(rid, str(Path(tmp) / "summary.json"), artifact_path="optuna")
        client.set_terminated(rid, status=status)


def _owner() -> dict[str, str]:
    """The host and pid tags :func:`seqbench.tracking.close_orphaned_runs` matches on."""
    from seqbench.tracking.runs import TAG_HOST, TAG_PID

    return {TAG_HOST: socket.gethostname(), TAG_PID: str(os.getpid())}


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj, indent=2) + "\n"


def save_plots(study: optuna.Study, out_dir: Path) -> list[str]:
    """Optimization history (≥1 complete trial) and parameter importance (≥2 complete trials,
    and some spread in values) as PNG files; returns the names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    plots = {"optimization_history.png": ovm.plot_optimization_history}
    if len(complete) >= 2:
        plots["param_importances.png"] = ovm.plot_param_importances
    written = []
    for name, plot in plots.items() if complete else ():
        try:
            ax = plot(study)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            log.warning("skipping %s: %s", name, exc)
            continue
        fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
        fig.savefig(out_dir / name, dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append(name)
    return written
