"""Typed ``claims`` parameters, and one run of the lab as a :class:`RunConfig`.

Every family gets the same data, batch size and number of epochs (so the same optimizer steps)
and is sized to the same parameter count within ``tolerance``; only the learning rate differs,
chosen per family by a small study of ``lr.n_trials`` trials at one length.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from seqbench.data.kinds import dataset_config, dataset_kind
from seqbench.models import ARCHITECTURES, ModelConfig, build_model, count_parameters
from seqbench.tasks import OptimConfig, TaskConfig
from seqbench.training.run import RunConfig, StopAt, TrainConfig
from seqbench.typed import ConfigError, build, check, section

Spec = Any  # a seqbench.models spec (ForecastSpec for the adding problem, TaggingSpec for copy)


@dataclass(frozen=True)
class SolvedRule:
    """When a run counts as solving its problem: ``metric`` (a test metric) below
    ``below_trivial`` times the trivial loss, or above ``above``. ``loss`` is the test loss
    compared with the trivial predictor's to call a run failed."""

    metric: str
    below_trivial: float | None = None
    above: float | None = None
    loss: str = "test/loss"

    def __post_init__(self) -> None:
        check(self.metric.startswith("test/"), "metric", "a test metric", self.metric)
        check(
            (self.below_trivial is None) != (self.above is None),
            "below_trivial",
            "exactly one of below_trivial and above",
            self.below_trivial,
        )

    def goal(self, trivial_loss: float, margin: float) -> StopAt:
        """The rule on the validation split, ``margin`` of the way to perfect (a share of the
        loss bound, or of the gap to an accuracy of 1), so the test split passes it too."""
        metric = "val/" + self.metric.removeprefix("test/")
        if self.below_trivial is not None:
            return StopAt(metric, margin * self.below_trivial * trivial_loss, "min")
        return StopAt(metric, 1.0 - margin * (1.0 - float(self.above or 0.0)), "max")


@dataclass(frozen=True)
class LrStudy:
    """The per-family learning-rate study: ``n_trials`` seeded TPE trials at ``length``."""

    length: int
    n_trials: int = 6
    low: float = 1e-4
    high: float = 3e-2
    seed: int = 42

    def __post_init__(self) -> None:
        check(self.n_trials >= 1, "n_trials", "an integer >= 1", self.n_trials)
        check(0 < self.low < self.high, "low", f"a number in (0, high={self.high})", self.low)


@dataclass(frozen=True)
class GradientProbe:
    """Where gradient flow is measured: ``task`` at its largest length, on ``batch`` examples."""

    task: str
    batch: int = 256


@dataclass(frozen=True)
class ClaimsConfig:
    """The ``claims`` section of params.yaml (see the module docstring).

    ``failed_fraction``: a run that ends with its loss at or above this share of the trivial
    loss clearly failed; a run that neither solves nor clearly fails is ``inconclusive``, and no
    verdict rests on it. ``stop_when_solved`` ends a grid run once its validation metric is
    past the solved rule by ``stop_margin`` (0.5: half the allowed loss, half the allowed
    errors); the learning-rate study always trains its whole budget.
    ``model``/``optim``/``train`` are shared by every family.
    """

    tasks: list[str]
    families: list[str] = field(default_factory=lambda: ["rnn", "lstm", "gru", "transformer"])
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    parameters: int = 10000
    tolerance: float = 0.1
    solved: dict[str, SolvedRule] = field(default_factory=dict)
    failed_fraction: float = 0.9
    stop_when_solved: bool = True
    stop_margin: float = 0.5
    lr: LrStudy = field(default_factory=lambda: LrStudy(length=50))
    gradients: GradientProbe = field(default_factory=lambda: GradientProbe(task="adding"))
    task: dict[str, dict[str, Any]] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    optim: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    experiment: str = "claims"
    published: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check(bool(self.tasks), "tasks", "at least one synthetic dataset", self.tasks)
        check(
            set(self.solved) == set(self.tasks),
            "solved",
            f"a rule per task {self.tasks}",
            sorted(self.solved),
        )
        unknown = [f for f in self.families if f not in ARCHITECTURES]
        check(not unknown, "families", "names from the architecture registry", unknown)
        check(0 < self.stop_margin <= 1, "stop_margin", "a number in (0, 1]", self.stop_margin)
        check(len(self.seeds) >= 1, "seeds", "at least one seed", self.seeds)
        check(self.parameters >= 100, "parameters", "an integer >= 100", self.parameters)
        check(0 < self.tolerance < 1, "tolerance", "a number in (0, 1)", self.tolerance)
        check(
            0 < self.failed_fraction <= 1,
            "failed_fraction",
            "a number in (0, 1]",
            self.failed_fraction,
        )
        check(
            self.gradients.task in self.tasks,
            "gradients.task",
            f"one of {self.tasks}",
            self.gradients.task,
        )


