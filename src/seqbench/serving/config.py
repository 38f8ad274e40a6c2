"""Typed ``register`` parameters: registered model names, serving examples."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqbench.typed import build, check


@dataclass(frozen=True)
class RegisterConfig:
    """The ``register`` section of params.yaml.

    Each task's models are versions of ``<prefix><task>``; the logging runs go to MLflow
    experiment ``experiment``; a text model's class names are its task's ``labels``.
    ``text_examples`` is the input example stored with text models. ``alias`` is the name
    ``seqbench promote`` moves; ``history_limit`` caps the entries of the champion history tag.
    """

    prefix: str = "seqbench-"
    experiment: str = "registry"
    alias: str = "champion"
    text_examples: list[str] = field(default_factory=lambda: ["A wonderful, moving film."])
    history_limit: int = 100

    def __post_init__(self) -> None:
        check(bool(self.prefix), "prefix", "a non-empty string", self.prefix)
        check(bool(self.alias), "alias", "a non-empty string", self.alias)
        check(bool(self.text_examples), "text_examples", "a non-empty list", self.text_examples)
        check(self.history_limit >= 1, "history_limit", "an integer >= 1", self.history_limit)

    def model_name(self, task: str) -> str:
        return f"{self.prefix}{task}"


def register_config(params: dict[str, Any]) -> RegisterConfig:
    """``params["register"]`` as a validated :class:`RegisterConfig` (defaults when absent)."""
    return build(RegisterConfig, params.get("register") or {}, "register")
