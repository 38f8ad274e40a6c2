"""DVC stage fetch@<dataset>: obtain the dataset's source files with verified checksums."""

from seqbench import stage
from seqbench.data.fetch import fetch_all
from seqbench.data.kinds import dataset_config
from seqbench.typed import load_params

PARSER = stage.parser(
    __doc__,
    ("dataset", "dataset name in params.yaml (datasets.<name>)"),
    ("out_dir", "folder to place the source files in"),
)


def main(args) -> None:
    cfg = dataset_config(load_params(args.params), args.dataset)
    for path in fetch_all(cfg.sources, args.out_dir):
        print(f"fetched {path}")


if __name__ == "__main__":
    stage.run(main, PARSER)
