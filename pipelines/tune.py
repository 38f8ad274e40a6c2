"""DVC stage tune_<group>@<task>-<arch>: an equal-budget Optuna study on the validation split."""

from pathlib import Path

from seqbench import stage
from seqbench.tuning.service import tune_task
from seqbench.typed import load_params

PARSER = stage.parser(
    __doc__,
    ("task", "task name (train.tasks)"),
    ("arch", "architecture name (train.architectures)"),
    ("validation_dir", "the dataset's validation report (must say success)"),
    ("data_dir", "the task's training input: data/tokenized/<task> or data/processed/<task>"),
    ("out", "result file data/tuning/<task>-<arch>.json"),
    ("study_dir", "folder of the study's journal (kept between runs to resume)"),
)
PARSER.add_argument("--storage", default=None, help="Optuna storage URL (default: tune.storage)")
PARSER.add_argument("--workers", type=int, default=1, help="parallel worker processes")


def main(args) -> None:
    summary = tune_task(
        load_params(args.params),
        args.task,
        args.arch,
        validation_dir=Path(args.validation_dir),
        data_dir=Path(args.data_dir),
        out=Path(args.out),
        study_dir=Path(args.study_dir),
        storage=args.storage,
        workers=args.workers,
        stage=stage.current(),
    )
    print(
        f"{summary['study']}: best {summary['metric']} {summary['best_value']} {summary['trials']}"
    )


if __name__ == "__main__":
    stage.run(main, PARSER)
