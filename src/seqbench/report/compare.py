"""The comparison: per task, one row per architecture from the train/tune outputs, with tests."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from seqbench.errors import SeqbenchError
from seqbench.models import ARCHITECTURES, estimate_flops
from seqbench.models.bow import FittedBaseline
from seqbench.report.config import CompareConfig, Reference
from seqbench.report.latency import measure_latency
from seqbench.stats import PairedTest
from seqbench.tasks import Task
from seqbench.training.outputs import (
    best_seed,
    load_predictions,
    mean_std,
    read_metrics,
    read_timing,
)

log = logging.getLogger(__name__)


class ComparisonError(SeqbenchError):
    """An input of the comparison (metrics, models, curves) is missing or malformed."""


@dataclass(frozen=True)
class Paths:
    """Where the compare stage reads the outputs of train and tune (``dvc.yaml`` passes them)."""

    metrics: Path  # metrics/<task>-<arch>.json
    models: Path  # models/<task>-<arch>/seed<k>.{pt,json,predictions.npz}
    curves: Path  # plots/curves/<task>-<arch>.csv
    tuning: Path  # data/tuning/<task>-<arch>.json (optional)
    tokenized: Path  # data/tokenized/<task>/ (meta.json: the input length of text tasks)
    processed: Path | None = None  # data/processed/<task>/

    def data_dir(self, input_folder: str, task: str) -> Path | None:
        """The training input folder of ``task`` (``tokenized`` or ``processed``), if given."""
        root = {"tokenized": self.tokenized, "processed": self.processed}[input_folder]
        return root / task if root is not None else None


@dataclass
class Row:
    """One architecture of one task: sizes, test metrics over seeds, timing, tuning, test."""

    arch: str
    seeds: list[str]
    mean: dict[str, float]
    std: dict[str, float]
    parameters: int | None = None
    flops: int | None = None
    latency: dict[int, float] = field(default_factory=dict)  # batch size -> s/sample
    tuned: dict[str, Any] = field(default_factory=dict)
    seq_len: int | None = None  # the input length its FLOPs and latency are measured at
    tuned_unused: list[str] = field(default_factory=list)  # tuned keys the run did not use
    best_seed: int | None = None
    test: PairedTest | None = None  # this model against the task's best
    test_skipped: str | None = None  # why the paired test could not be computed
    fraction: float = 1.0  # train.fraction: < 1 trains, validates and tests on a seeded subset
    test_examples: int | None = None  # test examples its predictions cover


@dataclass
class Variant:
    """A variant (``bilstm``) against its vanilla architecture (``lstm``) on the primary metric:
    the difference of the means over seeds (± the root sum of squares of their stds), the paired
    test of their best-validation seeds, and what it costs (ratios variant / vanilla)."""

    arch: str
    base: str
    delta: float
    delta_std: float
    test: PairedTest | None
    parameters_ratio: float | None
    seconds_ratio: float | None


FAMILIES = ("baseline", "recurrent", "transformer", "pretrained")  # the order rows are grouped in
FAMILY_LABELS = {"pretrained": "pre-trained"}  # the table's name where it differs


def family(arch: str) -> str:
    entry = ARCHITECTURES.get(arch)
    return entry.family if entry is not None else "other"


@dataclass
class TaskComparison:
    """Every architecture of one task, the metric that ranks them and the published numbers."""

    task: str
    kind: Task
    primary: str
    mode: str
    metrics: list[str]  # primary first, then secondary
    rows: list[Row]
    references: list[Reference]
    seq_len: int | None = None
    best: str | None = None  # arch with the best mean primary metric
    test_method: str = ""
    variants: list[Variant] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["kind"] = self.kind.name
        out["rows"] = [
            {**asdict(r), "latency": {str(k): v for k, v in r.latency.items()}} for r in self.rows
        ]
        return out


def read_tuning(path: Path) -> dict[str, Any]:
    """``best_params`` of a tuning result (empty when the task was not tuned)."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return dict(data.get("best_params") or {}) if isinstance(data, dict) else {}