def claims_config(params: dict[str, Any]) -> ClaimsConfig:
    """``params["claims"]`` validated, each task a dataset of a claims-lab kind."""
    cfg = build(ClaimsConfig, section(params, "claims"), "claims")
    for name in cfg.tasks:
        if dataset_kind(params, name).group != "claims":
            raise ConfigError(
                f"claims.tasks: {name} is not a generated problem (expected a dataset of kind "
                "adding_problem or copy_memory)"
            )
    probe = cfg.gradients.task
    if dataset_config(params, probe).kind != "adding_problem":
        raise ConfigError(f"claims.gradients.task: expected an adding_problem dataset, got {probe}")
    if cfg.lr.length not in set.intersection(*(set(lengths(params, t)) for t in cfg.tasks)):
        raise ConfigError(
            f"claims.lr.length: expected a T of every claims task's lengths, got {cfg.lr.length}"
        )
    return cfg


def lengths(params: dict[str, Any], task: str) -> list[int]:
    """The grid of ``T`` of one claims task (``datasets.<task>.lengths``)."""
    return list(dataset_config(params, task).lengths)


def claims_run(
    params: dict[str, Any],
    cfg: ClaimsConfig,
    task: str,
    family: str,
    length: int,
    lr: float,
    data_dir: str | Path,
    *,
    stop_when_solved: bool | None = None,
) -> RunConfig:
    """One family at one length: the shared sections, the family sized to ``cfg.parameters``;
    stopping once solved when ``stop_when_solved`` (default: ``cfg.stop_when_solved``)."""
    kind = dataset_kind(params, task)
    where = f"claims.task.{task}"
    task_cfg = build(
        TaskConfig, {"kind": kind.task, **cfg.task.get(task, {}), "length": length}, where
    )
    optim = build(OptimConfig, {**cfg.optim, "lr": lr}, "claims.optim")
    train = build(TrainConfig, {"patience": 0, **cfg.train}, "claims.train")
    dataset = dataset_config(params, task)
    if cfg.stop_when_solved if stop_when_solved is None else stop_when_solved:
        from seqbench.data.synthetic import trivial_loss

        goal = cfg.solved[task].goal(trivial_loss(dataset.problem, length), cfg.stop_margin)
        train = replace(train, stop_at=goal)
    run = RunConfig(
        task_name=task,
        arch=family,
        data_dir=Path(data_dir),
        dataset=dataset,
        task=task_cfg,
        model=ModelConfig(arch=family),
        optim=optim,
        train=train,
        seeds=tuple(cfg.seeds),
    )
    spec = model_spec(run)
    model = sized_model(family, cfg.model, spec, cfg.parameters, cfg.tolerance, length)
    return replace(run, model=model)


def model_spec(run: RunConfig) -> Spec:
    """The network spec of a claims run, from its task kind without reading its data (the
    synthetic problems' shapes are fixed)."""
    return run.kind.model_spec(run, None)


def parameters_at_width(cfg: ClaimsConfig, width: int = 64) -> dict[str, int]:
    """Each family's parameter count at one shared width on the adding problem: how heavy its
    structure is (the GRU's three gates against the LSTM's four)."""
    from seqbench.models import ForecastSpec

    spec = ForecastSpec(input_features=2, horizon=1, targets=1)
    counts = {}
    for family in cfg.families:
        raw = {**cfg.model, **ARCHITECTURES[family].fixed, "arch": family, "hidden_size": width}
        counts[family] = count_parameters(
            build_model(build(ModelConfig, raw, "claims.model"), spec)
        )
    return counts


def sized_model(
    family: str,
    shared: dict[str, Any],
    spec: Spec,
    target: int,
    tolerance: float,
    length: int,
) -> ModelConfig:
    """``family`` with the ``hidden_size`` whose parameter count is closest to ``target``.

    Transformer widths step by ``num_heads``; ``max_length`` covers the longest input (copy
    memory adds 20 steps). Raises :class:`ConfigError` when no width lands within
    ``tolerance``.
    """
    base = {**shared, **ARCHITECTURES[family].fixed}
    transformer = ARCHITECTURES[family].family == "transformer"
    if transformer:
        base["max_length"] = max(int(base.get("max_length", 512)), length + 21)
    step = int(base.get("num_heads", 4)) if transformer else 1

    @functools.cache  # the search and the final pick ask for the same widths
    def count(hidden: int) -> int:
        cfg = build(ModelConfig, {**base, "arch": family, "hidden_size": hidden}, "claims.model")
        return count_parameters(build_model(cfg, spec))

    low, high = 1, 1024 // step  # widths = k * step
    while low < high:  # the smallest width with at least `target` parameters
        mid = (low + high) // 2
        if count(mid * step) < target:
            low = mid + 1
        else:
            high = mid
    candidates = [k * step for k in (low - 1, low) if k >= 1]
    best = min(candidates, key=lambda h: abs(count(h) - target))
    got = count(best)
    if abs(got - target) > tolerance * target:
        raise ConfigError(
            f"claims.parameters: {family} cannot be sized to {target} ± {tolerance:.0%} "
            f"parameters (closest: {got} at hidden_size {best})"
        )
    return build(ModelConfig, {**base, "arch": family, "hidden_size": best}, "claims.model")
