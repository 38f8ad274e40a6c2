"""DVC stage validate@<dataset>: gate the processed splits with the dataset's expectation suite."""

from seqbench import stage
from seqbench.data.kinds import dataset_config, dataset_kind
from seqbench.io import load_splits
from seqbench.typed import load_params
from seqbench.validation.core import validate_frames

PARSER = stage.parser(
    __doc__,
    ("dataset", "dataset name in params.yaml (datasets.<name>)"),
    ("processed_dir", "folder holding {train,val,test}.parquet"),
    ("report_dir", "folder to write summary.json and the Data Docs to"),
)


def main(args) -> None:
    params = load_params(args.params)
    cfg = dataset_config(params, args.dataset)
    module = dataset_kind(params, args.dataset).suite_module()
    frames = load_splits(args.processed_dir)
    if hasattr(module, "add_facts"):  # columns computed for rules GX has no expectation for
        frames = module.add_facts(cfg, frames)
    summary = validate_frames(
        args.dataset,
        frames,
        module.suite(cfg),
        args.report_dir,
        source_dir=args.processed_dir,
        run_name=stage.run_label(f"validate@{args.dataset}"),
    )
    print(f"validated {args.processed_dir}: {len(summary['checks'])} checks passed")


if __name__ == "__main__":
    stage.run(main, PARSER)
