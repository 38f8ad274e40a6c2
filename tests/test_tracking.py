"""MLflow tracking: params, tags, final run status (errors, Ctrl+C, SIGTERM, SIGKILL), nesting,
provenance, epoch metrics and model round trips, on temporary sqlite stores."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import lightning as L
import matplotlib
import mlflow
import numpy as np
import pytest
import torch
from torch import nn

from seqbench import tracking
from seqbench.tracking import runs

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('store')}/mlflow.db"


@pytest.fixture(autouse=True)
def _store(store_uri: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking.configure(store_uri)
    yield
    while mlflow.active_run():  # a failing test must not leak its run into the next one
        mlflow.end_run("FAILED")


def _run(run_id: str):
    return mlflow.MlflowClient().get_run(run_id)


# --- params and tags ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Optim:
    lr: float = 0.01
    betas: tuple[float, float] = (0.9, 0.99)


def test_flatten_params_nests_with_dots_and_handles_odd_values() -> None:
    flat = tracking.flatten_params(
        {
            "model": {"arch": "lstm", "hidden": 32, "extra": {"x": None}},
            "optim": _Optim(),
            "seeds": [0, 1],
            "bad key!": True,
            "long": "x" * 7000,
            "empty": {},
        }
    )
    assert flat["model.arch"] == "lstm"
    assert flat["model.hidden"] == "32"
    assert flat["model.extra.x"] == "None"
    assert flat["optim.lr"] == "0.01"
    assert flat["optim.betas"] == "[0.9, 0.99]"
    assert flat["seeds"] == "[0, 1]"
    assert flat["bad key_"] == "True"
    assert len(flat["long"]) == runs.MAX_PARAM_VALUE and flat["long"].endswith("...")
    assert flat["empty"] == "{}"
    with pytest.raises(ValueError, match=r"'a\.b' occurs twice"):
        tracking.flatten_params({"a.b": 1, "a": {"b": 2}})


def test_run_logs_flattened_params_tags_and_full_config() -> None:
    params = {
        "model": {"arch": "gru", "hidden_size": 64},
        "grid": {f"k{i:03d}": i for i in range(150)},  # more than one log_batch of 100
        "note": "y" * 7000,
    }
    with tracking.run("params", "gru-seed0", params=params, tags={"seqbench.arch": "gru"}) as r:
        run_id = r.info.run_id
    done = _run(run_id)
    assert done.info.status == "FINISHED"
    assert done.info.run_name == "gru-seed0"
    assert done.data.params["model.arch"] == "gru"
    assert done.data.params["model.hidden_size"] == "64"
    assert done.data.params["grid.k149"] == "149"
    assert len(done.data.params) == 2 + 150 + 1
    assert len(done.data.params["note"]) == runs.MAX_PARAM_VALUE
    assert done.data.tags["seqbench.arch"] == "gru"
    assert done.data.tags[runs.TAG_PID] == str(os.getpid())
    config = mlflow.artifacts.load_dict(f"{done.info.artifact_uri}/{runs.CONFIG_ARTIFACT}")
    assert config["note"] == "y" * 7000  # nothing lost in the artifact


def test_experiment_artifacts_live_beside_the_database(store_uri: str) -> None:
    experiment_id = tracking.get_or_create_experiment("where/artifacts go")
    assert tracking.get_or_create_experiment("where/artifacts go") == experiment_id
    location = mlflow.get_experiment(experiment_id).artifact_location
    db_dir = Path(store_uri.removeprefix("sqlite:///")).parent
    assert location == (db_dir / "artifacts" / "where_artifacts_go").as_uri()


# --- final status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValueError("boom"), "FAILED"),
        (KeyboardInterrupt(), "KILLED"),
        (tracking.RunTerminated("SIGTERM"), "KILLED"),
        (SystemExit(1), "FAILED"),
        (SystemExit(0), "FINISHED"),
    ],
)
def test_run_status_follows_how_the_body_ended(error: BaseException, status: str) -> None:
    run_id = None
    with pytest.raises(type(error)), tracking.run("status", f"ends-{status}") as r:
        run_id = r.info.run_id
        raise error
    assert _run(run_id).info.status == status
    assert mlflow.active_run() is None


def test_sigterm_handler_is_restored_after_the_run() -> None:
    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with tracking.run("status", "handler"):
            assert signal.getsignal(signal.SIGTERM) is not mine
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


_CHILD_PLAIN = """
    import sys, time
    from seqbench import tracking
    tracking.configure(sys.argv[1])
    with tracking.run("signals", "child") as r:
        print(r.info.run_id, flush=True)
        time.sleep(120)
