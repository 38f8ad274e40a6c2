"""DVC stage train@<task>-<arch>: train one model per seed, test each best-validation model once."""

from pathlib import Path

from seqbench import stage
from seqbench.config import load_params
from seqbench.training import load_best_params, resolve_run, task_kind, train_all_seeds
from seqbench.validation.core import require_passed

PARSER = stage.parser(
    __doc__,
    ("task", "task name (train.<task> and datasets.<task> in params.yaml)"),
    ("arch", "architecture name from the model registry"),
    ("validation_dir", "the dataset's validation report (must say success)"),
    ("processed_dir", "prepared splits (the training input of forecasting tasks)"),
    ("tokenized_root", "folder holding data/tokenized/<task> (the input of text tasks)"),
    ("models_dir", "output folder: one state dict + config json per seed"),
    ("metrics_file", "output: test metrics per seed with mean and std"),
    ("curves_file", "output: per-epoch curves of every seed (CSV)"),
)
PARSER.add_argument("--best-params", help="tuning result whose best_params override params.yaml")


def main(args) -> None:
    require_passed(Path(args.validation_dir))
    params = load_params(args.params)
    overrides = load_best_params(args.best_params) if args.best_params else None
    text = task_kind(params, args.task) == "classification"
    data_dir = Path(args.tokenized_root) / args.task if text else Path(args.processed_dir)
    spec = resolve_run(params, args.task, args.arch, overrides, data_dir=data_dir)
    summary = train_all_seeds(
        spec,
        models_dir=args.models_dir,
        metrics_path=args.metrics_file,
        curves_path=args.curves_file,
        stage=f"train@{spec.name}",
        inputs=[str(data_dir), args.validation_dir],
    )
    for name, mean in summary["mean"].items():
        if name.startswith("test/"):
            print(f"{spec.name} {name} = {mean:.4f} ± {summary['std'][name]:.4f}")


if __name__ == "__main__":
    stage.run(main, PARSER)
