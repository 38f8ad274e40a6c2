"""Scale-out on the real engines: Optuna studies on PostgreSQL shared by workers on several
machines (heartbeat, stale trials failed and replaced), the storage chosen by flag, environment
or params."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from seqbench.tuning import tune
from seqbench.tuning.config import HeartbeatConfig
from seqbench.tuning.study import (
    OWNER_ATTR,
    STALE_ATTR,
    STORAGE_ENV,
    open_study,
    prepare_study,
    recover,
    storage_for,
    storage_url,
)
from seqbench.typed import ConfigError, build

TESTS = Path(__file__).parent
FAST_BEAT = HeartbeatConfig(interval_s=1, grace_s=3)


def cfg(n_trials: int):
    from dataclasses import replace

    from test_tuning import make_cfg

    return replace(make_cfg(n_trials), heartbeat=FAST_BEAT)


def test_the_storage_is_the_flag_else_the_environment_else_params(monkeypatch) -> None:
    monkeypatch.delenv(STORAGE_ENV, raising=False)
    assert storage_url(None, None) is None  # the journal file
    assert storage_url(None, "sqlite:///p.db") == "sqlite:///p.db"
    monkeypatch.setenv(STORAGE_ENV, "postgresql+psycopg://u@h/env")
    assert storage_url(None, "sqlite:///p.db") == "postgresql+psycopg://u@h/env"  # env wins
    assert storage_url("sqlite:///flag.db", "sqlite:///p.db") == "sqlite:///flag.db"
    with pytest.raises(ConfigError, match="grace_s: expected more seconds than interval_s"):
        build(HeartbeatConfig, {"interval_s": 10, "grace_s": 5}, "tune.heartbeat")


def test_a_trial_whose_heartbeat_stops_is_failed_and_replaced(tmp_path) -> None:
    """A worker on another machine (its process cannot be checked from here) stops beating:
    after the grace period Optuna's fail_stale_trials fails its trial and a ticket replaces it."""
    c = cfg(3)
    storage = storage_for(f"sqlite:///{tmp_path / 'o.db'}", tmp_path, c)
    study = open_study("s", storage, c, "minimize")
    prepare_study(study, c, "minimize", "val/loss")
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert len(waiting) == 3
    trial_id = waiting[0]._trial_id
    storage.set_trial_state_values(trial_id, TrialState.RUNNING)
    storage.set_trial_user_attr(trial_id, OWNER_ATTR, "another-machine:4242:99")
    storage.record_heartbeat(trial_id)
    assert recover(study, c) == [] and study.trials[0].state == TrialState.RUNNING  # beating
    time.sleep(FAST_BEAT.grace_s + 1.5)
    recover(study, c)
    trials = study.get_trials()
    assert trials[0].state == TrialState.FAIL
    reason = study.user_attrs[STALE_ATTR.format(0)]
    assert (
        reason == "stale: no heartbeat from worker another-machine:4242:99 within the grace period"
    )
    assert [t.state for t in trials[1:]] == [TrialState.WAITING] * 3  # two left + the replacement


