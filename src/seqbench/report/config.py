"""Typed ``compare`` parameters: latency protocol, secondary metrics, published references."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqbench.typed import build, check


@dataclass(frozen=True)
class LatencyConfig:
    """CPU inference timing: per-sample median over ``repeats`` runs after ``warmup`` runs."""

    batch_sizes: tuple[int, ...] = (1, 256)
    repeats: int = 5
    warmup: int = 1
    threads: int = 1

    def __post_init__(self) -> None:
        check(
            bool(self.batch_sizes) and all(b >= 1 for b in self.batch_sizes),
            "batch_sizes",
            "a non-empty list of integers >= 1",
            self.batch_sizes,
        )
        check(self.repeats >= 1, "repeats", "an integer >= 1", self.repeats)
        check(self.warmup >= 0, "warmup", "an integer >= 0", self.warmup)
        check(self.threads >= 1, "threads", "an integer >= 1", self.threads)


@dataclass(frozen=True)
class Reference:
    """A published result shown beside ours; ``metrics`` use our names (``test/mae``) and units."""

    model: str
    source: str
    metrics: dict[str, float]
    setting: str = ""


@dataclass(frozen=True)
class CompareConfig:
    """The ``compare`` section of params.yaml."""

    latency: LatencyConfig = field(default_factory=LatencyConfig)
    alpha: float = 0.05
    exact_below: int = 25
    secondary: dict[str, list[str]] = field(default_factory=dict)
    references: dict[str, list[Reference]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check(0.0 < self.alpha < 1.0, "alpha", "a number in (0, 1)", self.alpha)
        check(self.exact_below >= 1, "exact_below", "an integer >= 1", self.exact_below)


def compare_config(params: dict[str, Any]) -> CompareConfig:
    """``params["compare"]`` as a validated :class:`CompareConfig` (defaults when absent)."""
    return build(CompareConfig, params.get("compare") or {}, "compare")
