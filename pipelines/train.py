"""DVC stage train_<group>@<task>-<arch>: a model per seed, each best-validation one tested once."""

from pathlib import Path

from seqbench import stage
from seqbench.training.run import load_best_params, resolve_run
from seqbench.training.seeds import train_all_seeds
from seqbench.typed import load_params
from seqbench.validation.core import require_passed

PARSER = stage.parser(
    __doc__,
    ("task", "task name (train.tasks and datasets.<task> in params.yaml)"),
    ("arch", "architecture name from the model registry"),
    ("validation_dir", "the dataset's validation report (must say success)"),
    ("data_dir", "the task's training input: data/tokenized/<task> or data/processed/<task>"),
    ("models_dir", "output folder: one state dict + config json per seed"),
    ("metrics_file", "output: test metrics per seed with mean and std"),
    ("timing_file", "output: seconds per epoch and training seconds per seed"),
    ("curves_file", "output: per-epoch curves of every seed (CSV)"),
)
PARSER.add_argument("--best-params", help="tuning result whose best_params override params.yaml")
PARSER.add_argument(
    "--processed-dir", help="prepared splits (the raw reviews the text baselines read)"
)


def main(args) -> None:
    require_passed(Path(args.validation_dir))
    params = load_params(args.params)
    overrides = load_best_params(args.best_params) if args.best_params else None
    spec = resolve_run(
        params,
        args.task,
        args.arch,
        overrides,
        data_dir=args.data_dir,
        processed_dir=args.processed_dir,
    )
    summary = train_all_seeds(
        spec,
        models_dir=args.models_dir,
        metrics_path=args.metrics_file,
        curves_path=args.curves_file,
        timing_path=args.timing_file,
        stage=stage.current() or f"train@{spec.name}",
        inputs=[args.data_dir, args.validation_dir],
    )
    for name, mean in summary.get("mean", {}).items():  # {}: not rank 0 of a DDP run
        if name.startswith("test/"):
            print(f"{spec.name} {name} = {mean:.4f} ± {summary['std'][name]:.4f}")


if __name__ == "__main__":
    stage.run(main, PARSER)
