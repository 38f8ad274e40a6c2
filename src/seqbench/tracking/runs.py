"""MLflow runs that always end: store configuration, experiments, flattened params, final status."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import socket
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqbench.typed import plain

if TYPE_CHECKING:
    import mlflow
    import pandas as pd

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
ARTIFACTS_DIR = "artifacts"  # beside the sqlite file: mlruns/artifacts/<experiment>/...
CONFIG_ARTIFACT = "config.json"  # the un-flattened, un-truncated params of every run

# MLflow's own limits (mlflow.utils.validation, 3.17): longer values are rejected or truncated.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_KEY = 250
PARAMS_PER_BATCH = 100

TAG_HOST = "seqbench.host"
TAG_PID = "seqbench.pid"
TAG_END_REASON = "seqbench.end_reason"
DESCRIPTION_TAG = "mlflow.note.content"  # what the MLflow UI shows as a description

_KEY_BAD_CHARS = re.compile(r"[^/\w.\- :]")
_configured_uri: str | None = None
_signals_received = 0  # incremented by the handlers below; a run compares it at entry and exit


class RunTerminated(KeyboardInterrupt):
    """SIGTERM arrived inside a tracked run; raised like Ctrl+C so the run ends KILLED."""


def configure(tracking_uri: str | None = None) -> str:
    """Point MLflow at ``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else the project store.

    A relative ``sqlite:///`` path is made absolute against the project root (see
    :func:`store_root`) and its folder is created. Returns the URI in use.
    """
    import mlflow

    global _configured_uri
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    uri = _absolute_sqlite_uri(uri)
    mlflow.set_tracking_uri(uri)
    if uri.startswith("sqlite:///"):
        _create_sqlite_store(uri)
    _configured_uri = uri
    return uri


def _create_sqlite_store(uri: str) -> None:
    """Create the sqlite tables under a file lock: MLflow's migrations, run by several processes
    at once on a fresh database (parallel tuning workers), fail with alembic errors."""
    from mlflow import MlflowClient

    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; run the first process alone
        fcntl = None
    db = Path(uri[len("sqlite:///") :].partition("?")[0])
    with open(db.with_name(db.name + ".lock"), "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        MlflowClient(uri).search_experiments(max_results=1)  # builds (and caches) the store


def store_root() -> Path:
    """What a relative store path is relative to: the current directory (the project root when
    DVC runs a stage), except inside a DVC experiment's temporary workspace
    (``<repo>/.dvc/tmp/exps/...``, from ``dvc exp run --temp`` or ``dvc queue``), where it is the
    repository it belongs to, so that the experiment's runs land in the project's store."""
    cwd = Path.cwd()
    parts = cwd.parts
    for i in range(len(parts) - 2):
        if parts[i : i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    return cwd


def _absolute_sqlite_uri(uri: str) -> str:
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return uri
    path, sep, query = uri[len(prefix) :].partition("?")
    db = Path(path)
    if not db.is_absolute():
        db = store_root() / db
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"{prefix}{db.as_posix()}{sep}{query}"


def _ensure_configured() -> str:
    return _configured_uri or configure()


def artifact_location(experiment: str, tracking_uri: str | None = None) -> str | None:
    """Where an experiment's artifacts go: ``<db folder>/artifacts/<experiment>`` as a file URI.

    MLflow stores an experiment's artifact location as an absolute path fixed at creation, so it
    is computed here from the sqlite file's location (not the current directory). For other
    backends (a tracking server, PostgreSQL) ``None`` lets the server choose.
    """
    import mlflow

    uri = tracking_uri or mlflow.get_tracking_uri()
    if not uri.startswith("sqlite:///"):
        return None
    db = Path(_absolute_sqlite_uri(uri)[len("sqlite:///") :].partition("?")[0])
    slug = re.sub(r"[^\w.-]", "_", experiment)
    return (db.parent / ARTIFACTS_DIR / slug).as_uri()


def get_or_create_experiment(name: str, description: str | None = None) -> str:
    """Return the id of experiment ``name``, creating (or restoring) it; safe across processes.

    ``description`` becomes the experiment's description (the UI's note) unless it has one.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    _ensure_configured()
    client = MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        tags = {DESCRIPTION_TAG: description} if description else None
        try:
            return client.create_experiment(
                name, artifact_location=artifact_location(name), tags=tags
            )
        except MlflowException:  # another process created it between our two calls
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    if description and not experiment.tags.get(DESCRIPTION_TAG):
        client.set_experiment_tag(experiment.experiment_id, DESCRIPTION_TAG, description)
    return experiment.experiment_id


def flatten_params(params: Mapping[str, Any] | Any, prefix: str = "") -> dict[str, str]:
    """Flatten nested mappings (and dataclasses) to ``{"a.b.c": "value"}`` strings MLflow accepts.

    Lists become JSON; keys lose characters MLflow rejects; values longer than MLflow's limit are
    cut (the full config is kept in the run's ``config.json``). Colliding keys raise ValueError.
    """
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        params = dataclasses.asdict(params)
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        if isinstance(value, Mapping) and value:
            items = flatten_params(value, name).items()
        else:
            items = [(_param_key(name), _truncate(_param_value(value), MAX_PARAM_VALUE))]
        for k, v in items:
            if k in flat:
                raise ValueError(f"params: key {k!r} occurs twice after flattening")
            flat[k] = v
    return flat


def _param_key(name: str) -> str:
    return _KEY_BAD_CHARS.sub("_", name)[:MAX_KEY]