WORKER = textwrap.dedent(
    """
    import socket, sys, time
    from dataclasses import replace
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_scaleout import cfg
    from seqbench.tuning import suggest, tune

    url, marker, role = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    if role == "doomed":  # a worker on another machine: its process id means nothing here
        socket.gethostname = lambda: "another-machine"

    class Obj:
        metric, direction = "val/loss", "minimize"

        def __call__(self, trial):
            p = suggest(trial, cfg(1).space)
            if role == "doomed":
                marker.write_text(str(trial.number))
                time.sleep(600)  # killed here, mid-trial
            time.sleep(0.3)
            trial.report(p["optim.lr"], 0)
            return p["optim.lr"] + p["model.dropout"]

    summary = tune(cfg({n_trials}), Obj(), name="shared", study_dir=Path("."), storage=url)
    print("finished", summary["trials"])
    """
)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_on_postgres_one_killed_end_with_exactly_n_trials(postgres, tmp_path):
    """The same command on two machines joins one PostgreSQL study; one is kill -9ed
    mid-trial; the other finishes the study: exactly n_trials finished, numbers unique, and
    the killed trial FAILED by its stopped heartbeat."""
    n_trials = 6
    url = postgres.create_database(f"optuna_kill_{uuid.uuid4().hex[:8]}")
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=str(TESTS), n_trials=n_trials))
    marker = tmp_path / "doomed-trial"
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    doomed = subprocess.Popen(
        [sys.executable, str(script), url, str(marker), "doomed"], cwd=tmp_path, env=env
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert doomed.poll() is None and time.monotonic() < deadline, "never started a trial"
        time.sleep(0.05)
    survivor = subprocess.Popen(
        [sys.executable, str(script), url, str(marker), "survivor"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)  # both workers are in the study now
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    out, _ = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, out
    study = optuna.load_study(study_name="shared", storage=url)
    trials = study.get_trials()
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == n_trials
    assert len({t.number for t in trials}) == len(trials)  # no duplicate trial numbers
    killed = trials[int(marker.read_text())]
    assert killed.state == TrialState.FAIL
    assert killed.user_attrs[OWNER_ATTR].startswith("another-machine:")
    assert study.user_attrs[STALE_ATTR.format(killed.number)].startswith("stale: no heartbeat")
    assert [t.state for t in trials].count(TrialState.FAIL) == 1
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))


@pytest.mark.slow
@pytest.mark.postgres
def test_n_workers_of_one_command_share_a_postgres_study(postgres, tmp_path, monkeypatch):
    """`seqbench tune --workers 2` with the study on PostgreSQL (given by the environment)."""
    from test_tuning import Quadratic

    url = postgres.create_database(f"optuna_workers_{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv(STORAGE_ENV, url)
    summary = tune(cfg(6), Quadratic(sleep_s=0.1), name="t-w", study_dir=tmp_path, workers=2)
    assert summary["trials"]["complete"] == 6
    assert not (tmp_path / "journal.log").exists()  # the database, not the journal file
    study = optuna.load_study(study_name="t-w", storage=url)
    owners = {t.user_attrs[OWNER_ATTR].split(":")[1] for t in study.trials}
    assert len(study.trials) == 6 and len(owners) == 2


# ---------------------------------------------------------------------------------------------
# A DVC remote: any commit reproduced without retraining
# ---------------------------------------------------------------------------------------------

BIN = Path(sys.executable).parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def sh(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    )
    assert done.returncode == 0, f"{' '.join(args)}: {done.stderr or done.stdout}"
    return done.stdout


@pytest.mark.slow
def test_dvc_push_then_a_fresh_clone_and_pull_predict_the_same_without_training(
    tmp_path_factory, tmp_path
):
    """A project whose trained models and data are DVC-tracked: `dvc push` to a local remote;
    a fresh clone plus `dvc pull` is up to date (nothing to repro) and predicts the same."""
    import shutil

    import yaml
    from pipeline_outputs import cached_outputs

    out = cached_outputs(tmp_path_factory.getbasetemp())
    repo, remote = tmp_path / "project", tmp_path / "remote"
    shutil.copytree(out.models / "imdb-gru", repo / "models" / "imdb-gru")
    shutil.copytree(out.tokenized / "imdb", repo / "data" / "tokenized" / "imdb")
    (repo / "params.yaml").write_text(yaml.safe_dump(out.params))
    predict = (
        f"{BIN / 'seqbench'} predict --task imdb --model-uri models/imdb-gru "
        "--text 'a great and moving film' --text 'boring, the worst waste' "
        "> reports/predictions.txt"
    )
    stage = {
        "cmd": f"mkdir -p reports && {predict}",
        "deps": ["models/imdb-gru", "data/tokenized/imdb"],
        "outs": ["reports/predictions.txt"],
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"predict": stage}}))
    dvc = str(BIN / "dvc")
    sh(repo, "git", "init", "-q")
    sh(repo, dvc, "init", "-q")
    sh(repo, dvc, "config", "core.analytics", "false")
    sh(repo, dvc, "add", "-q", "models/imdb-gru", "data/tokenized/imdb")
    sh(repo, dvc, "repro", "-q")
    sh(repo, dvc, "remote", "add", "-d", "storage", str(remote))
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "trained")
    sh(repo, dvc, "push", "-q")
    expected = (repo / "reports" / "predictions.txt").read_text()
    assert expected.count("\n") == 2 and "positive" in expected  # two reviews, labelled

    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    assert not (clone / "models" / "imdb-gru").exists()  # git holds only the pointers
    sh(clone, dvc, "pull", "-q")
    assert "up to date" in sh(clone, dvc, "status")
    assert "up to date" in sh(clone, dvc, "repro")  # nothing to retrain
    assert (clone / "reports" / "predictions.txt").read_text() == expected
    again = sh(
        clone,
        str(BIN / "seqbench"),
        "predict",
        "--task",
        "imdb",
        "--model-uri",
        "models/imdb-gru",
        "--text",
        "a great and moving film",
        "--text",
        "boring, the worst waste",
    )
    assert again == expected  # the pulled model predicts exactly as the original did


