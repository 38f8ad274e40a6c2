"""DVC stage validate@<dataset>: gate the processed splits with the dataset's expectation suite."""

import importlib

from seqbench import stage
from seqbench.config import dataset_config, load_params
from seqbench.validation.core import load_splits, validate_frames

# dataset kind -> module whose ``suite(cfg)`` returns the list of checks
SUITES = {
    "imdb": "seqbench.validation.imdb",
}

PARSER = stage.parser(
    __doc__,
    ("dataset", "dataset name in params.yaml (datasets.<name>)"),
    ("processed_dir", "folder holding {train,val,test}.parquet"),
    ("report_dir", "folder to write summary.json and the Data Docs to"),
)


def main(args) -> None:
    cfg = dataset_config(load_params(args.params), args.dataset)
    checks = importlib.import_module(SUITES[cfg.kind]).suite(cfg)
    summary = validate_frames(
        args.dataset, load_splits(args.processed_dir), checks, args.report_dir
    )
    print(f"validated {args.processed_dir}: {len(summary['checks'])} checks passed")


if __name__ == "__main__":
    stage.run(main, PARSER)
