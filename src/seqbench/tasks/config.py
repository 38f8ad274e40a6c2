"""Typed configs of what a task optimizes and reports (``task.*`` and ``optim.*`` run keys)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqbench.tasks.registry import TASKS
from seqbench.typed import check


@dataclass(frozen=True)
class TaskConfig:
    """Loss, the validation metric that drives early stopping/checkpointing, and reporting.

    ``report_scaled`` adds ``mse_scaled``/``mae_scaled`` on standardized values (the published
    ETTh1 protocol) beside the metrics in original units. ``labels`` names the classes by label
    id: the words a text-to-text model writes, and the labels a registered model returns.
    ``length`` is the ``T`` of a claims-lab synthetic problem (which of its prepared lengths).
    """

    kind: str  # a task kind in seqbench.tasks.TASKS (set from the dataset kind)
    loss: str = "cross_entropy"  # one of the task kind's losses
    monitor: str = "val/loss"
    mode: Literal["min", "max"] = "min"
    primary: str = "test/loss"
    num_classes: int = 2
    report_scaled: bool = False
    labels: list[str] | None = None
    length: int | None = None

    def __post_init__(self) -> None:
        check(self.kind in TASKS, "kind", f"one of {', '.join(sorted(TASKS))}", self.kind)
        problem = TASKS[self.kind].check(self)
        if problem is not None:
            key, expected = problem
            check(False, key, expected, getattr(self, key))
        check(
            self.monitor.startswith("val/"),
            "monitor",
            "a validation metric 'val/<name>'",
            self.monitor,
        )
        check(
            self.primary.startswith("test/"), "primary", "a test metric 'test/<name>'", self.primary
        )
        check(self.num_classes >= 2, "num_classes", "an integer >= 2", self.num_classes)
        check(
            self.labels is None
            or (len(self.labels) == self.num_classes and len(set(self.labels)) == len(self.labels)),
            "labels",
            f"{self.num_classes} distinct class names (num_classes) or null",
            self.labels,
        )


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer, learning-rate schedule and gradient clipping.

    ``scheduler``: ``none``; ``cosine`` (per epoch down to ``lr * min_lr_ratio``); ``plateau``
    (multiply by ``plateau_factor`` after ``plateau_patience`` epochs without improvement of the
    monitored metric); ``onecycle`` (per step, peak ``lr``, warm-up share ``pct_start``).
    ``clip_norm`` 0 disables clipping.
    """

    name: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: Literal["none", "cosine", "plateau", "onecycle"] = "none"
    min_lr_ratio: float = 0.0
    plateau_factor: float = 0.5
    plateau_patience: int = 1
    pct_start: float = 0.3
    clip_norm: float = 1.0

    def __post_init__(self) -> None:
        check(self.lr > 0, "lr", "a number > 0", self.lr)
        check(self.weight_decay >= 0, "weight_decay", "a number >= 0", self.weight_decay)
        check(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", "a number in [0, 1]", self.min_lr_ratio)
        check(
            0 < self.plateau_factor < 1, "plateau_factor", "a number in (0, 1)", self.plateau_factor
        )
        check(0 < self.pct_start < 1, "pct_start", "a number in (0, 1)", self.pct_start)
        check(self.clip_norm >= 0, "clip_norm", "a number >= 0 (0 disables)", self.clip_norm)
