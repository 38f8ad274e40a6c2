"""Comparison report: mean ± std, markdown with reference rows, McNemar and Diebold-Mariano."""

from __future__ import annotations

import json
import math
import re
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from pipeline_outputs import cached_outputs, params
from scipy import stats

from seqbench.report.build import build_report
from seqbench.report.compare import Paths
from seqbench.report.config import compare_config
from seqbench.report.latency import measure_latency
from seqbench.stats import diebold_mariano, mcnemar, mcnemar_predictions
from seqbench.training.outputs import load_predictions, mean_std


def test_mcnemar_exact_binomial_small_counts() -> None:
    # b=2, c=8: two-sided exact p = 2 * P(X <= 2 | n=10, 1/2) = 2 * (1 + 10 + 45) / 1024
    result = mcnemar(2, 8)
    assert result.method == "exact binomial"
    assert result.p_value == pytest.approx(112 / 1024)
    assert mcnemar(5, 5).p_value == pytest.approx(1.0)
    assert mcnemar(0, 0).p_value == 1.0


def test_mcnemar_chi_square_with_continuity_correction() -> None:
    # b=30, c=10: (|30 - 10| - 1)^2 / 40 = 9.025; chi2(1) tail = erfc(sqrt(9.025 / 2))
    result = mcnemar(30, 10)
    assert result.method == "chi-square (cc)"
    assert result.statistic == pytest.approx(9.025)
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(9.025 / 2)))
    assert result.p_value < 0.003


def test_mcnemar_from_predictions_counts_discordant_pairs() -> None:
    a = np.array([1, 1, 1, 0, 0, 1], dtype=bool)
    b = np.array([1, 0, 0, 1, 0, 1], dtype=bool)
    result = mcnemar_predictions(a, b)  # b: A right & B wrong = 2, c: A wrong & B right = 1
    assert result.detail == "b=2 c=1" and result.n == 3


def test_diebold_mariano_hand_computed() -> None:
    # d = [1, 2, 3, 4]: mean 2.5, gamma0 = 1.25, gamma1 = 0.3125, n = 4.
    zeros = np.zeros(4)
    d = np.array([1.0, 2.0, 3.0, 4.0])
    one = diebold_mariano(d, zeros, horizon=1)  # 2.5 / sqrt(1.25 / 4) * sqrt(3 / 4) = sqrt(15)
    assert one.statistic == pytest.approx(math.sqrt(15))
    assert one.p_value == pytest.approx(2 * stats.t.sf(math.sqrt(15), df=3))
    two = diebold_mariano(d, zeros, horizon=2)  # 2.5 / sqrt(1.875 / 4) * sqrt(1.5 / 4) = sqrt(5)
    assert two.statistic == pytest.approx(math.sqrt(5))
    assert diebold_mariano(zeros, d, horizon=1).statistic == pytest.approx(-math.sqrt(15))
    same = diebold_mariano(d, d)
    assert same.statistic == 0.0 and same.p_value == 1.0


def test_diebold_mariano_detects_a_better_forecaster() -> None:
    rng = np.random.default_rng(0)
    truth = rng.standard_normal(400)
    good = np.abs(truth - (truth + 0.1 * rng.standard_normal(400)))
    bad = np.abs(truth - (truth + 0.5 * rng.standard_normal(400)))
    assert diebold_mariano(good, bad).p_value < 1e-6
    noisy = np.abs(truth - (truth + 0.1 * rng.standard_normal(400)))
    assert diebold_mariano(good, noisy).p_value > 0.01


def test_mean_std_is_sample_std_over_seeds() -> None:
    mean, std = mean_std({"s0": {"test/acc": 0.8}, "s1": {"test/acc": 0.9}, "s2": {"x": 1.0}})
    assert mean["test/acc"] == pytest.approx(0.85)
    assert std["test/acc"] == pytest.approx(math.sqrt(0.005))  # (n - 1) denominator
    assert std["x"] == 0.0


