"""Registry: tiny models registered with tags, no duplicate versions; promotion and history."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml
from mlflow import MlflowClient
from pipeline_outputs import cached_outputs, params
from typer.testing import CliRunner

from seqbench.cli import app
from seqbench.serving.config import register_config
from seqbench.serving.promote import HISTORY_TAG, promote, promotion_rule, read_history
from seqbench.serving.register import TAG_DIGEST, register_all

# --- registering real tiny models ------------------------------------------------------------


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory):
    """Every tiny final model registered into a temporary sqlite store (never ./mlruns)."""
    out = cached_outputs(tmp_path_factory.getbasetemp())
    store = tmp_path_factory.mktemp("registry")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}/mlflow.db")
        mp.chdir(store)
        kwargs = dict(
            models_root=out.models,
            tokenized_root=out.tokenized,
            processed_root=out.processed,
            metrics_root=out.metrics,
        )
        first = register_all(out.params, register_config(out.params), **kwargs)
        again = register_all(out.params, register_config(out.params), **kwargs)
        yield out, first, again, MlflowClient()


def test_every_final_model_becomes_a_tagged_version(registered) -> None:
    out, first, _, client = registered
    assert [(r["task"], r["arch"], r["version"]) for r in first] == [
        ("imdb", "gru", "1"),
        ("imdb", "transformer", "2"),
        ("toy", "gru", "1"),
        ("toy", "transformer", "2"),
    ]
    assert all(r["created"] for r in first)
    mv = client.get_model_version("seqbench-imdb", "1")
    tags = mv.tags
    best = json.loads((out.models / "imdb-gru" / f"seed{first[0]['seed']}.json").read_text())
    assert tags["seqbench.arch"] == "gru" and tags["seqbench.seed"] == str(first[0]["seed"])
    assert float(tags["metric.test/acc"]) == pytest.approx(best["test"]["test/acc"])
    assert float(tags["metric.val/acc"]) == pytest.approx(best["best_val"])  # the selection
    assert tags["seqbench.git_commit"] and len(tags[TAG_DIGEST]) == 64
    assert len(tags) <= 10 and not any(k.startswith("seqbench.data.") for k in tags)
    assert f"seed {first[0]['seed']}: the seed with the highest val/acc" in mv.description
    assert "no training run in this tracking store" in mv.description  # trained untracked
    source = client.get_run(mv.run_id)  # so the model was logged in a run of its own
    assert source.info.run_name == f"imdb-gru-s{first[0]['seed']}-untracked"
    # best seed by validation (the run's monitor, max for accuracy)
    seeds = [json.loads(p.read_text()) for p in (out.models / "imdb-gru").glob("seed*.json")]
    assert best["best_val"] == max(s["best_val"] for s in seeds)
    info = mlflow.models.get_model_info(f"models:/seqbench-imdb/{mv.version}")
    assert info.signature is not None and info.saved_input_example_info is not None
    assert [c.name for c in info.signature.outputs.inputs][:3] == [
        "label",
        "label_id",
        "probability",
    ]
    toy = mlflow.models.get_model_info("models:/seqbench-toy/1")
    assert {"a", "OT", "window"} <= set(toy.signature.inputs.input_names())


def test_registering_the_same_files_again_adds_no_version(registered) -> None:
    _, first, again, client = registered
    assert [r["version"] for r in again] == [r["version"] for r in first]
    assert not any(r["created"] for r in again)
    assert len(client.search_model_versions("name = 'seqbench-imdb'")) == 2


# --- promotion on constructed versions --------------------------------------------------------


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialized, empty sqlite store, copied by each test (creating one takes seconds)."""
    store = tmp_path_factory.mktemp("empty-store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}/mlflow.db")
        from seqbench import tracking

        tracking.configure()
        MlflowClient().search_registered_models()
    return store / "mlflow.db"


@pytest.fixture
def client(tmp_path: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params()))
    monkeypatch.chdir(tmp_path)
    return MlflowClient(uri)