def unused_tuned(tuned: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """Tuned keys (``optim.lr``) whose value differs from the trained run's configuration."""
    unused = []
    for key, value in tuned.items():
        sec, _, name = key.partition(".")
        used = (config.get(sec) or {}).get(name)
        same = (
            math.isclose(float(used), float(value), rel_tol=1e-9)
            if isinstance(value, int | float) and isinstance(used, int | float)
            else used == value
        )
        if not same:
            unused.append(key)
    return unused


def paired_test(
    kind: Task, metric: str, a: dict[str, np.ndarray], b: dict[str, np.ndarray], exact_below: int
) -> PairedTest:
    """The task kind's paired test of A against B on the test examples both share; a
    :class:`ComparisonError` when they share too few for it."""
    try:
        return kind.paired_test_aligned(metric, a, b, exact_below)
    except ValueError as exc:  # e.g. fewer than 3 shared windows for Diebold-Mariano
        raise ComparisonError(str(exc)) from None


def compare_task(
    task: str,
    kind: Task,
    archs: Sequence[str],
    primary: str,
    mode: str,
    cfg: CompareConfig,
    paths: Paths,
    *,
    data_dir: Path | None = None,
    data_dirs: Mapping[str, Path | None] | None = None,
    measure: bool = True,
) -> TaskComparison:
    """Build one task's comparison (``data_dir``: its training input folder; ``data_dirs``:
    the folder of each architecture that trains on another, such as the pre-trained rows' own
    tokenization); ``measure=False`` skips latency (tests)."""
    rows: list[Row] = []
    seq_len = None
    predictions: dict[str, dict[str, np.ndarray]] = {}
    for arch in archs:
        name = f"{task}-{arch}"
        data = read_metrics(paths.metrics / f"{name}.json")
        timing = read_timing(paths.metrics / f"{name}.json")
        per_seed = {s: {**m, **timing.get(s, {})} for s, m in data["seeds"].items()}
        mean, std = mean_std(per_seed)
        row = Row(arch, sorted(data["seeds"]), mean, std, parameters=data.get("parameters"))
        row.tuned = read_tuning(paths.tuning / f"{name}.json")
        model_dir = paths.models / name
        if model_dir.is_dir():
            seed = best_seed(model_dir)
            row.best_seed = seed.seed
            row.tuned_unused = unused_tuned(row.tuned, seed.info)
            row.fraction = float((seed.info.get("train") or {}).get("fraction", 1.0))
            row.seq_len = kind.input_length(seed.info, (data_dirs or {}).get(arch, data_dir))
            if family(arch) != "pretrained" or seq_len is None:
                seq_len = row.seq_len  # the task's input length: its from-scratch rows'
            baseline = ARCHITECTURES[seed.info["model"]["arch"]].estimator is not None
            if not baseline:  # bag-of-n-grams baselines: no FLOPs count (sparse products)
                row.flops = estimate_flops(seed.model_config(), seed.spec(), row.seq_len)
            if measure:
                if baseline:  # raw reviews of seq_len vocabulary words in, as served
                    model: Any = FittedBaseline(seed.load())
                    make_input: Any = model.example
                else:
                    model = seed.load()
                    row.parameters = sum(p.numel() for p in model.parameters())
                    make_input = partial(kind.latency_input, seed.spec())
                row.latency = measure_latency(
                    model,
                    make_input,
                    row.seq_len,
                    cfg.latency.batch_sizes,
                    repeats=cfg.latency.repeats,
                    warmup=cfg.latency.warmup,
                    threads=cfg.latency.threads,
                )
            if seed.predictions.is_file():
                predictions[arch] = load_predictions(seed.predictions)
                row.test_examples = len(predictions[arch]["ids"])
        rows.append(row)
    rank = {name: i for i, name in enumerate(FAMILIES)}
    rows.sort(key=lambda r: rank.get(family(r.arch), len(FAMILIES)))  # stable: params order kept
    metrics = [primary, *[m for m in cfg.secondary.get(task, []) if m != primary]]
    out = TaskComparison(
        task, kind, primary, mode, metrics, rows, list(cfg.references.get(task, [])), seq_len
    )
    ranked = [r for r in rows if primary in r.mean and math.isfinite(r.mean[primary])]
    if ranked:
        sign = -1.0 if mode == "max" else 1.0
        out.best = min(ranked, key=lambda r: sign * r.mean[primary]).arch
    if out.best in predictions:
        best = predictions[out.best]
        for row in rows:
            if row.arch != out.best and row.arch in predictions:
                try:
                    row.test = paired_test(
                        kind, primary, best, predictions[row.arch], cfg.exact_below
                    )
                except ComparisonError as exc:  # too few shared examples
                    row.test_skipped = str(exc)
                    log.warning("%s %s vs %s: no paired test (%s)", task, row.arch, out.best, exc)
                    continue
                out.test_method = row.test.method
    out.variants = variants(kind, primary, rows, predictions, cfg.exact_below)
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def variants(
    kind: Task,
    primary: str,
    rows: Sequence[Row],
    predictions: dict[str, dict[str, np.ndarray]],
    exact_below: int,
) -> list[Variant]:
    """Each row whose architecture is a variant of another row's (``base`` in the registry)."""
    by_arch = {r.arch: r for r in rows}
    out = []
    for row in rows:
        entry = ARCHITECTURES.get(row.arch)
        base = by_arch.get(entry.base) if entry is not None and entry.base else None
        if base is None or primary not in row.mean or primary not in base.mean:
            continue
        test = None
        if row.arch in predictions and base.arch in predictions:
            try:
                test = paired_test(
                    kind, primary, predictions[row.arch], predictions[base.arch], exact_below
                )
            except ComparisonError:
                test = None
        out.append(
            Variant(
                row.arch,
                base.arch,
                row.mean[primary] - base.mean[primary],
                math.hypot(row.std.get(primary, 0.0), base.std.get(primary, 0.0)),
                test,
                _ratio(row.parameters, base.parameters),
                _ratio(row.mean.get("seconds_per_epoch"), base.mean.get("seconds_per_epoch")),
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

PERCENT = ("acc", "f1", "auroc")  # fractions shown as percentages


def fmt_metric(name: str, value: float | None, std: float | None = None) -> str:
    """Accuracy-like fractions in % with 2 decimals (``88.12 ± 0.40``); errors with the std
    rounded to 2 significant digits and the mean to the same decimal (``7.50 ± 0.71``)."""
    if value is None or not math.isfinite(value):
        return "—"
    if name.split("/")[-1] in PERCENT:
        text = f"{value * 100:.2f}"
        return text if std is None else f"{text} ± {std * 100:.2f}"
    if std is None:
        return f"{value:.4g}"
    if not math.isfinite(std) or std <= 0:
        return f"{value:#.4g}".rstrip(".") + " ± 0"
    decimals = min(6, max(0, 1 - math.floor(math.log10(std))))
    return f"{value:.{decimals}f} ± {std:.{decimals}f}"


def metric_header(name: str) -> str:
    return f"{name} (%)" if name.split("/")[-1] in PERCENT else name


def fmt_count(n: int | float | None) -> str:
    if n is None:
        return "—"
    n = float(n)
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


def fmt_seconds(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 1000:.3g}"


def fmt_tuned(row: Row) -> str:
    if not row.tuned:
        return "—"
    parts = []
    for key, value in sorted(row.tuned.items()):
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        mark = "†" if key in row.tuned_unused else ""
        parts.append(f"{key}={text}{mark}")
    return ", ".join(parts)


def fmt_p(test: PairedTest | None, alpha: float, is_best: bool) -> str:
    if is_best:
        return "best"
    if test is None:
        return "—"
    star = " *" if test.p_value < alpha else ""
    return f"{test.p_value:.3g}{star}"


def task_table(cmp: TaskComparison, cfg: CompareConfig) -> str:
    """The markdown table of one task: our rows, then the published reference rows."""
    sizes = cfg.latency.batch_sizes
    header = [
        "Family",
        "Architecture",
        "Parameters",
        "FLOPs/seq",
        *(metric_header(m) for m in cmp.metrics),
        "s/epoch",
        "best val epoch (from 0)",
        *(f"latency b={b} (ms/sample)" for b in sizes),
        "p vs best",
        "tuned hyper-parameters",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in cmp.rows:
        spe = row.mean.get("seconds_per_epoch")
        best_epoch = row.mean.get("best_epoch")
        cells = [
            FAMILY_LABELS.get(family(row.arch), family(row.arch)),
            f"**{row.arch}**" if row.arch == cmp.best else row.arch,
            fmt_count(row.parameters),
            fmt_count(row.flops),
            *(fmt_metric(m, row.mean.get(m), row.std.get(m)) for m in cmp.metrics),
            fmt_metric("seconds_per_epoch", spe, row.std.get("seconds_per_epoch")),
            "—" if best_epoch is None else f"{best_epoch:.3g}",
            *(fmt_seconds(row.latency.get(b)) for b in sizes),
            fmt_p(row.test, cfg.alpha, row.arch == cmp.best),
            fmt_tuned(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for ref in cmp.references:
        label = f"*Published: {ref.model}*"
        cells = ["published", label, "—", "—"]
        cells += [fmt_metric(m, ref.metrics.get(m)) for m in cmp.metrics]
        cells += ["—", "—", *("—" for _ in sizes), "—", f"*{ref.source}*"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def variants_table(cmp: TaskComparison, cfg: CompareConfig) -> str:
    """Each variant against its vanilla model: Δ primary, the paired test, the cost ratios."""
    metric = cmp.primary
    header = [
        "Variant", "vs", f"Δ {metric_header(metric)}", "p (paired)", "parameters ×", "s/epoch ×",
    ]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    scale = 100.0 if metric.split("/")[-1] in PERCENT else 1.0
    for v in cmp.variants:
        p = "—" if v.test is None else fmt_p(v.test, cfg.alpha, False)
        cells = [
            v.arch,
            v.base,
            f"{v.delta * scale:+.3g} ± {v.delta_std * scale:.2g}",
            p,
            "—" if v.parameters_ratio is None else f"{v.parameters_ratio:.3g}",
            "—" if v.seconds_ratio is None else f"{v.seconds_ratio:.3g}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def baseline_gap(cmp: TaskComparison) -> str | None:
    """Every learned row against the task's best baseline on the primary metric (mean over
    seeds): the difference (in points for percentages) and the ratio. None without both."""
    primary = cmp.primary
    values = {
        r.arch: v for r in cmp.rows if (v := r.mean.get(primary)) is not None and math.isfinite(v)
    }
    baselines = [a for a in values if family(a) == "baseline"]
    learned = [a for a in values if family(a) != "baseline"]
    if not baselines or not learned:
        return None
    base = (max if cmp.mode == "max" else min)(baselines, key=values.__getitem__)
    ref = values[base]
    percent = primary.split("/")[-1] in PERCENT
    scale, unit = (100.0, " points") if percent else (1.0, "")
    gaps = "; ".join(
        f"{a} {(values[a] - ref) * scale:+.3g}{unit}"
        + (f", {values[a] / ref:.3g}×" if ref and not percent else "")
        for a in learned
    )
    return (
        f"Against the best baseline, **{base}** ({primary} {fmt_metric(primary, ref)}): {gaps} "
        f"(mean over seeds; {'higher' if cmp.mode == 'max' else 'lower'} is better)."
    )


def task_notes(cmp: TaskComparison, cfg: CompareConfig) -> list[str]:
    better = "higher" if cmp.mode == "max" else "lower"
    notes = [f"Ranked by `{cmp.primary}` ({better} is better); best: **{cmp.best or '—'}**."]
    gap = baseline_gap(cmp)
    if gap:
        notes.append(gap)
    if cmp.seq_len:
        notes.append(
            f"FLOPs and latency at the full input length of {cmp.seq_len} {cmp.kind.unit}."
        )
    other = [r for r in cmp.rows if r.seq_len and cmp.seq_len and r.seq_len != cmp.seq_len]
    for length in sorted({r.seq_len for r in other}):
        names = ", ".join(r.arch for r in other if r.seq_len == length)
        notes.append(
            f"{names}: trained on their own tokenization, at up to {length} {cmp.kind.unit}; "
            "their FLOPs and latency are at that length."
        )
    subset = [r for r in cmp.rows if r.fraction < 1.0]
    for fraction in sorted({r.fraction for r in subset}):
        rows = [r for r in subset if r.fraction == fraction]
        sizes = sorted({r.test_examples for r in rows if r.test_examples})
        on = f" ({', '.join(map(str, sizes))} test examples)" if sizes else ""
        notes.append(
            f"**Seeded subset:** {', '.join(r.arch for r in rows)} trained, validated and tested "
            f"on a fixed {fraction:g} share of every split{on}, the same examples for every seed "
            "and architecture; not comparable with full-data figures."
        )
    if cmp.test_method:
        what = cmp.kind.test_description(cfg.exact_below)
        notes.append(
            f"p vs best: {what}, between the best-validation seed of each architecture and that "
            f"of the best; * marks p < {cfg.alpha}."
        )
    for row in cmp.rows:
        if row.test_skipped:
            notes.append(f"p vs best: not computed for {row.arch} ({row.test_skipped}).")
    if any(r.tuned_unused for r in cmp.rows):
        notes.append("† tuned value differs from the configuration the final model used.")
    for ref in cmp.references:
        if ref.setting:
            notes.append(f"Published {ref.model} ({ref.source}): {ref.setting}.")
    return notes


def render_markdown(
    comparisons: Sequence[TaskComparison],
    cfg: CompareConfig,
    figures: dict[str, list[tuple[str, str]]],
    figures_rel: str,
) -> str:
    """The whole ``comparison.md``; ``figures[task]`` lists ``(title, file name)`` to embed."""
    seeds = sorted({len(r.seeds) for c in comparisons for r in c.rows})
    lat = cfg.latency
    out = [
        "# Model comparison",
        "",
        "<!-- Generated by the `compare` stage (pipelines/compare.py); do not edit by hand. -->",
        "",
        f"Test metrics are mean ± sample standard deviation over seeds "
        f"({'/'.join(map(str, seeds))} per architecture). s/epoch and the best validation epoch "
        "(counted from 0, as in the curves, MLflow and DVC) are means over seeds. Latency is "
        "measured on the saved best-validation model on CPU "
        f"({lat.threads} thread{'s' if lat.threads > 1 else ''}, median of {lat.repeats} runs "
        f"after {lat.warmup} warm-up), in milliseconds per sample. Rows in *italics* are "
        "published results, not ours.",
    ]
    for cmp in comparisons:
        out += ["", f"## {cmp.task}", "", task_table(cmp, cfg), ""]
        out += [f"- {note}" for note in task_notes(cmp, cfg)]
        if cmp.variants:
            out += ["", f"### {cmp.task}: variants against their vanilla model", ""]
            out += [variants_table(cmp, cfg), ""]
            out += [
                "- Δ: the variant's mean minus the vanilla model's, ± the root sum of squares of "
                "their standard deviations over seeds; p: the same paired test as above between "
                "their best-validation seeds; ×: variant / vanilla."
            ]
        for title, name in figures.get(cmp.task, []):
            out += ["", f"![{cmp.task}: {title}]({figures_rel}/{name})"]
    return "\n".join(out) + "\n"
