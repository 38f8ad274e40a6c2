"""DVC stage tune@<task>-<arch>: an equal-budget Optuna study on the validation split."""

import os
from pathlib import Path

from seqbench import stage
from seqbench.config import load_params
from seqbench.io import write_json
from seqbench.tracking import provenance_tags
from seqbench.training import task_kind
from seqbench.tuning import study_name, tune, tune_config
from seqbench.tuning.objective import training_objective
from seqbench.validation.core import require_passed

PARSER = stage.parser(
    __doc__,
    ("task", "task name (train.tasks)"),
    ("arch", "architecture name (train.architectures)"),
    ("validation_dir", "the dataset's validation report (must say success)"),
    ("processed_dir", "prepared splits (the training input of forecasting tasks)"),
    ("tokenized_root", "folder holding data/tokenized/<task> (the input of text tasks)"),
    ("out", "result file data/tuning/<task>-<arch>.json"),
    ("study_dir", "folder of the study's journal (kept between runs to resume)"),
)
PARSER.add_argument("--storage", default=None, help="Optuna storage URL (default: tune.storage)")
PARSER.add_argument("--workers", type=int, default=1, help="parallel worker processes")


def main(args) -> None:
    require_passed(Path(args.validation_dir))
    params = load_params(args.params)
    text = task_kind(params, args.task) == "classification"
    data_dir = str(Path(args.tokenized_root) / args.task if text else Path(args.processed_dir))
    cfg = tune_config(params, args.task, args.arch)
    threads = max(1, len(os.sched_getaffinity(0)) // args.workers) if args.workers > 1 else "auto"
    objective = training_objective(
        params, args.task, args.arch, cfg, data_dir=data_dir, threads=threads
    )
    summary = tune(
        cfg,
        objective,
        name=study_name(args.task, args.arch),
        study_dir=Path(args.study_dir),
        storage=args.storage,
        workers=args.workers,
        tags=provenance_tags(f"tune@{args.task}-{args.arch}", [data_dir, args.validation_dir]),
    )
    write_json(args.out, summary)
    print(
        f"{summary['study']}: best {summary['metric']} {summary['best_value']} {summary['trials']}"
    )


if __name__ == "__main__":
    stage.run(main, PARSER)
