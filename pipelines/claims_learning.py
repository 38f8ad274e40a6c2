"""DVC stage claims_learning@<task>-<arch>: a trained row's learning curve (test metric against
the share of its training split), the full-data point read from the main comparison's run."""

from pathlib import Path

from seqbench import stage
from seqbench.claims.config import claims_config
from seqbench.claims.learning import learning_config, learning_curve
from seqbench.io import write_json
from seqbench.training.run import load_best_params
from seqbench.typed import load_params
from seqbench.validation.core import require_passed

PARSER = stage.parser(
    __doc__,
    ("task", "a task of learning.tasks (trained by the main comparison)"),
    ("arch", "an architecture of learning.architectures"),
    ("validation_dir", "the dataset's validation report (must say success)"),
    ("metrics_file", "the main comparison's metrics/<task>-<arch>.json (the share 1 point)"),
    ("summary_file", "output: every share's per-seed test metrics, mean and std (JSON)"),
)
PARSER.add_argument("--best-params", help="the row's tuning result (its tuned settings)")


def main(args) -> None:
    require_passed(Path(args.validation_dir))
    params = load_params(args.params)
    overrides = load_best_params(args.best_params) if args.best_params else None
    summary = learning_curve(
        params,
        learning_config(params),
        args.task,
        args.arch,
        args.metrics_file,
        overrides=overrides,
        experiment=claims_config(params).experiment,
        stage=stage.current() or f"claims_learning@{args.task}-{args.arch}",
    )
    write_json(args.summary_file, summary)
    metric = summary["metric"]
    for share, point in summary["shares"].items():
        print(
            f"{args.task}-{args.arch} share {share}: {metric} {point['mean'][metric]:.4f} "
            f"± {point['std'].get(metric, 0.0):.4f}"
        )


if __name__ == "__main__":
    stage.run(main, PARSER)