def add_version(
    client: MlflowClient,
    name: str,
    arch: str,
    *,
    val: float | None = None,
    correct: np.ndarray | None = None,
    errors: np.ndarray | None = None,
) -> str:
    """A version whose source run holds test predictions: ``correct`` (one bool per review) for
    imdb, ``errors`` (one absolute error per window) for toy; their means are its test metric."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    experiment = client.get_experiment_by_name("train")
    eid = experiment.experiment_id if experiment else client.create_experiment("train")
    run = client.create_run(eid, run_name=arch).info.run_id
    tags = {"seqbench.arch": arch}
    arrays = None
    if correct is not None:
        n = len(correct)
        probs = np.where(correct[:, None], [[0.9, 0.1]], [[0.1, 0.9]])  # (N, 2); label 0
        arrays = {"ids": np.arange(n), "probs": probs, "labels": np.zeros(n, dtype=np.int64)}
        tags["metric.test/acc"] = repr(float(correct.mean()))
    if errors is not None:
        n = len(errors)
        true = np.full((n, 1, 1), 10.0)  # (N, H, T)
        pred = true + errors[:, None, None]
        arrays = {"ids": np.arange(n), "pred": pred, "true": true}
        arrays |= {"pred_scaled": pred / 10, "true_scaled": true / 10}
        tags["metric.test/mae"] = repr(float(np.abs(errors).mean()))
    if arrays is not None:
        folder = Path(tempfile.mkdtemp())
        np.savez(folder / "test_predictions.npz", **arrays)
        client.log_artifact(run, str(folder / "test_predictions.npz"))
    client.set_terminated(run)
    if val is not None:
        metric = "val/acc" if name.endswith("imdb") else "val/mae"
        tags[f"metric.{metric}"] = repr(val)
    source = f"runs:/{run}/model"
    return str(client.create_model_version(name, source=source, run_id=run, tags=tags).version)


def alias_of(client: MlflowClient, name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, "champion").version)
    except MlflowException:
        return None


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def right(n_right: int, n: int = 200, *, offset: int = 0) -> np.ndarray:
    """``n`` reviews of which ``n_right`` (starting at ``offset``, wrapping) are right."""
    out = np.zeros(n, dtype=bool)
    out[(offset + np.arange(n_right)) % n] = True
    return out


def test_the_challenger_is_chosen_on_validation_and_guarded_on_test(client) -> None:
    name = "seqbench-imdb"
    add_version(client, name, "gru", val=0.80, correct=right(160))
    add_version(client, name, "lstm", val=0.85, correct=right(170))

    code, text = cli("promote", "--task", "imdb", "--dry-run")
    assert code == 0 and "would promote" in text and "version 2 (lstm, val/acc=0.85" in text
    assert alias_of(client, name) is None and read_history(client, name) == []
    code, text = cli("promote", "--task", "imdb")
    assert code == 0 and alias_of(client, name) == "2"

    # the best on validation, but far worse on test: McNemar finds it, the move is refused
    add_version(client, name, "rnn", val=0.86, correct=right(120))
    code, text = cli("promote", "--task", "imdb")
    assert code == 2 and "refuse" in text and "significantly worse" in text
    assert "McNemar" in text or "binomial" in text or "chi-square" in text
    assert alias_of(client, name) == "2"
    code, text = cli("promote", "--task", "imdb", "--force")
    assert code == 0 and alias_of(client, name) == "3"

    # better on validation and only slightly worse on test (2 of 200 reviews): promoted
    add_version(client, name, "transformer", val=0.90, correct=right(168))
    add_version(client, name, "bigru", val=0.91, correct=right(166))
    code, text = cli("promote", "--task", "imdb")  # bigru against the forced rnn: better
    assert code == 0 and alias_of(client, name) == "5"
    code, text = cli("promote", "--task", "imdb")
    assert code == 0 and "keep" in text

    # an explicit challenger that is worse on validation is refused, whatever its test score
    code, text = cli("promote", "--task", "imdb", "--version", "4")
    assert code == 2 and "not better than the champion on val/acc" in text

    history = read_history(client, name)
    assert [(h["version"], h["previous"], h["forced"]) for h in history] == [
        ("2", None, False),
        ("3", "2", True),
        ("5", "3", False),
    ]
    assert history[0]["test"] is None  # no champion to test against
    assert history[1]["test"]["p_value"] < 0.05 and history[1]["value"] == pytest.approx(0.60)
    assert history[2]["selection"] == "val/acc" and history[2]["selection_value"] == 0.91
    assert history[2]["test"]["p_value"] < 0.05 and history[2]["at"]  # 166 right against 120
    assert json.loads(client.get_registered_model(name).tags[HISTORY_TAG]) == history
    described = client.get_registered_model(name).description.splitlines()
    assert described[-4] == "Champion history (@champion, newest first):"
    assert "version 5 (bigru): replaced version 3; better val/acc" in described[-3]
    assert "version 3 (rnn) [forced]: replaced version 2" in described[-2]
    assert len(client.search_model_versions(f"name = '{name}'")) == 5  # nothing deleted


def test_a_slightly_worse_test_score_is_not_a_reason_to_refuse(client) -> None:
    name = "seqbench-imdb"
    add_version(client, name, "gru", val=0.80, correct=right(170))
    promote(client, name, promotion_rule(params(), "imdb"))
    add_version(client, name, "lstm", val=0.85, correct=right(168, offset=5))
    decision = promote(client, name, promotion_rule(params(), "imdb"))
    assert decision.applied and "worse, not significantly" in decision.reason
    assert decision.test is not None and decision.test.p_value > 0.05


def test_promote_minimizes_error_metrics_with_diebold_mariano(client) -> None:
    rule = promotion_rule(params(), "toy")
    assert (rule.selection, rule.metric, rule.mode) == ("val/mae", "test/mae", "min")
    rng = np.random.default_rng(0)
    add_version(client, "seqbench-toy", "gru", val=7.0, errors=1.0 + 0.1 * rng.normal(size=50))
    add_version(client, "seqbench-toy", "lstm")  # no validation value: never a candidate
    assert promote(client, "seqbench-toy", rule).challenger.version == "1"
    add_version(client, "seqbench-toy", "tf", val=6.0, errors=2.0 + 0.1 * rng.normal(size=50))
    worse = promote(client, "seqbench-toy", rule)  # better val, twice the test error
    assert worse.action == "refuse" and "Diebold-Mariano" in worse.reason
    add_version(client, "seqbench-toy", "dl", val=5.0, errors=0.5 + 0.1 * rng.normal(size=50))
    better = promote(client, "seqbench-toy", rule)
    assert better.applied and better.challenger.version == "4"
    assert alias_of(client, "seqbench-toy") == "4"


def test_a_version_without_test_predictions_is_not_promoted_over_a_champion(client) -> None:
    name = "seqbench-imdb"
    add_version(client, name, "gru", val=0.80, correct=right(160))
    promote(client, name, promotion_rule(params(), "imdb"))
    add_version(client, name, "lstm", val=0.90)  # registered without predictions
    decision = promote(client, name, promotion_rule(params(), "imdb"))
    assert decision.action == "refuse" and "no test_predictions.npz" in decision.reason
    assert alias_of(client, name) == "1"


def test_champions_lists_each_task(client) -> None:
    add_version(client, "seqbench-imdb", "gru", val=0.88, correct=right(175))
    promote(client, "seqbench-imdb", promotion_rule(params(), "imdb"))
    code, text = cli("champions")
    assert code == 0
    line = next(row for row in text.splitlines() if "seqbench-imdb" in row)
    assert "gru" in line and "test/acc=0.875" in line
    assert "none" in next(row for row in text.splitlines() if "seqbench-toy" in row)


def test_promote_without_registered_model_is_one_line_error(client) -> None:
    code, text = cli("promote", "--task", "imdb")
    assert code == 1 and "seqbench-imdb: no such registered model" in text


@pytest.mark.slow  # trains with tracking and logs models
def test_a_version_links_to_the_training_run_of_its_seed(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    from seqbench.serving.register import register_arch
    from seqbench.training.outputs import TAG_WEIGHTS, best_seed
    from seqbench.training.run import resolve_run
    from seqbench.training.seeds import train_all_seeds

    out = cached_outputs(tmp_path_factory.getbasetemp())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    data = out.processed / "toy"
    spec = resolve_run(out.params, "toy", "gru", data_dir=data)
    models = tmp_path / "models"
    train_all_seeds(
        spec,
        models_dir=models / "toy-gru",
        metrics_path=tmp_path / "metrics" / "toy-gru.json",
        curves_path=tmp_path / "curves" / "toy-gru.csv",
        inputs=[str(data)],
    )
    cfg = register_config(out.params)
    done = register_arch("toy", "gru", cfg, models_dir=models, data_dir=data)
    client = MlflowClient()
    mv = client.get_model_version("seqbench-toy", done.version)

    run = client.get_run(mv.run_id)  # the version's source run is the chosen seed's training run
    assert run.info.run_name == f"toy-gru-s{done.seed}" and run.info.status == "FINISHED"
    assert run.data.params["run.arch"] == "gru" and run.data.params["model.hidden_size"] == "12"
    assert run.data.tags["seqbench.seed"] == str(done.seed)
    assert run.data.tags["seqbench.stage"] == "train@toy-gru"
    assert run.data.tags[TAG_WEIGHTS] == best_seed(models / "toy-gru").sha256()
    assert f"training run {run.info.run_id}" in mv.description

    # every split file it read is a dataset: digest = the md5 DVC records for it, source its path
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert sorted(inputs) == ["toy/test", "toy/train", "toy/val"]
    train = inputs["toy/train"]
    assert train.dataset.digest == hashlib.md5((data / "train.parquet").read_bytes()).hexdigest()
    assert json.loads(train.dataset.source)["uri"] == (data / "train.parquet").as_posix()
    assert {t.key: t.value for t in train.tags}["mlflow.data.context"] == "training"

    # the models are named after their run; the served one carries the test metrics
    served = mlflow.get_logged_model(mv.source.removeprefix("models:/"))
    assert served.name == f"toy-gru-s{done.seed}" and served.source_run_id == run.info.run_id
    assert {m.key for m in served.metrics} >= {"test/mae", "test/rmse"}
    found = mlflow.search_logged_models([run.info.experiment_id], output_format="list")
    names = {m.name for m in found}
    assert names == {"toy-gru-s0-network", "toy-gru-s1-network", f"toy-gru-s{done.seed}"}
    experiment = client.get_experiment(run.info.experiment_id)
    assert "one run per architecture and seed" in experiment.tags["mlflow.note.content"]
    assert client.download_artifacts(run.info.run_id, "test_predictions.npz", str(tmp_path))
