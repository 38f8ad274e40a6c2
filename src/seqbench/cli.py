"""The ``seqbench`` command for humans (``seqbench tune ...``; more commands join here)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import typer

from seqbench.errors import SeqbenchError

app = typer.Typer(
    help="seqbench: benchmark RNN, LSTM, GRU and Transformer models.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main() -> None:
    """seqbench: benchmark RNN, LSTM, GRU and Transformer models."""


@app.command()
def tune(
    task: str = typer.Option(..., help="task name (train.tasks)"),
    arch: str = typer.Option(..., help="architecture name (train.architectures)"),
    workers: int = typer.Option(1, min=1, help="parallel worker processes on the same study"),
    storage: str | None = typer.Option(
        None,
        help="Optuna storage URL, e.g. postgresql+psycopg://user@host:5432/optuna (default: "
        "$SEQBENCH_OPTUNA_STORAGE, else tune.storage, else a journal file in the study folder)",
    ),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
    data_dir: Path | None = typer.Option(
        None, help="the task's training input (default: data/<tokenized|processed>/<task>)"
    ),
    validation_dir: Path | None = typer.Option(
        None, help="the dataset's validation report (default: reports/validation/<task>)"
    ),
    out_dir: Path = typer.Option(
        Path("data/tuning"), help="where <task>-<arch>.json and the study folder <task>-<arch>/ go"
    ),
) -> None:
    """Run (or resume) the equal-budget study <task>-<arch> until it holds n_trials trials.

    The same code path as the tune stage: the validation gate, provenance tags, the result file.
    With a database storage, the same command on other machines joins the same study.
    """
    from seqbench.data.kinds import input_dir
    from seqbench.tuning.service import tune_task
    from seqbench.typed import load_params

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    name = f"{task}-{arch}"
    try:
        raw = load_params(params)
        summary = tune_task(
            raw,
            task,
            arch,
            validation_dir=validation_dir or Path("reports/validation") / task,
            data_dir=data_dir or input_dir(raw, task, arch),
            out=out_dir / f"{name}.json",
            study_dir=out_dir / name,
            storage=storage,
            workers=workers,
        )
    except SeqbenchError as exc:
        raise _fail(exc) from None
    typer.echo(
        f"{name}: best {summary['metric']} = {summary['best_value']} "
        f"{summary['best_params']}; trials {summary['trials']}"
    )


def _fail(exc: Exception) -> typer.Exit:
    print(f"error: {exc}", file=sys.stderr)
    return typer.Exit(1)


def _registry(params: Path, tracking_uri: str | None) -> tuple[dict, Any, Any]:
    """Load ``params``, its ``register`` section and an MLflow client on the project store."""
    from mlflow import MlflowClient

    from seqbench import tracking
    from seqbench.serving.config import register_config
    from seqbench.typed import load_params

    raw = load_params(params)
    cfg = register_config(raw)
    tracking.configure(tracking_uri)
    return raw, cfg, MlflowClient()


@app.command()
def promote(
    task: str = typer.Option(..., help="task name (train.tasks)"),
    force: bool = typer.Option(False, "--force", help="promote even if the rule refuses"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the decision, change nothing"),
    version: str | None = typer.Option(
        None, help="challenger version (default: the best by validation)"
    ),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
    tracking_uri: str | None = typer.Option(None, help="MLflow URI (default: project store)"),
) -> None:
    """Point seqbench-<task>@champion at the best version by validation, unless a paired test
    on the test split finds it significantly worse than the current champion."""
    from seqbench.serving.promote import promote as run_promote
    from seqbench.serving.promote import promotion_rule

    try:
        raw, cfg, client = _registry(params, tracking_uri)
        decision = run_promote(
            client,
            cfg.model_name(task),
            promotion_rule(raw, task),
            alias=cfg.alias,
            version=version,
            force=force,
            dry_run=dry_run,
            history_limit=cfg.history_limit,
        )
    except SeqbenchError as exc:
        raise _fail(exc) from None
    typer.echo(decision.message())
    if decision.action == "refuse":
        raise typer.Exit(2)


@app.command()
def champions(
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
    tracking_uri: str | None = typer.Option(None, help="MLflow URI (default: project store)"),
) -> None:
    """List the current champion of every task with its test metrics."""
    from rich.console import Console
    from rich.table import Table

    from seqbench.data.kinds import train_tasks
    from seqbench.serving.promote import champion_summary, promotion_rule

    try:
        raw, cfg, client = _registry(params, tracking_uri)
        table = Table(title=f"@{cfg.alias} per task")
        columns = ("task", "model", "version", "arch", "seed", "primary", "metrics", "since", "run")
        for column in columns:
            table.add_column(column)
        for task in train_tasks(raw):
            metric = promotion_rule(raw, task).metric
            found = champion_summary(client, cfg.model_name(task), cfg.alias)
            if found is None:
                table.add_row(task, cfg.model_name(task), "—", "—", "—", "—", "none", "", "")
                continue
            metrics = ", ".join(
                f"{k}={v:.4g}" for k, v in sorted(found["metrics"].items()) if k != "test/loss"
            )
            value = found["metrics"].get(metric)
            primary = f"{metric}={value:.4g}" if value is not None else metric
            table.add_row(
                task,
                found["name"],
                found["version"],
                found["arch"],
                found["seed"],
                primary,
                metrics,
                found["since"],
                found["run_id"] or "",
            )
    except SeqbenchError as exc:
        raise _fail(exc) from None
    Console(width=200).print(table)


@app.command()
def predict(
    task: str = typer.Option(..., help="task name (train.tasks)"),
    text: list[str] | None = typer.Option(None, "--text", help="a review (repeatable)"),
    file: Path | None = typer.Option(None, help="text file: one review per line"),
    csv: Path | None = typer.Option(None, help="CSV of recent values (the feature columns)"),
    model_uri: str | None = typer.Option(
        None,
        help="default: models:/seqbench-<task>@champion; or a trained folder models/<task>-<arch> "
        "(its final seed, bundled as register bundles it: no MLflow store needed)",
    ),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
    tracking_uri: str | None = typer.Option(None, help="MLflow URI (default: project store)"),
) -> None:
    """Predict with the champion of a task: review text (IMDB) or a CSV of recent values."""
    import tempfile

    import mlflow
    import pandas as pd
    from mlflow.exceptions import MlflowException

    from seqbench import tracking
    from seqbench.serving.config import register_config
    from seqbench.typed import load_params

    try:
        raw = load_params(params)
        cfg = register_config(raw)
        uri = model_uri or f"models:/{cfg.model_name(task)}@{cfg.alias}"
        reviews = list(text or [])
        if file is not None:
            if not file.is_file():
                raise SeqbenchError(f"{file}: file not found")
            reviews += [line for line in file.read_text().splitlines() if line.strip()]
        if bool(reviews) == (csv is not None):
            raise SeqbenchError("predict: give --text/--file (text tasks) or --csv (forecasting)")
        if csv is not None and not csv.is_file():
            raise SeqbenchError(f"{csv}: file not found")
        data = pd.DataFrame({"text": reviews}) if reviews else pd.read_csv(csv)
        if Path(uri).is_dir():  # DVC-tracked files (a fresh clone after `dvc pull`)
            from seqbench.data.kinds import input_dir
            from seqbench.serving.pyfunc import load_predictor
            from seqbench.serving.register import bundle_from_files

            with tempfile.TemporaryDirectory(prefix="seqbench-predict-") as tmp:
                bundle = bundle_from_files(
                    Path(uri), Path(tmp) / "bundle", lambda arch: input_dir(raw, task, arch)
                )
                result = load_predictor(bundle).predict(data)
        else:
            tracking.configure(tracking_uri)
            try:
                model = mlflow.pyfunc.load_model(uri)
                if csv is not None:  # only the columns the model takes (a timestamp may be there)
                    wanted = model.metadata.get_input_schema().input_names()
                    data = data[[c for c in data.columns if c in wanted]]
                result = model.predict(data)
            except MlflowException as exc:
                raise SeqbenchError(f"{uri}: {str(exc).splitlines()[0]}") from None
    except SeqbenchError as exc:
        raise _fail(exc) from None
    if reviews:
        for review, row in zip(reviews, result.itertuples(index=False), strict=True):
            short = review if len(review) <= 60 else review[:57] + "..."
            typer.echo(f"{row.label}\t{row.probability:.4f}\t{short}")
    else:
        typer.echo(result.to_string(index=False))


@app.command()
def views(
    out: Path = typer.Option(Path("reports/views"), help="output folder (replaced)"),
    node_modules: Path = typer.Option(
        Path("views/node_modules"), help="the vendored npm packages (npm ci --prefix views)"
    ),
) -> None:
    """Write the DVC plots page and every dataset's Data Docs as offline HTML (no CDN)."""
    from seqbench.views import build_views

    try:
        index = build_views(Path("."), out, node_modules=node_modules)
    except SeqbenchError as exc:
        raise _fail(exc) from None
    typer.echo(f"offline views: {index}")


