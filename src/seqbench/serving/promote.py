"""Champion promotion: move the alias to the best version, only when it beats the champion.

A person runs this (``seqbench promote``), not the pipeline. Every move is appended to the
registered model's ``champion_history`` tag (JSON list); versions and aliases are never deleted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from seqbench.serving.register import METRIC_TAG, TAG_ARCH, RegistryError

HISTORY_TAG = "champion_history"


@dataclass(frozen=True)
class Candidate:
    version: str
    arch: str
    value: float


@dataclass(frozen=True)
class Decision:
    """What ``promote`` decided (and, unless a dry run, did)."""

    name: str
    alias: str
    metric: str
    mode: Literal["min", "max"]
    action: Literal["promote", "keep", "refuse"]
    reason: str
    challenger: Candidate | None
    champion: Candidate | None  # the alias holder before the decision
    forced: bool = False
    dry_run: bool = False

    @property
    def applied(self) -> bool:
        return self.action == "promote" and not self.dry_run

    def message(self) -> str:
        c, p = self.challenger, self.champion
        who = f"version {c.version} ({c.arch}, {self.metric}={c.value:.6g})" if c else "none"
        was = f"version {p.version} ({p.arch}, {self.metric}={p.value:.6g})" if p else "none"
        verb = {"promote": "promote", "keep": "keep", "refuse": "refuse"}[self.action]
        prefix = "[dry run] would " if self.dry_run and self.action == "promote" else ""
        return (
            f"{self.name}@{self.alias}: {prefix}{verb} — challenger {who}; champion {was}; "
            f"{self.reason}"
        )


def version_metric(mv: Any, metric: str) -> float | None:
    raw = mv.tags.get(f"{METRIC_TAG}{metric}")
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def candidates(client: Any, name: str, metric: str) -> list[Candidate]:
    """Every version of ``name`` carrying a finite ``metric`` tag."""
    out = []
    for mv in client.search_model_versions(f"name = '{name}'"):
        value = version_metric(mv, metric)
        if value is not None:
            out.append(Candidate(str(mv.version), mv.tags.get(TAG_ARCH, "?"), value))
    return out


def current_champion(client: Any, name: str, alias: str, metric: str) -> Candidate | None:
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    value = version_metric(mv, metric)
    return Candidate(
        str(mv.version), mv.tags.get(TAG_ARCH, "?"), math.nan if value is None else value
    )


def better(a: float, b: float, mode: str) -> bool:
    """Is ``a`` strictly better than ``b``? A NaN ``b`` (no metric) is beaten by any number."""
    if math.isnan(b):
        return True
    return a > b if mode == "max" else a < b


def decide(
    client: Any,
    name: str,
    metric: str,
    mode: Literal["min", "max"],
    *,
    alias: str = "champion",
    version: str | None = None,
    force: bool = False,
) -> Decision:
    """Choose the challenger (``version`` or the best by ``metric``) and compare it with the
    alias holder; promotion needs a strictly better value unless ``force``."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        raise RegistryError(f"{name}: no such registered model; run the register stage") from None
    pool = candidates(client, name, metric)
    if version is not None:
        pool = [c for c in pool if c.version == str(version)]
        if not pool:
            raise RegistryError(f"{name} version {version}: missing or has no {metric} tag")
    if not pool:
        raise RegistryError(f"{name}: no version has a {metric} tag to rank by")
    sign = -1.0 if mode == "max" else 1.0
    challenger = min(pool, key=lambda c: (sign * c.value, int(c.version)))
    champion = current_champion(client, name, alias, metric)
    args = dict(
        name=name, alias=alias, metric=metric, mode=mode, challenger=challenger, champion=champion
    )
    if champion is None:
        return Decision(action="promote", reason="no current champion", **args)
    if champion.version == challenger.version:
        return Decision(action="keep", reason="the challenger already is the champion", **args)
    if better(challenger.value, champion.value, mode):
        return Decision(action="promote", reason=f"better {metric} ({mode})", **args)
    if force:
        return Decision(
            action="promote", reason="not better, promoted with --force", forced=True, **args
        )
    return Decision(
        action="refuse",
        reason=f"does not beat the champion on {metric} ({mode}); use --force to override",
        **args,
    )


def promote(
    client: Any,
    name: str,
    metric: str,
    mode: Literal["min", "max"],
    *,
    alias: str = "champion",
    version: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    history_limit: int = 100,
) -> Decision:
    """Decide, then (unless ``dry_run``) move ``alias`` and append to ``champion_history``."""
    decision = decide(client, name, metric, mode, alias=alias, version=version, force=force)
    if dry_run:
        return dataclasses.replace(decision, dry_run=True)
    if decision.action != "promote":
        return decision
    assert decision.challenger is not None
    history = read_history(client, name)
    history.append(
        {
            "version": decision.challenger.version,
            "arch": decision.challenger.arch,
            "previous": decision.champion.version if decision.champion else None,
            "metric": metric,
            "value": decision.challenger.value,
            "previous_value": None
            if decision.champion is None or math.isnan(decision.champion.value)
            else decision.champion.value,
            "forced": decision.forced,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "by": _user(),
        }
    )
    client.set_registered_model_alias(name, alias, decision.challenger.version)
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history[-history_limit:]))
    return decision


def read_history(client: Any, name: str) -> list[dict[str, Any]]:
    """The champion history of ``name`` (oldest first; empty when never promoted)."""
    raw = client.get_registered_model(name).tags.get(HISTORY_TAG)
    try:
        history = json.loads(raw) if raw else []
    except json.JSONDecodeError:
        return []
    return history if isinstance(history, list) else []


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


def champion_summary(client: Any, name: str, alias: str = "champion") -> dict[str, Any] | None:
    """The alias holder of ``name`` with its tags' metrics, or None."""
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    metrics = {
        k.removeprefix(METRIC_TAG): float(v) for k, v in mv.tags.items() if k.startswith(METRIC_TAG)
    }
    history = read_history(client, name)
    since = next((h["at"] for h in reversed(history) if h.get("version") == str(mv.version)), "")
    return {
        "name": name,
        "version": str(mv.version),
        "arch": mv.tags.get(TAG_ARCH, "?"),
        "seed": mv.tags.get("seqbench.seed", "?"),
        "git_commit": mv.tags.get("seqbench.git_commit", "?"),
        "metrics": metrics,
        "since": since,
    }
