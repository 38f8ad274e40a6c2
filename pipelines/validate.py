"""DVC stage validate@<dataset>: gate the processed splits with the dataset's expectation suite."""

import importlib

from seqbench import stage
from seqbench.config import dataset_config, load_params
from seqbench.io import load_splits
from seqbench.validation.core import validate_frames

# dataset kind -> module whose ``suite(cfg)`` returns the list of checks
SUITES = {
    "imdb": "seqbench.validation.imdb",
    "timeseries": "seqbench.validation.timeseries",
}

PARSER = stage.parser(
    __doc__,
    ("dataset", "dataset name in params.yaml (datasets.<name>)"),
    ("processed_dir", "folder holding {train,val,test}.parquet"),
    ("report_dir", "folder to write summary.json and the Data Docs to"),
)


def main(args) -> None:
    cfg = dataset_config(load_params(args.params), args.dataset)
    module = importlib.import_module(SUITES[cfg.kind])
    frames = load_splits(args.processed_dir)
    if hasattr(module, "add_facts"):  # columns computed for rules GX has no expectation for
        frames = module.add_facts(cfg, frames)
    summary = validate_frames(args.dataset, frames, module.suite(cfg), args.report_dir)
    print(f"validated {args.processed_dir}: {len(summary['checks'])} checks passed")


if __name__ == "__main__":
    stage.run(main, PARSER)