def fake_metrics(root: Path) -> Paths:
    """metrics/<task>-<arch>.json only: no models, curves or tuning."""
    values = {
        ("imdb", "gru"): [{"test/acc": 0.80, "test/f1": 0.70}, {"test/acc": 0.90, "test/f1": 0.80}],
        ("imdb", "transformer"): [{"test/acc": 0.86}, {"test/acc": 0.86}],
        ("toy", "gru"): [{"test/mae": 7.0, "test/rmse": 9.0}, {"test/mae": 8.0, "test/rmse": 10.0}],
        ("toy", "transformer"): [{"test/mae": 6.0}, {"test/mae": 6.5}],
    }
    (root / "metrics").mkdir(parents=True)
    for (task, arch), seeds in values.items():
        per_seed = {
            f"s{i}": {**m, "seconds_per_epoch": 2.0 + i, "best_epoch": float(i)}
            for i, m in enumerate(seeds)
        }
        data = {"parameters": 1234, "mean": {}, "std": {}, "seeds": per_seed}
        (root / "metrics" / f"{task}-{arch}.json").write_text(json.dumps(data))
    return Paths(root / "metrics", root / "none", root / "none", root / "none", root / "none")


def test_report_from_fake_metrics(tmp_path: Path) -> None:
    paths = fake_metrics(tmp_path)
    md = tmp_path / "reports" / "comparison.md"
    comparisons = build_report(
        params(), paths, markdown=md, figures_dir=tmp_path / "reports" / "figures", measure=False
    )
    text = md.read_text()
    imdb_rows = [line for line in text.splitlines() if line.startswith("| ")]
    gru = next(r for r in imdb_rows if r.startswith("| recurrent | gru |"))
    assert "85.00 ± 7.07" in gru and "75.00 ± 7.07" in gru  # acc and f1 in %
    assert "| 2.50 ± 0.71 | 0.5 |" in gru  # s/epoch mean ± std; best epoch counted from 0
    assert (
        "| **transformer** | 1.23k |" in text
        and "86.00 ± 0.00" in text
        and "| 6.25 ± 0.35 |" in text
    )
    assert "| *Published: Maas et al. 2011* | — | — | 88.89 |" in text
    assert "| 7.50 ± 0.71 | 9.50 ± 0.71 |" in text and "| **transformer** |" in text
    assert "| *Published: LSTM* | — | — | 7.16 | 9.71 |" in text
    assert [c.best for c in comparisons] == ["transformer", "transformer"]
    assert "(higher is better)" in text and "(lower is better)" in text
    figures = sorted(p.name for p in (tmp_path / "reports" / "figures").iterdir())
    assert "imdb-metrics.png" in figures and "toy-vs-time.png" in figures
    assert "](figures/imdb-metrics.png)" in text


def test_report_from_trained_models(tmp_path_factory: pytest.TempPathFactory) -> None:
    out = cached_outputs(tmp_path_factory.getbasetemp())
    paths = Paths(out.metrics, out.models, out.curves, out.tuning, out.tokenized)
    reports = out.root / "reports-test"
    comparisons = build_report(
        out.params,
        paths,
        markdown=reports / "comparison.md",
        figures_dir=reports / "figures",
        summary=reports / "comparison.json",
    )
    imdb, toy = comparisons
    for cmp in comparisons:
        assert len(cmp.rows) == 2 and cmp.best in ("gru", "transformer")
        for row in cmp.rows:
            assert row.flops and row.flops > 0 and row.parameters and row.parameters > 0
            assert set(row.latency) == {1, 4} and all(v > 0 for v in row.latency.values())
            assert (row.test is None) == (row.arch == cmp.best)
    other = next(r for r in imdb.rows if r.arch != imdb.best)
    assert other.test.method in ("exact binomial", "chi-square (cc)")
    assert next(r for r in toy.rows if r.arch != toy.best).test.method.startswith("Diebold")
    gru = next(r for r in imdb.rows if r.arch == "gru")
    assert gru.tuned_unused == ["model.hidden_size"]  # tuned 64, trained with 12
    summary = json.loads((reports / "comparison.json").read_text())
    assert [t["task"] for t in summary["tasks"]] == ["imdb", "toy"]
    assert "| latency b=1 (ms/sample) |" in (reports / "comparison.md").read_text()


