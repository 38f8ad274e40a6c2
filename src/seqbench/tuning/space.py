"""Search spaces (``tune.space.<arch>`` in params.yaml) translated into ``trial.suggest_*``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import optuna

from seqbench.typed import ConfigError, build, check

Choice = None | bool | int | float | str


@dataclass(frozen=True)
class SearchParam:
    """One hyper-parameter's range: ``int`` / ``float`` (optionally ``log`` or ``step``) or
    ``categorical`` ``choices``. Its key in the space is the flat dotted override it sets."""

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    def __post_init__(self) -> None:
        if self.type == "categorical":
            check(
                bool(self.choices), "choices", "a non-empty list for type categorical", self.choices
            )
            for i, c in enumerate(self.choices or ()):
                check(
                    c is None or isinstance(c, bool | int | float | str),
                    f"choices[{i}]",
                    "a number, string, boolean or null",
                    c,
                )
            check(
                self.low is None and self.high is None and self.step is None and not self.log,
                "type",
                "no low/high/step/log with categorical",
                self.type,
            )
            return
        check(self.choices is None, "choices", f"no choices with type {self.type}", self.choices)
        check(self.low is not None, "low", f"a number for type {self.type}", self.low)
        check(self.high is not None, "high", f"a number for type {self.type}", self.high)
        assert self.low is not None and self.high is not None
        if self.type == "int":
            for name in ("low", "high", "step"):
                value = getattr(self, name)
                check(
                    value is None or float(value).is_integer(),
                    name,
                    "an integer for type int",
                    value,
                )
        check(self.low <= self.high, "low", f"a number <= high ({self.high})", self.low)
        check(not self.log or self.low > 0, "low", "a number > 0 with log: true", self.low)
        check(self.step is None or self.step > 0, "step", "a number > 0", self.step)
        check(not (self.log and self.step is not None), "step", "no step with log: true", self.step)


def parse_space(raw: dict[str, Any] | None, where: str) -> dict[str, SearchParam]:
    """Build and validate a search space (``{dotted_key: spec}``); ``where`` prefixes errors.
    ``{}`` says there is nothing to tune (the naive forecaster): the study is skipped."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{where}: expected a mapping of parameter ranges ({{}}: none), got {raw!r}"
        )
    space = {}
    for key, spec in raw.items():
        if not isinstance(key, str) or "." not in key:
            raise ConfigError(f"{where}.{key}: expected a dotted override key such as optim.lr")
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}.{key}: expected a mapping with a type, got {spec!r}")
        space[key] = build(SearchParam, spec, f"{where}.{key}")
    return space


def suggest(trial: optuna.Trial, space: dict[str, SearchParam]) -> dict[str, Any]:
    """Ask ``trial`` for one value per parameter; return them as ``{dotted_key: value}``."""
    values: dict[str, Any] = {}
    for key, p in space.items():
        if p.type == "categorical":
            values[key] = trial.suggest_categorical(key, list(p.choices or ()))
        elif p.type == "int":
            values[key] = trial.suggest_int(
                key,
                int(p.low),
                int(p.high),  # type: ignore[arg-type]
                step=int(p.step or 1),
                log=p.log,
            )
        else:
            values[key] = trial.suggest_float(
                key,
                float(p.low),
                float(p.high),  # type: ignore[arg-type]
                step=p.step,
                log=p.log,
            )
    return values