def _param_value(value: Any) -> str:
    if isinstance(value, list | tuple | Mapping):
        return json.dumps(value, default=str)
    return str(value)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def log_params(params: Mapping[str, Any], run_id: str | None = None) -> dict[str, str]:
    """Log nested ``params`` flattened, in batches MLflow accepts; return what was logged."""
    import mlflow
    from mlflow.entities import Param

    run_id = run_id or mlflow.active_run().info.run_id
    flat = flatten_params(params)
    items = [Param(k, v) for k, v in flat.items()]
    client = mlflow.MlflowClient()
    for start in range(0, len(items), PARAMS_PER_BATCH):
        client.log_batch(run_id, params=items[start : start + PARAMS_PER_BATCH])
    return flat


def _tag_values(tags: Mapping[str, Any]) -> dict[str, str]:
    return {_param_key(str(k)): _truncate(str(v), MAX_TAG_VALUE) for k, v in tags.items()}


@contextlib.contextmanager
def run(
    experiment: str,
    run_name: str,
    *,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    description: str | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """Start an MLflow run that always ends: FINISHED, FAILED on an exception, KILLED on Ctrl+C
    or SIGTERM (converted to :class:`RunTerminated` while the run is open).

    ``nested`` puts the run under the active run; ``parent_run_id`` under a run of another thread
    or process (tuning workers). ``params`` (nested) are logged flattened with "." keys and kept
    whole in ``config.json``; ``description`` describes a new experiment. Top-level runs first
    close this host's orphans (see :func:`close_orphaned_runs`).
    """
    import mlflow

    _ensure_configured()
    experiment_id = get_or_create_experiment(experiment, description)
    if not nested and parent_run_id is None:
        close_orphaned_runs(experiment)
    own_tags = {TAG_HOST: socket.gethostname(), TAG_PID: str(os.getpid()), **(tags or {})}
    active = mlflow.start_run(
        experiment_id=experiment_id,
        run_name=run_name,
        nested=nested or parent_run_id is not None,
        parent_run_id=parent_run_id,
        tags=_tag_values(own_tags),
    )
    signals_at_start = _signals_received
    status = "FAILED"
    try:
        with _signal_guard():
            if params:
                log_params(params, active.info.run_id)
                client = mlflow.MlflowClient()
                client.log_dict(active.info.run_id, plain(params), CONFIG_ARTIFACT)
            yield active
        status = "FINISHED"
    except KeyboardInterrupt:  # Ctrl+C, or SIGTERM via RunTerminated
        status = "KILLED"
        raise
    except SystemExit as exc:  # Lightning turns Ctrl+C/SIGTERM during fit into SystemExit
        status = "FINISHED" if exc.code in (0, None) else "FAILED"
        raise
    finally:
        if _signals_received != signals_at_start:
            status = "KILLED"
        _finish(active.info.run_id, status)


def _finish(run_id: str, status: str) -> None:
    """End ``run_id`` with ``status``, and any run the body left open above it on the stack."""
    import mlflow

    while (top := mlflow.active_run()) is not None and top.info.run_id != run_id:
        mlflow.end_run(status)
    if top is not None:
        mlflow.end_run(status)
    else:  # the body ended it itself (mlflow.end_run): record the real outcome anyway
        mlflow.MlflowClient().set_terminated(run_id, status)


@contextlib.contextmanager
def _signal_guard() -> Iterator[None]:
    """Turn SIGTERM (and record SIGINT) into exceptions while a run is open; restore after."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may install handlers; its own guard covers the process
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        global _signals_received
        _signals_received += 1
        raise RunTerminated(f"signal {signal.Signals(signum).name}")

    def on_sigint(signum: int, frame: Any) -> None:
        global _signals_received
        _signals_received += 1
        raise KeyboardInterrupt

    previous_term = signal.signal(signal.SIGTERM, on_sigterm)
    previous_int = signal.getsignal(signal.SIGINT)
    own_int = previous_int is signal.default_int_handler
    if own_int:
        signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        if own_int:
            signal.signal(signal.SIGINT, previous_int)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def close_orphaned_runs(experiment: str) -> list[str]:
    """Mark KILLED the RUNNING runs started on this host by processes that no longer exist.

    A SIGKILL (or power loss) cannot be caught, so such runs would stay RUNNING forever; every
    top-level :func:`run` calls this first. Returns the ids of the runs it closed.
    """
    from mlflow import MlflowClient

    client = MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    host = socket.gethostname().replace("'", "")
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{TAG_HOST}` = '{host}'",
        max_results=1000,
    )
    closed = []
    for stale in runs:
        pid = stale.data.tags.get(TAG_PID, "")
        if pid.isdigit() and not _process_alive(int(pid)):
            client.set_tag(stale.info.run_id, TAG_END_REASON, f"process {pid} vanished")
            client.set_terminated(stale.info.run_id, "KILLED")
            closed.append(stale.info.run_id)
    return closed


def find_runs(
    experiment: str, filter_string: str = "", order_by: list[str] | None = None
) -> pd.DataFrame:
    """Runs of ``experiment`` as a DataFrame (``params.*``, ``metrics.*``, ``tags.*`` columns).

    ``filter_string`` uses MLflow's search syntax, e.g. ``"tags.`seqbench.stage` = 'train'"``.
    An experiment that does not exist yields an empty frame.
    """
    import mlflow
    import pandas as pd

    _ensure_configured()
    found = mlflow.MlflowClient().get_experiment_by_name(experiment)
    if found is None:
        return pd.DataFrame()
    return mlflow.search_runs(
        experiment_ids=[found.experiment_id],
        filter_string=filter_string,
        order_by=order_by,
        output_format="pandas",
    )