"""

_CHILD_LIGHTNING = """
    import sys, time
    import lightning as L, torch
    from torch import nn
    from seqbench import tracking

    class Slow(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Linear(2, 1)
        def training_step(self, batch, i):
            if self.global_step == 0:
                print(tracking_run_id, flush=True)
            time.sleep(0.05)
            return self.net(batch[0]).pow(2).mean()
        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    tracking.configure(sys.argv[1])
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(64, 2)))
    with tracking.run("signals", "child-fit") as r:
        tracking_run_id = r.info.run_id
        trainer = L.Trainer(max_epochs=1000, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False,
                            callbacks=[tracking.MLflowEpochLogger()])
        trainer.fit(Slow(), data)
"""


def _start_child(script: Path, store_uri: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(script), store_uri],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_id_of(child: subprocess.Popen) -> str:
    run_id = child.stdout.readline().strip()
    if not run_id:
        child.kill()
        raise AssertionError(child.stderr.read())
    return run_id


@dataclasses.dataclass
class _Signalled:
    uri: str
    termed: str  # run of the child that got SIGTERM
    killed: str  # run of the child that got SIGKILL
    status_before_cleanup: dict[str, str]
    returncodes: tuple[int, int]


@pytest.fixture(scope="module")
def signalled(tmp_path_factory: pytest.TempPathFactory) -> _Signalled:
    """Two processes open runs on a *fresh* store at the same moment (MLflow's table creation
    races there), then one gets SIGTERM and the other SIGKILL."""
    tmp = tmp_path_factory.mktemp("signals")
    uri = f"sqlite:///{tmp}/fresh/mlflow.db"
    script = tmp / "child.py"
    script.write_text(textwrap.dedent(_CHILD_PLAIN))
    children = [_start_child(script, uri) for _ in range(2)]
    termed, killed = (_run_id_of(c) for c in children)
    os.kill(children[0].pid, signal.SIGTERM)
    os.kill(children[1].pid, signal.SIGKILL)  # cannot be caught: its run stays RUNNING
    codes = tuple(c.wait(timeout=60) for c in children)
    client = mlflow.MlflowClient(uri)
    before = {r: client.get_run(r).info.status for r in (termed, killed)}
    return _Signalled(uri, termed, killed, before, codes)


@pytest.mark.slow
def test_processes_creating_a_fresh_store_at_once_both_start_runs(signalled: _Signalled) -> None:
    assert signalled.termed != signalled.killed  # both children got as far as an open run


@pytest.mark.slow
def test_sigterm_to_a_process_in_a_run_ends_it_killed(signalled: _Signalled) -> None:
    assert signalled.returncodes[0] not in (0, -signal.SIGTERM)  # handled, not default death
    assert signalled.status_before_cleanup[signalled.termed] == "KILLED"


@pytest.mark.slow
def test_runs_of_sigkilled_processes_are_closed_as_killed(signalled: _Signalled) -> None:
    assert signalled.returncodes[1] == -signal.SIGKILL
    assert signalled.status_before_cleanup[signalled.killed] == "RUNNING"
    tracking.configure(signalled.uri)
    with tracking.run("signals", "next") as r:  # a new top-level run cleans up first
        assert _run(r.info.run_id).info.status == "RUNNING"  # ...but never itself
    orphan = _run(signalled.killed)
    assert orphan.info.status == "KILLED"
    assert "vanished" in orphan.data.tags[runs.TAG_END_REASON]
    assert _run(r.info.run_id).info.status == "FINISHED"


def test_sigterm_during_a_lightning_fit_ends_the_run_killed(tmp_path: Path, store_uri: str) -> None:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(_CHILD_LIGHTNING))
    child = _start_child(script, store_uri)
    run_id = _run_id_of(child)
    assert _run(run_id).info.status == "RUNNING"
    os.kill(child.pid, signal.SIGTERM)  # Lightning chains its own handler in front of ours
    assert child.wait(timeout=60) != 0
    assert _run(run_id).info.status == "KILLED"


# --- nesting -----------------------------------------------------------------------------------


def test_nested_runs_carry_the_parent_run_id() -> None:
    with tracking.run("tuning", "study", params={"n_trials": 2}) as parent:
        children = []
        for trial in range(2):
            with tracking.run("tuning", f"trial-{trial}", params={"lr": 0.1}, nested=True) as c:
                children.append(c.info.run_id)
        with pytest.raises(ValueError), tracking.run("tuning", "bad-trial", nested=True) as c:
            children.append(c.info.run_id)
            raise ValueError("trial crashed")
        # a worker thread has no active run of its own: it names the parent explicitly
        box: list[str] = []

        def worker() -> None:
            with tracking.run("tuning", "thread-trial", parent_run_id=parent.info.run_id) as c:
                box.append(c.info.run_id)

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        children += box
        assert mlflow.active_run().info.run_id == parent.info.run_id
    parent_id = parent.info.run_id
    statuses = [_run(c).info.status for c in children]
    assert statuses == ["FINISHED", "FINISHED", "FAILED", "FINISHED"]
    assert all(_run(c).data.tags["mlflow.parentRunId"] == parent_id for c in children)
    assert _run(parent_id).info.status == "FINISHED"
    found = tracking.find_runs("tuning", f"tags.`mlflow.parentRunId` = '{parent_id}'")
    assert sorted(found["run_id"]) == sorted(children)


def test_find_runs_filters_and_tolerates_missing_experiments() -> None:
    for arch in ("rnn", "lstm"):
        with tracking.run("find", arch, tags={"seqbench.arch": arch}) as r:
            mlflow.log_metric("test/acc", 0.5 if arch == "rnn" else 0.8)
    found = tracking.find_runs("find", "tags.`seqbench.arch` = 'lstm'")
    assert list(found["tags.seqbench.arch"]) == ["lstm"]
    assert found["metrics.test/acc"].item() == pytest.approx(0.8)
    best = tracking.find_runs("find", order_by=["metrics.`test/acc` DESC"])
    assert list(best["tags.mlflow.runName"]) == ["lstm", "rnn"]
    assert r.info.run_id in set(best["run_id"])
    assert tracking.find_runs("no such experiment").empty


# --- provenance --------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary git repository laid out like seqbench, with a dvc.lock and some data."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "code.py").write_text("print('hi')\n")
    (repo / "data" / "tokenized").mkdir(parents=True)
    (repo / "data" / "tokenized" / "meta.json").write_text('{"vocab_size": 99}\n')
    (repo / "data" / "raw").mkdir()
    (repo / "data" / "raw" / "a.csv").write_text("t,v\n1,2\n")
    (repo / "data" / "raw" / "sub").mkdir()
    (repo / "data" / "raw" / "sub" / "b.bin").write_bytes(b"\x00\x01\r\n")
    (repo / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  tokenize@imdb:\n    cmd: python x.py\n    outs:\n"
        "    - path: data/tokenized\n      hash: md5\n      md5: 0123abcd.dir\n"
        "  validate@imdb:\n    cmd: python v.py\n    outs:\n"
        "    - path: reports/validation/imdb\n      hash: md5\n      md5: feed.dir\n"
    )
    (repo / ".gitignore").write_text("/data\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "src", "dvc.lock", ".gitignore")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    return repo


def test_provenance_tags_in_a_git_repository(project: Path) -> None:
    tags = tracking.provenance_tags(
        "train@imdb-lstm", ["data/tokenized", "data/raw", "data/raw/a.csv", "nope"], root=project
    )
    assert tags["seqbench.git_commit"] == _git(project, "rev-parse", "HEAD")
    assert tags["mlflow.source.git.commit"] == tags["seqbench.git_commit"]
    assert tags["seqbench.git_dirty"] == "false"
    assert tags["seqbench.stage"] == "train@imdb-lstm"
    assert tags["seqbench.version"] == __import__("seqbench").__version__
    assert tags["seqbench.torch"] == torch.__version__
    assert tags["seqbench.device"] == "cpu" or tags["seqbench.device"].startswith("cuda")
    assert tags["seqbench.data.data/tokenized"] == "0123abcd.dir"  # from dvc.lock
    assert tags["seqbench.data.data/raw/a.csv"] == hashlib.md5(b"t,v\n1,2\n").hexdigest()
    assert tags["seqbench.data.data/raw"] == _dvc_data_md5(project / "data" / "raw")
    assert tags["seqbench.data.nope"] == "missing"
    outside = project.parent / "shared.csv"
    outside.write_text("z")
    tags = tracking.provenance_tags(
        "s", [outside, "../shared.csv", project / "data/raw/a.csv"], root=project
    )
    assert tags[f"seqbench.data.{outside.as_posix()}"] == hashlib.md5(b"z").hexdigest()
    assert "seqbench.data.data/raw/a.csv" in tags
    with tracking.run("provenance", "keys", tags=tags) as r:  # MLflow accepts every key
        pass
    assert set(tags) <= set(_run(r.info.run_id).data.tags)


def _dvc_data_md5(path: Path) -> str:
    """DVC's own hash of ``path``, to check that ours is computed the same way."""
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_objects.fs.local import LocalFileSystem

    fs = LocalFileSystem()
    _, _, obj = build(HashFileDB(fs, str(path.parent / ".odb")), str(path), fs, "md5")
    return obj.hash_info.value


