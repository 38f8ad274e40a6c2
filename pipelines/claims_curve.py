"""DVC stages claims_learning@<task>-<arch> and claims_lengths@<task>-<arch>: a trained row
retrained along one axis (``learning``: shares of its training split; ``lengths``: its reviews cut
to shorter max_length), the last point read from the main comparison's run."""

from pathlib import Path

from seqbench import stage
from seqbench.claims.config import claims_config
from seqbench.claims.learning import learning_config, learning_curve, length_curve, lengths_config
from seqbench.io import write_json
from seqbench.training.run import load_best_params
from seqbench.typed import ConfigError, load_params
from seqbench.validation.core import require_passed

# axis -> (its params section's reader, the curve, the summary's key of points)
AXES = {
    "learning": (learning_config, learning_curve, "shares"),
    "lengths": (lengths_config, length_curve, "max_lengths"),
}

PARSER = stage.parser(
    __doc__,
    ("axis", f"what varies: {' | '.join(AXES)}"),
    ("task", "a task of learning.tasks / text_lengths.tasks (trained by the main comparison)"),
    ("arch", "an architecture of that section's architectures"),
    ("validation_dir", "the dataset's validation report (must say success)"),
    ("metrics_file", "the main comparison's metrics/<task>-<arch>.json (the last point)"),
    ("summary_file", "output: every point's per-seed test metrics, mean and std (JSON)"),
)
PARSER.add_argument("--best-params", help="the row's tuning result (its tuned settings)")


def main(args) -> None:
    if args.axis not in AXES:
        raise ConfigError(f"axis: expected one of {', '.join(AXES)}, got {args.axis!r}")
    read_config, curve, key = AXES[args.axis]
    require_passed(Path(args.validation_dir))
    params = load_params(args.params)
    overrides = load_best_params(args.best_params) if args.best_params else None
    summary = curve(
        params,
        read_config(params),
        args.task,
        args.arch,
        args.metrics_file,
        overrides=overrides,
        experiment=claims_config(params).experiment,
        stage=stage.current() or f"claims_{args.axis}@{args.task}-{args.arch}",
    )
    write_json(args.summary_file, summary)
    metric = summary["metric"]
    for point, result in summary[key].items():
        print(
            f"{args.task}-{args.arch} {key} {point}: {metric} {result['mean'][metric]:.4f} "
            f"± {result['std'].get(metric, 0.0):.4f}"
        )


if __name__ == "__main__":
    stage.run(main, PARSER)
