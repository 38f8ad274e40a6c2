"""Serving: the pyfuncs take raw inputs (text, original-unit values); predict CLI; REST server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
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
from seqbench.serving.promote import promote
from seqbench.serving.register import register_arch
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
        promote(client, "seqbench-imdb", "test/acc", "max")
        promote(client, "seqbench-toy", "test/mae", "min")
        yield out, store, uri


@pytest.mark.parametrize("version", ["1", "2"])  # gru (packed sequences), transformer (masks)
def test_text_pyfunc_probability_does_not_depend_on_batch_neighbours(served, version) -> None:
    model = mlflow.pyfunc.load_model(f"models:/seqbench-imdb/{version}")
    alone = model.predict([REVIEW])
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_served_champion_answers_raw_text_over_http(served) -> None:
    _, store, uri = served
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)  # mlflow and uvicorn of this environment
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "PATH": bin_dir + os.pathsep + os.environ["PATH"],
    }
    command = [
        os.path.join(bin_dir, "mlflow"),
        "models",
        "serve",
        "-m",
        "models:/seqbench-imdb@champion",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    log = (store / "serve.log").open("w")
    server = subprocess.Popen(
        command, cwd=store, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (store / "serve.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not answer /ping in 90 s"
            time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/invocations"
        records = post(url, {"dataframe_records": [{"text": REVIEW}, {"text": LONG}]})
        inputs = post(url, {"inputs": [REVIEW]})
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the uvicorn worker it started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
    rows = records["predictions"]
    assert len(rows) == 2 and rows[0]["label"] in ("negative", "positive")
    assert 0.5 <= rows[0]["probability"] <= 1.0
    assert inputs["predictions"][0]["p_positive"] == pytest.approx(rows[0]["p_positive"], abs=1e-5)
