"""Seconds per training epoch of every task × architecture at the current params (run by hand).

Trains one epoch on a seeded ``--fraction`` of each split and scales the time up, so choosing the
default budgets in ``params.yaml`` starts from measurements. Prints a table.

    .venv/bin/python bench/epoch_cost.py --tasks imdb pems etth1 --fraction 0.1
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from seqbench.data.kinds import dataset_kind, task_architectures, train_tasks
from seqbench.training.fit import fit
from seqbench.training.run import resolve_run
from seqbench.typed import load_params


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--tasks", nargs="+", default=None)
    p.add_argument("--archs", nargs="+", default=None)
    p.add_argument("--fraction", type=float, default=0.1)
    p.add_argument("--threads", default="auto")
    p.add_argument("--data-root", default="data", help="holds tokenized/ and processed/")
    args = p.parse_args()
    params = load_params(args.params)
    tasks = args.tasks or train_tasks(params)
    archs = args.archs
    threads = args.threads if args.threads == "auto" else int(args.threads)
    table = Table(title=f"seconds per full epoch (measured on {args.fraction:.0%} of each split)")
    for col in ("task", "arch", "params", "s/epoch", "train+val s", "max_epochs", "est. s/seed"):
        table.add_column(col, justify="right")
    for task in tasks:
        for arch in archs or task_architectures(params, task):
            full = resolve_run(params, task, arch)
            spec = resolve_run(
                params,
                task,
                arch,
                overrides={
                    "train.max_epochs": 1,
                    "train.patience": 0,
                    "train.fraction": args.fraction,
                    "train.threads": threads,
                },
                data_dir=Path(args.data_root) / dataset_kind(params, task).input / task,
            )
            start = time.perf_counter()
            result = fit(spec, 0)
            wall = time.perf_counter() - start
            per_epoch = result.seconds_per_epoch / args.fraction
            table.add_row(
                task,
                arch,
                f"{result.parameters:,}",
                f"{per_epoch:.1f}",
                f"{wall:.1f}",
                str(full.train.max_epochs),
                f"{per_epoch * full.train.max_epochs:.0f}",
            )
            Console().print(f"{task}-{arch}: {per_epoch:.1f} s/epoch", highlight=False)
    Console().print(table)


if __name__ == "__main__":
    main()
