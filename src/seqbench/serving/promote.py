"""Champion promotion, by a rule a reviewer accepts.

The challenger is the version with the best **validation** value of the metric its seeds were
selected by (``metric.<monitor>``), so the champion's test score stays an unbiased estimate. It
replaces the champion only when a paired test on the test split (the report's: McNemar for
classification, Diebold-Mariano for forecasts) does not find it significantly worse at level
``alpha``. ``--force`` is a person's override, recorded as such. A person runs this
(``seqbench promote``), not the pipeline. Every move, with its p-value, is appended to the
registered model's ``champion_history`` tag; versions and aliases are never deleted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from seqbench.serving.register import METRIC_TAG, TAG_ARCH, RegistryError
from seqbench.stats import PairedTest
from seqbench.tasks import Task
from seqbench.training.outputs import PREDICTIONS_ARTIFACT, load_predictions

HISTORY_TAG = "champion_history"
Mode = Literal["min", "max"]


@dataclass(frozen=True)
class Rule:
    """How a task's champion is chosen: ``selection`` (a validation metric) picks the
    challenger; a paired test of the ``metric`` (the primary test metric) guards the move."""

    selection: str  # e.g. val/acc: the metric the seeds were selected by
    selection_mode: Mode
    metric: str  # e.g. test/acc
    mode: Mode
    kind: Task | None = None  # the paired test's task kind; None: no test (moves are refused)
    alpha: float = 0.05
    exact_below: int = 25


def promotion_rule(params: dict[str, Any], task: str) -> Rule:
    """``task``'s rule from the parameters: its monitor selects, its primary test metric guards,
    with the report's paired test and significance level (``compare.alpha``)."""
    from seqbench.data.kinds import task_architectures
    from seqbench.report.config import compare_config
    from seqbench.training.run import resolve_run

    spec = resolve_run(params, task, task_architectures(params, task)[0])
    compare = compare_config(params)
    return Rule(
        selection=spec.task.monitor,
        selection_mode=spec.task.mode,
        metric=spec.task.primary,
        mode=spec.task.mode,
        kind=spec.kind,
        alpha=compare.alpha,
        exact_below=compare.exact_below,
    )


@dataclass(frozen=True)
class Candidate:
    version: str
    arch: str
    value: float  # the selection (validation) value; NaN when the version has none
    test: float  # the primary test metric; NaN when absent
    run_id: str | None = None


@dataclass(frozen=True)
class Decision:
    """What ``promote`` decided (and, unless a dry run, did)."""

    name: str
    alias: str
    rule: Rule
    action: Literal["promote", "keep", "refuse"]
    reason: str
    challenger: Candidate | None
    champion: Candidate | None  # the alias holder before the decision
    test: PairedTest | None = None  # challenger against champion on the test split
    forced: bool = False
    dry_run: bool = False

    @property
    def metric(self) -> str:
        return self.rule.metric

    @property
    def applied(self) -> bool:
        return self.action == "promote" and not self.dry_run

    def message(self) -> str:
        r = self.rule

        def show(c: Candidate | None) -> str:
            if c is None:
                return "none"
            scores = f"{r.selection}={c.value:.6g}, {r.metric}={c.test:.6g}"
            return f"version {c.version} ({c.arch}, {scores})"

        prefix = "[dry run] would " if self.dry_run and self.action == "promote" else ""
        return (
            f"{self.name}@{self.alias}: {prefix}{self.action} — challenger "
            f"{show(self.challenger)}; champion {show(self.champion)}; {self.reason}"
        )


def _number(raw: str | None) -> float:
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def as_candidate(mv: Any, rule: Rule) -> Candidate:
    value = _number(mv.tags.get(f"{METRIC_TAG}{rule.selection}"))
    if math.isnan(value):  # versions registered before the selection metric was a tag
        value = _number(mv.tags.get("seqbench.best_val"))
    test = _number(mv.tags.get(f"{METRIC_TAG}{rule.metric}"))
    return Candidate(str(mv.version), mv.tags.get(TAG_ARCH, "?"), value, test, mv.run_id or None)


def candidates(client: Any, name: str, rule: Rule) -> list[Candidate]:
    """Every version of ``name`` with a finite selection (validation) value."""
    versions = client.search_model_versions(f"name = '{name}'")
    pool = [as_candidate(mv, rule) for mv in versions]
    return [c for c in pool if not math.isnan(c.value)]


def current_champion(client: Any, name: str, alias: str, rule: Rule) -> Candidate | None:
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    return as_candidate(mv, rule)


def better(a: float, b: float, mode: str) -> bool:
    """Is ``a`` strictly better than ``b``? A NaN ``b`` (no metric) is beaten by any number."""
    if math.isnan(b):
        return not math.isnan(a)
    return a > b if mode == "max" else a < b


def version_predictions(client: Any, candidate: Candidate) -> dict[str, Any] | None:
    """The test predictions logged in the version's source (training) run, or None."""
    from mlflow.exceptions import MlflowException

    if not candidate.run_id:
        return None
    with tempfile.TemporaryDirectory(prefix="seqbench-promote-") as tmp:
        try:
            path = client.download_artifacts(candidate.run_id, PREDICTIONS_ARTIFACT, tmp)
        except (MlflowException, OSError):
            return None
        return load_predictions(Path(path))


