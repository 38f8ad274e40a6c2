"""RevIN on or off: validation and test primary metric of every forecaster (run by hand).

Trains each task × architecture twice with the train stage's full budget and the tuned
hyper-parameters (``data/tuning/<task>-<arch>.json``, tuned without RevIN), once with
``model.revin: false`` and once with ``true``, on the same seeds; prints a table. Whether RevIN
is on by default for a task is decided from the validation column (params.yaml,
``train.<task>.model.revin``), never from the test column.

    .venv/bin/python bench/revin.py --root . --tasks pems etth1 --seeds 0
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

from seqbench.data.kinds import task_architectures
from seqbench.models import ARCHITECTURES
from seqbench.training.fit import fit
from seqbench.training.run import load_best_params, resolve_run
from seqbench.typed import load_params


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=".", help="a checkout with data/processed and data/tuning")
    p.add_argument("--tasks", nargs="+", default=["pems", "etth1"])
    p.add_argument("--archs", nargs="+", default=None, help="default: the task's trained rows")
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = p.parse_args()
    root = Path(args.root)
    params = load_params(root / "params.yaml")
    table = Table(title="RevIN off → on (mean over seeds; lower is better)")
    for column in ("task", "arch", "val off", "val on", "val Δ %", "test off", "test on"):
        table.add_column(column, justify="left" if column in ("task", "arch") else "right")
    for task in args.tasks:
        archs = args.archs or task_architectures(params, task)
        for arch in archs:
            entry = ARCHITECTURES[arch]
            if entry.estimator is not None or arch == "naive":  # naive: no weights to learn
                continue
            tuned = root / "data" / "tuning" / f"{task}-{arch}.json"
            best = load_best_params(tuned) if tuned.is_file() else {}
            values = {}
            for revin in (False, True):
                spec = resolve_run(
                    params,
                    task,
                    arch,
                    {**best, "model.revin": revin},
                    data_dir=root / "data" / "processed" / task,
                )
                runs = [fit(spec, seed, evaluate_test=True) for seed in args.seeds]
                primary = spec.task.primary
                values[revin] = (
                    statistics.mean(r.best_val for r in runs),
                    statistics.mean(r.test[primary] for r in runs if r.test),
                )
            (val_off, test_off), (val_on, test_on) = values[False], values[True]
            table.add_row(
                task,
                arch,
                f"{val_off:.4g}",
                f"{val_on:.4g}",
                f"{100 * (val_on - val_off) / val_off:+.1f}",
                f"{test_off:.4g}",
                f"{test_on:.4g}",
            )
            Console().print(f"{task} {arch}: val {val_off:.4g} → {val_on:.4g}", highlight=False)
    Console().print(table)


if __name__ == "__main__":
    main()