def test_git_dirty_ignores_pipeline_outputs_but_not_code(project: Path) -> None:
    def dirty() -> str:
        return tracking.provenance_tags("s", root=project)["seqbench.git_dirty"]

    (project / "mlruns").mkdir()
    (project / "mlruns" / "mlflow.db").write_text("x")  # untracked under mlruns/
    (project / "reports" / "validation" / "imdb").mkdir(parents=True)  # a dvc.lock out
    (project / "reports" / "validation" / "imdb" / "summary.json").write_text("{}")
    (project / "dvc.lock").write_text((project / "dvc.lock").read_text() + "\n")
    assert dirty() == "false"
    (project / "src" / "new.py").write_text("")  # untracked code counts
    assert dirty() == "true"
    (project / "src" / "new.py").unlink()
    (project / "src" / "code.py").write_text("print('changed')\n")
    assert dirty() == "true"


def test_provenance_outside_git_is_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    tags = tracking.provenance_tags("s", root=tmp_path)
    assert tags["seqbench.git_commit"] == "unknown"
    assert tags["seqbench.git_dirty"] == "unknown"
    assert "mlflow.source.git.commit" not in tags


# --- epoch metrics -----------------------------------------------------------------------------


class _Regression(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Linear(3, 1)

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch  # (B, 3), (B, 1)
        return (self.net(x) - y).pow(2).mean()

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        self.log("other", 1.0, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self._loss(batch), on_epoch=True)

    def on_validation_epoch_end(self) -> None:
        self.log("val/epoch_seen", float(self.current_epoch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(epochs: int, callback: L.Callback | None = None, **trainer_kwargs) -> None:
    torch.manual_seed(0)
    x = torch.randn(32, 3)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback or tracking.MLflowEpochLogger()],
        **trainer_kwargs,
    )
    trainer.fit(_Regression(), loader, loader)


def _history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in mlflow.MlflowClient().get_metric_history(run_id, key)]


