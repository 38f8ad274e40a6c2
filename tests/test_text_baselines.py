"""NBSVM and TF-IDF + LR: fit on raw reviews, compared with McNemar, served on raw text."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from pipeline_outputs import params as pipeline_params
from pipeline_outputs import write_reviews

from seqbench.report.compare import Paths, compare_task
from seqbench.report.config import compare_config
from seqbench.serving.config import register_config
from seqbench.serving.register import register_arch
from seqbench.tasks import TASKS
from seqbench.training.outputs import best_seed, load_predictions
from seqbench.training.run import resolve_run
from seqbench.training.seeds import train_all_seeds

BASELINES = ("nbsvm", "tfidf_lr")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("text-baselines")
    write_reviews(root / "processed" / "imdb")  # 120 / 24 / 40 synthetic reviews
    params = pipeline_params()
    params["models"] |= {
        "nbsvm": {"c_values": [0.1, 1.0], "nb_beta": [0.25, 0.5]},
        "tfidf_lr": {"c_values": [1.0, 10.0]},
    }
    for arch in BASELINES:
        spec = resolve_run(
            params,
            "imdb",
            arch,
            data_dir=root / "tokenized" / "imdb",  # not read: the baselines take raw reviews
            processed_dir=root / "processed" / "imdb",
        )
        train_all_seeds(
            spec,
            models_dir=root / "models" / f"imdb-{arch}",
            metrics_path=root / "metrics" / f"imdb-{arch}.json",
            curves_path=root / "curves" / f"imdb-{arch}.csv",
            track=False,
        )
    return root, params


@pytest.mark.parametrize("arch", BASELINES)
def test_baselines_choose_their_setting_on_validation_and_test_once(trained, arch):
    root, _ = trained
    metrics = json.loads((root / "metrics" / f"imdb-{arch}.json").read_text())
    assert metrics["mean"]["test/acc"] >= 0.85  # the synthetic reviews carry sentiment words
    seed = best_seed(root / "models" / f"imdb-{arch}")
    grid = 4 if arch == "nbsvm" else 2
    assert metrics["seeds"]["s0"]["epochs"] == grid and seed.format == "joblib"
    curves = pd.read_csv(root / "curves" / f"imdb-{arch}.csv")
    best = curves[curves.seed == 0]["val/acc"].max()
    assert metrics["seeds"]["s0"]["best_val/acc"] == pytest.approx(best)
    predictions = load_predictions(seed.predictions)
    assert np.array_equal(predictions["ids"], np.arange(40))
    accuracy = (predictions["probs"].argmax(-1) == predictions["labels"]).mean()
    assert accuracy == pytest.approx(seed.test["test/acc"])


def test_the_comparison_pairs_the_baselines_with_mcnemar(trained):
    root, params = trained
    paths = Paths(root / "metrics", root / "models", root / "curves", root / "tuning", root)
    cmp = compare_task(
        "imdb", TASKS["classification"], list(BASELINES), "test/acc", "max",
        compare_config(params), paths, measure=True,
    )  # fmt: skip
    other = next(r for r in cmp.rows if r.arch != cmp.best)
    assert other.test is not None and other.test.method in ("exact binomial", "chi-square (cc)")
    for row in cmp.rows:
        assert row.flops is None and row.parameters and row.latency[1] > 0


@pytest.mark.slow
def test_a_registered_baseline_serves_raw_text(trained, tmp_path, monkeypatch):
    root, params = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    done = register_arch(
        "imdb", "nbsvm", register_config(params), models_dir=root / "models", data_dir=None
    )
    served = mlflow.pyfunc.load_model(f"models:/seqbench-imdb/{done.version}")
    reviews = ["A wonderful, moving film.", "Dull, predictable and far too long."]
    out = served.predict(pd.DataFrame({"text": reviews}))
    pipeline = best_seed(root / "models" / "imdb-nbsvm").load()
    assert np.allclose(out["p_positive"], pipeline.predict_proba(reviews)[:, 1])
    assert set(out["label"]) <= {"negative", "positive"}
    with pytest.raises(MlflowException, match="row 1: expected review text, got '<br />'"):
        served.predict(pd.DataFrame({"text": ["Fine.", "<br />"]}))


def test_a_seed_free_baseline_is_fit_once_per_data_and_given_each_seed(tmp_path, monkeypatch):
    from seqbench.training import estimators

    processed = tmp_path / "processed" / "imdb"
    write_reviews(processed)
    params = pipeline_params()
    params["models"] |= {"tfidf_lr": {"c_values": [1.0]}}

    def spec(**train):
        return resolve_run(
            params,
            "imdb",
            "tfidf_lr",
            overrides={f"train.{k}": v for k, v in train.items()},
            data_dir=tmp_path / "tokenized" / "imdb",
            processed_dir=processed,
        )

    fits = []
    real = estimators._fit
    monkeypatch.setattr(estimators, "_fit", lambda *a: fits.append(a[1]) or real(*a))
    monkeypatch.setattr(estimators, "_FITS", {})
    whole = spec()
    first, second = (estimators.fit_estimator(whole, s, evaluate_test=True) for s in (0, 1))
    assert fits == [0] and (first.seed, second.seed) == (0, 1)
    assert second.model is first.model and second.test == first.test
    # new data (another modification time) is fit again
    frame = pd.read_parquet(processed / "train.parquet")
    frame.iloc[::-1].to_parquet(processed / "train.parquet")
    estimators.fit_estimator(whole, 2, evaluate_test=True)
    assert fits == [0, 2]
    # a seeded share of the training split depends on the seed: every seed is fit
    shared = spec(train_share=0.5)
    for seed in (0, 1):
        estimators.fit_estimator(shared, seed)
    assert fits == [0, 2, 0, 1]
