"""Training service: config layering, fitting both tasks, reproducibility, outputs and MLflow."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import toy_datasets
from torch import nn

from seqbench.data.config import CsvSeriesConfig
from seqbench.data.kinds import task_architectures, train_tasks
from seqbench.profiles import run_with_profile
from seqbench.tasks import NonFiniteLossError
from seqbench.training.fit import configure_threads, fit, physical_cores
from seqbench.training.run import load_best_params, resolve_run
from seqbench.training.seeds import train_all_seeds
from seqbench.typed import ConfigError, build, deep_merge, load_params


def base_params() -> dict:
    """A tiny params.yaml: IMDB-like text task and an ETTh1-like forecasting task."""
    return {
        "datasets": toy_datasets(),
        "models": {
            "lstm": {"hidden_size": 16},
            "gru": {"hidden_size": 16},
            "transformer": {"hidden_size": 16, "num_heads": 2, "ff_size": 32},
        },
        "train": {
            "tasks": {"text": ["imdb"], "series": ["toy"]},
            "architectures": {"text": ["lstm", "gru"], "series": ["lstm", "gru"]},
            "seeds": [0, 1],
            "defaults": {
                "optim": {"lr": 0.01, "scheduler": "cosine"},
                "train": {"max_epochs": 4, "patience": 2, "batch_size": 16, "threads": 1},
            },
            "imdb": {
                "task": {"monitor": "val/acc", "mode": "max", "primary": "test/acc"},
                "arch": {"gru": {"model": {"hidden_size": 12}, "optim": {"lr": 0.02}}},
            },
            "toy": {
                "task": {"loss": "mse", "monitor": "val/mae", "report_scaled": True},
                "model": {"hidden_size": 8},
            },
        },
    }


def write_tokenized(root: Path, vocab: int = 30) -> Path:
    """Separable synthetic reviews: positives use tokens 2..14, negatives 15..29."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for split, n in {"train": 160, "val": 48, "test": 48}.items():
        labels = rng.integers(0, 2, size=n)
        seqs = [
            rng.integers(2, 15, rng.integers(3, 20))
            if y
            else rng.integers(15, vocab, rng.integers(3, 20))
            for y in labels
        ]
        offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
        np.savez(
            root / f"{split}.npz",
            ids=np.concatenate(seqs).astype(np.int32),
            offsets=offsets,
            labels=labels.astype(np.int64),
        )
    (root / "meta.json").write_text(json.dumps({"vocab_size": vocab, "pad_id": 0, "unk_id": 1}))
    return root


def write_series(tmp_path: Path, params: dict) -> Path:
    """An hourly two-column series prepared by the time-series stage code."""
    from seqbench.data.timeseries import prepare

    t = np.arange(470)
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2020-01-01", periods=len(t), freq="h").strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "a": np.cos(t / 5.0),
            "OT": 10 + 5 * np.sin(t / 4.0) + 0.1 * np.random.default_rng(0).standard_normal(len(t)),
        }
    )
    raw = tmp_path / "raw"
    raw.mkdir()
    frame.to_csv(raw / "toy.csv", index=False)
    cfg = build(CsvSeriesConfig, params["datasets"]["toy"], "datasets.toy")
    prepare(cfg, raw, tmp_path / "processed")
    return tmp_path / "processed"


@pytest.fixture
def text_spec(tmp_path: Path):
    return resolve_run(base_params(), "imdb", "lstm", data_dir=write_tokenized(tmp_path / "tok"))


@pytest.fixture
def series_spec(tmp_path: Path):
    params = base_params()
    return resolve_run(params, "toy", "gru", data_dir=write_series(tmp_path, params))