def test_train_stage_saves_aligned_test_predictions(tmp_path_factory) -> None:
    from seqbench.data.tokenize import load_encoded

    out = cached_outputs(tmp_path_factory.getbasetemp())
    pred = load_predictions(out.models / "imdb-gru" / "seed0.predictions.npz")
    labels = load_encoded(out.tokenized / "imdb", "test").labels
    assert np.array_equal(pred["ids"], np.arange(len(labels)))  # every review once, by id
    assert np.array_equal(pred["labels"], labels[pred["ids"]])
    assert np.allclose(pred["probs"].sum(-1), 1.0)
    metrics = json.loads((out.models / "imdb-gru" / "seed0.json").read_text())["test"]
    acc = (pred["probs"].argmax(-1) == pred["labels"]).mean()
    assert acc == pytest.approx(metrics["test/acc"], abs=1e-6)
    series = load_predictions(out.models / "toy-gru" / "seed0.predictions.npz")
    assert series["pred"].shape[1:] == (3, 1) and np.all(np.diff(series["ids"]) > 0)
    mae = np.abs(series["pred"] - series["true"]).mean()
    toy = json.loads((out.models / "toy-gru" / "seed0.json").read_text())["test"]
    assert mae == pytest.approx(toy["test/mae"], rel=1e-4)
    assert 5.0 < series["true"].mean() < 15.0  # original units (series around 10)


def test_latency_is_per_sample(tmp_path_factory) -> None:
    from seqbench.training.outputs import best_seed

    out = cached_outputs(tmp_path_factory.getbasetemp())
    seed = best_seed(out.models / "toy-gru")
    lat = measure_latency(
        seed.load(), partial(seed.kind.latency_input, seed.spec()), 8, (1, 64), repeats=3, warmup=1
    )
    assert lat[64] < lat[1]  # batching amortizes per-call overhead


def test_compare_config_rejects_bad_values() -> None:
    from seqbench.typed import ConfigError

    with pytest.raises(ConfigError, match=r"compare\.latency\.repeats"):
        compare_config({"compare": {"latency": {"repeats": 0}}})
    with pytest.raises(ConfigError, match=r"compare\.references\.imdb\[0\]\.metrics"):
        compare_config({"compare": {"references": {"imdb": [{"model": "x", "source": "y"}]}}})


def test_too_few_shared_test_examples_give_a_note_not_a_traceback(tmp_path_factory, tmp_path):
    import shutil

    from seqbench.report.compare import compare_task
    from seqbench.tasks import TASKS

    out = cached_outputs(tmp_path_factory.getbasetemp())
    models = tmp_path / "models"
    for arch in ("gru", "transformer"):
        shutil.copytree(out.models / f"toy-{arch}", models / f"toy-{arch}")
    for path in (models / "toy-transformer").glob("*.predictions.npz"):  # 2 windows left
        arrays = dict(np.load(path))
        np.savez(path, **{k: v[:2] for k, v in arrays.items()})
    paths = Paths(out.metrics, models, out.curves, out.tuning, out.tokenized)
    cfg = compare_config(out.params)
    cmp = compare_task(
        "toy", TASKS["forecasting"], ["gru", "transformer"], "test/mae", "min", cfg, paths,
        measure=False,
    )  # fmt: skip
    other = next(r for r in cmp.rows if r.arch != cmp.best)
    assert other.test is None and "need at least 3 paired losses, got 2" in other.test_skipped
    from seqbench.report.compare import task_notes

    assert any(f"not computed for {other.arch}" in n for n in task_notes(cmp, cfg))


def test_rows_are_grouped_by_family_and_variants_face_their_vanilla_model(
    tmp_path_factory, tmp_path
):
    import shutil

    from seqbench.report.compare import compare_task, render_markdown

    out = cached_outputs(tmp_path_factory.getbasetemp())
    metrics, models = tmp_path / "metrics", tmp_path / "models"
    shutil.copytree(out.metrics, metrics)
    shutil.copytree(out.models, models)
    # a "bigru" row that is the gru's run with every seed 1 point more accurate
    data = json.loads((metrics / "imdb-gru.json").read_text())
    for seed in data["seeds"].values():
        seed["test/acc"] += 0.01
    (metrics / "imdb-bigru.json").write_text(json.dumps(data))
    shutil.copytree(models / "imdb-gru", models / "imdb-bigru")
    paths = Paths(metrics, models, out.curves, out.tuning, out.tokenized)
    cfg = compare_config(out.params)
    from seqbench.tasks import TASKS

    cmp = compare_task(
        "imdb", TASKS["classification"], ["transformer", "bigru", "gru"], "test/acc", "max",
        cfg, paths, measure=False,
    )  # fmt: skip
    assert [r.arch for r in cmp.rows] == ["bigru", "gru", "transformer"]  # recurrent first
    (variant,) = cmp.variants
    assert (variant.arch, variant.base) == ("bigru", "gru")
    assert variant.delta == pytest.approx(0.01) and variant.parameters_ratio == 1.0
    assert variant.test is not None and variant.test.p_value == 1.0  # the same predictions
    text = render_markdown([cmp], cfg, {}, "figures")
    assert "### imdb: variants against their vanilla model" in text
    assert "| bigru | gru | +1 ± " in text
    assert re.search(r"\| recurrent \| (\*\*)?bigru(\*\*)? \|", text)
    assert re.search(r"\| transformer \| (\*\*)?transformer(\*\*)? \|", text)


