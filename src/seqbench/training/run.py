"""Run resolution: one task × architecture's layered configuration as a typed :class:`RunConfig`.

``resolve_run`` layers ``train.defaults`` → ``models.<arch>`` → ``train.<task>`` →
``train.<task>.arch.<arch>`` → overrides (flat dotted keys such as ``optim.lr``, e.g. a tuning
stage's best params) into one validated :class:`RunConfig`. No Lightning is imported here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from seqbench.data.kinds import dataset_config, dataset_kind, input_dir
from seqbench.models import ARCHITECTURES, ModelConfig
from seqbench.tasks import OptimConfig, Task, TaskConfig, get_task
from seqbench.typed import ConfigError, build, check, deep_merge, plain, section

SECTIONS = ("task", "model", "optim", "train")
RESERVED = ("tasks", "architectures", "seeds", "defaults")


@dataclass(frozen=True)
class StopAt:
    """Stop training as soon as validation ``metric`` is past ``value`` (``mode`` ``min``: below
    it; ``max``: above it): a run that has reached its goal spends no more steps."""

    metric: str
    value: float
    mode: Literal["min", "max"] = "min"

    def __post_init__(self) -> None:
        check(self.metric.startswith("val/"), "metric", "a validation metric", self.metric)


@dataclass(frozen=True)
class TrainConfig:
    """Trainer budget, batching and device settings of a run (``train.*`` run keys).

    ``patience`` 0 disables early stopping. ``fraction`` < 1 trains, validates and tests on a
    fixed subset of each split, the same for every seed (smoke runs, tuning). ``train_share`` < 1
    then trains on that share of the training split only, drawn with the seed (learning curves;
    validation and test unchanged). ``precision``
    mixed modes apply on GPUs; CPU runs use ``32-true`` (``bf16-mixed`` is honoured).
    ``threads: auto`` uses one thread per physical core this process may run on.
    ``stop_at`` ends training once a validation metric reaches a goal (the claims lab's
    "solved"). ``strategy``, ``devices`` and ``num_nodes`` go to Lightning's Trainer:
    ``strategy: ddp`` with ``devices: 2`` trains data-parallel in two processes (gloo on the
    CPU, NCCL on GPUs); rank 0 alone tracks and writes the outputs.
    """

    max_epochs: int = 10
    patience: int = 3
    min_delta: float = 0.0
    batch_size: int = 64
    eval_batch_size: int | None = None
    fraction: float = 1.0
    train_share: float = 1.0
    bucketing: bool = True
    bucket_chunk: int = 50
    num_workers: int = 0
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    strategy: str = "auto"  # Lightning's: auto | ddp | ddp_spawn | fsdp | ...
    devices: int | Literal["auto"] = 1  # processes per node (CPU) or devices (GPUs)
    num_nodes: int = 1
    precision: Literal["32-true", "16-mixed", "bf16-mixed"] = "32-true"
    threads: int | Literal["auto"] = "auto"
    deterministic: bool = True
    max_time_s: float | None = None
    stop_at: StopAt | None = None

    def __post_init__(self) -> None:
        check(self.max_epochs >= 1, "max_epochs", "an integer >= 1", self.max_epochs)
        check(self.patience >= 0, "patience", "an integer >= 0 (0 disables)", self.patience)
        check(self.batch_size >= 1, "batch_size", "an integer >= 1", self.batch_size)
        check(0.0 < self.fraction <= 1.0, "fraction", "a number in (0, 1]", self.fraction)
        check(0.0 < self.train_share <= 1.0, "train_share", "a number in (0, 1]", self.train_share)
        check(self.bucket_chunk >= 1, "bucket_chunk", "an integer >= 1", self.bucket_chunk)
        check(
            self.devices == "auto" or self.devices >= 1,
            "devices",
            "'auto' or an integer >= 1",
            self.devices,
        )
        check(self.num_nodes >= 1, "num_nodes", "an integer >= 1", self.num_nodes)
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
class RunConfig:
    """Everything one ``train_<group>@<task>-<arch>`` run needs, validated.

    ``data_dir`` is the training input of the task's dataset kind (tokenized or processed);
    ``processed_dir`` the prepared splits (the raw reviews the bag-of-n-grams baselines read).
    """

    task_name: str
    arch: str
    data_dir: Path
    dataset: Any
    task: TaskConfig
    model: ModelConfig
    optim: OptimConfig
    train: TrainConfig
    seeds: tuple[int, ...] = (0, 1, 2)
    processed_dir: Path | None = None

    @property
    def name(self) -> str:
        return f"{self.task_name}-{self.arch}"

    @property
    def input_dir(self) -> Path:
        """The folder whose split files the run reads: the prepared splits (raw reviews) for a
        bag-of-n-grams baseline, else ``data_dir``."""
        entry = ARCHITECTURES.get(self.model.arch)
        if entry is not None and entry.estimator is not None and self.processed_dir is not None:
            return self.processed_dir
        return self.data_dir

    @property
    def kind(self) -> Task:
        """The task kind this run trains (``task.kind``)."""
        return get_task(self.task.kind)

    def config(self) -> dict[str, Any]:
        """The full run configuration as a nested plain dict (MLflow params, config json)."""
        return {
            "run": {
                "task": self.task_name,
                "arch": self.arch,
                "data_dir": str(self.data_dir),
                "seeds": list(self.seeds),
            },
            "dataset": plain(self.dataset),
            **{s: plain(getattr(self, s)) for s in SECTIONS},
        }


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


def task_kind(params: dict[str, Any], task: str) -> Task:
    """The task kind that trains on dataset ``task`` (from its dataset kind)."""
    return get_task(dataset_kind(params, task).task)


def resolve_run(
    params: dict[str, Any],
    task: str,
    arch: str,
    overrides: dict[str, Any] | None = None,
    *,
    data_dir: str | Path | None = None,
    processed_dir: str | Path | None = None,
) -> RunConfig:
    """Build the validated :class:`RunConfig` of ``task`` × ``arch`` from ``params``.

    ``overrides`` are flat dotted keys (``model.hidden_size``, ``optim.lr``,
    ``train.batch_size``, ``task.loss``) applied last; unknown keys raise :class:`ConfigError`.
    """
    if task in RESERVED:
        raise ConfigError(f"train.{task}: a reserved key, not a task")
    dataset = dataset_config(params, task)
    data_kind = dataset_kind(params, task)
    kind = data_kind.task
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
    entry = ARCHITECTURES.get(arch)
    for key, value in (entry.fixed if entry else {}).items():  # bilstm: bidirectional true
        run["model"].setdefault(key, value)
    seeds = train_section.get("seeds", [0, 1, 2])
    check(
        isinstance(seeds, list) and all(isinstance(s, int) for s in seeds) and seeds,
        "train.seeds",
        "a non-empty list of integers",
        seeds,
    )
    spec = RunConfig(
        task_name=task,
        arch=arch,
        data_dir=Path(data_dir) if data_dir else input_dir(params, task, arch),
        processed_dir=Path(processed_dir) if processed_dir else Path("data/processed") / task,
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
