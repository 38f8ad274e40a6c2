"""DVC stage claims_train@<task>-<family>: the family at every length, every seed."""

from pathlib import Path

from seqbench import stage
from seqbench.claims.config import claims_config
from seqbench.claims.experiments import run_grid
from seqbench.io import read_json, write_json
from seqbench.typed import load_params
from seqbench.validation.core import require_passed

PARSER = stage.parser(
    __doc__,
    ("task", "a claims task (claims.tasks, datasets.<task>)"),
    ("family", "an architecture of claims.families"),
    ("validation_dir", "the dataset's validation report (must say success)"),
    ("data_dir", "data/processed/<task>"),
    ("lr_file", "the claims_lr stage's result"),
    ("out_dir", "output: per length, the seeds' models, predictions, metrics and curves"),
    ("summary_file", "output: every run's test metrics and outcome (JSON)"),
)


def main(args) -> None:
    require_passed(Path(args.validation_dir))
    params = load_params(args.params)
    lr = float(read_json(args.lr_file)["best_lr"])
    summary = run_grid(
        params,
        claims_config(params),
        args.task,
        args.family,
        lr,
        args.data_dir,
        args.out_dir,
        stage=stage.current() or f"claims_train@{args.task}-{args.family}",
    )
    write_json(args.summary_file, summary)
    for length, row in summary["lengths"].items():
        outcomes = [s["outcome"] for s in row["seeds"].values()]
        print(f"{args.task}-{args.family} T={length}: {', '.join(outcomes)}")


if __name__ == "__main__":
    stage.run(main, PARSER)
