"""DVC stage register: each task × architecture's final model → a version of seqbench-<task>."""

from pathlib import Path

from seqbench import stage
from seqbench.io import write_json
from seqbench.serving.config import register_config
from seqbench.serving.register import register_all
from seqbench.typed import load_params

PARSER = stage.parser(
    __doc__,
    ("models_dir", "models/<task>-<arch>/ of the train stages"),
    ("metrics_dir", "metrics/<task>-<arch>.json (mean test metrics, tagged on each version)"),
    ("tokenized_root", "data/tokenized/<task>/ (tokenizer shipped with text models)"),
    ("processed_root", "data/processed/<task>/ (scaler shipped with forecasting models)"),
    ("summary", "output: the registered versions as JSON"),
)


def main(args) -> None:
    params = load_params(args.params)
    done = register_all(
        params,
        register_config(params),
        models_root=Path(args.models_dir),
        tokenized_root=Path(args.tokenized_root),
        processed_root=Path(args.processed_root),
        metrics_root=Path(args.metrics_dir),
    )
    write_json(args.summary, {"versions": done})
    for item in done:
        state = "registered" if item["created"] else "already registered"
        print(f"{item['name']} v{item['version']}: {item['arch']} seed {item['seed']} ({state})")


if __name__ == "__main__":
    stage.run(main, PARSER)
