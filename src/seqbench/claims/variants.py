"""The seed's variants judged on the real tasks: does bidirectionality, depth, a peephole, a
decoder-only or encoder-decoder layout help? Each verdict rests on the comparison's paired test of
the variant against its vanilla architecture (``reports/comparison.json``), with what it costs."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from seqbench.models import ARCHITECTURES

# Published answers beside ours, by the variant they judge.
PUBLISHED = {
    "peepholes": (
        'Greff et al. 2017, "LSTM: A Search Space Odyssey" (IEEE TNNLS): removing peepholes '
        "did not significantly hurt on speech, handwriting or music; no variant beat the vanilla "
        "LSTM significantly"
    ),
}


@dataclass(frozen=True)
class VariantVerdict:
    """One variant row against its vanilla model on one task."""

    variant: str  # what it changes ("bidirectional")
    task: str
    arch: str
    base: str
    metric: str
    delta: float  # variant mean - vanilla mean
    delta_std: float
    p_value: float | None
    method: str
    parameters_ratio: float | None
    seconds_ratio: float | None
    verdict: str


def favours_variant(test: dict[str, Any]) -> bool | None:
    """Which side the paired test (variant = A, vanilla = B) found better: McNemar's discordant
    counts (``b``: only A right) or the sign of the Diebold-Mariano statistic (negative: A has
    the smaller loss); None when it cannot tell."""
    found = re.search(r"b=(\d+) c=(\d+)", test.get("detail") or "")
    if found:
        b, c = int(found[1]), int(found[2])
        return None if b == c else b > c
    if str(test.get("method", "")).startswith("Diebold"):
        statistic = float(test.get("statistic", 0.0))
        return None if statistic == 0 or math.isnan(statistic) else statistic < 0
    return None


def judge_variant(delta: float, test: dict[str, Any] | None, higher: bool, alpha: float) -> str:
    """``helps`` or ``hurts`` when the paired test of the best-validation seeds rejects equality
    at ``alpha`` and the side it favours agrees with the difference of the means over seeds;
    ``no consistent difference`` when they disagree; else ``no significant difference``."""
    if not test or test.get("p_value") is None:
        return "untested (no paired test)"
    if test["p_value"] >= alpha or not math.isfinite(delta):
        return "no significant difference"
    better = delta > 0 if higher else delta < 0
    if favours_variant(test) != better:
        return "no consistent difference (the best seeds' test and the means disagree)"
    return "helps" if better else "hurts"


def variant_verdicts(comparison: dict[str, Any], alpha: float) -> list[VariantVerdict]:
    """Every variant row of every task of ``comparison`` (``reports/comparison.json``)."""
    out = []
    for task in comparison.get("tasks", []):
        higher = task["mode"] == "max"
        for v in task.get("variants", []):
            entry = ARCHITECTURES.get(v["arch"])
            test = v.get("test") or {}
            p_value = test.get("p_value")
            out.append(
                VariantVerdict(
                    variant=(entry.variant if entry is not None else None) or v["arch"],
                    task=task["task"],
                    arch=v["arch"],
                    base=v["base"],
                    metric=task["primary"],
                    delta=float(v["delta"]),
                    delta_std=float(v["delta_std"]),
                    p_value=None if p_value is None else float(p_value),
                    method=test.get("method", ""),
                    parameters_ratio=v.get("parameters_ratio"),
                    seconds_ratio=v.get("seconds_ratio"),
                    verdict=judge_variant(float(v["delta"]), v.get("test"), higher, alpha),
                )
            )
    return out


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def variants_section(verdicts: list[VariantVerdict], alpha: float) -> list[str]:
    """The markdown section: one row per variant and task, grouped by what the variant changes,
    and the published answers beside ours."""
    lines = ["", "## Variants", ""]
    if not verdicts:
        return [*lines, "No variant row in this run's comparison (`train.architectures`)."]
    lines += [
        "Each variant against its vanilla architecture on the test split: Δ = variant − vanilla "
        f"(mean over seeds ± root sum of squares of the stds), p of the comparison's paired test "
        f"of their best-validation seeds; *helps* / *hurts* at p < {alpha:g}. Costs are ratios "
        "variant / vanilla.",
        "",
        "| variant | task | row | vs | Δ | p (test) | verdict | parameters × | s/epoch × |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    order = {name: i for i, name in enumerate(dict.fromkeys(v.variant for v in verdicts))}
    for v in sorted(verdicts, key=lambda v: order[v.variant]):
        p = "—" if v.p_value is None else f"{v.p_value:.2g} ({v.method})"
        lines.append(
            f"| {v.variant} | {v.task} | {v.arch} | {v.base} | {v.delta:+.4g} ± {v.delta_std:.2g} "
            f"{v.metric} | {p} | **{v.verdict}** | {_ratio(v.parameters_ratio)} | "
            f"{_ratio(v.seconds_ratio)} |"
        )
    for variant, text in PUBLISHED.items():
        if variant in order:
            lines += ["", f"- Published ({variant}): {text}."]
    return lines
