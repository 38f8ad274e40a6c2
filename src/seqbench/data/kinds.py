"""The one table of dataset kinds: a kind names a file format, not a dataset.

A row says how a ``datasets.<name>`` section of that kind is typed (its config class), which
function prepares its splits, which expectation suite gates them, which task kind
(:data:`seqbench.tasks.TASKS`) trains on it, and which folder the train/tune stages read:
``tokenized`` (``data/tokenized/<name>``, written by the tokenize stage) or ``processed``
(``data/processed/<name>``). ``dvc.yaml`` runs each group as its own matrices
(``train.tasks.<group>`` × ``train.architectures.<group>``), so re-tokenizing a text dataset never
re-runs the series stages, and each group trains the architectures that suit it. The
``pretrained`` group trains text tasks again on ``data/tokenized/<name>-pretrained``, the ids of a
pre-trained encoder's own tokenizer (the tokenize_pretrained stage). Adding a kind = its config
class, a prepare function, a suite, one row here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from seqbench.data.config import CsvSeriesConfig, SyntheticConfig, TextArchiveConfig
from seqbench.typed import ConfigError, build, section

Group = Literal["text", "series", "pretrained", "claims"]
# The train/tune matrices of dvc.yaml; the claims lab has its own stages.
GROUPS: tuple[Group, ...] = ("text", "series", "pretrained")
# The group that reads a text task tokenized for a pre-trained encoder, and that folder's suffix.
PRETRAINED: Group = "pretrained"
PRETRAINED_SUFFIX = "-pretrained"


@dataclass(frozen=True)
class DatasetKind:
    """One dataset kind (see the module docstring); ``prepare``/``suite`` are ``module:function``
    paths, imported only when a stage needs them."""

    config: type
    prepare: str  # prepare(cfg, raw_dir, out_dir) -> row counts per split
    suite: str  # suite(cfg) -> checks; the module may define add_facts(cfg, frames)
    task: str  # task kind in seqbench.tasks.TASKS
    group: Group  # the train/tune matrix of dvc.yaml (train.tasks.<group>), or the claims lab
    input: Literal["tokenized", "processed"]  # the folder under data/ training reads

    def prepare_fn(self) -> Callable[..., dict[str, int]]:
        return _resolve(self.prepare)

    def suite_module(self) -> Any:
        return importlib.import_module(self.suite.partition(":")[0])


def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


DATASET_KINDS: dict[str, DatasetKind] = {
    "text_archive": DatasetKind(
        TextArchiveConfig,
        prepare="seqbench.data.text_archive:prepare",
        suite="seqbench.validation.text_archive:suite",
        task="classification",
        group="text",
        input="tokenized",
    ),
    "csv_series": DatasetKind(
        CsvSeriesConfig,
        prepare="seqbench.data.timeseries:prepare",
        suite="seqbench.validation.csv_series:suite",
        task="forecasting",
        group="series",
        input="processed",
    ),
    # The claims lab's generated problems (claims.tasks), trained by the claims stages.
    "adding_problem": DatasetKind(
        SyntheticConfig,
        prepare="seqbench.data.synthetic:prepare",
        suite="seqbench.validation.synthetic:suite",
        task="adding",
        group="claims",
        input="processed",
    ),
    "copy_memory": DatasetKind(
        SyntheticConfig,
        prepare="seqbench.data.synthetic:prepare",
        suite="seqbench.validation.synthetic:suite",
        task="copy",
        group="claims",
        input="processed",
    ),
}


def dataset_kind(params: dict[str, Any], name: str) -> DatasetKind:
    """The :class:`DatasetKind` row of ``datasets.<name>`` (by its ``kind`` key)."""
    raw = section(params, f"datasets.{name}")
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if kind not in DATASET_KINDS:
        raise ConfigError(
            f"datasets.{name}.kind: expected one of {', '.join(sorted(DATASET_KINDS))}, "
            f"got {kind!r}"
        )
    return DATASET_KINDS[kind]


def dataset_config(params: dict[str, Any], name: str) -> Any:
    """The typed config of ``datasets.<name>``, its class chosen by its ``kind`` key."""
    kind = dataset_kind(params, name)
    return build(kind.config, section(params, f"datasets.{name}"), f"datasets.{name}")


def _names(params: dict[str, Any], key: str, group: str) -> list[str]:
    """``train.<key>.<group>``: a list of names (absent or null: none)."""
    names = (section(params, f"train.{key}") or {}).get(group) or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        what = "task" if key == "tasks" else "architecture"
        raise ConfigError(f"train.{key}.{group}: expected a list of {what} names, got {names!r}")
    return list(names)


def _accepts(group: str, kind: DatasetKind) -> bool:
    """Whether ``train.tasks.<group>`` may list a dataset of ``kind`` (the pre-trained group
    re-tokenizes text datasets)."""
    return kind.group == group or (group == PRETRAINED and kind.group == "text")


def train_tasks(params: dict[str, Any]) -> list[str]:
    """Every task of ``train.tasks`` (``{text: [...], series: [...], pretrained: [...]}``), in
    that group order, each once; each must suit its group, so that dvc.yaml's matrices read the
    right folder."""
    groups = section(params, "train.tasks")
    if not isinstance(groups, dict) or not set(groups) <= set(GROUPS):
        raise ConfigError(
            f"train.tasks: expected a mapping with keys among {', '.join(GROUPS)} "
            f"(the dvc.yaml matrix of each), got {groups!r}"
        )
    out: list[str] = []
    for group in GROUPS:
        for name in _names(params, "tasks", group):
            kind = dataset_kind(params, name)
            if not _accepts(group, kind):
                raise ConfigError(
                    f"train.tasks.{group}: {name} is a {section(params, f'datasets.{name}.kind')} "
                    f"dataset; expected it under train.tasks.{kind.group}"
                )
            if name not in out:
                out.append(name)
    return out


def task_groups(params: dict[str, Any], task: str) -> list[str]:
    """The groups whose ``train.tasks`` list ``task`` (its dataset kind's group when none does:
    a task trained by hand)."""
    tasks = section(params, "train.tasks")
    listed = [g for g in GROUPS if isinstance(tasks, dict) and task in (tasks.get(g) or [])]
    return listed or [dataset_kind(params, task).group]


def task_architectures(params: dict[str, Any], task: str) -> list[str]:
    """The architectures trained on ``task``: ``train.architectures.<group>`` of each group that
    lists it (see :func:`task_groups`). An architecture in two groups of one task would write
    the same ``models/<task>-<arch>`` twice, so that is refused."""
    archs = section(params, "train.architectures")
    out: list[str] = []
    for group in task_groups(params, task):
        if not isinstance(archs, dict) or not isinstance(archs.get(group), list):
            raise ConfigError(
                f"train.architectures.{group}: expected a list of architecture names for the "
                f"{group} tasks, got {archs!r}"
            )
        for arch in _names(params, "architectures", group):
            if arch in out:
                raise ConfigError(
                    f"train.architectures.{group}: {arch} also trains on {task} in another "
                    f"group; expected each architecture once per task (one models/{task}-{arch})"
                )
            out.append(arch)
    return out


def input_folder(params: dict[str, Any], task: str, arch: str) -> tuple[str, str]:
    """``(folder, name)``: ``task`` × ``arch`` trains on ``data/<folder>/<name>``, which is
    ``data/<input>/<task>``, or ``data/tokenized/<task>-pretrained`` when ``arch`` trains in the
    pre-trained group."""
    if PRETRAINED in task_groups(params, task) and arch in _names(
        params, "architectures", PRETRAINED
    ):
        return "tokenized", f"{task}{PRETRAINED_SUFFIX}"
    return dataset_kind(params, task).input, task


def input_dir(params: dict[str, Any], task: str, arch: str, root: str | Path = "data") -> Path:
    """The folder ``task`` × ``arch`` trains on, under ``root`` (see :func:`input_folder`)."""
    folder, name = input_folder(params, task, arch)
    return Path(root) / folder / name
