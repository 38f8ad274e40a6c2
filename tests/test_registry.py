"""Registry: tiny models registered with tags, no duplicate versions; promotion and history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient
from pipeline_outputs import cached_outputs, params
from typer.testing import CliRunner

from seqbench.cli import app
from seqbench.serving.config import register_config
from seqbench.serving.promote import HISTORY_TAG, promote, read_history
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
    assert "mean.test/acc" in tags and tags["seqbench.git_commit"]
    assert any(k.startswith("seqbench.data.") for k in tags)
    assert len(tags[TAG_DIGEST]) == 64
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


def add_version(client: MlflowClient, name: str, arch: str, **metrics: float) -> str:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name)
    tags = {"seqbench.arch": arch} | {f"metric.test/{k}": repr(v) for k, v in metrics.items()}
    return str(client.create_model_version(name, source="file:///nowhere", tags=tags).version)


def alias_of(client: MlflowClient, name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, "champion").version)
    except MlflowException:
        return None


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_promote_picks_the_best_refuses_worse_and_force_overrides(client) -> None:
    name = "seqbench-imdb"
    add_version(client, name, "gru", acc=0.80)
    add_version(client, name, "lstm", acc=0.85)

    code, text = cli("promote", "--task", "imdb", "--dry-run")
    assert code == 0 and "would promote" in text and "version 2 (lstm" in text
    assert alias_of(client, name) is None and read_history(client, name) == []

    code, text = cli("promote", "--task", "imdb")
    assert code == 0 and alias_of(client, name) == "2"

    add_version(client, name, "rnn", acc=0.83)
    code, text = cli("promote", "--task", "imdb")  # best is still the champion
    assert code == 0 and "keep" in text and alias_of(client, name) == "2"

    code, text = cli("promote", "--task", "imdb", "--version", "3")  # a worse challenger
    assert code == 2 and "refuse" in text and alias_of(client, name) == "2"

    code, text = cli("promote", "--task", "imdb", "--version", "3", "--force")
    assert code == 0 and alias_of(client, name) == "3"

    code, text = cli("promote", "--task", "imdb")  # v2 (0.85) beats the forced v3 (0.83)
    assert code == 0 and alias_of(client, name) == "2"

    history = read_history(client, name)
    assert [(h["version"], h["previous"], h["forced"]) for h in history] == [
        ("2", None, False),
        ("3", "2", True),
        ("2", "3", False),
    ]
    assert history[1]["value"] == pytest.approx(0.83) and history[1]["at"]
    assert json.loads(client.get_registered_model(name).tags[HISTORY_TAG]) == history
    assert len(client.search_model_versions(f"name = '{name}'")) == 3  # nothing deleted


def test_promote_minimizes_error_metrics(client) -> None:
    add_version(client, "seqbench-toy", "gru", mae=7.0)
    add_version(client, "seqbench-toy", "transformer", mae=6.0)
    add_version(client, "seqbench-toy", "lstm")  # no metric: never a candidate
    decision = promote(client, "seqbench-toy", "test/mae", "min")
    assert decision.applied and decision.challenger.version == "2"
    assert alias_of(client, "seqbench-toy") == "2"
    worse = promote(client, "seqbench-toy", "test/mae", "min", version="1")
    assert worse.action == "refuse" and alias_of(client, "seqbench-toy") == "2"


def test_champions_lists_each_task(client) -> None:
    add_version(client, "seqbench-imdb", "gru", acc=0.875, f1=0.86)
    promote(client, "seqbench-imdb", "test/acc", "max")
    code, text = cli("champions")
    assert code == 0
    line = next(row for row in text.splitlines() if "seqbench-imdb" in row)
    assert "gru" in line and "test/acc=0.875" in line
    assert "none" in next(row for row in text.splitlines() if "seqbench-toy" in row)


def test_promote_without_registered_model_is_one_line_error(client) -> None:
    code, text = cli("promote", "--task", "imdb")
    assert code == 1 and "seqbench-imdb: no such registered model" in text