def test_resolve_run_layers_params_and_overrides(tmp_path: Path) -> None:
    params = base_params()
    spec = resolve_run(params, "imdb", "gru")
    assert spec.task.kind == "classification" and spec.model.arch == "gru"
    assert spec.model.hidden_size == 12 and spec.optim.lr == 0.02  # per task × arch layer
    assert spec.train.max_epochs == 4 and spec.seeds == (0, 1)
    assert spec.data_dir == Path("data/tokenized/imdb")
    toy = resolve_run(params, "toy", "lstm", {"optim.lr": 0.5, "model.num_layers": 2})
    assert (toy.task.kind, toy.task.loss, toy.model.hidden_size) == ("forecasting", "mse", 8)
    assert toy.optim.lr == 0.5 and toy.model.num_layers == 2
    best = tmp_path / "best.json"
    best.write_text(json.dumps({"best_params": {"train.batch_size": 7}, "value": 0.1}))
    assert resolve_run(params, "toy", "lstm", load_best_params(best)).train.batch_size == 7
    with pytest.raises(ConfigError, match=r"model\.hiden_size: unknown override"):
        resolve_run(params, "toy", "lstm", {"model.hiden_size": 3})
    with pytest.raises(ConfigError, match=r"train\.toy\.optim\.lr"):
        resolve_run(params, "toy", "lstm", {"optim.lr": -1.0})
    with pytest.raises(ConfigError, match="arch"):
        resolve_run(params, "toy", "nope")
    params["train"]["toy"]["task"]["loss"] = "cross_entropy"
    with pytest.raises(ConfigError, match="loss"):
        resolve_run(params, "toy", "lstm")


def test_classification_fit_learns_and_is_reproducible(text_spec) -> None:
    first = fit(text_spec, seed=3, evaluate_test=True)
    losses = [h["train/loss"] for h in first.history]
    assert losses[-1] < losses[0]
    assert first.test["test/acc"] > 0.8
    assert {"test/loss", "test/acc", "test/f1", "test/auroc"} <= set(first.test)
    assert first.best_val == max(h["val/acc"] for h in first.history)
    assert first.history[0]["train/lr"] == pytest.approx(text_spec.optim.lr)  # cosine start
    assert first.history[1]["train/lr"] < text_spec.optim.lr
    assert 0.0 <= first.padding_fraction < 0.3
    again = fit(text_spec, seed=3, evaluate_test=True)
    assert again.test == first.test
    assert [h["val/loss"] for h in again.history] == [h["val/loss"] for h in first.history]


def test_forecasting_fit_learns_and_reports_original_and_scaled(series_spec) -> None:
    result = fit(series_spec, seed=0, evaluate_test=True)
    losses = [h["train/loss"] for h in result.history]
    assert losses[-1] < losses[0]
    assert {"test/mae", "test/rmse", "test/mape", "test/mse_scaled", "test/mae_scaled"} <= set(
        result.test
    )
    assert len(result.test_per_step["mae"]) == 3
    # original units: the target has amplitude 5 around 10, so errors are far from scaled ones
    assert result.test["test/mae"] != pytest.approx(result.test["test/mae_scaled"])
    assert result.best_epoch == min(
        range(result.epochs), key=lambda e: result.history[e]["val/mae"]
    )


def test_window_baselines_fit_and_the_naive_one_is_evaluated_as_is(tmp_path: Path) -> None:
    params = base_params()
    data = write_series(tmp_path, params)
    naive = fit(resolve_run(params, "toy", "naive", data_dir=data), seed=0, evaluate_test=True)
    assert naive.parameters == 0 and naive.epochs == 1 and naive.best_epoch == 0
    assert naive.test["test/mae"] > 0 and math.isnan(naive.history[0]["train/lr"])
    nlinear = fit(resolve_run(params, "toy", "nlinear", data_dir=data), seed=0, evaluate_test=True)
    losses = [h["train/loss"] for h in nlinear.history]
    assert nlinear.parameters == 8 * 3 + 3 and losses[-1] < losses[0]
    # the toy target is a sine (period 8π steps): a fitted linear map beats the last value
    assert nlinear.test["test/mae"] < naive.test["test/mae"]


class NaNModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return torch.full((len(x), 3, 1), float("nan")) * self.w


def test_non_finite_loss_stops_training(series_spec) -> None:
    with pytest.raises(NonFiniteLossError):
        fit(series_spec, seed=0, model=NaNModel())


class Boom(L.Callback):
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        raise RuntimeError("boom")


@pytest.fixture
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return uri


def test_train_all_seeds_writes_outputs_and_tracks_runs(
    series_spec, tmp_path: Path, mlflow_uri: str
) -> None:
    import mlflow

    from seqbench import tracking

    out = tmp_path / "out"
    summary = train_all_seeds(
        series_spec,
        models_dir=out / "models",
        metrics_path=out / "m.json",
        curves_path=out / "curves.csv",
        inputs=[str(series_spec.data_dir)],
    )
    metrics = json.loads((out / "m.json").read_text())
    assert metrics == json.loads(json.dumps(summary))
    maes = [metrics["seeds"][s]["test/mae"] for s in ("s0", "s1")]
    assert metrics["mean"]["test/mae"] == pytest.approx(np.mean(maes))
    assert metrics["std"]["test/mae"] == pytest.approx(np.std(maes, ddof=1))
    files = {p.name for p in (out / "models").iterdir()}
    assert {"seed0.json", "seed0.pt", "seed1.json", "seed1.pt"} <= files
    state = torch.load(out / "models" / "seed1.pt")
    assert sum(v.numel() for v in state.values()) == metrics["parameters"]
    rows = list(csv.DictReader((out / "curves.csv").open()))
    assert {r["seed"] for r in rows} == {"0", "1"} and "val/mae" in rows[0]
    assert {r["monitor"] for r in rows} == {series_spec.task.monitor}  # for the DVC template

    client = mlflow.MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("toy")
    runs = client.search_runs([exp.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["toy-gru-s0", "toy-gru-s1"]
    run = next(r for r in runs if r.info.run_name == "toy-gru-s0")
    assert run.info.status == "FINISHED"
    assert run.data.params["optim.lr"] == "0.01" and run.data.params["model.arch"] == "gru"
    for tag in (
        "seqbench.git_commit",
        "seqbench.git_dirty",
        "seqbench.stage",
        "seqbench.version",
        "seqbench.parameters",
        "seqbench.device",
        "seqbench.train_seconds",
        "seqbench.seconds_per_epoch",
        f"seqbench.data.{series_spec.data_dir.name}",
    ):
        assert any(k.startswith(tag) for k in run.data.tags), tag
    assert run.data.tags["seqbench.stage"] == "train@toy-gru"
    assert run.data.metrics["test/mae"] == pytest.approx(metrics["seeds"]["s0"]["test/mae"])
    history = client.get_metric_history(run.info.run_id, "val/mae")
    assert len(history) == metrics["seeds"]["s0"]["epochs"]
    assert len(client.get_metric_history(run.info.run_id, "train/mae")) == len(history)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "learning_curve.png" in artifacts
    model_uri = run.data.tags["seqbench.model_uri"]
    model = tracking.load_model(model_uri)
    x = torch.zeros(2, 8, 2)
    assert model(x).shape == (2, 3, 1)


def test_quality_metrics_are_byte_identical_on_a_rerun_and_timings_are_apart(
    series_spec, tmp_path: Path
) -> None:
    def train(out: Path) -> None:
        train_all_seeds(
            series_spec,
            models_dir=out / "models",
            metrics_path=out / "metrics" / "m.json",
            curves_path=out / "curves.csv",
            track=False,
        )

    train(tmp_path / "a")
    train(tmp_path / "b")
    a, b = (tmp_path / d / "metrics" / "m.json" for d in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()
    assert "seconds" not in a.read_text()
    timing = json.loads((tmp_path / "a" / "metrics" / "timing" / "m.json").read_text())
    assert set(timing["seeds"]) == {"s0", "s1"}
    assert all(t["seconds_per_epoch"] > 0 for t in timing["seeds"].values())


def test_crash_mid_training_ends_the_run_failed(
    series_spec, tmp_path: Path, mlflow_uri: str
) -> None:
    import mlflow

    def crashing_fit(spec, seed, **kw):
        return fit(spec, seed, **{**kw, "callbacks": [*kw.get("callbacks", []), Boom()]})

    with pytest.raises(RuntimeError, match="boom"):
        train_all_seeds(
            series_spec,
            models_dir=tmp_path / "m",
            metrics_path=tmp_path / "m.json",
            curves_path=tmp_path / "c.csv",
            fit_fn=crashing_fit,
        )
    client = mlflow.MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("toy").experiment_id])
    assert [(r.info.run_name, r.info.status) for r in runs] == [("toy-gru-s0", "FAILED")]
    assert not (tmp_path / "m.json").exists()


def test_profile_overlay_is_merged_then_restored(tmp_path: Path) -> None:
    assert deep_merge({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}}) == {"a": {"b": 1, "c": [2]}}
    params = tmp_path / "params.yaml"
    params.write_text("# comment kept\ntrain:\n  seeds: [0, 1, 2]\n  defaults: {lr: 1}\n")
    original = params.read_text()
    profile = tmp_path / "smoke.yaml"
    profile.write_text("train: {seeds: [0]}\n")
    seen = tmp_path / "seen.yaml"
    code = run_with_profile(profile, ["cp", str(params), str(seen)], params)
    assert code == 0 and params.read_text() == original
    assert yaml.safe_load(seen.read_text())["train"] == {"seeds": [0], "defaults": {"lr": 1}}
    profile.write_text("train: {sedes: [0]}\n")
    with pytest.raises(ConfigError, match="sedes: unknown key"):
        run_with_profile(profile, ["true"], params)
    assert params.read_text() == original