def paired_on_test(
    client: Any, rule: Rule, challenger: Candidate, champion: Candidate
) -> tuple[PairedTest | None, str]:
    """The paired test of challenger against champion on the test split, or why there is none."""
    if rule.kind is None:
        return None, "no paired test configured"
    a = version_predictions(client, challenger)
    b = version_predictions(client, champion)
    missing = [c.version for c, p in ((challenger, a), (champion, b)) if p is None]
    if missing:
        return None, (
            f"no {PREDICTIONS_ARTIFACT} in the source run of version {', '.join(missing)}, so "
            "the test split cannot guard the move"
        )
    assert a is not None and b is not None
    try:
        return rule.kind.paired_test_aligned(rule.metric, a, b, rule.exact_below), ""
    except ValueError as exc:
        return None, f"no paired test: {exc}"


def decide(
    client: Any,
    name: str,
    rule: Rule,
    *,
    alias: str = "champion",
    version: str | None = None,
    force: bool = False,
) -> Decision:
    """Choose the challenger (``version``, else the best by the selection metric) and decide
    whether it replaces the alias holder (see the module docstring)."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        raise RegistryError(f"{name}: no such registered model; run the register stage") from None
    pool = candidates(client, name, rule)
    if version is not None:
        pool = [c for c in pool if c.version == str(version)]
        if not pool:
            raise RegistryError(f"{name} version {version}: missing or has no {rule.selection} tag")
    if not pool:
        raise RegistryError(f"{name}: no version has a {rule.selection} value to select by")
    sign = -1.0 if rule.selection_mode == "max" else 1.0
    challenger = min(pool, key=lambda c: (sign * c.value, int(c.version)))
    champion = current_champion(client, name, alias, rule)
    args = dict(name=name, alias=alias, rule=rule, challenger=challenger, champion=champion)

    def refuse_or_force(why: str, test: PairedTest | None = None) -> Decision:
        if force:
            return Decision(
                action="promote", reason=f"{why}; promoted with --force", test=test,
                forced=True, **args,
            )  # fmt: skip
        return Decision(
            action="refuse", reason=f"{why}; use --force to override", test=test, **args
        )

    if champion is None:
        return Decision(
            action="promote", reason=f"no current champion; best {rule.selection}", **args
        )
    if champion.version == challenger.version:
        return Decision(action="keep", reason="the challenger already is the champion", **args)
    if not better(challenger.value, champion.value, rule.selection_mode):
        return refuse_or_force(f"not better than the champion on {rule.selection}")
    test, problem = paired_on_test(client, rule, challenger, champion)
    if test is None:
        return refuse_or_force(problem)
    worse = better(champion.test, challenger.test, rule.mode)
    evidence = f"{test.method} p={test.p_value:.3g}"
    if worse and test.p_value < rule.alpha:
        return refuse_or_force(
            f"significantly worse than the champion on {rule.metric} ({evidence} < {rule.alpha})",
            test,
        )
    on_test = "worse, not significantly," if worse else "not worse"
    return Decision(
        action="promote",
        reason=f"better {rule.selection}; on {rule.metric} {on_test} ({evidence})",
        test=test,
        **args,
    )


def promote(
    client: Any,
    name: str,
    rule: Rule,
    *,
    alias: str = "champion",
    version: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    history_limit: int = 100,
) -> Decision:
    """Decide, then (unless ``dry_run``) move ``alias`` and append to ``champion_history``."""
    decision = decide(client, name, rule, alias=alias, version=version, force=force)
    if dry_run:
        return dataclasses.replace(decision, dry_run=True)
    if decision.action != "promote":
        return decision
    challenger, champion, test = decision.challenger, decision.champion, decision.test
    assert challenger is not None
    history = read_history(client, name)
    history.append(
        {
            "version": challenger.version,
            "arch": challenger.arch,
            "previous": champion.version if champion else None,
            "selection": rule.selection,
            "selection_value": _finite(challenger.value),
            "metric": rule.metric,
            "value": _finite(challenger.test),
            "previous_value": _finite(champion.test) if champion else None,
            "test": None
            if test is None
            else {"method": test.method, "p_value": test.p_value, "n": test.n},
            "reason": decision.reason,
            "forced": decision.forced,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "by": _user(),
        }
    )
    client.set_registered_model_alias(name, alias, challenger.version)
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history[-history_limit:]))
    described = client.get_registered_model(name).description or ""
    base = described.split(HISTORY_HEADING)[0].rstrip()
    client.update_registered_model(name, description=f"{base}\n\n{history_text(history, alias)}")
    return decision


HISTORY_HEADING = "Champion history"


def history_text(history: list[dict[str, Any]], alias: str, last: int = 10) -> str:
    """The latest moves in words, newest first (the registered model's description; the
    ``champion_history`` tag keeps every field as JSON)."""
    lines = [f"{HISTORY_HEADING} (@{alias}, newest first):"]
    for h in reversed(history[-last:]):
        was = f"replaced version {h['previous']}" if h.get("previous") else "first champion"
        forced = " [forced]" if h.get("forced") else ""
        lines.append(f"- {h['at']} version {h['version']} ({h['arch']}){forced}: {was}; "
                     f"{h.get('reason', '')} (by {h.get('by', '?')})")  # fmt: skip
    return "\n".join(lines)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


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
        "run_id": mv.run_id,
        "metrics": metrics,
        "since": since,
    }