@app.command()
def server(
    root: Path = typer.Option(Path(".server"), help="folder of the database and the artifacts"),
    port: int = typer.Option(5000, help="the MLflow server's port (127.0.0.1)"),
    pg_port: int = typer.Option(5433, help="PostgreSQL's port (127.0.0.1)"),
    artifacts: str | None = typer.Option(
        None, help="where the server keeps artifacts (default: ROOT/artifacts; or s3://...)"
    ),
) -> None:
    """Start the team setup: PostgreSQL (MLflow's store, Optuna's studies) and mlflow server.

    Prints the two variables to export; Ctrl+C stops both servers (the data stays in ROOT).
    """
    import signal
    import time

    from seqbench.tracking.server import start_team_server

    try:
        team = start_team_server(root, port, pg_port, artifacts)
    except SeqbenchError as exc:
        raise _fail(exc) from None
    typer.echo(f"export MLFLOW_TRACKING_URI={team.tracking_uri}")
    typer.echo(f"export SEQBENCH_OPTUNA_STORAGE={team.optuna_url}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while team.process.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        team.stop()


postgres_app = typer.Typer(help="A local PostgreSQL server in a folder (127.0.0.1 only).")
app.add_typer(postgres_app, name="postgres")


@postgres_app.command("start")
def postgres_start(
    root: Path = typer.Option(..., help="the server's folder (created on first use)"),
    port: int = typer.Option(5433, help="its port on 127.0.0.1"),
) -> None:
    """Start (creating it on first use) the server in ROOT; it keeps running."""
    from seqbench.tracking.postgres import LocalPostgres

    try:
        LocalPostgres(root.resolve(), port).start()
    except SeqbenchError as exc:
        raise _fail(exc) from None
    typer.echo(f"postgresql on 127.0.0.1:{port} ({root})")


@postgres_app.command("stop")
def postgres_stop(
    root: Path = typer.Option(..., help="the server's folder"),
) -> None:
    """Stop the server in ROOT."""
    from seqbench.tracking.postgres import LocalPostgres

    LocalPostgres(root.resolve(), 0).stop()