# ---------------------------------------------------------------------------------------------
# The team's tracking server: mlflow server on PostgreSQL
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
def test_train_register_promote_and_predict_against_a_live_mlflow_server(
    tmp_path_factory, tmp_path, monkeypatch
):
    """With MLFLOW_TRACKING_URI at `seqbench server` (PostgreSQL backend, artifacts in a
    folder), the train, register and promote code paths and `seqbench predict` work exactly as
    on the embedded store: runs, versions and the champion live on the server."""
    import shutil
    import tempfile

    import yaml
    from mlflow import MlflowClient
    from pipeline_outputs import cached_outputs

    from seqbench.serving.config import register_config
    from seqbench.serving.register import register_all
    from seqbench.tracking.postgres import free_port
    from seqbench.tracking.server import start_team_server
    from seqbench.training.run import resolve_run
    from seqbench.training.seeds import train_all_seeds

    out = cached_outputs(tmp_path_factory.getbasetemp())
    server_root = Path(tempfile.mkdtemp(prefix="seqbench-server-"))
    server_root.chmod(0o755)  # PostgreSQL runs as the postgres user when we are root
    team = start_team_server(server_root, free_port(), free_port())
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", team.tracking_uri)
        work = tmp_path / "work"
        work.mkdir()
        monkeypatch.chdir(work)
        (work / "params.yaml").write_text(yaml.safe_dump(out.params))
        data = out.processed / "toy"
        for arch in ("gru", "transformer"):
            spec = resolve_run(out.params, "toy", arch, data_dir=data)
            train_all_seeds(
                spec,
                models_dir=work / "models" / f"toy-{arch}",
                metrics_path=work / "metrics" / f"toy-{arch}.json",
                curves_path=work / "curves" / f"toy-{arch}.csv",
                inputs=[str(data)],
            )
        done = register_all(
            out.params,
            register_config(out.params),
            models_root=work / "models",
            tokenized_root=out.tokenized,
            processed_root=out.processed,
            metrics_root=work / "metrics",
            tasks=["toy"],
        )
        assert sorted(d["arch"] for d in done) == ["gru", "transformer"]
        env = {**os.environ, "MLFLOW_TRACKING_URI": team.tracking_uri}
        promoted = subprocess.run(
            [str(BIN / "seqbench"), "promote", "--task", "toy"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        assert promoted.returncode == 0, promoted.stderr
        client = MlflowClient(team.tracking_uri)
        champion = client.get_model_version_by_alias("seqbench-toy", "champion")
        assert champion.version in {d["version"] for d in done}
        runs = client.search_runs([client.get_experiment_by_name("toy").experiment_id])
        assert len(runs) == 4 and {r.info.status for r in runs} == {"FINISHED"}  # 2 archs × 2
        assert not (work / "mlruns").exists()  # nothing went to the embedded store
        stored = list((server_root / "artifacts").rglob("MLmodel"))
        assert stored, "the served models' files are in the server's artifact folder"
        recent = tmp_path / "recent.csv"
        import pandas as pd

        pd.read_parquet(data / "test.parquet").head(40).to_csv(recent, index=False)
        predicted = subprocess.run(
            [str(BIN / "seqbench"), "predict", "--task", "toy", "--csv", str(recent)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        assert predicted.returncode == 0, predicted.stderr
        assert len(predicted.stdout.strip().splitlines()) >= 2  # a header and the forecast
    finally:
        team.stop()
        shutil.rmtree(server_root, ignore_errors=True)
