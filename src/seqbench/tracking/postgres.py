"""A local PostgreSQL server in a folder: the team setup's database (``make server``: MLflow's
backend store, Optuna's studies) and the scale-out tests' real engine.

It runs Debian's PostgreSQL binaries (``initdb``, ``pg_ctl``) on 127.0.0.1 only, with a socket
folder of its own and password-less ("trust") access for the local user ``seqbench``; as root it
runs them as the ``postgres`` system user, since PostgreSQL refuses to run as root. For a shared
team server, point the URLs at a managed PostgreSQL instead: nothing else changes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from seqbench.errors import SeqbenchError

USER = "seqbench"  # the server's superuser, password-less from 127.0.0.1
DRIVER = "postgresql+psycopg"  # SQLAlchemy's dialect for psycopg 3 (Optuna and MLflow)


class PostgresError(SeqbenchError):
    """The local PostgreSQL server cannot be found, started or reached."""


def pg_bin() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest
    ``/usr/lib/postgresql/<version>/bin``."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not versions:
        raise PostgresError(
            "initdb: not found; install PostgreSQL (Debian: apt-get install postgresql)"
        )
    return versions[-1].parent


def _as_owner(program: str | Path, *args: str) -> list[str]:
    """The command line running ``program`` as the server's owner: this user, or ``postgres``
    when we are root (PostgreSQL refuses to run as root)."""
    command = [str(program), *args]
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalPostgres:
    """A server whose files live in ``root`` (``data/``, ``socket/``, ``server.log``)."""

    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str, driver: str = DRIVER) -> str:
        return f"{driver}://{USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a PostgreSQL program as the server's owner."""
        done = subprocess.run(
            _as_owner(pg_bin() / args[0], *args[1:]), capture_output=True, text=True
        )
        if check and done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise PostgresError(f"{args[0]} (server in {self.root}): {last[0]}")
        return done

    def start(self) -> LocalPostgres:
        """Create the cluster on first use, then start it and wait until it accepts
        connections."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "socket").mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.root / "socket", "postgres")
            reach = subprocess.run(_as_owner("test", "-w", str(self.root)))
            if reach.returncode != 0:
                raise PostgresError(
                    f"{self.root}: the postgres user cannot reach it (a parent folder is "
                    "private to root); choose a folder such as /tmp/<name> or /srv/<name>"
                )
        if not (self.data / "PG_VERSION").is_file():
            self._run("initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root / 'socket'}"
        )
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").is_file():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def stop_with(self, pid: int) -> subprocess.Popen:
        """Stop the server by itself once process ``pid`` is gone (a killed test run too)."""
        stop = _as_owner(pg_bin() / "pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        script = f"while kill -0 {pid} 2>/dev/null; do sleep 2; done; exec {' '.join(stop)}"
        return subprocess.Popen(
            ["sh", "-c", script],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def create_database(self, name: str) -> str:
        """Create database ``name`` unless it exists; return its URL."""
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(
                    f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres",
                    autocommit=True,
                )
                break
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresError(f"127.0.0.1:{self.port}: {exc}".splitlines()[0]) from None
                time.sleep(0.2)
        with conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if exists.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