def test_rows_on_a_seeded_subset_are_named_in_the_notes() -> None:
    from seqbench.report.compare import Row, TaskComparison, task_notes
    from seqbench.tasks import TASKS

    def row(arch: str, fraction: float, n: int) -> Row:
        return Row(arch, ["0"], {"test/acc": 0.8}, {}, fraction=fraction, test_examples=n)

    rows = [row("lstm", 1.0, 25000), row("transformer", 0.08, 2000), row("minilm", 0.08, 2000)]
    cmp = TaskComparison("imdb", TASKS["classification"], "test/acc", "max", ["test/acc"], rows, [])
    notes = [n for n in task_notes(cmp, compare_config({})) if "Seeded subset" in n]
    assert len(notes) == 1
    assert "transformer, minilm trained" in notes[0] and "0.08 share" in notes[0]
    assert "(2000 test examples)" in notes[0] and "lstm" not in notes[0]
    rows[0].fraction = 1.0
    full = TaskComparison("imdb", TASKS["classification"], "test/acc", "max", [], rows[:1], [])
    assert not any("Seeded subset" in n for n in task_notes(full, compare_config({})))


def test_bar_figure_draws_every_registered_family(tmp_path: Path, monkeypatch) -> None:
    """Every family in the registry has a colour, a marker and a legend entry: a family missing
    from the figure's tables broke compare once (a 'pretrained' row, KeyError)."""
    from seqbench.models import ARCHITECTURES
    from seqbench.report import plots
    from seqbench.report.compare import FAMILIES, Row, TaskComparison
    from seqbench.tasks import TASKS

    families = {entry.family for entry in ARCHITECTURES.values()}
    assert families <= set(FAMILIES)
    assert set(FAMILIES) <= plots.FAMILY_COLORS.keys() & plots.FAMILY_MARKERS.keys()
    one_each = {ARCHITECTURES[a].family: a for a in ARCHITECTURES}
    archs = [*one_each.values(), "not_registered"]
    rows = [Row(a, ["0"], {"test/acc": 0.5 + i / 20}, {}) for i, a in enumerate(archs)]
    cmp = TaskComparison("t", TASKS["classification"], "test/acc", "max", ["test/acc"], rows, [])
    cmp.best = archs[-1]
    saved = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.setdefault("fig", fig))
    plots.metric_bars(cmp, tmp_path / "bars.png")
    labels = [t.get_text() for t in saved["fig"].legends[0].get_texts()]
    assert labels == [*(f for f in FAMILIES if f in families), "other", "best test/acc"]
    faces = [bar.get_facecolor() for bar in saved["fig"].axes[0].patches]
    assert len(set(faces)) == len(archs)  # one colour per family, the unregistered one apart


def test_every_learned_row_is_set_against_the_best_baseline() -> None:
    from seqbench.report.compare import Row, TaskComparison, baseline_gap
    from seqbench.tasks import TASKS

    def row(arch: str, mse: float) -> Row:
        return Row(arch, ["0"], {"test/mse_scaled": mse}, {})

    rows = [row("naive", 0.069), row("nlinear", 0.05), row("lstm", 0.2), row("transformer", 0.15)]
    cmp = TaskComparison("etth1", TASKS["forecasting"], "test/mse_scaled", "min", [], rows, [])
    note = baseline_gap(cmp)
    assert note is not None and "best baseline, **nlinear** (test/mse_scaled 0.05)" in note
    assert "lstm +0.15, 4×; transformer +0.1, 3×" in note and "naive" not in note
    acc = [
        Row("nbsvm", ["0"], {"test/acc": 0.9135}, {}),
        Row("lstm", ["0"], {"test/acc": 0.8823}, {}),
    ]
    cmp = TaskComparison("imdb", TASKS["classification"], "test/acc", "max", [], acc, [])
    assert "**nbsvm** (test/acc 91.35): lstm -3.12 points (mean" in str(baseline_gap(cmp))
    assert (
        baseline_gap(
            TaskComparison("imdb", TASKS["classification"], "test/acc", "max", [], acc[1:], [])
        )
        is None
    )
