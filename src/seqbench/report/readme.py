"""The README's results section: the comparison tables plus where and how long the run took.

The ``readme`` stage renders it from ``reports/comparison.md`` and the per-stage timing records
that :func:`seqbench.stage.run` leaves in ``reports/timings/``, writes it to
``reports/results.md`` and splices it into ``README.md`` between two marker comments.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqbench.errors import SeqbenchError

START = "<!-- results:start -->"
END = "<!-- results:end -->"


class ReadmeError(SeqbenchError):
    """The README cannot take the generated section (markers missing or out of order)."""


@dataclass(frozen=True)
class Timing:
    """One stage's wall-clock record (``reports/timings/<stage>.json``)."""

    stage: str
    seconds: float
    started: str
    machine: dict[str, Any]


def pipeline_stages(params: dict[str, Any]) -> list[str]:
    """Every stage name of the pipeline ``dvc.yaml`` builds from ``params``, in run order."""
    datasets = list(params.get("datasets", {}))
    archs = params["train"]["architectures"]
    pairs = [  # (group, task-arch): one train/tune matrix per group
        (group, f"{t}-{a}") for group, tasks in params["train"]["tasks"].items()
        for t in tasks or [] for a in archs.get(group) or []
    ]  # fmt: skip
    claims = params.get("claims") or {}
    families = claims.get("families", [])
    lab = [f"{t}-{f}" for t in claims.get("tasks", []) for f in families]

    def rows(section: str) -> list[str]:  # the claims lab's retrained rows (learning, lengths)
        cfg = params.get(section) or {}
        return [f"{t}-{a}" for t in cfg.get("tasks") or [] for a in cfg.get("architectures") or []]

    return [
        *(f"{step}@{d}" for step in ("fetch", "prepare", "validate") for d in datasets),
        *(f"tokenize@{name}" for name in params.get("tokenize", {})),
        *(f"tokenize_pretrained@{t}" for t in params["train"]["tasks"].get("pretrained") or []),
        *(f"tune_{g}@{p}" for g, p in pairs),
        *(f"train_{g}@{p}" for g, p in pairs),
        "compare",
        "register",
        *(f"claims_train@{p}" for p in lab),
        *(
            f"claims_{step}@{f}"
            for step in ("gradients", "cost")
            for f in (families if lab else [])
        ),
        *(f"claims_learning@{p}" for p in rows("learning")),
        *(f"claims_lengths@{p}" for p in rows("text_lengths")),
        *(["claims_report"] if lab else []),
    ]


def read_timings(directory: Path, stages: Sequence[str]) -> dict[str, Timing]:
    """The timing record of each of ``stages`` that has one (a stage may never have run here)."""
    found = {}
    for name in stages:
        path = directory / f"{name}.json"
        if path.is_file():
            raw = json.loads(path.read_text())
            found[name] = Timing(name, float(raw["seconds"]), raw["started"], raw["machine"])
    return found


def group_of(stage: str, tasks: Sequence[str]) -> str:
    """``tune_text@imdb-lstm`` → ``tune imdb``; ``fetch@pems`` → ``fetch``; ``compare`` →
    ``compare``."""
    step, _, item = stage.partition("@")
    step = step.partition("_")[0]  # tune_text, train_series: the matrix's group is not shown
    for task in tasks:
        if item.startswith(f"{task}-"):
            return f"{step} {task}"
    return step


def fmt_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def describe_machine(machines: Sequence[dict[str, Any]]) -> str:
    """One sentence per distinct machine the stages ran on."""
    seen: list[str] = []
    for m in machines:
        parts = [f"{m.get('cpus')} logical CPUs"]
        if m.get("memory_gib"):
            parts.append(f"{m['memory_gib']:.0f} GiB RAM")
        parts.append(f"GPU {m['gpu']}" if m.get("gpu") else "no GPU")
        text = f"{m.get('cpu')} ({', '.join(parts)}), {m.get('system')}, Python {m.get('python')}"
        if text not in seen:
            seen.append(text)
    return "; ".join(seen) if seen else "an unrecorded machine"


