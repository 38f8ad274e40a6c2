"""DVC stage prepare@<dataset>: turn the fetched source files into train/val/test tables."""

from seqbench import stage
from seqbench.data.kinds import dataset_config, dataset_kind
from seqbench.typed import load_params

PARSER = stage.parser(
    __doc__,
    ("dataset", "dataset name in params.yaml (datasets.<name>)"),
    ("raw_dir", "folder holding the fetched source files"),
    ("out_dir", "folder to write {train,val,test}.parquet to"),
)


def main(args) -> None:
    params = load_params(args.params)
    cfg = dataset_config(params, args.dataset)
    counts = dataset_kind(params, args.dataset).prepare_fn()(cfg, args.raw_dir, args.out_dir)
    print(f"prepared {args.out_dir}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


if __name__ == "__main__":
    stage.run(main, PARSER)
