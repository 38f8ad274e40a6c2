"""Learning curves: a trained row's test metric against the share of its training split.

"Transformers require a large amount of data" is a claim about how quality falls as the training
data shrinks. Each row (task × architecture of the main comparison) is retrained with its own
tuned settings on nested shares of its training split (``train.train_share``, drawn with each
seed; validation and test never change), and the full-data point is the main comparison's run.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from seqbench.data.kinds import task_architectures, train_tasks
from seqbench.models import ARCHITECTURES
from seqbench.training.outputs import mean_std, read_metrics, read_timing
from seqbench.training.run import resolve_run
from seqbench.typed import ConfigError, build, check, section


@dataclass(frozen=True)
class LearningConfig:
    """``learning``: the rows (``tasks`` × ``architectures``, each trained by the main
    comparison) retrained on each share of ``shares`` of their training split, once per seed of
    ``seeds``. Empty ``tasks`` measures nothing. ``budget: steps`` gives every share the
    optimizer steps of the full run (``max_epochs`` / share epochs, early stopping as
    configured), so a small share is not also a short training; ``epochs`` keeps the row's
    epochs."""

    tasks: list[str] = field(default_factory=list)
    architectures: list[str] = field(default_factory=list)
    shares: list[float] = field(default_factory=lambda: [0.1, 0.25, 0.5])
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    budget: Literal["steps", "epochs"] = "steps"

    def __post_init__(self) -> None:
        check(
            bool(self.shares) and all(0.0 < s < 1.0 for s in self.shares),
            "shares",
            "a non-empty list of numbers in (0, 1) (1.0 is the main comparison's run)",
            self.shares,
        )
        check(
            self.shares == sorted(set(self.shares)),
            "shares",
            "increasing, each once",
            self.shares,
        )
        check(bool(self.seeds), "seeds", "at least one seed", self.seeds)
        unknown = [a for a in self.architectures if a not in ARCHITECTURES]
        check(not unknown, "architectures", "names from the architecture registry", unknown)

    def rows(self) -> list[tuple[str, str]]:
        return [(t, a) for t in self.tasks for a in self.architectures]


def learning_config(params: dict[str, Any]) -> LearningConfig:
    """``params["learning"]`` validated; every row must be one the main comparison trains (its
    full-data point, tuned settings and input folder are that row's)."""
    cfg = build(LearningConfig, section(params, "learning") or {}, "learning")
    trained = set(train_tasks(params))
    for task, arch in cfg.rows():
        if task not in trained or arch not in task_architectures(params, task):
            raise ConfigError(
                f"learning: {task}-{arch} is not trained by the main comparison; expected a "
                "task of train.tasks and an architecture of its train.architectures group"
            )
    return cfg


def learning_curve(
    params: dict[str, Any],
    cfg: LearningConfig,
    task: str,
    arch: str,
    full_metrics: str | Path,
    *,
    overrides: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
    track: bool = True,
    experiment: str = "claims",
    stage: str | None = None,
) -> dict[str, Any]:
    """Retrain ``task`` × ``arch`` on every share of ``cfg.shares``, each seed of ``cfg.seeds``;
    the full-data point is read from ``full_metrics`` (``metrics/<task>-<arch>.json``).
    ``data_dir`` is the row's input folder (default: the one its train stage reads).

    Returns ``{task, arch, family, metric, mode, fraction, shares: {share: {seeds, mean, std,
    train_seconds}}}`` with shares as strings (``"0.1"``, ..., ``"1"``). The retrained models
    are not kept (their MLflow runs, without the network, are).
    """
    from seqbench.training.seeds import train_all_seeds

    overrides = dict(overrides or {})
    base = resolve_run(params, task, arch, overrides, data_dir=data_dir)
    out: dict[str, Any] = {
        "budget": cfg.budget,
        "task": task,
        "arch": arch,
        "family": ARCHITECTURES[arch].family,
        "metric": base.task.primary,
        "mode": base.task.mode,
        "fraction": base.train.fraction,
        "shares": {},
    }
    for share in cfg.shares:
        settings = {**overrides, "train.train_share": share}
        if cfg.budget == "steps":
            settings["train.max_epochs"] = math.ceil(base.train.max_epochs / share - 1e-9)
        spec = resolve_run(params, task, arch, settings, data_dir=data_dir)
        spec = replace(spec, seeds=tuple(cfg.seeds))
        with tempfile.TemporaryDirectory(prefix="seqbench-learning-") as tmp:
            metrics = Path(tmp) / "metrics.json"
            written = train_all_seeds(
                spec,
                models_dir=Path(tmp) / "models",
                metrics_path=metrics,
                curves_path=Path(tmp) / "curves.csv",
                track=track,
                experiment=experiment,
                name=f"{task}-{arch}-share{share:g}",
                log_models=False,
                stage=stage,
                description="The claims lab's runs: synthetic problems at each length, and "
                "learning curves of the main comparison's rows on shares of their training data.",
            )
            timing = read_timing(metrics)
        out["shares"][f"{share:g}"] = {
            **_point(written["seeds"], timing),
            "max_epochs": spec.train.max_epochs,
        }
    full = read_metrics(full_metrics)
    out["shares"]["1"] = {
        **_point(full["seeds"], read_timing(full_metrics)),
        "max_epochs": base.train.max_epochs,
    }
    return out


def _point(seeds: dict[str, dict[str, float]], timing: dict[str, dict[str, float]]) -> dict:
    mean, std = mean_std(seeds)
    return {
        "seeds": seeds,
        "mean": mean,
        "std": std,
        "train_seconds": mean_std(timing)[0].get("train_seconds"),
    }
