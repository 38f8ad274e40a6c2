"""The main comparison's rows retrained along one axis, the other settings their own.

- **Learning curves** ("Transformers require a large amount of data"): each row (task ×
  architecture) retrained with its tuned settings on nested shares of its training split
  (``train.train_share``, drawn with each seed; validation and test never change).
- **Short against long sequences** ("RNNs suit tasks with short sequences"): each text row
  retrained on its tokenized reviews cut to shorter ``max_length`` (the tokenizer's own
  truncation rule; :func:`seqbench.data.tokenize.shorten_encoded`).

The last point of either curve (all the data, the tokenized length) is the main comparison's run.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from seqbench.data.kinds import input_folder, task_architectures, train_tasks
from seqbench.models import ARCHITECTURES
from seqbench.training.outputs import mean_std, read_metrics, read_timing
from seqbench.training.run import RunConfig, resolve_run
from seqbench.typed import ConfigError, build, check, section

DESCRIPTION = (
    "The claims lab's runs: synthetic problems at each length, and the main comparison's rows "
    "retrained on shares of their training data or on shorter reviews."
)


@dataclass(frozen=True)
class RowsConfig:
    """Rows of the main comparison (``tasks`` × ``architectures``) retrained once per seed of
    ``seeds`` at each point of a curve; empty ``tasks`` measures nothing."""

    tasks: list[str] = field(default_factory=list)
    architectures: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0, 1])

    def __post_init__(self) -> None:
        check(bool(self.seeds), "seeds", "at least one seed", self.seeds)
        unknown = [a for a in self.architectures if a not in ARCHITECTURES]
        check(not unknown, "architectures", "names from the architecture registry", unknown)

    def rows(self) -> list[tuple[str, str]]:
        return [(t, a) for t in self.tasks for a in self.architectures]


@dataclass(frozen=True)
class LearningConfig(RowsConfig):
    """``learning``: each row retrained on each share of ``shares`` of its training split.
    ``budget: steps`` gives every share the optimizer steps of the full run (``max_epochs`` /
    share epochs, early stopping as configured), so a small share is not also a short training;
    ``epochs`` keeps the row's epochs."""

    shares: list[float] = field(default_factory=lambda: [0.1, 0.25, 0.5])
    budget: Literal["steps", "epochs"] = "steps"

    def __post_init__(self) -> None:
        super().__post_init__()
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


@dataclass(frozen=True)
class LengthsConfig(RowsConfig):
    """``text_lengths``: each text row retrained on its reviews cut to each of ``max_lengths``
    tokens (shorter than the tokenized length, which is the main run's point)."""

    max_lengths: list[int] = field(default_factory=lambda: [64, 128])

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            bool(self.max_lengths) and self.max_lengths == sorted(set(self.max_lengths)),
            "max_lengths",
            "a non-empty increasing list of token counts, each once",
            self.max_lengths,
        )
        check(min(self.max_lengths) >= 8, "max_lengths", "token counts >= 8", self.max_lengths)


def _rows_config(params: dict[str, Any], key: str, cls: type) -> Any:
    """``params[key]`` as ``cls``; every row must be one the main comparison trains (its last
    point, tuned settings and input folder are that row's)."""
    cfg = build(cls, section(params, key) or {}, key)
    trained = set(train_tasks(params))
    for task, arch in cfg.rows():
        if task not in trained or arch not in task_architectures(params, task):
            raise ConfigError(
                f"{key}: {task}-{arch} is not trained by the main comparison; expected a "
                "task of train.tasks and an architecture of its train.architectures group"
            )
    return cfg


def learning_config(params: dict[str, Any]) -> LearningConfig:
    """``params["learning"]`` validated (see :func:`_rows_config`)."""
    return _rows_config(params, "learning", LearningConfig)


def lengths_config(params: dict[str, Any]) -> LengthsConfig:
    """``params["text_lengths"]`` validated: rows of the main comparison whose network reads
    ``data/tokenized/<task>`` (not a bag-of-n-grams baseline, not a pre-trained encoder's ids)."""
    cfg = _rows_config(params, "text_lengths", LengthsConfig)
    for task, arch in cfg.rows():
        reads = input_folder(params, task, arch)
        baseline = ARCHITECTURES[arch].family == "baseline"
        if reads != ("tokenized", task) or baseline:
            raise ConfigError(
                f"text_lengths: {task}-{arch}: expected a network of the text group (reading "
                f"data/tokenized/{task}), got a row reading data/{'/'.join(reads)}"
                + (" (a baseline reads the raw reviews)" if baseline else "")
            )
    return cfg


