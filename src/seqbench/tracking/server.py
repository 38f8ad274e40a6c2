"""The team setup on one machine: PostgreSQL (MLflow's backend store and Optuna's studies) and
an ``mlflow server`` that keeps artifacts in a folder (or an S3 URL), all on 127.0.0.1.

Everyone then exports ``MLFLOW_TRACKING_URI=http://<host>:<port>`` (every stage and command
honours it) and ``SEQBENCH_OPTUNA_STORAGE=<the optuna URL>`` (tuning workers on any machine join
the same studies).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from seqbench.errors import SeqbenchError
from seqbench.tracking.postgres import LocalPostgres


class ServerError(SeqbenchError):
    """The tracking server did not come up."""


@dataclass
class TeamServer:
    """A running team setup: its database server, the ``mlflow server`` process, the URIs."""

    postgres: LocalPostgres
    process: subprocess.Popen
    tracking_uri: str
    optuna_url: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.postgres.stop()


def mlflow_command(backend: str, artifacts: str, port: int, workers: int = 1) -> list[str]:
    """``mlflow server`` on 127.0.0.1 with ``backend`` as its store and the artifacts it proxies
    kept at ``artifacts`` (``--artifacts-destination``: a folder URI or s3://...)."""
    return [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend,
        "--artifacts-destination", artifacts,
        "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers),
    ]  # fmt: skip


def start_team_server(
    root: Path, port: int, pg_port: int, artifacts: str | None = None, timeout_s: float = 120
) -> TeamServer:
    """Start PostgreSQL in ``root/postgres`` (databases ``mlflow`` and ``optuna``) and ``mlflow
    server`` on ``port`` with its artifacts in ``artifacts`` (default ``root/artifacts``); wait
    until the server answers."""
    root = Path(root).resolve()
    pg = LocalPostgres(root / "postgres", pg_port).start()
    backend, optuna_url = pg.create_database("mlflow"), pg.create_database("optuna")
    destination = artifacts or (root / "artifacts").as_uri()
    (root / "artifacts").mkdir(parents=True, exist_ok=True)
    log = open(root / "mlflow-server.log", "ab")  # noqa: SIM115 (the server's lifetime)
    env = {**os.environ, "MLFLOW_TRACKING_URI": ""}  # the server is the store, not a client
    process = subprocess.Popen(
        mlflow_command(backend, destination, port), stdout=log, stderr=log, env=env
    )
    uri = f"http://127.0.0.1:{port}"
    if not answers(f"{uri}/health", process, timeout_s):
        process.kill()
        pg.stop()
        raise ServerError(f"mlflow server on {uri} did not start; see {root / 'mlflow-server.log'}")
    return TeamServer(pg, process, uri, optuna_url)


def answers(url: str, process: subprocess.Popen, timeout_s: float) -> bool:
    """Whether ``url`` answers HTTP 200 within ``timeout_s`` while ``process`` (the server
    behind it) is still running."""
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False