def test_a_profile_typo_at_any_depth_fails_before_the_command_runs(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    shutil.copyfile(Path(__file__).resolve().parents[1] / "params.yaml", params)
    original = params.read_bytes()
    profile = tmp_path / "typo.yaml"
    profile.write_text("train:\n  pems:\n    train: {max_epoch: 3}\n")
    ran = tmp_path / "ran"
    with pytest.raises(ConfigError, match=r"typo\.yaml .*train\.pems\.train\.max_epoch: unknown"):
        run_with_profile(profile, ["touch", str(ran)], params)
    assert not ran.exists() and params.read_bytes() == original
    profile.write_text("train:\n  pems:\n    train: {max_epochs: 3}\n")
    assert run_with_profile(profile, ["touch", str(ran)], params) == 0 and ran.exists()


def test_threads_auto_uses_physical_cores() -> None:
    import os

    before = torch.get_num_threads()
    try:
        assert 1 <= physical_cores() <= len(os.sched_getaffinity(0))
        assert configure_threads("auto") == physical_cores()
        assert configure_threads(1) == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    "profile", [None, "profiles/smoke.yaml", "profiles/large.yaml", "profiles/variants.yaml"]
)
def test_shipped_params_and_profiles_resolve_for_every_stage(profile: str | None) -> None:
    """params.yaml alone and with each shipped profile builds every train and tune config."""
    from seqbench.models import ARCHITECTURES
    from seqbench.profiles import merged_params
    from seqbench.tuning import tune_config

    root = Path(__file__).resolve().parents[1]
    params = (
        load_params(root / "params.yaml")
        if profile is None
        else merged_params(root / "params.yaml", root / profile)
    )
    for task in train_tasks(params):
        for arch in task_architectures(params, task):
            spec = resolve_run(params, task, arch)
            assert spec.seeds and spec.train.max_epochs >= 1
            cfg = tune_config(params, task, arch)
            # an empty space skips the study: only baselines have nothing to tune
            assert cfg.budget.n_trials >= 1
            assert cfg.space or ARCHITECTURES[arch].family == "baseline"