def _header(base: RunConfig, task: str, arch: str) -> dict[str, Any]:
    return {
        "task": task,
        "arch": arch,
        "family": ARCHITECTURES[arch].family,
        "metric": base.task.primary,
        "mode": base.task.mode,
        "fraction": base.train.fraction,
    }


def _retrain(spec: RunConfig, name: str, *, track: bool, experiment: str, stage: str | None):
    """Train every seed of ``spec`` in a scratch folder; return its point of the curve (the
    models are not kept; their MLflow runs, without the network, are)."""
    from seqbench.training.seeds import train_all_seeds

    with tempfile.TemporaryDirectory(prefix="seqbench-curve-") as tmp:
        metrics = Path(tmp) / "metrics.json"
        written = train_all_seeds(
            spec,
            models_dir=Path(tmp) / "models",
            metrics_path=metrics,
            curves_path=Path(tmp) / "curves.csv",
            track=track,
            experiment=experiment,
            name=name,
            log_models=False,
            stage=stage,
            description=DESCRIPTION,
        )
        timing = read_timing(metrics)
    return {**_point(written["seeds"], timing), "max_epochs": spec.train.max_epochs}


def _main_point(full_metrics: str | Path, base: RunConfig) -> dict[str, Any]:
    full = read_metrics(full_metrics)
    return {**_point(full["seeds"], read_timing(full_metrics)), "max_epochs": base.train.max_epochs}


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
    overrides = dict(overrides or {})
    base = resolve_run(params, task, arch, overrides, data_dir=data_dir)
    out: dict[str, Any] = {"budget": cfg.budget, **_header(base, task, arch), "shares": {}}
    for share in cfg.shares:
        settings = {**overrides, "train.train_share": share}
        if cfg.budget == "steps":
            settings["train.max_epochs"] = math.ceil(base.train.max_epochs / share - 1e-9)
        spec = resolve_run(params, task, arch, settings, data_dir=data_dir)
        spec = replace(spec, seeds=tuple(cfg.seeds))
        name = f"{task}-{arch}-share{share:g}"
        out["shares"][f"{share:g}"] = _retrain(
            spec, name, track=track, experiment=experiment, stage=stage
        )
    out["shares"]["1"] = _main_point(full_metrics, base)
    return out


def length_curve(
    params: dict[str, Any],
    cfg: LengthsConfig,
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
    """Retrain ``task`` × ``arch`` on its reviews cut to each of ``cfg.max_lengths`` tokens,
    each seed of ``cfg.seeds``, with the row's epochs and settings; the point at the tokenized
    length is read from ``full_metrics``. ``data_dir``: the row's tokenized folder (default: the
    one its train stage reads).

    Returns ``{task, arch, family, metric, mode, fraction, max_lengths: {length: {seeds, mean,
    std, train_seconds, max_epochs}}}`` with lengths as strings, the tokenized length last.
    """
    import json

    from seqbench.data.tokenize import META_FILE, shorten_encoded

    overrides = dict(overrides or {})
    base = resolve_run(params, task, arch, overrides, data_dir=data_dir)
    longest = int(json.loads((base.data_dir / META_FILE).read_text())["max_length"])
    if max(cfg.max_lengths) >= longest:
        raise ConfigError(
            f"text_lengths.max_lengths: expected lengths below {longest}, the max_length of "
            f"{base.data_dir} (the main run's point), got {cfg.max_lengths}"
        )
    out: dict[str, Any] = {**_header(base, task, arch), "max_lengths": {}}
    for length in cfg.max_lengths:
        with tempfile.TemporaryDirectory(prefix="seqbench-cut-") as tmp:
            cut = Path(tmp) / base.data_dir.name
            shorten_encoded(base.data_dir, cut, length)
            spec = resolve_run(params, task, arch, overrides, data_dir=cut)
            spec = replace(spec, seeds=tuple(cfg.seeds))
            name = f"{task}-{arch}-len{length}"
            out["max_lengths"][str(length)] = _retrain(
                spec, name, track=track, experiment=experiment, stage=stage
            )
    out["max_lengths"][str(longest)] = _main_point(full_metrics, base)
    return out


def _point(seeds: dict[str, dict[str, float]], timing: dict[str, dict[str, float]]) -> dict:
    mean, std = mean_std(seeds)
    return {
        "seeds": seeds,
        "mean": mean,
        "std": std,
        "train_seconds": mean_std(timing)[0].get("train_seconds"),
    }