def timing_table(timings: dict[str, Timing], stages: Sequence[str], tasks: Sequence[str]) -> str:
    """Wall-clock per group of stages, in pipeline order, with the total."""
    groups: dict[str, list[float]] = {}
    for name in stages:
        groups.setdefault(group_of(name, tasks), [])
        if name in timings:
            groups[group_of(name, tasks)].append(timings[name].seconds)
    lines = ["| stages | count | wall-clock |", "|---|---:|---:|"]
    for group, seconds in groups.items():
        lines.append(f"| {group} | {len(seconds)} | {fmt_duration(sum(seconds))} |")
    total = sum(t.seconds for t in timings.values())
    lines.append(f"| **total** | {len(timings)} | **{fmt_duration(total)}** |")
    return "\n".join(lines)


def comparison_body(markdown: str, link_prefix: str) -> str:
    """The task sections of ``comparison.md``, headings one level down, figures left out."""
    parts = re.split(r"^## ", markdown, flags=re.MULTILINE)
    if len(parts) < 2:
        raise ReadmeError("comparison report has no '## <task>' section")
    out = []
    for part in parts[1:]:
        lines = [ln for ln in part.rstrip().splitlines() if not ln.startswith("![")]
        text = "\n".join(lines).rstrip()
        text = text.replace("](figures/", f"]({link_prefix}figures/")
        out.append(f"### {text}")
    return "\n\n".join(out)


def verdict_table(claims_md: str, report_dir: str = "reports") -> str:
    """The claims report's verdict table (its first table, whose header names a ``claim``
    column), its relative links made relative to the README (the report lives in
    ``report_dir``)."""
    lines = claims_md.splitlines()
    start = next(
        (i for i, ln in enumerate(lines) if ln.startswith("|") and "| claim |" in ln), None
    )
    if start is None:
        raise ReadmeError("claims report has no verdict table (a header with a 'claim' column)")
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return _relink("\n".join(lines[start:end]), report_dir)


def _relink(markdown: str, base: str) -> str:
    """Relative link targets ``](x)`` of a file in ``base`` as seen from the project root."""

    def move(match: re.Match) -> str:
        target = match.group(1)
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target):  # a URL, an anchor, an absolute path
            return match.group(0)
        return f"]({posixpath.normpath(posixpath.join(base, target))})"

    return re.sub(r"\]\(([^)\s]+)\)", move, markdown)


def results_section(
    comparison_md: str,
    timings: dict[str, Timing],
    stages: Sequence[str],
    tasks: Sequence[str],
    report_link: str = "reports/comparison.md",
    claims_md: str | None = None,
    claims_link: str = "reports/claims.md",
) -> str:
    """The markdown between the README markers (markers excluded); with ``claims_md`` also the
    claims lab's verdicts."""
    total = sum(t.seconds for t in timings.values())
    when = max((t.started for t in timings.values()), default=None)
    missing = len(stages) - len(timings)
    ran = (
        f"The {len(timings)} stages took **{fmt_duration(total)}** of wall-clock time in total"
        + (f" (last stage started {when[:10]})" if when else "")
        + "."
    )
    if missing:
        ran += f" {missing} of {len(stages)} stages left no timing record here and are not counted."
    return "\n".join(
        [
            "<!-- Generated by the `readme` stage (pipelines/readme.py) from "
            f"{report_link} and reports/timings/; do not edit by hand. -->",
            "",
            f"Machine: {describe_machine([t.machine for t in timings.values()])}. {ran}",
            "",
            timing_table(timings, stages, tasks),
            "",
            comparison_body(comparison_md, link_prefix="reports/"),
            "",
            f"Figures, significance tests and all numbers: [{report_link}]({report_link}).",
            *(
                [
                    "",
                    "### Claims lab",
                    "",
                    verdict_table(claims_md),
                    "",
                    f"The runs, spans and gradient rates behind each verdict: "
                    f"[{claims_link}]({claims_link}).",
                ]
                if claims_md is not None
                else []
            ),
        ]
    )


def splice(readme: str, section: str, path: Path | str = "README.md") -> str:
    """``readme`` with the text between the results markers replaced by ``section``."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < 0 or end < start:
        raise ReadmeError(f"{path}: expected the markers {START} and then {END}")
    return f"{readme[: start + len(START)]}\n{section}\n{readme[end:]}"
