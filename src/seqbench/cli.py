"""The ``seqbench`` command for humans (``seqbench tune ...``; more commands join here)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

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
        help="Optuna storage URL (default: tune.storage, else a journal file in the study folder)",
    ),
    params: Path = typer.Option(Path("params.yaml"), help="parameters file"),
    data_dir: str | None = typer.Option(None, help="the task's training input folder"),
    out_dir: Path = typer.Option(
        Path("data/tuning"), help="where <task>-<arch>.json and the study folder <task>-<arch>/ go"
    ),
) -> None:
    """Run (or resume) the equal-budget study <task>-<arch> until it holds n_trials trials."""
    from seqbench.config import load_params
    from seqbench.io import write_json
    from seqbench.tuning import study_name, tune_config
    from seqbench.tuning import tune as run_tune
    from seqbench.tuning.objective import training_objective

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        raw = load_params(params)
        cfg = tune_config(raw, task, arch)
        threads = max(1, len(os.sched_getaffinity(0)) // workers) if workers > 1 else "auto"
        objective = training_objective(raw, task, arch, cfg, data_dir=data_dir, threads=threads)
        name = study_name(task, arch)
        summary = run_tune(
            cfg, objective, name=name, study_dir=out_dir / name, storage=storage, workers=workers
        )
        write_json(out_dir / f"{name}.json", summary)
    except SeqbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    typer.echo(
        f"{name}: best {summary['metric']} = {summary['best_value']} "
        f"{summary['best_params']}; trials {summary['trials']}"
    )
