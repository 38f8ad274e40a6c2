"""``reports/claims.md`` and ``claims.json``: every claim with its verdict and the numbers behind
it, the outcome of every run, the gradient-flow rates, the learning curves, and the figures
(generated, never edited).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqbench.claims.config import ClaimsConfig, parameters_at_width
from seqbench.claims.convergence import TimeToTarget
from seqbench.claims.seed_table import Link, seed_table, table_lines
from seqbench.claims.variants import VariantVerdict, variants_section
from seqbench.claims.verdicts import Curve, Evidence, judge, memory_span
from seqbench.data.synthetic import SYMBOLS

Summaries = dict[str, dict[str, dict[str, Any]]]  # task -> family -> run_grid summary
Learning = dict[str, dict[str, dict[str, Any]]]  # task -> arch -> learning_curve summary


@dataclass(frozen=True)
class Figure:
    """A figure of the report: its ``name``, the evidence ``kind`` it draws (see
    :data:`seqbench.claims.verdicts.EvidenceKind`) and its ``path``."""

    name: str
    kind: str
    path: str


def curve(summary: dict[str, Any], axis: str = "shares") -> Curve:
    """A :class:`Curve` from a ``learning_curve`` (``axis`` shares) or ``length_curve``
    (``max_lengths``) summary, its points keyed as strings; the last is the main run."""
    metric = summary["metric"]
    points = {float(s): p for s, p in summary[axis].items()}
    return Curve(
        arch=summary["arch"],
        family=summary["family"],
        metric=metric,
        means={s: float(p["mean"][metric]) for s, p in points.items()},
        stds={s: float(p["std"].get(metric, 0.0)) for s, p in points.items()},
        higher=summary["mode"] == "max",
        seconds=points[max(points)].get("train_seconds"),
        seeds={s: len(p["seeds"]) for s, p in points.items()},
    )


def evidence(
    cfg: ClaimsConfig,
    summaries: Summaries,
    gradients: dict[str, dict[str, Any]],
    learning: Learning | None = None,
    cost: dict[str, dict[str, Any]] | None = None,
    convergence: dict[str, TimeToTarget] | None = None,
    lengths: Learning | None = None,
) -> Evidence:
    """Spans from the runs' outcomes, decay rates from the gradient probes, curves from the
    learning-curve rows, the cost measurements by family and the real tasks' times to a common
    target."""
    spans = {
        task: {
            family: memory_span(
                {
                    int(t): [s["outcome"] for s in row["seeds"].values()]
                    for t, row in summary["lengths"].items()
                }
            )
            for family, summary in by_family.items()
        }
        for task, by_family in summaries.items()
    }
    decay = {
        stage: {f: float(g[stage]["rate"]) for f, g in gradients.items()}
        for stage in ("init", "trained")
    }
    curves = {
        task: {a: curve(s) for a, s in rows.items()} for task, rows in (learning or {}).items()
    }
    against_length = {
        task: {a: curve(s, "max_lengths") for a, s in rows.items()}
        for task, rows in (lengths or {}).items()
    }
    return Evidence(
        spans=spans,
        decay=decay,
        params_at_width=parameters_at_width(cfg),
        learning=curves,
        lengths=against_length,
        cost=dict(cost or {}),
        convergence=dict(convergence or {}),
    )


def _cell(row: dict[str, Any], metric: str) -> str:
    values = [float(s[metric]) for s in row["seeds"].values() if metric in s]
    outcomes = [s["outcome"] for s in row["seeds"].values()]
    solved = sum(o == "solved" for o in outcomes)
    if not values:
        return "—"
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    mark = "".join({"solved": "✓", "failed": "✗", "inconclusive": "?"}[o] for o in outcomes)
    return f"{mean:.3g} ± {std:.2g} {mark} ({solved}/{len(outcomes)})"


def render(
    cfg: ClaimsConfig,
    summaries: Summaries,
    gradients: dict[str, dict[str, Any]],
    figures: list[Figure] | None = None,
    learning: Learning | None = None,
    learning_seeds: list[int] | None = None,
    cost: dict[str, dict[str, Any]] | None = None,
    variants: list[VariantVerdict] | None = None,
    alpha: float = 0.05,
    convergence: dict[str, TimeToTarget] | None = None,
    sources: dict[str, tuple[Link, ...]] | None = None,
    runs: str = "",
    lengths: Learning | None = None,
) -> tuple[str, dict[str, Any]]:
    """The markdown report and its JSON twin (``figures``: linked relative to the report;
    ``learning``: the learning-curve rows by task and architecture, retrained with
    ``learning_seeds``; ``cost``: the claims_cost results by family; ``variants``: the variant
    rows' verdicts, at significance level ``alpha``; ``convergence``: the real tasks' times to a
    common validation target; ``sources``: the files behind each evidence kind; ``runs``: where
    the MLflow runs are; ``lengths``: the text rows' curves against max_length)."""
    ev = evidence(cfg, summaries, gradients, learning, cost, convergence, lengths)
    verdicts = judge(ev)
    figures = figures or []
    by_kind: dict[str, tuple[Link, ...]] = {}
    for f in figures:
        by_kind[f.kind] = (*by_kind.get(f.kind, ()), Link(f.name, f.path))
    table = seed_table(verdicts, variants, by_kind, sources or {})
    lines = [
        "<!-- Generated by the claims_report stage from the claims lab's runs; do not edit. -->",
        "# Claims lab",
        "",
        "Every row of the seed's comparison table, answered. A claim gets the verdict computed "
        "from the measurements below (`seqbench.claims.verdicts`): *holds*, *does not hold*, "
        "*holds only when …*, or *inconclusive* when the runs it rests on neither solved nor "
        "clearly failed; a named variant gets its paired test against the plain model; what "
        "states nothing testable is marked so, with the reason. *From*: the files the numbers "
        "come from.",
        "",
        *table_lines(table),
    ]
    if runs:
        lines += ["", runs]
    for task, by_family in summaries.items():
        rule = cfg.solved[task]
        goal = (
            f"{rule.metric} < {rule.below_trivial:g} × trivial"
            if rule.below_trivial is not None
            else f"{rule.metric} > {rule.above:g}"
        )
        grid = sorted(int(t) for t in next(iter(by_family.values()))["lengths"])
        lines += [
            "",
            f"## {task}",
            "",
            f"Solved: {goal}; failed: {rule.loss} ≥ {cfg.failed_fraction:g} × trivial. "
            f"Cells: mean ± std of {rule.metric} over seeds, each seed ✓ solved, ✗ failed, "
            "? inconclusive.",
            "",
            "| family | parameters | lr | " + " | ".join(f"T = {t}" for t in grid) + " | span |",
            "|---|---|---|" + "---|" * len(grid) + "---|",
        ]
        first = next(iter(by_family.values()))
        if rule.below_trivial is not None:  # the metric is the loss itself
            trivial = [f"{first['lengths'][str(t)]['trivial']:.3g}" for t in grid]
        else:  # a memoryless model guesses each recalled symbol: accuracy 1/8
            trivial = [
                f"{1 / SYMBOLS:.3g} (loss {first['lengths'][str(t)]['trivial']:.3g})" for t in grid
            ]
        lines.append("| *trivial predictor* | — | — | " + " | ".join(trivial) + " | — |")
        for family, summary in by_family.items():
            rows = summary["lengths"]
            params = rows[str(grid[0])]["parameters"]
            cells = [_cell(rows[str(t)], rule.metric) for t in grid]
            span = ev.spans[task][family].text()
            lines.append(
                f"| {family} | {params} | {summary['lr']:.3g} | "
                + " | ".join(cells)
                + f" | {span} |"
            )
        steps = first["lengths"][str(grid[0])]["steps"]
        seeds = ", ".join(map(str, cfg.seeds))
        budget = f"Every run: at most {steps} optimizer steps, seeds {seeds}"
        if cfg.stop_when_solved:
            budget += (
                "; a run stops after the first epoch whose validation metric passes the solved "
                f"rule with margin {cfg.stop_margin:g}"
            )
        lines += ["", budget + "."]
        for ref in cfg.published.get(task, []):
            lines.append(f"- Published ({ref['source']}): {ref['text']}")
    if gradients:
        probe = next(iter(gradients.values()))
        lines += [
            "",
            f"## Gradient flow ({probe['task']}, T = {probe['length']})",
            "",
            "‖∂L/∂h_t‖ against the distance T − t from the output; rate = decades lost per step "
            "(least squares on log10), reach = the distance where it is 10⁻⁶ of its value at "
            "the last step.",
            "",
            "| family | rate at init | reach at init | rate trained | reach trained |",
            "|---|---|---|---|---|",
        ]
        for family, g in gradients.items():
            lines.append(
                f"| {family} | {g['init']['rate']:.3g} | {g['init']['reach']} | "
                f"{g['trained']['rate']:.3g} | {g['trained']['reach']} |"
            )
    lines += _cost_section(cost or {})
    lines += _convergence_section(convergence or {})
    if variants is not None:
        lines += variants_section(variants, alpha)
    lines += _learning_section(ev, learning or {}, learning_seeds or [])
    lines += _lengths_section(ev, lengths or {})
    for f in figures:
        lines += ["", f"![{f.name}]({f.path})"]
    data = {
        "verdicts": [v.__dict__ for v in verdicts],
        "seed_table": [
            r.__dict__
            | {"figures": [f.__dict__ for f in r.figures]}
            | {"sources": [s.__dict__ for s in r.sources]}
            for r in table
        ],
        "parameters_at_width": ev.params_at_width,
        "spans": {t: {f: s.__dict__ for f, s in spans.items()} for t, spans in ev.spans.items()},
        "decay": ev.decay,
        "runs": summaries,
        "learning": learning or {},
        "lengths": lengths or {},
        "cost": cost or {},
        "variants": [v.__dict__ for v in variants or []],
        "time_to_target": {t: _finite(c.__dict__) for t, c in (convergence or {}).items()},
        "gradients": {
            f: {k: v for k, v in g.items() if k not in ("init", "trained")}
            | {s: {"rate": g[s]["rate"], "reach": g[s]["reach"]} for s in ("init", "trained")}
            for f, g in gradients.items()
        },
    }
    return "\n".join(lines) + "\n", data


def _finite(value: Any) -> Any:
    """``value`` with every infinite float as None (JSON has no infinity)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _per_length(
    cost: dict[str, dict[str, Any]], cell: Any, exponent: str | None = None
) -> list[str]:
    """One table row per family: ``cell(point)`` at each T, then the fitted power of T."""
    rows = []
    for family, c in cost.items():
        power = f"{c[exponent]:.2f}" if exponent else "—"
        cells = " | ".join(cell(p) for p in c["points"])
        rows.append(f"| {family} | {c['parameters']} | {cells} | {power} |")
    return rows


def _crossing(lengths: list[int], mine: list[float], theirs: list[float]) -> str:
    """Where ``mine`` (the Transformer's) becomes and stays dearer or cheaper than ``theirs``."""
    from seqbench.claims.cost import crossover

    if all(a > b for a, b in zip(mine, theirs, strict=True)):
        return "dearer at every T"
    if all(a <= b for a, b in zip(mine, theirs, strict=True)):
        return "cheaper or equal at every T"
    dearer, cheaper = crossover(lengths, mine, theirs), crossover(lengths, theirs, mine)
    if dearer is not None:
        return f"dearer from T = {dearer}"
    if cheaper is not None:
        return f"cheaper from T = {cheaper}"
    return "crosses back and forth (no stable crossover)"


def _cost_section(cost: dict[str, dict[str, Any]]) -> list[str]:
    """Step time, tokens/s and saved bytes against T per family, and the equal-width table."""
    if not cost:
        return []
    first = next(iter(cost.values()))
    lengths = [int(p["length"]) for p in first["points"]]
    device = first.get("device", "cpu")
    header = "| family | parameters | " + " | ".join(f"T = {t}" for t in lengths) + " | T^k |"
    rule = "|---|---|" + "---|" * len(lengths) + "---|"
    lines = [
        "",
        f"## Cost against sequence length ({device}, {first.get('threads', '?')} threads)",
        "",
        f"Every family at the lab's parameter count; a training step (forward, backward, SGD) on "
        f"{first.get('tokens', '?')} tokens per batch (batch = tokens / T), median of the timed "
        "steps; *T^k*: the least-squares power of T. Saved bytes: the distinct activations "
        "autograd keeps for backward, per sequence (parameters excluded).",
        "",
        "Step time (ms):",
        "",
        header,
        rule,
    ]
    lines += _per_length(cost, lambda p: f"{p['step_seconds'] * 1e3:.3g}", "time_exponent")
    lines += ["", "Bytes saved for backward per sequence (KiB):", "", header, rule]
    lines += _per_length(
        cost, lambda p: f"{p['saved_bytes_per_sequence'] / 1024:.4g}", "memory_exponent"
    )
    if any(p.get("cuda_peak_bytes") for c in cost.values() for p in c["points"]):
        lines += ["", "CUDA peak allocation per sequence (KiB):", "", header, rule]
        lines += _per_length(cost, lambda p: f"{(p.get('cuda_peak_bytes') or 0) / 1024:.4g}")
    lines += [
        "",
        "Sequential steps of one forward pass: "
        + "; ".join(
            f"{family} {c['points'][0]['sequential_steps']} → {c['points'][-1]['sequential_steps']}"
            for family, c in cost.items()
        )
        + f" (T = {lengths[0]} → {lengths[-1]}).",
    ]
    if "transformer" in cost:
        lines += ["", "Where the Transformer's cost crosses each recurrent family's:", ""]
        mine = cost["transformer"]["points"]
        for family, c in cost.items():
            if family == "transformer":
                continue
            parts = []
            for key, what in (
                ("step_seconds", "step time"),
                ("saved_bytes_per_sequence", "memory"),
            ):
                a = [p[key] for p in mine]
                b = [p[key] for p in c["points"]]
                parts.append(f"{what}: {_crossing(lengths, a, b)}")
            lines.append(f"- against {family}: " + "; ".join(parts))
    width = first["equal_width"]
    lines += [
        "",
        f"At equal width ({width['hidden_size']} hidden, T = {width['length']}):",
        "",
        "| family | parameters | forward FLOPs per sequence | step time (ms) |",
        "|---|---|---|---|",
    ]
    for family, c in cost.items():
        w = c["equal_width"]
        lines.append(
            f"| {family} | {w['parameters']} | {w['flops_per_sequence']:.3g} | "
            f"{w['step_seconds'] * 1e3:.3g} |"
        )
    lines += [
        "",
        "A recurrent layer of input size i and width h has g·(h·(i + h) + 2h) parameters "
        "(PyTorch keeps two bias vectors), g = 1 for the RNN, 3 for the GRU's gates and 4 for "
        "the LSTM's: the GRU has 3/4 of the LSTM's recurrent parameters and FLOPs at any width; "
        "the counts above add the input adapter and the head.",
    ]
    return lines


def _seeds(c: TimeToTarget, arch: str) -> str:
    done, of = c.reached.get(arch, (0, 0))
    return f"{done}/{of} seeds"


def _convergence_section(convergence: dict[str, TimeToTarget]) -> list[str]:
    """Per real task, each family's wall-clock time to the common validation target."""
    if not convergence:
        return []
    lines = [
        "",
        "## Time to a common target (the main comparison's runs)",
        "",
        "Training seconds (mean over seeds: epochs counted from 1 × that seed's seconds per "
        "epoch) until the validation metric first reaches the worst family's best value, so that "
        "every family reaches it; the seeds that reached it of all are in brackets (the others "
        "are left out of the mean), and a family none of whose seeds does shows ∞.",
        "",
    ]
    families = list(dict.fromkeys(a for c in convergence.values() for a in c.seconds))
    lines += [
        "| task | target | " + " | ".join(families) + " |",
        "|---|---|" + "---|" * len(families),
    ]
    for task, c in convergence.items():
        cells = [
            f"{c.seconds[a]:.3g} s ({c.epochs[a]:.3g} ep, {_seeds(c, a)})"
            if a in c.seconds
            else "—"
            for a in families
        ]
        lines.append(f"| {task} | {c.monitor} {c.target:.4g} | " + " | ".join(cells) + " |")
    return lines


def _budget_text(learning: Learning) -> str:
    """How many epochs each share trained (the steps budget scales them by 1 / share)."""
    first = next(iter(next(iter(learning.values())).values()))
    epochs = ", ".join(
        f"share {s}: {p['max_epochs']}" for s, p in first["shares"].items() if "max_epochs" in p
    )
    if first.get("budget") == "steps":
        return (
            "Budget: equal optimizer steps, each share training max_epochs / share epochs with "
            f"the row's early stopping (first row: {epochs})."
        )
    return f"Budget: the row's own epochs at every share (first row: {epochs})."


def _learning_section(ev: Evidence, learning: Learning, seeds: list[int]) -> list[str]:
    """The learning-curve table of each real task: mean ± std of the primary metric over seeds
    at each share of the training split, and what the smallest share costs."""
    if not learning:
        return [
            "",
            "## Data hunger (learning curves)",
            "",
            "Not measured in this run: `learning.tasks` is empty. profiles/full.yaml measures "
            "every family on IMDB and PeMS (2 seeds per share, equal optimizer steps), which "
            "does not fit the default hour on a 2-core CPU; profiles/pretrained-cpu.yaml "
            "measures the pre-trained encoder beside the from-scratch Transformer.",
        ]
    lines = [
        "",
        "## Data hunger (learning curves)",
        "",
        "Each row retrained with its tuned settings on nested seeded shares of its training split "
        f"(seeds {', '.join(map(str, seeds))}; validation and test unchanged); the share 1 column "
        "is the main comparison's run. Cells: mean ± std of the test metric over seeds "
        "(their number). "
        "*Cost*: what the smallest share loses against all of the data (positive: worse).",
        "",
        _budget_text(learning),
    ]
    for task, rows in learning.items():
        first = next(iter(rows.values()))
        shares = sorted(float(s) for s in first["shares"])
        subset = (
            f" (of a fixed {first['fraction']:g} share of every split)"
            if (first["fraction"] < 1)
            else ""
        )
        lines += [
            "",
            f"### {task}: {first['metric']}{subset}",
            "",
            "| row | family | "
            + " | ".join(f"share {s:g}" for s in shares)
            + " | cost | s per seed at share 1 |",
            "|---|---|" + "---|" * len(shares) + "---|---|",
        ]
        for arch in rows:
            c = ev.learning[task][arch]
            cells = [_point_cell(c, s) for s in shares]
            cost, spread = c.cost()
            seconds = f"{c.seconds:.3g}" if c.seconds else "—"
            lines.append(
                f"| {arch} | {c.family} | "
                + " | ".join(cells)
                + f" | {cost:+.3g} ± {spread:.2g} | {seconds} |"
            )
    return lines


def _point_cell(c: Curve, point: float) -> str:
    """Mean ± std over seeds (their number) of one point of a curve."""
    if point not in c.means:
        return "—"
    return f"{c.means[point]:.4g} ± {c.stds.get(point, 0.0):.2g} ({c.seeds.get(point, 0)})"


def _lengths_section(ev: Evidence, lengths: Learning) -> list[str]:
    """Each text task's rows at every max_length: mean ± std of the test metric over seeds."""
    lines = ["", "## Short against long sequences (real text)", ""]
    if not lengths:
        return [
            *lines,
            "Not measured in this run: `text_lengths.tasks` is empty (profiles/full.yaml "
            "measures every family on IMDB at max_length 64 and 128 beside the main run's 256).",
        ]
    lines += [
        "Each row retrained with its tuned settings and epochs on its tokenized reviews cut to a "
        "shorter max_length by the tokenizer's own truncation rule (the same vocabulary); the "
        "longest column is the main comparison's run. Cells: mean ± std of the test metric over "
        "seeds (their number).",
    ]
    for task, rows in lengths.items():
        curves = ev.lengths[task]
        points = sorted({p for c in curves.values() for p in c.means})
        first = next(iter(curves.values()))
        lines += [
            "",
            f"### {task}: {first.metric}",
            "",
            "| row | " + " | ".join(f"max_length {p:g}" for p in points) + " |",
            "|---|" + "---|" * len(points),
        ]
        for arch in rows:
            cells = [_point_cell(curves[arch], p) for p in points]
            lines.append(f"| {arch} | " + " | ".join(cells) + " |")
    return lines


def figures(
    cfg: ClaimsConfig,
    summaries: Summaries,
    gradients: dict[str, dict[str, Any]],
    out_dir: Path,
    learning: Learning | None = None,
    cost: dict[str, dict[str, Any]] | None = None,
    lengths: Learning | None = None,
) -> list[Figure]:
    """Metric against T per family with seed bands (one figure per task), the gradient norms
    against distance on a log axis (init dashed, trained solid), the cost against T and the
    learning curves; paths inside ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Figure] = []
    for task, by_family in summaries.items():
        metric = cfg.solved[task].metric
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for family, summary in by_family.items():
            grid = sorted(int(t) for t in summary["lengths"])
            values = [
                [float(s[metric]) for s in summary["lengths"][str(t)]["seeds"].values()]
                for t in grid
            ]
            mean = [statistics.fmean(v) for v in values]
            ax.plot(grid, mean, marker="o", label=family)
            ax.fill_between(grid, [min(v) for v in values], [max(v) for v in values], alpha=0.2)
        if cfg.solved[task].below_trivial is not None:
            first = next(iter(by_family.values()))
            grid = sorted(int(t) for t in first["lengths"])
            ax.plot(
                grid,
                [first["lengths"][str(t)]["trivial"] for t in grid],
                "k--",
                label="trivial predictor",
            )
            ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xlabel("T (sequence length)")
        ax.set_ylabel(metric)
        ax.set_title(f"{task}: {metric} against T (band: min-max over seeds)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        path = out_dir / f"claims-{task}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(Figure(f"{task} against T", "spans", str(path)))
    if gradients:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for i, (family, g) in enumerate(gradients.items()):
            color = f"C{i}"
            for stage, style in (("init", "--"), ("trained", "-")):
                profile = [max(v, 1e-30) for v in g[stage]["profile"]]
                ax.plot(
                    range(len(profile)), profile, style, color=color, label=f"{family} ({stage})"
                )
        ax.set_yscale("log")
        ax.set_xlabel("distance T − t from the output")
        ax.set_ylabel("‖∂L/∂h_t‖")
        ax.set_title("gradient flow on the adding problem")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
        fig.tight_layout()
        path = out_dir / "claims-gradients.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(Figure("gradient flow", "gradients", str(path)))
    if cost:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
        for family, c in cost.items():
            grid = [p["length"] for p in c["points"]]
            axes[0].plot(grid, [p["step_seconds"] * 1e3 for p in c["points"]], "o-", label=family)
            axes[1].plot(grid, [p["saved_bytes_per_sequence"] / 1024 for p in c["points"]], "o-")
        labels = ("step time (ms)", "saved for backward (KiB / sequence)")
        for ax, label in zip(axes, labels, strict=True):
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("T (sequence length)")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        device = next(iter(cost.values())).get("device", "cpu")
        fig.suptitle(f"cost against T at equal parameters ({device})")
        fig.legend(loc="outside right upper", fontsize=8)
        path = out_dir / "claims-cost.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(Figure("cost against T", "cost", str(path)))
    for axis, kind, runs in (("shares", "learning", learning), ("max_lengths", "lengths", lengths)):
        for task, rows in (runs or {}).items():
            path = out_dir / f"claims-{kind}-{task}.png"
            _curves_figure(plt, {a: curve(s, axis) for a, s in rows.items()}, axis, task, path)
            name = f"{task} learning curves" if kind == "learning" else f"{task} against max_length"
            paths.append(Figure(name, kind, str(path)))
    return paths


def _curves_figure(plt: Any, curves: dict[str, Curve], axis: str, task: str, path: Path) -> None:
    """Each row's mean ± std over seeds at every point of a real-task curve (``axis``: the
    shares of the training split, or the max_lengths), on a log x axis."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for arch, c in curves.items():
        points = sorted(c.means)
        ax.errorbar(
            points,
            [c.means[p] for p in points],
            yerr=[c.stds[p] for p in points],
            marker="o",
            capsize=3,
            label=f"{arch} ({c.family})",
        )
    if axis == "shares":
        ax.set_xscale("log")
        ax.set_xlabel("share of the training split (log scale)")
        ax.set_title(f"{task}: learning curves (mean ± std over seeds)")
    else:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("max_length (tokens kept per review, log scale)")
        ax.set_title(f"{task}: the test metric against max_length (mean ± std over seeds)")
    ax.set_ylabel(next(iter(curves.values())).metric)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
