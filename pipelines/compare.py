"""DVC stage compare: every task × architecture side by side → reports/comparison.md + figures."""

from pathlib import Path

from seqbench import stage
from seqbench.report.build import build_report
from seqbench.report.compare import Paths
from seqbench.typed import load_params

PARSER = stage.parser(
    __doc__,
    ("metrics_dir", "metrics/<task>-<arch>.json of the train stages"),
    ("models_dir", "models/<task>-<arch>/ (best seed: latency, FLOPs, test predictions)"),
    ("curves_dir", "plots/curves/<task>-<arch>.csv (validation curves)"),
    ("tuning_dir", "data/tuning/<task>-<arch>.json (tuned hyper-parameters; may be absent)"),
    ("tokenized_root", "data/tokenized/<task>/ (meta.json: input length of text tasks)"),
    ("processed_root", "data/processed/<task>/ (prepared splits of series tasks)"),
    ("markdown", "output: the comparison report"),
    ("figures_dir", "output: the PNG figures the report embeds"),
    ("summary", "output: every number of the report as JSON"),
)


def main(args) -> None:
    params = load_params(args.params)
    paths = Paths(
        metrics=Path(args.metrics_dir),
        models=Path(args.models_dir),
        curves=Path(args.curves_dir),
        tuning=Path(args.tuning_dir),
        tokenized=Path(args.tokenized_root),
        processed=Path(args.processed_root),
    )
    comparisons = build_report(
        params,
        paths,
        markdown=Path(args.markdown),
        figures_dir=Path(args.figures_dir),
        summary=Path(args.summary),
    )
    for cmp in comparisons:
        print(f"{cmp.task}: best {cmp.best} by {cmp.primary}")


if __name__ == "__main__":
    stage.run(main, PARSER)
