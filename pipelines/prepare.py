"""DVC stage prepare@<dataset>: turn the fetched source files into train/val/test tables."""

import importlib

from seqbench import stage
from seqbench.config import dataset_config, load_params

# dataset kind -> module whose ``prepare(cfg, raw_dir, out_dir)`` builds the processed splits
PREPARERS = {
    "imdb": "seqbench.data.imdb",
    "timeseries": "seqbench.data.timeseries",
}

PARSER = stage.parser(
    __doc__,
    ("dataset", "dataset name in params.yaml (datasets.<name>)"),
    ("raw_dir", "folder holding the fetched source files"),
    ("out_dir", "folder to write {train,val,test}.parquet to"),
)


def main(args) -> None:
    cfg = dataset_config(load_params(args.params), args.dataset)
    prepare = importlib.import_module(PREPARERS[cfg.kind]).prepare
    counts = prepare(cfg, args.raw_dir, args.out_dir)
    print(f"prepared {args.out_dir}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


if __name__ == "__main__":
    stage.run(main, PARSER)
