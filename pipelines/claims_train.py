"""DVC stage claims_train@<task>-<family>: the learning-rate study, then every length and seed."""

from pathlib import Path

from seqbench import stage
from seqbench.claims.config import claims_config
from seqbench.claims.experiments import lr_study, run_grid
from seqbench.io import write_json
from seqbench.typed import load_params
from seqbench.validation.core import require_passed

PARSER = stage.parser(
    __doc__,
    ("task", "a claims task (claims.tasks, datasets.<task>)"),
    ("family", "an architecture of claims.families"),
    ("validation_dir", "the dataset's validation report (must say success)"),
    ("data_dir", "data/processed/<task>"),
    ("lr_file", "output: the learning-rate study's trials and best learning rate (JSON)"),
    ("out_dir", "output: per length, the seeds' models, predictions, metrics and curves"),
    ("summary_file", "output: every run's test metrics and outcome (JSON)"),
)


def main(args) -> None:
    require_passed(Path(args.validation_dir))
    params = load_params(args.params)
    cfg = claims_config(params)
    study = lr_study(params, cfg, args.task, args.family, args.data_dir)
    write_json(args.lr_file, study)
    print(
        f"{args.task}-{args.family}: lr {study['best_lr']:.3g} ({study['monitor']} "
        f"{study['best_value']:.4g}, {len(study['trials'])} trials at T={study['length']})"
    )
    summary = run_grid(
        params,
        cfg,
        args.task,
        args.family,
        float(study["best_lr"]),
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