def test_epoch_logger_logs_train_and_val_metrics_per_epoch() -> None:
    with tracking.run("epochs", "fit") as r:
        _fit(2)
    train, val = _history(r.info.run_id, "train/loss"), _history(r.info.run_id, "val/loss")
    assert [s for s, _ in train] == [0, 1]
    assert [s for s, _ in val] == [0, 1]
    assert val[1][1] < val[0][1]  # it learns, and the values are the real ones
    assert _history(r.info.run_id, "val/epoch_seen") == [(0, 0.0), (1, 1.0)]
    assert _history(r.info.run_id, "other") == []


def test_epoch_logger_skips_stale_val_and_follows_the_active_run() -> None:
    logger = tracking.MLflowEpochLogger()
    with tracking.run("epochs", "sparse-val") as first:
        _fit(2, logger, check_val_every_n_epoch=2, num_sanity_val_steps=0)
    with tracking.run("epochs", "second") as second:  # the same callback, reused
        _fit(1, logger)
    assert [s for s, _ in _history(first.info.run_id, "train/loss")] == [0, 1]
    assert [s for s, _ in _history(first.info.run_id, "val/loss")] == [1]
    assert [s for s, _ in _history(second.info.run_id, "train/loss")] == [0]


# --- models, figures, dicts --------------------------------------------------------------------


