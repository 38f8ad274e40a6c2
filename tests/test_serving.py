"""Serving: the pyfuncs take raw inputs (text, original-unit values); predict CLI; REST server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from pipeline_outputs import cached_outputs
from typer.testing import CliRunner

from seqbench.cli import app
from seqbench.serving.config import register_config
from seqbench.serving.promote import promote, promotion_rule
from seqbench.serving.register import register_arch
from seqbench.tracking.postgres import free_port
from seqbench.tracking.server import answers
from seqbench.training.outputs import best_seed

pytestmark = pytest.mark.slow  # registers models and starts an HTTP model server

REVIEW = "A wonderful, moving film."
LONG = " ".join(["the plot was dull and boring and the worst waste of time"] * 30)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """imdb (gru, transformer) and toy (gru) registered in a temporary store; champions set."""
    out = cached_outputs(tmp_path_factory.getbasetemp())
    store = tmp_path_factory.mktemp("serving")
    (store / "params.yaml").write_text(yaml.safe_dump(out.params))
    cfg = register_config(out.params)
    uri = f"sqlite:///{store}/mlflow.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.chdir(store)
        for task, arch in (("imdb", "gru"), ("imdb", "transformer"), ("toy", "gru")):
            register_arch(
                task,
                arch,
                cfg,
                models_dir=out.models,
                data_dir=(out.tokenized if task == "imdb" else out.processed) / task,
            )
        client = MlflowClient()
        promote(client, "seqbench-imdb", promotion_rule(out.params, "imdb"))
        promote(client, "seqbench-toy", promotion_rule(out.params, "toy"))
        yield out, store, uri


@pytest.mark.parametrize("version", ["1", "2"])  # gru (packed sequences), transformer (masks)
def test_text_pyfunc_probability_does_not_depend_on_batch_neighbours(served, version) -> None:
    model = mlflow.pyfunc.load_model(f"models:/seqbench-imdb/{version}")
    alone = model.predict(pd.DataFrame({"text": [REVIEW]}))
    batched = model.predict(pd.DataFrame({"text": [LONG, REVIEW, "Awful."]}))
    assert list(alone.columns[:3]) == ["label", "label_id", "probability"]
    assert alone["label"][0] in ("negative", "positive")
    assert batched["p_positive"][1] == pytest.approx(alone["p_positive"][0], abs=1e-5)
    assert batched["probability"][1] == pytest.approx(alone["probability"][0], abs=1e-5)
    assert np.allclose(batched[["p_negative", "p_positive"]].sum(axis=1), 1.0)


def test_forecast_pyfunc_takes_and_returns_original_units(served) -> None:
    import torch

    out, _, _ = served
    model = mlflow.pyfunc.load_model("models:/seqbench-toy/1")
    test = pd.read_parquet(out.processed / "toy" / "test.parquet")
    recent = test[["a", "OT"]].iloc[:20]  # the last 8 rows are used
    result = model.predict(recent)
    assert list(result.columns) == ["window", "step", "OT"] and list(result["step"]) == [1, 2, 3]
    # by hand: scale with the train statistics, run the network, unscale the target
    stats = json.loads((out.processed / "toy" / "scaler.json").read_text())["columns"]
    center = np.array([stats[c]["center"] for c in ("a", "OT")])
    scale = np.array([stats[c]["scale"] for c in ("a", "OT")])
    window = (recent.to_numpy()[-8:] - center) / scale  # (8, 2)
    net = best_seed(out.models / "toy-gru").load()
    with torch.no_grad():
        scaled = net(torch.as_tensor(window[None], dtype=torch.float32))[0, :, 0].numpy()
    expected = scaled * scale[1] + center[1]
    assert result["OT"].to_numpy() == pytest.approx(expected, rel=1e-5)
    assert 3.0 < result["OT"].mean() < 17.0  # the series lives around 10 ± 5, not around 0
    as_int = model.predict(recent.round().astype("int64"))  # whole counts arrive as integers
    assert as_int["OT"].notna().all() and len(as_int) == 3
    two = pd.concat([recent.assign(window=7), recent.iloc[:10].assign(window=9)])
    batch = model.predict(two)
    assert list(batch["window"]) == [7, 7, 7, 9, 9, 9]
    assert batch["OT"].to_numpy()[:3] == pytest.approx(result["OT"].to_numpy(), rel=1e-5)


def test_predict_cli_uses_the_champion(served, monkeypatch: pytest.MonkeyPatch) -> None:
    out, store, uri = served
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(store)
    runner = CliRunner()
    result = runner.invoke(app, ["predict", "--task", "imdb", "--text", REVIEW])
    assert result.exit_code == 0, result.output
    label, prob, text = result.output.strip().splitlines()[-1].split("\t")
    assert label in ("negative", "positive") and 0.5 <= float(prob) <= 1.0 and text == REVIEW
    recent = store / "recent.csv"
    pd.read_parquet(out.processed / "toy" / "test.parquet").tail(8).to_csv(recent, index=False)
    result = runner.invoke(app, ["predict", "--task", "toy", "--csv", str(recent)])
    assert result.exit_code == 0, result.output
    assert "OT" in result.output and len(result.output.strip().splitlines()) == 4
    bad = runner.invoke(app, ["predict", "--task", "toy"])
    assert bad.exit_code == 1


def post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def serving(store: Path, uri: str, model_uri: str) -> Iterator[str]:
    """``mlflow models serve`` of ``model_uri`` on a free local port; yields the invocations URL."""
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)  # mlflow and uvicorn of this environment
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "PATH": bin_dir + os.pathsep + os.environ["PATH"],
    }
    command = [
        os.path.join(bin_dir, "mlflow"), "models", "serve", "-m", model_uri,
        "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip
    log_path = store / f"serve-{port}.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        command, cwd=store, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        ping = f"http://127.0.0.1:{port}/ping"
        assert answers(ping, server, 90), (
            f"no answer to /ping in 90 s: {log_path.read_text()[-2000:]}"
        )
        yield f"http://127.0.0.1:{port}/invocations"
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the uvicorn worker it started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def post_status(url: str, payload: dict) -> tuple[int, dict]:
    """HTTP status and JSON body of a request, errors included."""
    try:
        return 200, post(url, payload)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


TEXT_REFUSALS = [  # (request, what the top-level message must say)
    ({"dataframe_split": {"columns": ["review"], "data": [["Great."]]}}, "missing inputs ['text']"),
    (
        {"dataframe_records": [{"text": REVIEW}, {"text": None}]},
        "row 1: expected a review string, got null",
    ),
    ({"inputs": [REVIEW, None]}, "row 1: expected a review string, got null ('None')"),
    (
        {"dataframe_split": {"columns": ["text"], "data": [[123]]}},
        "row 0: expected a review string, got 123 (int)",
    ),
    ({"inputs": [123]}, "row 0: expected a review string, got the number '123'"),
    ({"inputs": [""]}, "row 0: expected review text, got '', which is empty after preprocessing"),
    ({"inputs": ["   "]}, "got '   ', which is empty after preprocessing"),
    ({"inputs": ["<br /><br />"]}, "got '<br /><br />', which is empty after preprocessing"),
    (
        {"dataframe_split": {"columns": ["text"], "data": []}},
        "expected at least one review, got 0 rows",
    ),
]


def _window(values: list) -> dict:
    return {"dataframe_split": {"columns": ["a", "OT"], "data": [[0.5, v] for v in values]}}


SERIES_REFUSALS = [
    (_window([10.0] * 7 + [float("nan")]), "column 'OT' row 7: expected a finite number, got nan"),
    (_window([10.0] * 7), "window 0 has 7 rows; expected at least 8 (the model's input_length)"),
    (
        _window([10.0] * 7 + [-55.3]),
        "column 'OT' row 7: expected a value at least 0 (the dataset's min_value), got -55.3",
    ),
    (_window([10.0] * 7 + ["many"]), "column 'OT' row 7: expected a finite number, got 'many'"),
    (
        {"dataframe_split": {"columns": ["a", "OT"], "data": []}},
        "expected at least 8 rows (the model's input_length), got 0 rows",
    ),
]


def _frame(request: dict) -> pd.DataFrame:
    """The DataFrame a ``dataframe_split`` request body stands for, for the local pyfunc."""
    split = request["dataframe_split"]
    return pd.DataFrame(split["data"], columns=split["columns"])


# The local pyfunc takes a DataFrame with a `text` column (a list is for the server's "inputs"
# format); MLflow's own schema check refuses a wrong column before the model sees it.
LOCAL_REFUSALS = [
    ({"text_frame": {"review": ["Great."]}}, "missing inputs ['text']"),
    ({"text_frame": {"text": [REVIEW, None]}}, "row 1: expected a review string, got null"),
    ({"text_frame": {"text": [123]}}, "row 0: expected a review string, got 123 (int)"),
    ({"text_frame": {"text": [""]}}, "got '', which is empty after preprocessing"),
    ({"text_frame": {"text": ["<br /><br />"]}}, "which is empty after preprocessing"),
    ({"text_frame": {"text": []}}, "expected at least one review, got 0 rows"),
    *SERIES_REFUSALS,
]


@pytest.mark.parametrize(("request_body", "message"), LOCAL_REFUSALS)
def test_the_local_pyfunc_refuses_bad_input_naming_column_and_row(served, request_body, message):
    from mlflow.exceptions import MlflowException

    task = "imdb" if "text_frame" in request_body else "toy"
    model = mlflow.pyfunc.load_model(f"models:/seqbench-{task}@champion")
    data = request_body.get("text_frame")
    with pytest.raises(MlflowException) as err:
        model.predict(
            pd.DataFrame(data, dtype=object) if data is not None else _frame(request_body)
        )
    assert message in err.value.message


def test_served_models_refuse_bad_input_with_http_400_and_the_reason(served) -> None:
    _, store, uri = served
    seen = []
    for task, cases in (("imdb", TEXT_REFUSALS), ("toy", SERIES_REFUSALS)):
        with serving(store, uri, f"models:/seqbench-{task}@champion") as url:
            for request, message in cases:
                status, body = post_status(url, request)
                seen.append((status, body.get("message", "")[-160:]))
                assert status == 400, (request, body)
                assert message in body["message"], (request, body["message"])
                assert "stack_trace" not in body
                if message.startswith(("row", "got", "expected", "column", "window")):  # ours
                    assert body["message"].startswith("input: ") and "\n" not in body["message"]
            ok, good = post_status(
                url, {"inputs": [REVIEW]} if task == "imdb" else _window([10.0] * 8)
            )
            assert ok == 200 and good["predictions"]
    (store / "refusals.json").write_text(json.dumps(seen, indent=1))


def test_forecasts_stay_within_the_targets_declared_range(served, tmp_path) -> None:
    import torch

    from seqbench.serving.register import make_bundle
    from seqbench.tasks.predictors import ForecastPredictor

    out, _, _ = served
    seed = best_seed(out.models / "toy-gru")
    bundle = make_bundle(seed, tmp_path / "bundle", data_dir=out.processed / "toy")
    predictor = ForecastPredictor(bundle)
    assert predictor.low == {"OT": 0} and predictor.high == {}

    class Sinks(torch.nn.Module):  # a network whose forecasts fall far below zero
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.full((len(x), 3, 1), -50.0)  # (B, H, T) scaled

    predictor.model = Sinks()
    result = predictor.predict(pd.DataFrame({"a": [0.5] * 8, "OT": [10.0] * 8}))
    assert result["OT"].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("version", ["1", "2"])
def test_text_predictions_do_not_depend_on_the_request_size(served, version) -> None:
    model = mlflow.pyfunc.load_model(f"models:/seqbench-imdb/{version}")
    rng = np.random.default_rng(0)
    words = ["good", "bad", "plot", "acting", "boring", "great", "film", "the", "awful", "fun"]
    reviews = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(1, 60, size=64)]
    full = model.predict(pd.DataFrame({"text": reviews}))["p_positive"].to_numpy()
    for size in (1, 7):
        parts = [
            model.predict(pd.DataFrame({"text": reviews[i : i + size]}))["p_positive"].to_numpy()
            for i in range(0, len(reviews), size)
        ]
        assert np.abs(np.concatenate(parts) - full).max() < 1e-6


def test_served_champion_answers_raw_text_over_http(served) -> None:
    _, store, uri = served
    with serving(store, uri, "models:/seqbench-imdb@champion") as url:
        records = post(url, {"dataframe_records": [{"text": REVIEW}, {"text": LONG}]})
        inputs = post(url, {"inputs": [REVIEW]})
    rows = records["predictions"]
    assert len(rows) == 2 and rows[0]["label"] in ("negative", "positive")
    assert 0.5 <= rows[0]["probability"] <= 1.0
    assert inputs["predictions"][0]["p_positive"] == pytest.approx(rows[0]["p_positive"], abs=1e-5)