class _TextModel(nn.Module):
    """forward(x, lengths) like seqbench's text classifiers: a packed GRU over embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 8, padding_idx=0)
        self.rnn = nn.GRU(8, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embed(x), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, h = self.rnn(packed)  # h (1, B, 8)
        return self.head(h[-1])  # (B, 2)


class _ForecastModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4 * 2, 3)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.proj(x.flatten(1)).unsqueeze(-1)  # (B, L, F) -> (B, 3, 1)


def test_text_model_round_trips_with_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = _TextModel().train()
    ids = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])  # (B=2, T=4) padded with 0
    lengths = torch.tensor([3, 2])
    with tracking.run("models", "text"):
        uri = tracking.log_model(model, (ids, lengths))
    assert uri.startswith("models:/")
    assert model.training  # the caller's model is untouched

    x = torch.randint(1, 20, (5, 9))  # another batch size and sequence length
    lens = torch.tensor([9, 1, 4, 7, 2])
    x[torch.arange(9) >= lens[:, None]] = 0
    expected = model.eval()(x, lens)
    loaded = tracking.load_model(uri)
    assert isinstance(loaded, _TextModel)
    torch.testing.assert_close(loaded(x, lens), expected)

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    raw = mlflow.pytorch.load_model(uri)
    assert isinstance(raw, tracking.LengthPrefixed)
    packed = torch.cat([lens[:, None], x], dim=1)  # (B, 1 + T)
    torch.testing.assert_close(raw(packed), expected)

    pyfunc = mlflow.pyfunc.load_model(uri)
    assert pyfunc.metadata.get_input_schema().inputs[0].shape == (-1, -1)
    np.testing.assert_allclose(pyfunc.predict(packed.numpy()), expected.detach().numpy(), rtol=1e-6)


def test_forecast_model_round_trips() -> None:
    torch.manual_seed(0)
    model = _ForecastModel()
    example = np.random.default_rng(0).normal(size=(3, 4, 2)).astype(np.float32)  # (B, L, F)
    with tracking.run("models", "forecast"):
        uri = tracking.log_model(model, (example, None), name="forecaster")
    loaded = tracking.load_model(uri)
    x = torch.randn(6, 4, 2)
    torch.testing.assert_close(loaded(x), model(x))
    schema = mlflow.models.get_model_info(uri).signature.inputs.inputs[0]
    assert schema.shape == (-1, 4, 2)
    with pytest.raises(ValueError, match="2-D token ids"):
        tracking.log_model(model, (example, np.array([4, 4, 4])))


def test_figure_and_dict_artifacts() -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    with tracking.run("artifacts", "plots") as r:
        tracking.log_figure(fig, "plots/curve.png")
        tracking.log_dict({"acc": np.float32(0.5), "per_step": np.arange(2)}, "metrics/test.json")
    assert not plt.fignum_exists(fig.number)
    files = {a.path for a in mlflow.MlflowClient().list_artifacts(r.info.run_id, "plots")}
    assert files == {"plots/curve.png"}
    saved = mlflow.artifacts.load_dict(f"{r.info.artifact_uri}/metrics/test.json")
    assert saved == {"acc": 0.5, "per_step": [0, 1]}


# --- the project store -------------------------------------------------------------------------


def test_default_relative_store_lives_in_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "fresh-clone"
    project.mkdir()
    monkeypatch.chdir(project)
    uri = tracking.configure()
    assert uri == f"sqlite:///{project}/mlruns/mlflow.db"
    with tracking.run("imdb", "lstm-seed0") as r:
        tracking.log_dict({"ok": True}, "check.json")
    assert (project / "mlruns" / "mlflow.db").is_file()
    stored = project / "mlruns" / "artifacts" / "imdb" / r.info.run_id / "artifacts" / "check.json"
    assert json.loads(stored.read_text()) == {"ok": True}
    monkeypatch.chdir(tmp_path)  # the store does not depend on the current directory afterwards
    assert tracking.find_runs("imdb")["run_id"].tolist() == [r.info.run_id]

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/other.db")
    assert tracking.configure() == f"sqlite:///{tmp_path}/other.db"
    assert tracking.configure("sqlite:///x.db") == f"sqlite:///{tmp_path}/x.db"  # argument wins


def test_a_dvc_experiment_workspace_logs_to_the_projects_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "repo"
    workspace = project / ".dvc" / "tmp" / "exps" / "standalone" / "tmp1a2b"
    workspace.mkdir(parents=True)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(workspace)
    assert tracking.configure() == f"sqlite:///{project}/mlruns/mlflow.db"
    assert not (workspace / "mlruns").exists()


def test_importing_tracking_does_not_import_mlflow() -> None:
    code = "import sys, seqbench.tracking; print('mlflow' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_sigterm_outside_runs_keeps_default_behaviour() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time, seqbench.tracking; print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    child.stdout.readline()
    t0 = time.monotonic()
    os.kill(child.pid, signal.SIGTERM)
    assert child.wait(timeout=30) == -signal.SIGTERM
    assert time.monotonic() - t0 < 30
